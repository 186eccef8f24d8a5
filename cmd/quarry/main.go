// Command quarry is the one binary of the Quarry project: a Bedrock Runtime
// client (chat, sign), an OpenAI- and Elasticsearch-compatible gateway (serve)
// and a wire-faithful Bedrock Runtime emulator (emulate).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// A command runs one subcommand with its arguments (after the subcommand name)
// and returns the process exit code. Failures print one readable line to stderr.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"chat", "send one prompt to a Bedrock model and print the reply", runChat},
		{"sign", "print a signed Converse request (JSON or curl) without sending it", runSign},
		{"serve", "run the gateway (OpenAI-compatible API in front of Bedrock)", runServe},
		{"emulate", "run the Bedrock Runtime emulator", runEmulate},
		{"embed", "embed the lines of a file (text, JSONL, CSV) into JSONL, resumably", runEmbed},
		{"image", "generate images from a prompt into PNG files", runImage},
		{"models", "list the region's foundation models and inference profiles", runModels},
		{"version", "print the module and Go versions", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "quarry: unknown command %q (run 'quarry help' for the list)\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: quarry <command> [flags] [args]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'quarry <command> -h' for a command's flags.")
}
