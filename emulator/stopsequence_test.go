package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAdditionalFieldsStopSequence: additionalModelResponseFieldPaths
// ["/stop_sequence"] answers the matched stop sequence (or null) in a
// well-formed body.
func TestAdditionalFieldsStopSequence(t *testing.T) {
	emu, err := NewServer(Config{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	for stops, want := range map[string]any{`["zzz","llo"]`: "llo", `["zzz"]`: nil} {
		body := `{"messages":[{"role":"user","content":[{"text":"Say hello"}]}],"inferenceConfig":{"stopSequences":` + stops +
			`},"additionalModelResponseFieldPaths":["/stop_sequence"]}`
		resp, err := http.Post(emu.URL+"/model/anthropic.claude-3-haiku-20240307-v1:0/converse", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var v struct {
			AdditionalModelResponseFields map[string]any `json:"additionalModelResponseFields"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &v) != nil || v.AdditionalModelResponseFields == nil ||
			v.AdditionalModelResponseFields["stop_sequence"] != want {
			t.Errorf("stop sequences %s: %d %s; want stop_sequence %v", stops, resp.StatusCode, b, want)
		}
	}
}
