package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMadeUpEndpointIDsAddNoSeries: any client can send requests for
// endpoint IDs that do not exist (/_inference/nope-1, or /_inference/%FF,
// which is not UTF-8). Each gets its Elasticsearch error, and none of them
// becomes a metrics label, or /metrics would grow by one series per ID sent.
// An endpoint that exists is labelled.
func TestMadeUpEndpointIDsAddNoSeries(t *testing.T) {
	t.Parallel()
	g := startES(t, "", nil)
	g.ok(t, "PUT", "/_inference/completion/real-one", endpointBody("completion", "anthropic", "anthropic.claude-3-haiku-20240307-v1:0", "AK1", "SK1"))
	g.ok(t, "POST", "/_inference/real-one", `{"input":"hi"}`)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/_inference/%FF", ""},
		{"PUT", "/_inference/text_embedding/%FFx", `{}`},
		{"POST", "/_inference/%FF", `{"input":"hi"}`},
		{"DELETE", "/_inference/%FF", ""},
		{"POST", "/_inference/made-up-1", `{"input":"hi"}`},
		{"POST", "/_inference/completion/made-up-2/_stream", `{"input":"hi"}`},
		{"PUT", "/_inference/made-up-3/_update", `{"task_settings":{"max_new_tokens":3}}`},
		{"DELETE", "/_inference/made-up-4", ""},
		{"PUT", "/_inference/completion/made-up-5", `{"service":"amazonbedrock"}`},
	} {
		req, _ := http.NewRequest(c.method, g.URL+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s %s: %d %s; want an Elasticsearch client error", c.method, c.path, resp.StatusCode, body)
		}
	}
	text := metricsText(t, &gateway{URL: g.URL})
	if !strings.Contains(text, `model="real-one"`) {
		t.Errorf("no series for the endpoint that exists:\n%s", text)
	}
	for _, id := range []string{"\uFFFD", "made-up"} {
		if strings.Contains(text, `model="`+id) {
			t.Errorf("a series for the made-up ID %q:\n%s", id, text)
		}
	}
}

// TestDeletedEndpointLeavesNoSeries: an endpoint's series go with it, so
// that endpoints created and deleted at run time (CI jobs, say) do not grow
// /metrics and the gateway's memory without bound; the soak found this.
func TestDeletedEndpointLeavesNoSeries(t *testing.T) {
	t.Parallel()
	g := startES(t, "", nil)
	g.ok(t, "PUT", "/_inference/completion/short-lived", endpointBody("completion", "anthropic", "anthropic.claude-3-haiku-20240307-v1:0", "AK1", "SK1"))
	g.ok(t, "POST", "/_inference/short-lived", `{"input":"hi"}`)
	if text := metricsText(t, &gateway{URL: g.URL}); !strings.Contains(text, `model="short-lived"`) {
		t.Fatalf("no series for the live endpoint:\n%s", text)
	}
	g.ok(t, "DELETE", "/_inference/short-lived", "")
	if text := metricsText(t, &gateway{URL: g.URL}); strings.Contains(text, `model="short-lived"`) {
		t.Errorf("series of the deleted endpoint remain:\n%s", text)
	}
}
