package console_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/config"
)

// countLive is the overview's request count for model, -1 if absent.
func countLive(body, model string) int {
	var ov struct {
		Models []struct {
			Name string `json:"name"`
			Live struct {
				Requests int `json:"requests"`
			} `json:"live"`
		} `json:"models"`
	}
	if json.Unmarshal([]byte(body), &ov) != nil {
		return -1
	}
	for _, m := range ov.Models {
		if m.Name == model {
			return m.Live.Requests
		}
	}
	return -1
}

// TestOverviewShowsLiveState: a model request made by a client shows in the
// overview's per-model state, and the console's own calls do not.
func TestOverviewShowsLiveState(t *testing.T) {
	t.Parallel()
	base := startGateway(t, quickstart, nil)
	for range 3 {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"nova-lite","messages":[{"role":"user","content":"hi"}],"stream":true}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// A request is counted when its handler returns, which may be just
	// after the client has read the last byte: look until all three are in.
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, body = call(t, http.DefaultClient, "GET", base+"/ui/api/overview", "", nil)
		if strings.Contains(body, `"in_flight":0`) && countLive(body, "nova-lite") == 3 || time.Now().After(deadline) {
			break
		}
	}
	var ov struct {
		Models []struct {
			Name     string `json:"name"`
			Target   string `json:"target"`
			RPMLimit int    `json:"requests_per_min_limit"`
			InFlight int    `json:"in_flight"`
			Live     struct {
				Requests int      `json:"requests"`
				RPM      float64  `json:"rpm"`
				P50      *float64 `json:"p50_ms"`
				TTFT50   *float64 `json:"ttft_p50_ms"`
				Series   []struct {
					Requests int `json:"requests"`
				} `json:"series"`
			} `json:"live"`
		} `json:"models"`
	}
	if err := json.Unmarshal([]byte(body), &ov); err != nil {
		t.Fatal(err, body)
	}
	if len(ov.Models) != 8 {
		t.Fatalf("%d models, want the quick start's 8", len(ov.Models))
	}
	for _, m := range ov.Models {
		want := 0
		if m.Name == "nova-lite" {
			want = 3
		}
		if m.Live.Requests != want || len(m.Live.Series) != 15 || m.InFlight != 0 {
			t.Errorf("%s: %d requests, %d points, %d in flight; want %d, 15, 0", m.Name, m.Live.Requests, len(m.Live.Series), m.InFlight, want)
		}
		if m.Name == "nova-lite" && (m.Target != "us.amazon.nova-lite-v1:0" || m.RPMLimit != 1500 || m.Live.RPM < 1 || m.Live.P50 == nil || m.Live.TTFT50 == nil) {
			t.Errorf("nova-lite: %+v", m)
		}
	}
}

// TestPlaygroundAnswers: a non-streamed call comes back with the gateway's
// status and answer and the Bedrock requests it became; the gateway's
// refusals are passed on as they are.
func TestPlaygroundAnswers(t *testing.T) {
	t.Parallel()
	base := startGateway(t, quickstart, nil)
	for _, tc := range []struct {
		name, op, body string
		status         int
		calls          int
		want           string
	}{
		{"chat", "chat", `{"model":"nova-lite","messages":[{"role":"user","content":"hi"}],"max_tokens":50}`, 200, 1, `"object":"chat.completion"`},
		{"embeddings", "embeddings", `{"model":"titan-embed","input":"hi","dimensions":256}`, 200, 1, `"embedding":[`},
		{"image", "images", `{"model":"nova-canvas","prompt":"a cat","size":"512x512"}`, 200, 1, `"b64_json":"`},
		{"unknown model", "chat", `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`, 404, 0, `"code":"model_not_found"`},
		{"bad request", "chat", `{"model":"nova-lite","messages":[],"temperature":"hot"}`, 400, 0, `"param":"temperature"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, http.DefaultClient, "POST", base+"/ui/api/playground/"+tc.op, tc.body, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var out struct {
				Status   int               `json:"status"`
				Response json.RawMessage   `json:"response"`
				Bedrock  []json.RawMessage `json:"bedrock_requests"`
			}
			if err := json.Unmarshal([]byte(body), &out); err != nil {
				t.Fatal(err)
			}
			if out.Status != tc.status || len(out.Bedrock) != tc.calls || !strings.Contains(string(out.Response), tc.want) {
				t.Fatalf("status %d, %d Bedrock requests, answer %.300s; want %d, %d, %s", out.Status, len(out.Bedrock), out.Response, tc.status, tc.calls, tc.want)
			}
		})
	}
	resp, body := call(t, http.DefaultClient, "POST", base+"/ui/api/playground/rerank", `{}`, nil)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown operation: %d %s", resp.StatusCode, body)
	}
}

// TestLiveShowsKeyAndCost: the live view names the key a request came with
// (a config key by its ID) and what the request cost, priced as usage is.
func TestLiveShowsKeyAndCost(t *testing.T) {
	t.Parallel()
	const apiKey = "live-view-api-key-1"
	base := startGateway(t, quickstart, func(c *config.Config) {
		k, err := config.ParseAPIKey(apiKey)
		if err != nil {
			t.Fatal(err)
		}
		c.Server.APIKeys = []config.APIKey{k}
	})
	_, body := call(t, http.DefaultClient, "POST", base+"/v1/chat/completions",
		`{"model":"nova-lite","messages":[{"role":"user","content":"hi"}],"max_tokens":16}`,
		map[string]string{"Authorization": "Bearer " + apiKey, "Content-Type": "application/json"})
	if !strings.Contains(body, `"usage"`) {
		t.Fatalf("chat answer: %s", body)
	}
	resp, err := http.Get(base + "/ui/api/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rec struct {
		Key     string   `json:"key"`
		Model   string   `json:"model"`
		CostUSD *float64 `json:"cost_usd"`
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if err := json.Unmarshal([]byte(data), &rec); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	want := auth.ConfigKeyID(sha256.Sum256([]byte(apiKey)))
	if rec.Model != "nova-lite" || rec.Key != want || rec.CostUSD == nil || *rec.CostUSD <= 0 {
		t.Errorf("live record: model %q key %q cost %v; want nova-lite, %q and a price", rec.Model, rec.Key, rec.CostUSD, want)
	}
}
