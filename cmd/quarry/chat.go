package main

import (
	"context"
	"fmt"
	"io"
)

func runChat(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "quarry chat: not implemented yet")
	return 1
}
