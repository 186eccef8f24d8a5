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
