package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
)

// chatStdin is where "quarry chat ... -" reads its prompt (a variable so
// that tests can feed it).
var chatStdin io.Reader = os.Stdin

// maxStdinPrompt bounds a prompt read from stdin; Bedrock rejects far
// smaller bodies anyway.
const maxStdinPrompt = 25 << 20

const chatUsage = `usage: quarry chat --model ID [flags] PROMPT

Sends PROMPT (or, with "-", standard input) to a Bedrock model through the
Converse API and prints the reply. Flags may come before or after PROMPT.

Flags:
  --model ID          model ID, inference profile ID or ARN (required)
  --region R          AWS region (default: AWS_REGION, profile, us-east-1)
  --profile P         shared-config profile for credentials
  --endpoint-url URL  Bedrock Runtime endpoint (proxy, emulator)
  --system TEXT       system prompt
  --stream            print the reply as it is generated
  --max-tokens N      most tokens to generate (N >= 1)
  --temperature T     sampling temperature, 0 to 1
`

// chatOptions are the parsed command line.
type chatOptions struct {
	model, region, profile, endpoint, system string
	stream                                   bool
	maxTokens                                *int
	temperature                              *float64
	prompt                                   string
}

// chatUsageError is a command-line mistake: exit status 2.
type chatUsageError struct{ msg string }

func (e *chatUsageError) Error() string { return e.msg }

func runChat(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseChatArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, chatUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "quarry chat: "+chatOneLine(err.Error())+" (see 'quarry chat -h')")
		return 2
	}
	if code := opts.readStdinPrompt("chat", stderr); code != 0 {
		return code
	}

	client, err := opts.client(ctx)
	if err != nil {
		return chatFailure(stderr, err)
	}
	req := opts.request()
	if opts.stream {
		return streamChat(ctx, client, opts.model, req, stdout, stderr)
	}
	resp, err := client.Converse(ctx, opts.model, req)
	if err != nil {
		return chatFailure(stderr, err)
	}
	text := resp.Text()
	fmt.Fprint(stdout, text)
	if !strings.HasSuffix(text, "\n") {
		fmt.Fprintln(stdout)
	}
	return 0
}

// client is the Bedrock client the flags configure.
func (o *chatOptions) client(ctx context.Context) (*bedrock.Client, error) {
	return bedrock.New(ctx, bedrock.Config{Region: o.region, Profile: o.profile, Endpoint: o.endpoint})
}

// request is the Converse request for the prompt and flags; 'quarry sign'
// signs exactly what 'quarry chat' sends.
func (o *chatOptions) request() *bedrock.ConverseRequest {
	req := &bedrock.ConverseRequest{Messages: []bedrock.Message{bedrock.UserText(o.prompt)}}
	if o.system != "" {
		req.System = []bedrock.SystemContentBlock{bedrock.SystemText(o.system)}
	}
	if o.maxTokens != nil || o.temperature != nil {
		req.InferenceConfig = &bedrock.InferenceConfig{MaxTokens: o.maxTokens, Temperature: o.temperature}
	}
	return req
}

// streamChat prints each text delta as it arrives.
func streamChat(ctx context.Context, client *bedrock.Client, model string, req *bedrock.ConverseRequest, stdout, stderr io.Writer) int {
	st, err := client.ConverseStream(ctx, model, req)
	if err != nil {
		return chatFailure(stderr, err)
	}
	defer st.Close()
	last := byte('\n') // nothing printed yet: no newline owed
	for st.Next() {
		ev := st.Current()
		if ev.ContentBlockDelta == nil || ev.ContentBlockDelta.Delta.Text == "" {
			continue
		}
		text := ev.ContentBlockDelta.Delta.Text
		if _, err := io.WriteString(stdout, text); err != nil {
			return chatFailure(stderr, fmt.Errorf("writing the reply: %w", err))
		}
		chatFlush(stdout)
		last = text[len(text)-1]
	}
	if last != '\n' {
		// End the reply's line, also before an error, so that the error
		// line stands on its own.
		fmt.Fprintln(stdout)
		chatFlush(stdout)
	}
	if err := st.Err(); err != nil {
		return chatFailure(stderr, err)
	}
	return 0
}

// chatFlush pushes buffered output through when the writer buffers (a
// bufio.Writer, an http.ResponseWriter); *os.File writes straight through.
func chatFlush(w io.Writer) {
	switch f := w.(type) {
	case interface{ Flush() error }:
		f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
}

// chatFailure prints one line for err and returns the exit status: 2 for a
// configuration mistake given on the command line, 130 for an interrupt,
// else 1.
func chatFailure(stderr io.Writer, err error) int { return cmdFailure("chat", stderr, err) }

// chatConfigFlags maps the Config fields set from flags to the flags.
var chatConfigFlags = map[string]string{"Region": "--region", "Endpoint": "--endpoint-url", "Profile": "--profile"}

// chatOneLine collapses whitespace so that a message is exactly one line.
func chatOneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// readStdinPrompt reads the prompt from standard input when it is "-".
// It returns 0, or the exit status after printing one line: 1 when stdin
// cannot be read, 2 when it holds no prompt.
func (o *chatOptions) readStdinPrompt(cmd string, stderr io.Writer) int {
	if o.prompt != "-" {
		return 0
	}
	b, err := io.ReadAll(io.LimitReader(chatStdin, maxStdinPrompt))
	if err != nil {
		fmt.Fprintln(stderr, "quarry "+cmd+": reading the prompt from stdin: "+chatOneLine(err.Error()))
		return 1
	}
	o.prompt = strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(o.prompt) == "" {
		fmt.Fprintln(stderr, "quarry "+cmd+": the prompt read from stdin is empty")
		return 2
	}
	return 0
}

// parseChatArgs parses flags before and after the prompt words, checks
// them, and joins the words into the prompt.
func parseChatArgs(args []string) (*chatOptions, error) {
	o := &chatOptions{}
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.model, "model", "", "")
	fs.StringVar(&o.region, "region", "", "")
	fs.StringVar(&o.profile, "profile", "", "")
	fs.StringVar(&o.endpoint, "endpoint-url", "", "")
	fs.StringVar(&o.system, "system", "", "")
	fs.BoolVar(&o.stream, "stream", false, "")
	maxTokens := fs.Int("max-tokens", 0, "")
	temperature := fs.Float64("temperature", 0, "")

	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &chatUsageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		// A word of the prompt; flags may follow it.
		words = append(words, args[0])
		args = args[1:]
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "max-tokens":
			o.maxTokens = maxTokens
		case "temperature":
			o.temperature = temperature
		}
	})
	switch {
	case o.model == "":
		return nil, &chatUsageError{"--model is required"}
	case o.maxTokens != nil && *o.maxTokens < 1:
		return nil, &chatUsageError{fmt.Sprintf("--max-tokens must be at least 1 (got %d)", *o.maxTokens)}
	case o.temperature != nil && !(*o.temperature >= 0 && *o.temperature <= 1):
		return nil, &chatUsageError{fmt.Sprintf("--temperature must be between 0 and 1 (got %g)", *o.temperature)}
	case len(words) == 0:
		return nil, &chatUsageError{`a PROMPT is required ("-" reads it from stdin)`}
	case len(words) > 1 && slices.Contains(words, "-"):
		return nil, &chatUsageError{`"-" (prompt from stdin) cannot be combined with other prompt words`}
	}
	o.prompt = strings.Join(words, " ")
	if strings.TrimSpace(o.prompt) == "" {
		return nil, &chatUsageError{"the PROMPT is empty"}
	}
	return o, nil
}
