package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/quarry-dev/quarry/emulator"
)

// runEmulate runs the Bedrock Runtime emulator until ctx is canceled.
func runEmulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("quarry emulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:4566", "listen address")
	configPath := fs.String("config", "", "YAML configuration file")
	noAuth := fs.Bool("no-auth", false, "accept unsigned requests")
	seed := fs.Uint64("seed", 0, "seed for generated replies and random faults")
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: quarry emulate [--addr 127.0.0.1:4566] [--config FILE] [--no-auth] [--seed N] [-v]")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			fmt.Fprint(stderr, emulateConfigHelp)
			return 0
		}
		fmt.Fprintf(stderr, "quarry emulate: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "quarry emulate: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var cfg emulator.Config
	if *configPath != "" {
		var err error
		if cfg, err = emulator.LoadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "quarry emulate: %s\n", oneLine(err.Error()))
			return 1
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["no-auth"] {
		cfg.NoAuth = *noAuth
	}
	if set["seed"] {
		cfg.Seed = *seed
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	srv, err := emulator.Listen(cfg, *addr)
	if err != nil {
		fmt.Fprintf(stderr, "quarry emulate: %s\n", oneLine(err.Error()))
		return 1
	}
	fmt.Fprintf(stdout, "Bedrock Runtime emulator listening on %s\n", srv.URL)
	switch {
	case cfg.NoAuth:
		fmt.Fprintln(stdout, "authentication: off (--no-auth)")
	case len(cfg.Credentials) == 0:
		fmt.Fprintln(stdout, "credentials: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1")
	default:
		fmt.Fprintf(stdout, "credentials: %d key pair(s) from %s\n", len(cfg.Credentials), *configPath)
	}
	fmt.Fprintf(stdout, "point SDKs at it with AWS_ENDPOINT_URL_BEDROCK_RUNTIME=%s\n", srv.URL)

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintf(stderr, "quarry emulate: shutdown: %s\n", oneLine(err.Error()))
	}
	return 0
}

// emulateConfigHelp documents the --config file (emulator.Config, with the
// gateway's snake_case keys). Every key is optional.
const emulateConfigHelp = `
The --config file (YAML; every key optional; errors name file, line and field):

  seed: 7                      # changes every generated reply
  no_auth: false               # true: serve unsigned requests
  credentials:                 # accepted SigV4 key pairs (default test/test)
    - {access_key_id: AKID, secret_access_key: SECRET, session_token: ""}
  bearer_tokens: [tok]         # accepted API keys (default: any)
  clock_skew: 5m               # allowed X-Amz-Date skew
  models:                      # extend or replace catalogue entries
    - id: acme.custom-v1:0
      family: nova             # anthropic, nova, titan-text, llama, mistral, cohere-command,
                               # cohere-command-r, titan-embed, cohere-embed, nova-embed,
                               # nova-canvas, titan-image
      kind: chat               # or embedding, image (default: from family)
      aliases: [arn:aws:bedrock:...:application-inference-profile/abc]
      max_tokens: 4096
      tools: true
      tool_choice: true
      reasoning: false
      structured_output: false
      caching: false
      images: true
      documents: true
      video: false
      no_system: false
  guardrails:
    - id: gr1
      versions: ["1"]
      denied_words: [password]
      denied_topics: [{name: finance, keywords: [stocks]}]
      blocked_input_message: Blocked by policy.
      blocked_output_message: Blocked by policy.
  faults:                      # seeded random faults (prompt markers inject them on demand)
    rules:
      - {model: amazon.nova-lite-v1:0, fault: throttle, rate: 0.1}
  latency: {first_token: 250ms, between_tokens: 20ms}
  quotas:
    requests_per_minute: 60
    tokens_per_minute: 100000
    per_model: {amazon.nova-lite-v1:0: {requests_per_minute: 10, tokens_per_minute: 0}}
`

// oneLine folds a multi-line error (yaml lists one problem per line) into
// one readable line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
