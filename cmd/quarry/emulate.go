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
	"github.com/quarry-dev/quarry/internal/config"
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
	useTLS := fs.Bool("tls", false, "serve HTTPS (h2 and HTTP/1.1) from a generated certificate; prints its CA file")
	tlsDir := fs.String("tls-dir", "", "where --tls writes ca.pem, cert.pem and key.pem (default: a temporary directory)")
	recordDir := fs.String("record", "", "forward to --upstream and record each exchange in this directory")
	upstream := fs.String("upstream", "", "real Bedrock Runtime URL for --record, e.g. https://bedrock-runtime.us-east-1.amazonaws.com")
	replayDir := fs.String("replay", "", "answer from the recordings in this directory")
	ignore := fs.String("ignore", "", "with --replay: comma-separated JSON paths the body match ignores (e.g. inferenceConfig.temperature)")
	fallback := fs.String("fallback", "", "with --replay: \"generate\" answers unmatched requests instead of a 404")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: quarry emulate [--addr 127.0.0.1:4566] [--config FILE] [--no-auth] [--seed N] [-v] [--tls [--tls-dir DIR]]\n"+
				"                      [--record DIR --upstream URL | --replay DIR [--ignore PATHS] [--fallback generate]]")
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
	if *useTLS || *tlsDir != "" {
		cfg.TLS = &emulator.TLSConfig{Dir: *tlsDir}
	}
	switch {
	case *recordDir != "" && *replayDir != "":
		fmt.Fprintln(stderr, "quarry emulate: --record and --replay cannot be used together")
		return 2
	case *recordDir != "":
		if *upstream == "" {
			fmt.Fprintln(stderr, "quarry emulate: --record needs --upstream https://bedrock-runtime.REGION.amazonaws.com")
			return 2
		}
		cfg.Record = &emulator.RecordConfig{Dir: *recordDir, Upstream: *upstream}
	case *replayDir != "":
		cfg.Replay = &emulator.ReplayConfig{Dir: *replayDir, Fallback: *fallback}
		if *ignore != "" {
			cfg.Replay.IgnorePaths = strings.Split(*ignore, ",")
		}
	case *upstream != "" || *ignore != "" || *fallback != "":
		fmt.Fprintln(stderr, "quarry emulate: --upstream goes with --record; --ignore and --fallback with --replay")
		return 2
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
		if w := openWarning(srv.Addr().String()); w != "" {
			fmt.Fprintln(stderr, w)
		}
	case len(cfg.Credentials) == 0:
		fmt.Fprintln(stdout, "credentials: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1")
	default:
		fmt.Fprintf(stdout, "credentials: %d key pair(s) from %s\n", len(cfg.Credentials), *configPath)
	}
	fmt.Fprintf(stdout, "point SDKs at it with AWS_ENDPOINT_URL_BEDROCK_RUNTIME=%s\n", srv.URL)
	if srv.CAFile != "" {
		fmt.Fprintf(stdout, "trust its certificate with AWS_CA_BUNDLE=%[1]s NODE_EXTRA_CA_CERTS=%[1]s REQUESTS_CA_BUNDLE=%[1]s\n", srv.CAFile)
	}
	switch {
	case cfg.Record != nil:
		fmt.Fprintf(stdout, "recording: forwarding to %s, cassettes in %s\n", cfg.Record.Upstream, cfg.Record.Dir)
	case cfg.Replay != nil:
		fmt.Fprintf(stdout, "replaying: cassettes from %s\n", cfg.Replay.Dir)
	}

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

// openWarning is the warning for an emulator with authentication off that
// listens on addr, or "" when addr is loopback only.
func openWarning(addr string) string {
	if config.IsLoopback(addr) {
		return ""
	}
	return "quarry emulate: warning: authentication is off (--no-auth) and " + addr +
		" is not a loopback address: anyone who can reach it can use it"
}
