package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
)

const signUsage = `usage: quarry sign --model ID [flags] [--curl] PROMPT

Builds the exact Converse request that 'quarry chat' would send for PROMPT,
signs it with SigV4 (or authorizes it with a Bedrock API key), and prints it
without sending it: as JSON (method, url, headers, body, expiry), or with
--curl as a curl command. It takes the flags of 'quarry chat'; --stream signs
a ConverseStream request.

The output carries a signature and, with temporary credentials, the session
token: treat it as a secret.
`

func runSign(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	curl := false
	rest := make([]string, 0, len(args))
	for _, a := range args {
		if a == "--curl" || a == "-curl" {
			curl = true
			continue
		}
		rest = append(rest, a)
	}
	opts, err := parseChatArgs(rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, signUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "quarry sign: "+chatOneLine(err.Error())+" (see 'quarry sign -h')")
		return 2
	}
	if code := opts.readStdinPrompt("sign", stderr); code != 0 {
		return code
	}
	client, err := opts.client(ctx)
	if err != nil {
		return signFailure(stderr, err)
	}
	sign := client.SignConverse
	if opts.stream {
		sign = client.SignConverseStream
	}
	sr, err := sign(ctx, opts.model, opts.request())
	if err != nil {
		return signFailure(stderr, err)
	}
	if curl {
		fmt.Fprintf(stdout, "# %s\n%s\n", sr.Note(), sr.Curl())
		return 0
	}
	out := struct {
		*bedrock.SignedRequest
		Note string `json:"note"`
	}{sr, sr.Note()}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "quarry sign:", err)
		return 1
	}
	return 0
}

func signFailure(stderr io.Writer, err error) int {
	var ce *bedrock.ConfigError
	if errors.As(err, &ce) {
		if f, ok := chatConfigFlags[ce.Field]; ok {
			fmt.Fprintf(stderr, "quarry sign: %s: %s\n", f, chatOneLine(ce.Rule))
			return 2
		}
	}
	fmt.Fprintln(stderr, "quarry sign: "+chatOneLine(strings.TrimPrefix(err.Error(), "bedrock: ")))
	return 1
}
