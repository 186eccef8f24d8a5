//lint:file-ignore SA1019 NewClient(Config) is what most users' code calls; go-elasticsearch keeps it fully supported

package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v9"
	"github.com/elastic/go-elasticsearch/v9/esapi"

	"github.com/quarry-dev/quarry/internal/config"
)

// TestGoClient drives /_inference with the official Go client
// (go-elasticsearch v9), which refuses any server failing its product check
// and sends Elasticsearch's versioned media type: create (inference.put and
// inference.putAmazonbedrock), get, text embedding, completion, streamed
// completion, update, delete and errors, each read as the client reads
// Elasticsearch's.
func TestGoClient(t *testing.T) {
	g := esWithKey(t, "es-client-key")
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{g.URL}, APIKey: "es-client-key"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = ctx
	check := func(t *testing.T, what string, want int, res *esapi.Response, err error) map[string]any {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s: %d %s", what, res.StatusCode, b)
		}
		if res.Header.Get("X-Elastic-Product") != "Elasticsearch" {
			t.Errorf("%s: no product header", what)
		}
		var m map[string]any
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v in %s", what, err, b)
			}
		} else {
			m = map[string]any{"sse": string(b)}
		}
		return m
	}
	read := func(t *testing.T, what string, want int) func(*esapi.Response, error) map[string]any {
		return func(res *esapi.Response, err error) map[string]any { return check(t, what, want, res, err) }
	}

	// Ping and cluster info: what older clients and Kibana check.
	info := read(t, "info", 200)(es.Info())
	if v := info["version"].(map[string]any)["number"].(string); !strings.HasPrefix(v, "9.") {
		t.Errorf("version %s", v)
	}

	emb := `{"service":"amazonbedrock","service_settings":{"access_key":"AKIDEXAMPLE","secret_key":"wJalrXUtnFEMI","region":"us-east-1","provider":"amazontitan","model":"amazon.titan-embed-text-v2:0"}}`
	got := read(t, "put", 200)(es.InferencePut(strings.NewReader(emb), "go-emb", es.InferencePut.WithTaskType("text_embedding"), es.InferencePut.WithContext(ctx)))
	cs, _ := got["chunking_settings"].(map[string]any)
	if cs["strategy"] != "sentence" || cs["max_chunk_size"] != 250.0 || cs["sentence_overlap"] != 1.0 {
		t.Errorf("default chunking settings: %v", got)
	}
	comp := `{"service":"amazonbedrock","service_settings":{"access_key":"AKIDEXAMPLE","secret_key":"wJalrXUtnFEMI","region":"us-east-1","provider":"anthropic","model":"anthropic.claude-3-5-haiku-20241022-v1:0"},"task_settings":{"max_new_tokens":64}}`
	got = read(t, "putAmazonbedrock", 200)(es.InferencePutAmazonbedrock(strings.NewReader(comp), "go-comp", "completion"))
	if _, has := got["chunking_settings"]; has {
		t.Errorf("completion endpoints show no chunking settings: %v", got)
	}

	got = read(t, "get", 200)(es.InferenceGet(es.InferenceGet.WithInferenceID("go-emb")))
	if eps := got["endpoints"].([]any); len(eps) != 1 || eps[0].(map[string]any)["inference_id"] != "go-emb" {
		t.Errorf("get: %v", got)
	}
	got = read(t, "get _all", 200)(es.InferenceGet())
	if eps := got["endpoints"].([]any); len(eps) != 2 {
		t.Errorf("get all: %v", got)
	}

	got = read(t, "text_embedding", 200)(es.InferenceTextEmbedding(strings.NewReader(`{"input":["a","b"]}`), "go-emb"))
	if vecs := got["text_embedding"].([]any); len(vecs) != 2 {
		t.Errorf("embeddings: %v", got)
	}
	got = read(t, "completion", 200)(es.InferenceCompletion(strings.NewReader(`{"input":"Say hi"}`), "go-comp"))
	if res := got["completion"].([]any); len(res) != 1 || res[0].(map[string]any)["result"] == "" {
		t.Errorf("completion: %v", got)
	}
	got = read(t, "stream", 200)(es.InferenceStreamCompletion(strings.NewReader(`{"input":"Say hi"}`), "go-comp"))
	if s := got["sse"].(string); !strings.Contains(s, `"delta"`) {
		t.Errorf("stream: %s", s)
	}

	got = read(t, "update", 200)(es.InferenceUpdate(strings.NewReader(`{"task_settings":{"max_new_tokens":32}}`), "go-comp", es.InferenceUpdate.WithTaskType("completion")))
	if got["task_settings"].(map[string]any)["max_new_tokens"] != 32.0 {
		t.Errorf("update: %v", got)
	}

	// Errors reach the client as Elasticsearch's: status, type, reason.
	for _, c := range []struct {
		name   string
		res    *esapi.Response
		err    error
		status int
		typ    string
	}{
		{"missing endpoint", nil, nil, 404, "resource_not_found_exception"},
		{"bad input before lookup", nil, nil, 400, "action_request_validation_exception"},
		{"bad chunking", nil, nil, 400, "validation_exception"},
	} {
		switch c.name {
		case "missing endpoint":
			c.res, c.err = es.InferenceCompletion(strings.NewReader(`{"input":"x"}`), "nope")
		case "bad input before lookup":
			c.res, c.err = es.InferenceCompletion(strings.NewReader(`{}`), "nope")
		case "bad chunking":
			c.res, c.err = es.InferencePut(strings.NewReader(strings.Replace(emb, `"service":`, `"chunking_settings":{"strategy":"word","max_chunk_size":5,"overlap":1},"service":`, 1)), "go-emb2", es.InferencePut.WithTaskType("text_embedding"))
		}
		got := check(t, c.name, c.status, c.res, c.err)
		if e := got["error"].(map[string]any); e["type"] != c.typ || len(e["root_cause"].([]any)) != 1 {
			t.Errorf("%s: %v", c.name, got)
		}
	}

	read(t, "delete", 200)(es.InferenceDelete("go-comp"))
	read(t, "get deleted", 404)(es.InferenceGet(es.InferenceGet.WithInferenceID("go-comp")))

	// A wrong key is refused as Elasticsearch's security layer does, with
	// the product header (the client reads the 401, not a product error).
	bad, _ := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{g.URL}, APIKey: "wrong"})
	got = read(t, "wrong key", http.StatusUnauthorized)(bad.InferenceGet())
	if got["error"].(map[string]any)["type"] != "security_exception" {
		t.Errorf("401: %v", got)
	}
}

// TestGoClientRefusesWithoutProductHeader shows why the header matters:
// the Go client refuses a 2xx answer that lacks it.
func TestGoClientRefusesWithoutProductHeader(t *testing.T) {
	g := startES(t, "", nil)
	strip := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := http.Get(g.URL + r.URL.Path)
		if err != nil {
			t.Error(err)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	})
	srv := newLoopbackServer(t, strip)
	es, _ := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv}})
	_, err := es.InferenceGet()
	if err == nil || !strings.Contains(err.Error(), "not Elasticsearch") {
		t.Errorf("the client accepted a server without the product header: %v", err)
	}
}

// esWithKey runs the quick start with one API key in server.api_keys.
func esWithKey(t *testing.T, key string) *esGateway {
	t.Helper()
	src, err := os.ReadFile(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := strings.Replace(string(src), "server:\n  address: 127.0.0.1:8080\n", "server:\n  address: 127.0.0.1:8080\n  api_keys: ["+key+"]\n", 1)
	path := filepath.Join(dir, "quarry.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return serveES(t, cfg, dir)
}

func newLoopbackServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
