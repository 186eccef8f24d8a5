package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
	"github.com/quarry-dev/quarry/internal/store"
	"github.com/quarry-dev/quarry/internal/usage"
)

// usageTap is the gateway's Bedrock transport in the usage tests: it
// reads, from every answer the emulator sends, the usage it reports
// (Converse's usage member, a stream's metadata event or Claude's
// amazon-bedrock-invocationMetrics, InvokeModel's token-count headers, the
// images an image model returns), summed per Bedrock model ID.
type usageTap struct {
	mu sync.Mutex
	by map[string]accesslog.Usage
}

func (t *usageTap) add(model string, u accesslog.Usage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.by == nil {
		t.by = map[string]accesslog.Usage{}
	}
	t.by[model] = t.by[model].Add(u)
}

func (t *usageTap) get(model string) accesslog.Usage {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.by[model]
}

func (t *usageTap) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	p, _ := url.PathUnescape(req.URL.EscapedPath())
	parts := strings.Split(strings.TrimPrefix(p, "/model/"), "/")
	if len(parts) != 2 {
		return resp, nil
	}
	model, op := parts[0], parts[1]
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var u accesslog.Usage
	switch op {
	case "converse":
		var c struct{ Usage bedrock.TokenUsage }
		json.Unmarshal(body, &c)
		u = converseUsage(c.Usage)
	case "invoke":
		h := func(k string) int { n, _ := strconv.Atoi(resp.Header.Get("X-Amzn-Bedrock-" + k)); return n }
		u = accesslog.Usage{Input: h("Input-Token-Count"), Output: h("Output-Token-Count"),
			CacheRead: h("Cache-Read-Input-Token-Count"), CacheWrite: h("Cache-Write-Input-Token-Count")}
		var img struct{ Images []string }
		json.Unmarshal(body, &img)
		u.Images = len(img.Images)
	case "converse-stream", "invoke-with-response-stream":
		for b := body; len(b) >= 16; {
			total, hlen := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
			payload := b[12+hlen : total-4]
			b = b[total:]
			var ev struct {
				Usage *bedrock.TokenUsage
				Bytes []byte
			}
			json.Unmarshal(payload, &ev)
			if ev.Usage != nil {
				u = u.Add(converseUsage(*ev.Usage))
			}
			var chunk struct {
				M *struct {
					In    int `json:"inputTokenCount"`
					Out   int `json:"outputTokenCount"`
					Read  int `json:"cacheReadInputTokenCount"`
					Write int `json:"cacheWriteInputTokenCount"`
				} `json:"amazon-bedrock-invocationMetrics"`
			}
			if json.Unmarshal(ev.Bytes, &chunk) == nil && chunk.M != nil {
				u = u.Add(accesslog.Usage{Input: chunk.M.In, Output: chunk.M.Out, CacheRead: chunk.M.Read, CacheWrite: chunk.M.Write})
			}
		}
	}
	t.add(model, u)
	return resp, nil
}

// usageMember is how each surface's answers show usage.
var usageMember = map[string]string{
	"/v1/chat/completions": `"prompt_tokens":`, "/v1/messages": `"input_tokens":`, "/v1/responses": `"input_tokens":`,
	"/v1/embeddings": `"prompt_tokens":`, "/v1/images/generations": `"usage":{"input_tokens":`, "/v1/rerank": `"search_units":`,
}

func converseUsage(u bedrock.TokenUsage) accesslog.Usage {
	return accesslog.Usage{Input: u.InputTokens, Output: u.OutputTokens, CacheRead: u.CacheReadInputTokens, CacheWrite: u.CacheWriteInputTokens}
}

// longText is a prompt prefix above every model's prompt-cache minimum
// (the emulator counts a short word as one token).
var longText = strings.Repeat("word ", 2100)

const usageTestKey = "usage-test-key"

// TestUsageRecordedPerSurface: for streamed and non-streamed chat
// (OpenAI, Anthropic Messages native and through Converse, Responses),
// embeddings, images, rerank and /_inference, the rows /admin/usage
// returns hold exactly the tokens the emulator reported (cache reads and
// writes included, reasoning inside output), and their cost is the price
// table's arithmetic on them.
func TestUsageRecordedPerSurface(t *testing.T) {
	t.Parallel()
	tap := &usageTap{}
	// /_inference endpoints have clients of their own: they reach a second
	// emulator through a proxy on the tap (server.bedrock_endpoint_url).
	emu, err := emulator.NewServer(emulator.Config{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	target, _ := url.Parse(emu.URL)
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }, Transport: tap, FlushInterval: -1})
	t.Cleanup(proxy.Close)
	g := startChatGateway(t, quickstart, func(c *config.Config) {
		k, _ := config.ParseAPIKey(usageTestKey)
		c.Server.APIKeys = []config.APIKey{k}
		c.Server.CostHeaders = true
		c.Server.BedrockEndpointURL = proxy.URL
		c.Usage.FlushInterval = 20 * time.Millisecond
	}, server.Options{UpstreamTransport: tap})

	cached := func(model string) string {
		return fmt.Sprintf(`{"model":%q,"max_completion_tokens":200,"messages":[{"role":"system","content":[{"type":"text","text":%q,"cache_control":{"type":"ephemeral"}}]},{"role":"user","content":"Hello"}]`, model, longText)
	}
	anthropicCached := `{"model":"claude-sonnet","max_tokens":300,"system":[{"type":"text","text":` + strconv.Quote(longText) + `,"cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Hello"}]`
	calls := []struct {
		name, path, body string
		stream           bool
	}{
		{"chat cache write", "/v1/chat/completions", cached("nova-lite") + `}`, false},
		{"chat stream cache read", "/v1/chat/completions", cached("nova-lite") + `,"stream":true,"stream_options":{"include_usage":true}}`, true},
		{"chat reasoning", "/v1/chat/completions", `{"model":"claude-sonnet","reasoning_effort":"low","max_completion_tokens":3000,"messages":[{"role":"user","content":"Think about primes"}]}`, false},
		{"chat reasoning stream", "/v1/chat/completions", `{"model":"claude-sonnet","reasoning_effort":"low","max_completion_tokens":3000,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Think about primes"}]}`, true},
		{"messages cache write", "/v1/messages", anthropicCached + `}`, false},
		{"messages stream cache read", "/v1/messages", anthropicCached + `,"stream":true}`, true},
		{"messages converse", "/v1/messages", `{"model":"nova-micro","max_tokens":200,"messages":[{"role":"user","content":"Hi there"}]}`, false},
		{"messages converse stream", "/v1/messages", `{"model":"nova-micro","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"Hi there"}]}`, true},
		{"responses", "/v1/responses", `{"model":"nova-micro","input":"Tell me a story","store":false}`, false},
		{"responses stream", "/v1/responses", `{"model":"nova-micro","input":"Tell me a story","store":false,"stream":true}`, true},
		{"embeddings", "/v1/embeddings", `{"model":"titan-embed","input":["one two three","four five"]}`, false},
		{"images", "/v1/images/generations", `{"model":"nova-canvas","prompt":"a red fox","n":2}`, false},
		{"rerank", "/v1/rerank", `{"model":"cohere-rerank","query":"fox","documents":["a fox","a dog","a cat"]}`, false},
	}
	for _, c := range calls {
		resp := usagePost(t, g.URL+c.path, c.body)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", c.name, resp.StatusCode, body)
		}
		// The answer itself carries the usage, in its surface's form (an
		// OpenAI stream when the client asks, with include_usage).
		if want := usageMember[c.path]; !bytes.Contains(body, []byte(want)) {
			t.Errorf("%s: the answer has no %s", c.name, want)
		}
		if c.stream {
			if resp.Header.Get(usage.CostHeader) != "" || resp.Trailer.Get(usage.CostHeader) == "" {
				t.Errorf("%s: want the cost as a trailer only; header %q trailer %q", c.name, resp.Header.Get(usage.CostHeader), resp.Trailer.Get(usage.CostHeader))
			}
		} else if resp.Header.Get(usage.CostHeader) == "" {
			t.Errorf("%s: no %s header", c.name, usage.CostHeader)
		}
	}

	// /_inference: creating a text_embedding endpoint embeds a probe text
	// (as Elasticsearch learns the dimensions), billed too; then one call
	// per task, streamed and not.
	settings := func(region, provider, model string) string {
		return fmt.Sprintf(`{"service":"amazonbedrock","service_settings":{"access_key":"AKIAEXAMPLE","secret_key":"s","region":%q,"provider":%q,"model":%q}}`, region, provider, model)
	}
	esCalls := []struct{ method, path, body string }{
		{"PUT", "/_inference/text_embedding/usage-cohere", settings("eu-west-1", "cohere", "cohere.embed-english-v3")},
		{"POST", "/_inference/text_embedding/usage-cohere", `{"input":["hello usage world"]}`},
		{"PUT", "/_inference/completion/usage-haiku", settings("us-east-1", "anthropic", "anthropic.claude-3-5-haiku-20241022-v1:0")},
		{"POST", "/_inference/completion/usage-haiku", `{"input":"Tell me about foxes"}`},
		{"POST", "/_inference/completion/usage-haiku/_stream", `{"input":"Tell me about foxes"}`},
		{"PUT", "/_inference/chat_completion/usage-mistral", settings("us-east-1", "mistral", "mistral.mistral-large-2407-v1:0")},
		{"POST", "/_inference/chat_completion/usage-mistral/_stream", `{"messages":[{"role":"user","content":"Hi there"}]}`},
	}
	for _, c := range esCalls {
		resp := usageDo(t, c.method, g.URL+c.path, c.body)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}

	models := map[string]string{ // gateway model → Bedrock model ID and region
		"nova-lite": "us.amazon.nova-lite-v1:0", "claude-sonnet": "us.anthropic.claude-sonnet-4-20250514-v1:0",
		"nova-micro": "amazon.nova-micro-v1:0", "titan-embed": "amazon.titan-embed-text-v2:0",
		"nova-canvas": "amazon.nova-canvas-v1:0", "cohere-rerank": "cohere.rerank-v3-5:0", "usage-cohere": "cohere.embed-english-v3",
		"usage-haiku": "anthropic.claude-3-5-haiku-20241022-v1:0", "usage-mistral": "mistral.mistral-large-2407-v1:0",
	}
	wantKey := "config:" + configKeyHash(usageTestKey)
	// The completion endpoints' creation calls nothing: it is not counted.
	rows := waitUsage(t, g.URL, len(calls)+len(esCalls)-2)
	table := usage.Builtin()
	for name, id := range models {
		row, ok := rows[name]
		if !ok {
			t.Errorf("no usage row for %s (rows %v)", name, rows)
			continue
		}
		want := tap.get(id)
		if name == "cohere-rerank" {
			want.SearchUnits = 1
		}
		if want.IsZero() {
			t.Errorf("%s: the emulator reported no usage", name)
		}
		got := accesslog.Usage{Input: int(row.InputTokens), Output: int(row.OutputTokens), CacheRead: int(row.CacheReadTokens),
			CacheWrite: int(row.CacheWriteTokens), Reasoning: int(row.ReasoningTokens), Images: int(row.Images), SearchUnits: int(row.SearchUnits)}
		if got != want {
			t.Errorf("%s: recorded %+v; the emulator reported %+v", name, got, want)
		}
		if row.KeyID != wantKey {
			t.Errorf("%s: key %q, want %q", name, row.KeyID, wantKey)
		}
		region := "us-east-1"
		if name == "usage-cohere" {
			region = "eu-west-1"
		}
		p, ok := table.Lookup(id, region)
		if !ok {
			t.Fatalf("%s: not in the price table", name)
		}
		f := func(x *float64) float64 {
			if x == nil {
				return 0
			}
			return *x
		}
		wantCost := float64(want.Input)*f(p.InputPerMTok)/1e6 + float64(want.Output)*f(p.OutputPerMTok)/1e6 +
			float64(want.CacheRead)*f(p.CacheReadPerMTok)/1e6 + float64(want.CacheWrite)*f(p.CacheWritePerMTok)/1e6 +
			float64(want.Images)*f(p.PerImage) + float64(want.SearchUnits)*f(p.PerSearchUnit)
		if math.Abs(row.CostUSD-wantCost) > 1e-8 || wantCost == 0 {
			t.Errorf("%s: cost %v, want %v", name, row.CostUSD, wantCost)
		}
	}
	// The cache paths were really taken.
	if u := tap.get("us.amazon.nova-lite-v1:0"); u.CacheWrite == 0 || u.CacheRead == 0 {
		t.Errorf("nova-lite: no cache write and read: %+v", u)
	}
	if u := tap.get("us.anthropic.claude-sonnet-4-20250514-v1:0"); u.CacheWrite == 0 || u.CacheRead == 0 {
		t.Errorf("claude-sonnet: no cache write and read: %+v", u)
	}
}

func configKeyHash(key string) string {
	h := config.HashAPIKey(key) // sha256:<hex>
	return strings.TrimPrefix(h, "sha256:")[:8]
}

func usagePost(t *testing.T, u, body string) *http.Response {
	return usageDo(t, "POST", u, body)
}

func usageDo(t *testing.T, method, u, body string) *http.Response {
	t.Helper()
	return usageRequest(t, method, u, body, usageTestKey, "")
}

// usageRequest sends a request with key (if any) as a Bearer token.
func usageRequest(t *testing.T, method, u, body, key, accept string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// waitUsage polls /admin/usage grouped by model until it counts n
// requests, and returns its rows by model.
func waitUsage(t *testing.T, base string, n int) map[string]usage.Row {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/admin/usage?group_by=key,model")
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Data  []usage.Row
			Total usage.Row
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("/admin/usage: %d %v", resp.StatusCode, err)
		}
		if out.Total.Requests >= int64(n) || time.Now().After(deadline) {
			if out.Total.Requests != int64(n) {
				t.Errorf("/admin/usage counts %d requests, want %d", out.Total.Requests, n)
			}
			m := map[string]usage.Row{}
			for _, r := range out.Data {
				m[r.Model] = r
			}
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUsageAdminAndMetrics: /admin/usage is behind the admin key and
// serves CSV; /metrics counts tokens by kind and cost by model and key;
// cost_headers off sends no cost header.
func TestUsageAdminAndMetrics(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, func(c *config.Config) {
		k, _ := config.ParseAPIKey(usageTestKey)
		c.Server.APIKeys = []config.APIKey{k}
		admin, _ := config.ParseAPIKey("admin-secret")
		c.Server.AdminKey = &admin
		c.Usage.FlushInterval = 20 * time.Millisecond
	})
	resp := usagePost(t, g.URL+"/v1/chat/completions", `{"model":"nova-micro","messages":[{"role":"user","content":"Hello"}]}`)
	var cc struct {
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	json.NewDecoder(resp.Body).Decode(&cc)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(usage.CostHeader) != "" {
		t.Fatalf("chat: %d, cost header %q with cost_headers off", resp.StatusCode, resp.Header.Get(usage.CostHeader))
	}
	get := func(path, key, accept string) (int, string) {
		resp := usageRequest(t, "GET", g.URL+path, "", key, accept)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, key := range []string{"", usageTestKey} {
		if code, _ := get("/admin/usage", key, ""); code != http.StatusUnauthorized {
			t.Errorf("/admin/usage with key %q: %d, want 401", key, code)
		}
	}
	wantKey := "config:" + configKeyHash(usageTestKey)
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var code int
		code, body = get("/admin/usage?group_by=key,model", "admin-secret", "text/csv")
		if code != 200 {
			t.Fatalf("/admin/usage: %d %s", code, body)
		}
		if strings.Contains(body, "nova-micro") || time.Now().After(deadline) {
			break
		}
	}
	line := fmt.Sprintf(",,%s,,nova-micro,1,%d,%d,", wantKey, cc.Usage.PromptTokens, cc.Usage.CompletionTokens)
	if !strings.Contains(body, line) {
		t.Errorf("CSV lacks %q:\n%s", line, body)
	}
	_, metrics := get("/metrics", usageTestKey, "")
	for _, want := range []string{
		fmt.Sprintf(`quarry_usage_tokens_total{key=%q,model="nova-micro",type="input"} %d`, wantKey, cc.Usage.PromptTokens),
		fmt.Sprintf(`quarry_usage_tokens_total{key=%q,model="nova-micro",type="output"} %d`, wantKey, cc.Usage.CompletionTokens),
		fmt.Sprintf(`quarry_usage_cost_usd_total{key=%q,model="nova-micro"}`, wantKey),
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, usageTestKey) || strings.Contains(body, usageTestKey) {
		t.Error("a client key appears in clear")
	}
}

// TestUsageWrittenAtShutdown: with a flush interval longer than the test,
// what a request recorded is in the store once the gateway has shut down.
func TestUsageWrittenAtShutdown(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.Store.Path = dir + "/endpoints.db"
	cfg.Usage.FlushInterval, cfg.Usage.BatchSize = time.Hour, 100000
	cfg.Server.DrainDelay = 0 // no load balancer to wait for
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Logger: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	const n = 5
	for range n {
		resp := usagePost(t, "http://"+ln.Addr().String()+"/v1/embeddings", `{"model":"titan-embed","input":"one two three"}`)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	srv.Close()
	st, err := store.OpenUsage(context.Background(), store.Config{Path: cfg.Store.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Query(context.Background(), store.UsageFilter{Model: "titan-embed"})
	if err != nil || len(rows) != 1 || rows[0].Requests != n || rows[0].InputTokens == 0 || rows[0].CostNanos == 0 {
		t.Fatalf("after shutdown: %+v %v; want one row of %d requests", rows, err, n)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestUsageReplicasPostgres: two replicas on one PostgreSQL add their
// requests to the same key, model and hour row, and either serves it.
func TestUsageReplicasPostgres(t *testing.T) {
	dsn := postgresSchemaDSN(t, "quarry_usage_")
	edit := func(c *config.Config) {
		c.Store.PostgresDSN = config.Secret(dsn)
		k, _ := config.ParseAPIKey(usageTestKey)
		c.Server.APIKeys = []config.APIKey{k}
		c.Usage.FlushInterval = 20 * time.Millisecond
	}
	a, b := startGateway(t, quickstart, edit), startGateway(t, quickstart, edit)
	for _, g := range []*gateway{a, b, b} {
		resp := usagePost(t, g.URL+"/v1/embeddings", `{"model":"titan-embed","input":"one two three"}`)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	rows := waitUsage(t, a.URL, 3)
	if r := rows["titan-embed"]; r.Requests != 3 || r.InputTokens == 0 || r.CostUSD == 0 {
		t.Errorf("shared row = %+v; want 3 requests with tokens and cost", r)
	}
}
