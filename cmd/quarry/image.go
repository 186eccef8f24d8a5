package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
)

const imageUsage = `usage: quarry image --model ID [flags] PROMPT

Generates images from PROMPT with Nova Canvas or Titan Image Generator,
writes them as PNG files and prints their paths, one a line.

Flags:
  --model ID          image model ID, profile or ARN (required)
  --size WxH          image size (default 1024x1024)
  --n N               how many images, 1 to 20 (several calls above 5)
  --out DIR           directory for the files (default .; created if needed)
  --seed N            seed, for repeatable images
  --region R, --profile P, --endpoint-url URL   as for quarry chat
`

type imageOptions struct {
	clientFlags
	model, size, out, prompt string
	n                        int
	seed                     int
	seedSet                  bool
	width, height            int
}

func runImage(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseImageArgs(args)
	if code, stop := parseFailed("image", imageUsage, err, stderr); stop {
		return code
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "quarry image: "+chatOneLine(err.Error()))
		return 1
	}
	client, err := o.client(ctx)
	if err != nil {
		return cmdFailure("image", stderr, err)
	}
	cfg := &bedrock.ImageGenerationConfig{Width: o.width, Height: o.height, NumberOfImages: o.n}
	if o.seedSet {
		cfg.Seed = &o.seed
	}
	resp, err := client.GenerateImages(ctx, o.model, &bedrock.ImageRequest{
		TaskType:              bedrock.ImageTaskTextToImage,
		TextToImageParams:     &bedrock.TextToImageParams{Text: o.prompt},
		ImageGenerationConfig: cfg,
	})
	if err != nil {
		return cmdFailure("image", stderr, err)
	}
	if len(resp.Images) == 0 {
		fmt.Fprintln(stderr, "quarry image: no image came back: "+chatOneLine(resp.Error))
		return 1
	}
	for i := range resp.Images {
		png, err := resp.Image(i)
		if err != nil {
			fmt.Fprintln(stderr, "quarry image: "+chatOneLine(err.Error()))
			return 1
		}
		path, err := writeNew(o.out, slug(o.prompt), png)
		if err != nil {
			fmt.Fprintln(stderr, "quarry image: "+chatOneLine(err.Error()))
			return 1
		}
		fmt.Fprintln(stdout, path)
	}
	if resp.Error != "" {
		fmt.Fprintln(stderr, "quarry image: "+chatOneLine(resp.Error))
	}
	return 0
}

func parseImageArgs(args []string) (*imageOptions, error) {
	o := &imageOptions{}
	fs := o.clientFlags.flagSet("image")
	fs.StringVar(&o.model, "model", "", "")
	fs.StringVar(&o.size, "size", "1024x1024", "")
	fs.StringVar(&o.out, "out", ".", "")
	fs.IntVar(&o.n, "n", 1, "")
	fs.IntVar(&o.seed, "seed", 0, "")
	words, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) { o.seedSet = o.seedSet || f.Name == "seed" })
	o.prompt = strings.Join(words, " ")
	switch {
	case o.model == "":
		return nil, &cliUsageError{"--model is required"}
	case strings.TrimSpace(o.prompt) == "":
		return nil, &cliUsageError{"a PROMPT is required"}
	case o.n < 1 || o.n > 20:
		return nil, &cliUsageError{fmt.Sprintf("--n must be between 1 and 20 (got %d)", o.n)}
	case o.seedSet && o.seed < 0:
		return nil, &cliUsageError{fmt.Sprintf("--seed must not be negative (got %d)", o.seed)}
	}
	if !bedrock.ModelFamily(o.model).IsImage() {
		return nil, &cliUsageError{fmt.Sprintf("--model %s is not an image model (Nova Canvas or Titan Image Generator)", o.model)}
	}
	w, h, err := config.ParseImageSize(o.size)
	if err != nil {
		return nil, &cliUsageError{"--size " + err.Error()}
	}
	o.width, o.height = w, h
	return o, nil
}

// slug is a file-name stem from the prompt's first words.
func slug(prompt string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(prompt) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		s = "image"
	}
	return s
}

// writeNew writes data to dir/stem-N.png with the first N that does not
// exist yet, so that earlier images are never overwritten.
func writeNew(dir, stem string, data []byte) (string, error) {
	for n := 1; ; n++ {
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.png", stem, n))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return "", err
		}
		return path, f.Close()
	}
}
