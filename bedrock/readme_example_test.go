package bedrock_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/bedrock/shaping"
)

// The examples below hold the Go snippets of README.md's "The client
// library" section line for line (TestReadmeExamplesMirrored checks it), so
// that a README example that stops compiling breaks the build. They are
// compiled, not run: as written in the README they would call AWS. The
// lines around the snippets only declare what a snippet leaves undeclared
// and use what it leaves unused.

func ExampleNew_readme() {
	ctx := context.Background()

	// Resolve region, endpoint and credentials once; share the client.
	c, err := bedrock.New(ctx, bedrock.Config{Region: "us-east-1"})
	if err != nil {
		return
	}

	resp, err := c.Converse(ctx, "us.amazon.nova-lite-v1:0", &bedrock.ConverseRequest{
		System:   []bedrock.SystemContentBlock{bedrock.SystemText("Be brief.")},
		Messages: []bedrock.Message{bedrock.UserText("What is Amazon Bedrock?")},
	})
	if err != nil {
		return
	}
	fmt.Println(resp.Text(), resp.StopReason, resp.Usage.TotalTokens)
}

func ExampleClient_ConverseStream_readme() {
	ctx := context.Background()
	c, _ := bedrock.New(ctx, bedrock.Config{})
	req := &bedrock.ConverseRequest{Messages: []bedrock.Message{bedrock.UserText("Hello")}}

	s, err := c.ConverseStream(ctx, "anthropic.claude-3-5-haiku-20241022-v1:0", req)
	if err != nil {
		return
	}
	defer s.Close()
	for s.Next() {
		if d := s.Current().ContentBlockDelta; d != nil {
			fmt.Print(d.Delta.Text)
		}
	}
	if err := s.Err(); errors.Is(err, bedrock.ErrThrottling) { /* in-stream throttling */
	}
}

func ExampleClient_InvokeModel_readme() {
	ctx := context.Background()
	c, _ := bedrock.New(ctx, bedrock.Config{})
	body := []byte(`{"prompt":"Hello","max_gen_len":64}`)

	emb, err := c.EmbedTitan(ctx, "amazon.titan-embed-text-v2:0", &bedrock.TitanEmbedRequest{InputText: "hello", Dimensions: 256})
	img, err := c.GenerateImage(ctx, "amazon.nova-canvas-v1:0", &bedrock.ImageRequest{ /* TEXT_IMAGE ... */ })
	out, err := c.InvokeModel(ctx, "meta.llama3-1-70b-instruct-v1:0", &bedrock.InvokeModelInput{Body: body})
	_, _, _, _ = emb, img, out, err
}

func Example_shapingReadme() {
	ctx, c, model := context.Background(), (*bedrock.Client)(nil), "us.anthropic.claude-sonnet-4-20250514-v1:0"
	var err error

	o := &shaping.Options{
		AllowedRoles:         []string{"user", "assistant"}, // system messages become user turns
		FinishReasonDenyList: []string{"length"},            // Bedrock or OpenAI names, any case
		NoStreaming:          true,                          // Stream calls Converse and replays the answer
		TopK:                 new(40),                       // sent in the model family's native field
	}
	if err := o.Validate(); err != nil {
		return // *shaping.FieldError values, each naming its option
	}
	req := &bedrock.ConverseRequest{}
	req.System, req.Messages, err = o.Conversation([]shaping.Message{
		{Role: "system", Content: []bedrock.ContentBlock{bedrock.TextBlock("Be brief.")}},
		{Role: "user", Content: []bedrock.ContentBlock{bedrock.TextBlock("Hi")}},
	})
	err = o.Apply(req, bedrock.ModelFamily(model)) // defaults go under the request's own fields
	s, err := shaping.Stream(ctx, c, model, req, o)
	// On the messageStop event, o.CheckFinish(ev.MessageStop.StopReason)
	// returns a *shaping.FinishReasonError for a refused finish reason.

	_, _ = s, err
}

// TestReadmeExamplesMirrored fails when a line of a Go snippet in README.md's
// client-library section is missing from the examples above, i.e. when the
// README changed without them (or they without it).
func TestReadmeExamplesMirrored(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## The client library\n")
	if !ok {
		t.Fatal(`README.md has no "## The client library" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	self, err := os.ReadFile("readme_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(self), "\n") {
		have[readmeNorm(l)] = true
	}
	var lines, blocks int
	sc := bufio.NewScanner(strings.NewReader(section))
	in := false
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```go"):
			in, blocks = true, blocks+1
			continue
		case strings.HasPrefix(l, "```"):
			in = false
			continue
		}
		n := readmeNorm(l)
		if !in || n == "" || strings.HasPrefix(n, "import ") {
			continue
		}
		lines++
		if !have[n] {
			t.Errorf("README line not mirrored in readme_example_test.go: %s", strings.TrimSpace(l))
		}
	}
	if blocks < 3 || lines < 15 {
		t.Errorf("found %d Go blocks with %d lines in the client-library section; the README's layout changed", blocks, lines)
	}
}

// readmeNorm compares lines regardless of indentation and of gofmt's
// reflowing of a one-line "{ /* comment */ }" body.
func readmeNorm(l string) string {
	l = strings.TrimSpace(l)
	l = strings.TrimSuffix(l, "{ /* in-stream throttling */ }")
	l = strings.TrimSuffix(l, "{ /* in-stream throttling */")
	return strings.TrimSpace(l)
}
