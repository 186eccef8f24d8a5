package server_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// TestChatE2ECacheMarkerWarning: a model whose config does not allow cache
// markers still drops them, but no longer without a word: every such answer
// carries X-Quarry-Warning, streamed or not, and the log says so once per
// model. A model that allows them, or a request without them, gets no
// warning.
func TestChatE2ECacheMarkerWarning(t *testing.T) {
	rec := &recorder{}
	logs := &lockedBuffer{}
	g := startChatGateway(t, quickstart, func(c *config.Config) {
		c.Models = append(c.Models, config.Model{Kind: config.KindChat, Name: "nova-plain", ModelID: "amazon.nova-micro-v1:0"})
	}, server.Options{UpstreamTransport: rec, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	e := &shapingEnv{g: g, rec: rec}
	marked := func(model, extra string) string {
		return `{"model":"` + model + `"` + extra + `,"messages":[{"role":"system","content":"Be brief.","cache_control":{"type":"ephemeral"}},` +
			`{"role":"user","content":[{"type":"text","text":"Hi","cachePoint":{"type":"default"}}]}]}`
	}
	for _, c := range []struct {
		name, body, modelID string
		warn                bool
	}{
		{"dropped", marked("nova-plain", ""), "amazon.nova-micro-v1:0", true},
		{"dropped again", marked("nova-plain", ""), "amazon.nova-micro-v1:0", true},
		{"dropped, streamed", marked("nova-plain", `,"stream":true`), "amazon.nova-micro-v1:0", true},
		{"none sent", `{"model":"nova-plain","messages":[{"role":"user","content":"Hi"}]}`, "amazon.nova-micro-v1:0", false},
		{"allowed", marked("nova-lite", ""), "us.amazon.nova-lite-v1:0", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec.reset()
			status, h, raw := e.post(t, c.body)
			if status != 200 {
				t.Fatalf("status %d: %s", status, raw)
			}
			w := h.Get("X-Quarry-Warning")
			if (w != "") != c.warn || c.warn && !strings.Contains(w, "cache markers dropped: model 'nova-plain'") {
				t.Errorf("X-Quarry-Warning %q; want one: %v", w, c.warn)
			}
			rc, _, _ := rec.last(t, c.modelID)
			sent, wantSent := bytes.Contains(rc.Body, []byte("cachePoint")), !c.warn && strings.Contains(c.body, "cache")
			if sent != wantSent {
				t.Errorf("cachePoint reached Bedrock: %v; want %v", sent, wantSent)
			}
		})
	}
	if n := strings.Count(logs.String(), "drops the cache markers"); n != 1 {
		t.Errorf("the log says %d times that nova-plain drops cache markers; want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "model=nova-plain") {
		t.Errorf("the warning does not name the model:\n%s", logs.String())
	}
}

// TestChatE2EIgnoredMembersWarning: members that would change the answer
// but that Bedrock cannot honour are accepted and named in X-Quarry-Warning,
// streamed or not; values that ask for nothing are not.
func TestChatE2EIgnoredMembersWarning(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	e := &shapingEnv{g: g, rec: rec}
	for _, c := range []struct{ name, extra, want string }{
		{"seed and penalties", `,"seed":7,"presence_penalty":0.5,"frequency_penalty":0.2`, "ignored: seed, frequency_penalty, presence_penalty (Bedrock has no equivalent)"},
		{"logprobs, streamed", `,"stream":true,"logprobs":true,"top_logprobs":3,"logit_bias":{"50256":-100}`, "ignored: logit_bias, logprobs, top_logprobs"},
		{"values that ask for nothing", `,"seed":null,"presence_penalty":0,"logprobs":false,"logit_bias":{}`, ""},
		{"none", ``, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, h, raw := e.post(t, `{"model":"nova-lite"`+c.extra+`,"messages":[{"role":"user","content":"Hi"}]}`)
			if status != 200 {
				t.Fatalf("status %d: %s", status, raw)
			}
			if w := h.Get("X-Quarry-Warning"); (w == "") != (c.want == "") || !strings.Contains(w, c.want) {
				t.Errorf("X-Quarry-Warning %q; want %q", w, c.want)
			}
		})
	}
}
