package main

import (
	"context"
	"fmt"
	"io"
)

func runEmulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "quarry emulate: not implemented yet")
	return 1
}
