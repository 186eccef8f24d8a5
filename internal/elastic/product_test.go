package elastic

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestProduct: every answer, errors and the 401 included, carries the
// header the official clients check; versioned media types 8 and 9 are
// echoed, others refused; GET / answers cluster info.
func TestProduct(t *testing.T) {
	h, _ := startHandler(t)
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Deny(w, r, true) })
	mux := http.NewServeMux()
	mux.Handle("/_inference/", Product(h))
	mux.Handle("/denied", Product(deny))
	mux.Handle("GET /{$}", Product(http.HandlerFunc(ClusterInfo)))
	for _, c := range []struct {
		name, method, path, accept, ct string
		status                         int
		wantCT, bodyHas                string
	}{
		{"plain JSON", "GET", "/_inference/_all", "", "", 200, "application/json", `"endpoints"`},
		{"compatible-with=9", "GET", "/_inference/_all", "application/vnd.elasticsearch+json; compatible-with=9", "", 200,
			"application/vnd.elasticsearch+json;compatible-with=9", `"endpoints"`},
		{"compatible-with=8", "GET", "/_inference/nope", "application/vnd.elasticsearch+json;compatible-with=8", "", 404,
			"application/vnd.elasticsearch+json;compatible-with=8", "resource_not_found_exception"},
		{"JS client's Accept list", "GET", "/_inference/_all", "application/vnd.elasticsearch+json; compatible-with=9,text/plain", "", 200,
			"application/vnd.elasticsearch+json;compatible-with=9", `"endpoints"`},
		{"compatible-with=7 refused", "GET", "/_inference/_all", "application/vnd.elasticsearch+json; compatible-with=7", "", 400,
			"application/json", "media_type_header_exception"},
		{"Content-Type names another version", "POST", "/_inference/completion/x", "application/vnd.elasticsearch+json; compatible-with=9",
			"application/vnd.elasticsearch+json; compatible-with=8", 400, "application/json", "media_type_header_exception"},
		{"401", "GET", "/denied", "", "", 401, "application/json", "security_exception"},
		{"cluster info", "GET", "/", "", "", 200, "application/json", `"tagline":"You Know, for Search"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(`{"input":"x"}`))
			if c.accept != "" {
				r.Header.Set("Accept", c.accept)
			}
			if c.ct != "" {
				r.Header.Set("Content-Type", c.ct)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != c.status || w.Header().Get("X-Elastic-Product") != "Elasticsearch" ||
				w.Header().Get("Content-Type") != c.wantCT || !strings.Contains(w.Body.String(), c.bodyHas) {
				t.Errorf("%d %v %s", w.Code, w.Header(), w.Body)
			}
		})
	}
}

// TestErrorBodyBounded: 100,000 unknown keys do not make a megabyte error
// (the reason is capped; it appears twice, in error and root_cause).
func TestErrorBodyBounded(t *testing.T) {
	h, _ := startHandler(t)
	var b strings.Builder
	b.WriteString(`{"service":"amazonbedrock","service_settings":{"region":"us-east-1","provider":"anthropic","model":"m","access_key":"a","secret_key":"s"}`)
	for i := range 100000 {
		b.WriteString(`,"k` + strings.Repeat("x", 10) + strconv.Itoa(i) + `":1`)
	}
	b.WriteString("}")
	st, body := call(h, "PUT", "/_inference/completion/big", b.String())
	if st != 400 || len(body) > 2*maxReason+512 || !strings.Contains(body, "[truncated]") {
		t.Errorf("%d, %d bytes: %.300s", st, len(body), body)
	}
}

// TestInputsBounded: a request with more inputs than the bound is refused
// up front, naming the limit, before any Bedrock call (issue #12: 10,000
// Titan inputs made 123 calls and then threw the results away).
func TestInputsBounded(t *testing.T) {
	h, rec := startHandler(t)
	if st, b := call(h, "PUT", "/_inference/text_embedding/e", createBody(taskTextEmbedding, nil, nil, nil)); st != 200 {
		t.Fatalf("create: %d %s", st, b)
	}
	rec.mu.Lock()
	before := len(rec.calls)
	rec.mu.Unlock()
	in := make([]string, DefaultMaxInputs+1)
	for i := range in {
		in[i] = "x"
	}
	body, _ := json.Marshal(map[string]any{"input": in})
	st, b := call(h, "POST", "/_inference/text_embedding/e", string(body))
	if st != 400 || !strings.Contains(b, `"type":"action_request_validation_exception"`) ||
		!strings.Contains(b, "cannot contain more than [1000] inputs") {
		t.Errorf("%d %.300s", st, b)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) != before {
		t.Errorf("%d Bedrock calls for a refused request", len(rec.calls)-before)
	}
}
