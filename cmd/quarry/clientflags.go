package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/quarry-dev/quarry/bedrock"
)

// clientFlags are the connection flags the commands share with quarry chat.
type clientFlags struct {
	region, profile, endpoint string
	// rpm is the client's own cap on requests per minute (0: the
	// library's default, negative: none).
	rpm int
}

// flagSet is a quiet flag set for cmd with the connection flags in it
// (the commands print their own usage).
func (c *clientFlags) flagSet(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.add(fs)
	return fs
}

func (c *clientFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&c.region, "region", "", "")
	fs.StringVar(&c.profile, "profile", "", "")
	fs.StringVar(&c.endpoint, "endpoint-url", "", "")
}

func (c *clientFlags) client(ctx context.Context) (*bedrock.Client, error) {
	return bedrock.New(ctx, bedrock.Config{Region: c.region, Profile: c.profile, Endpoint: c.endpoint, RequestsPerMinute: c.rpm})
}

// cmdFailure prints one line for err and returns the exit status: 2 for a
// configuration mistake given on the command line, 130 for an interrupt,
// else 1.
func cmdFailure(cmd string, stderr io.Writer, err error) int {
	var be *bedrock.Error
	var ce *bedrock.ConfigError
	switch {
	case errors.As(err, &be):
		fmt.Fprintf(stderr, "quarry %s: %s: %s\n", cmd, be.Code, chatOneLine(be.Message))
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "quarry %s: interrupted\n", cmd)
		return 130
	case errors.As(err, &ce):
		if f, ok := chatConfigFlags[ce.Field]; ok {
			fmt.Fprintf(stderr, "quarry %s: %s: %s\n", cmd, f, chatOneLine(ce.Rule))
			return 2
		}
		fmt.Fprintf(stderr, "quarry %s: %s\n", cmd, chatOneLine(err.Error()))
	default:
		fmt.Fprintf(stderr, "quarry %s: %s\n", cmd, chatOneLine(err.Error()))
	}
	return 1
}

// parseFailed reports a command line that did not parse: the usage for -h
// (exit 0), else one line (exit 2); stop is false when the command goes on.
func parseFailed(cmd, usage string, err error, stderr io.Writer) (code int, stop bool) {
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stderr, usage)
		return 0, true
	case err != nil:
		fmt.Fprintf(stderr, "quarry %s: %s (see 'quarry %s -h')\n", cmd, chatOneLine(err.Error()), cmd)
		return 2, true
	}
	return 0, false
}
