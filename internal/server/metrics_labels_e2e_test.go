package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestInvalidUTF8EndpointID: an endpoint ID that is not UTF-8 (any client
// can send /_inference/%FF) becomes a metrics label; the request still gets
// its answer and is counted, rather than the connection being dropped.
func TestInvalidUTF8EndpointID(t *testing.T) {
	g := startGateway(t, quickstart, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/_inference/%FF"},
		{"PUT", "/_inference/text_embedding/%FFx"},
		{"POST", "/_inference/%FF"},
		{"DELETE", "/_inference/%FF"},
	} {
		req, _ := http.NewRequest(c.method, g.URL+c.path, strings.NewReader(`{}`))
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
	if text := metricsText(t, g); !strings.Contains(text, `model="`+"\uFFFD"+`"`) {
		t.Errorf("no series for the endpoint ID in /metrics:\n%s", text)
	}
}
