package emulator

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// TestConverseCitations: a document with citations enabled gets an answer
// in a citationsContent block quoting it; without, a plain text block.
func TestConverseCitations(t *testing.T) {
	emu, err := NewServer(Config{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	doc := base64.StdEncoding.EncodeToString([]byte("  The warranty lasts two years.\n"))
	for _, tc := range []struct {
		name, citations string
		wantQuote       string // "": no citations block
	}{
		{"enabled", `,"citations":{"enabled":true}`, "The warranty lasts two years."},
		{"disabled", `,"citations":{"enabled":false}`, ""},
		{"absent", ``, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"messages":[{"role":"user","content":[{"text":"How long is the warranty?"},` +
				`{"document":{"format":"txt","name":"warranty","source":{"bytes":"` + doc + `"}` + tc.citations + `}}]}]}`
			resp, b := post(t, emu.URL+"/model/anthropic.claude-3-haiku-20240307-v1:0/converse", body)
			var v struct {
				Output struct {
					Message struct {
						Content []struct {
							Text             *string `json:"text"`
							CitationsContent *struct {
								Content   []struct{ Text string }
								Citations []struct {
									Title         string
									SourceContent []struct{ Text string }
									Location      map[string]struct{ DocumentIndex, Start, End int }
								}
							} `json:"citationsContent"`
						}
					}
				}
			}
			if resp.StatusCode != 200 || json.Unmarshal([]byte(b), &v) != nil || len(v.Output.Message.Content) != 1 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			blk := v.Output.Message.Content[0]
			if tc.wantQuote == "" {
				if blk.Text == nil || blk.CitationsContent != nil {
					t.Fatalf("want a plain text block, got %s", b)
				}
				return
			}
			cc := blk.CitationsContent
			if cc == nil || len(cc.Content) != 1 || cc.Content[0].Text == "" || len(cc.Citations) != 1 {
				t.Fatalf("want one citationsContent block with one citation, got %s", b)
			}
			c := cc.Citations[0]
			loc, ok := c.Location["documentChar"]
			if c.Title != "warranty" || len(c.SourceContent) != 1 || c.SourceContent[0].Text != tc.wantQuote ||
				!ok || loc.DocumentIndex != 0 || loc.End != len(tc.wantQuote) {
				t.Errorf("citation = %+v", c)
			}
		})
	}
}
