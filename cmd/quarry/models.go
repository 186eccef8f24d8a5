package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

const modelsUsage = `usage: quarry models [--json] [--region R] [--profile P] [--endpoint-url URL]

Lists the foundation models and inference profiles the region offers
(Bedrock ListFoundationModels and ListInferenceProfiles), for the current
credentials.

Flags:
  --json              print JSON instead of a table
  --region R, --profile P, --endpoint-url URL   as for quarry chat
`

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cf clientFlags
	var asJSON bool
	fs := cf.flagSet("models")
	fs.BoolVar(&asJSON, "json", false, "")
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if code, stop := parseFailed("models", modelsUsage, err, stderr); stop {
		return code
	}
	client, err := cf.client(ctx)
	if err != nil {
		return cmdFailure("models", stderr, err)
	}
	models, err := client.ListFoundationModels(ctx)
	if err != nil {
		return cmdFailure("models", stderr, err)
	}
	profiles, err := client.ListInferenceProfiles(ctx)
	if err != nil {
		return cmdFailure("models", stderr, err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"foundationModels": models, "inferenceProfiles": profiles})
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL ID\tPROVIDER\tINPUT\tOUTPUT\tSTREAMING")
	for _, m := range models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", m.ModelID, m.ProviderName, strings.Join(m.InputModalities, ","),
			strings.Join(m.OutputModalities, ","), m.ResponseStreamingSupported)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "INFERENCE PROFILE ID\tTYPE\tSTATUS\tMODELS")
	for _, p := range profiles {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", p.InferenceProfileID, p.Type, p.Status, len(p.Models))
	}
	tw.Flush()
	return 0
}
