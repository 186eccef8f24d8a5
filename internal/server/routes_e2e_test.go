package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRoutes pins where requests around the routes go: the right method
// reaches the surface, a wrong one gets a 405 with Allow in the surface's
// own format (OpenAI's under /v1 and for the gateway's routes, Anthropic's
// for Messages, Elasticsearch's under /_inference), /v1/ready is the gateway's, unknown
// paths get the gateway's 404, and unclean paths are redirected to their
// clean form.
func TestRoutes(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		method, path, body string
		status             int
		want               string // in the body, or the Location of a redirect
		allow              string // the Allow header of a 405
	}{
		{"POST", "/v1/chat/completions", `{"model":"nova-micro","messages":[{"role":"user","content":"Hi"}]}`, 200, `"chat.completion"`, ""},
		{"POST", "/v1/embeddings", `{"model":"no-such-model","input":"x"}`, 404, `"model_not_found"`, ""},
		{"GET", "/v1/chat/completions", "", 405, `"method_not_allowed"`, "POST"},
		{"PUT", "/v1/embeddings", "", 405, `"method_not_allowed"`, "POST"},
		{"GET", "/v1/images/generations", "", 405, `"method_not_allowed"`, "POST"},
		{"POST", "/v1/models", "", 405, `"method_not_allowed"`, "GET, HEAD"},
		{"DELETE", "/v1/models/nova-micro", "", 405, `"method_not_allowed"`, "GET, HEAD"},
		{"POST", "/health", "", 405, `"method_not_allowed"`, "GET, HEAD"},
		{"PUT", "/metrics", "", 405, `"method_not_allowed"`, "GET, HEAD"},
		{"PATCH", "/_inference/text_embedding/x", "", 405, `"status":405`, "GET,PUT,DELETE,POST"},
		{"GET", "/_inference/completion/x/_stream", "", 405, `"status":405`, "POST"},
		{"POST", "/v1/chat/completions/", "", 404, `"unknown_url"`, ""},
		{"GET", "/v1/models", "", 200, `"list"`, ""},
		{"GET", "/v1/ready", "", 200, `"ready"`, ""},
		{"POST", "/v1/ready", "", 405, `"method_not_allowed"`, "GET, HEAD"},
		{"GET", "/v2/chat/completions", "", 404, `"unknown_url"`, ""},
		{"GET", "/v1/messages", "", 405, `"invalid_request_error"`, "POST"},
		{"PUT", "/v1/messages/count_tokens", "", 405, `"invalid_request_error"`, "POST"},
		{"GET", "/v1/messages/batches", "", 404, `"not_found_error"`, ""},
		{"GET", "/v1/responses", "", 405, `"method_not_allowed"`, "POST"},
		{"PUT", "/v1/responses/resp_1", "", 404, `"unknown_url"`, ""},
		{"POST", "/v1//chat/completions", "", 307, "/v1/chat/completions", ""},
		{"POST", "/v1/x/../chat/completions", "", 307, "/v1/chat/completions", ""},
	} {
		req, _ := http.NewRequest(c.method, g.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := string(raw)
		if resp.StatusCode/100 == 3 {
			got = resp.Header.Get("Location")
		} else if !json.Valid(raw) {
			t.Errorf("%s %s: not JSON: %s", c.method, c.path, raw)
		}
		if resp.StatusCode != c.status || !strings.Contains(got, c.want) {
			t.Errorf("%s %s = %d %s; want %d with %s", c.method, c.path, resp.StatusCode, got, c.status, c.want)
		}
		if a := resp.Header.Get("Allow"); a != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, a, c.allow)
		}
	}
}
