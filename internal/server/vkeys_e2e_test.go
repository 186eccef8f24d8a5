package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// End-to-end tests of virtual keys (/admin/keys): gateways on the quick
// start sharing one store, driven by the official OpenAI and Elasticsearch
// Go clients and plain HTTP for Anthropic's Messages API.

// keyGateways starts n gateways sharing one store (store edits the config
// to point at it), logging at debug level into the returned buffer.
func keyGateways(t *testing.T, n int, store func(*config.Config), opts server.Options) ([]*gateway, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gs := make([]*gateway, n)
	for i := range gs {
		gs[i] = startChatGateway(t, quickstart, store, opts)
	}
	return gs, logs
}

// admin sends a request to g (headers as name, value pairs) and decodes
// the JSON answer.
func admin(t *testing.T, g *gateway, method, path, body string, hdr ...string) (int, map[string]any, []byte) {
	t.Helper()
	status, raw := (&esGateway{URL: g.URL}).do(t, method, path, body, hdr...)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return status, m, raw
}

// createKey creates a virtual key on g and returns its ID and secret.
func createKey(t *testing.T, g *gateway, body string) (id, secret string) {
	t.Helper()
	status, m, raw := admin(t, g, "POST", "/admin/keys", body)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, raw)
	}
	id, _ = m["id"].(string)
	secret, _ = m["key"].(string)
	if !strings.HasPrefix(secret, "qk-") || id == "" {
		t.Fatalf("create answered %s", raw)
	}
	return id, secret
}

// chatStatus sends a one-line chat to model with key ("" for none) and
// returns the status and body.
func chatStatus(t *testing.T, g *gateway, key, model string) (int, string) {
	t.Helper()
	var hdr []string
	if key != "" {
		hdr = []string{"Authorization", "Bearer " + key}
	}
	status, _, raw := admin(t, g, "POST", "/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`, hdr...)
	return status, string(raw)
}

// eventually polls cond until it holds or the deadline passes, and
// returns how long it took.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// TestVirtualKeysAcrossReplicas: a key created on one replica works on
// the other; revoked, it is refused on both within a second; its secret
// is in the creation's answer only, never in the store, the logs or a GET.
func TestVirtualKeysAcrossReplicas(t *testing.T) {
	backends := map[string]func(t *testing.T) (func(*config.Config), func(secret string) []byte){
		"sqlite": func(t *testing.T) (func(*config.Config), func(string) []byte) {
			path := filepath.Join(t.TempDir(), "shared.db")
			return func(c *config.Config) { c.Store.Path = path }, func(string) []byte {
				var all []byte
				for _, f := range []string{path, path + "-wal", path + "-shm"} {
					b, _ := os.ReadFile(f)
					all = append(all, b...)
				}
				return all
			}
		},
		"postgres": func(t *testing.T) (func(*config.Config), func(string) []byte) {
			dsn := postgresSchemaDSN(t, "vkeys_")
			return func(c *config.Config) { c.Store.PostgresDSN = config.Secret(dsn) }, func(string) []byte {
				db, err := sql.Open("pgx", dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				var rows string
				if err := db.QueryRow(`SELECT COALESCE(string_agg(t::text, E'\n'), '') FROM virtual_keys t`).Scan(&rows); err != nil {
					t.Fatal(err)
				}
				return []byte(rows)
			}
		},
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			store, dump := backend(t)
			gs, logs := keyGateways(t, 2, store, server.Options{})
			a, b := gs[0], gs[1]

			// The quick start has no api_keys: open on loopback until a
			// virtual key exists.
			if st, body := chatStatus(t, b, "", "nova-lite"); st != 200 {
				t.Fatalf("open gateway: %d %s", st, body)
			}
			id, secret := createKey(t, a, `{"name":"team-a","owner":"ana","team":"search","labels":{"env":"test"},
				"models":["nova-*"],"rpm":60,"tpm":10000,"budget_usd":25,"budget_period":"month"}`)

			// B learns of the key within a second: from then on it
			// requires keys, and serves this one.
			eventually(t, time.Second, "B requires keys", func() bool {
				st, _ := chatStatus(t, b, "", "nova-lite")
				return st == 401
			})
			cl := chatClient(b, option.WithAPIKey(secret))
			msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
			if _, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "nova-lite", Messages: msgs}); err != nil {
				t.Fatalf("the key created on A, on B: %v", err)
			}
			_, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "claude-sonnet", Messages: msgs})
			apiErrorOf(t, err, 403)
			if st, body := chatStatus(t, a, "", "nova-lite"); st != 401 {
				t.Errorf("A without a key: %d %s", st, body)
			}

			// Reading keys never shows the secret.
			for _, path := range []string{"/admin/keys", "/admin/keys/" + id} {
				for _, g := range gs {
					st, _, raw := admin(t, g, "GET", path, "")
					if st != 200 || bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(secret[len(secret)-20:])) {
						t.Errorf("GET %s: %d, secret shown: %s", path, st, raw)
					}
					if !bytes.Contains(raw, []byte(`"prefix":"`+secret[:10]+"…")) || !bytes.Contains(raw, []byte(`"team":"search"`)) {
						t.Errorf("GET %s: %s", path, raw)
					}
				}
			}

			// Revoked on A: refused on both within a second.
			if st, _, raw := admin(t, b, "GET", "/v1/models", "", "Authorization", "Bearer "+secret); st != 200 {
				t.Fatalf("GET /v1/models with the key, before revoking it: %d %s", st, raw)
			}
			if st, m, raw := admin(t, a, "DELETE", "/admin/keys/"+id, ""); st != 200 || m["status"] != "revoked" {
				t.Fatalf("revoke: %d %s", st, raw)
			}
			// Probed with GET /v1/models, which the key's rpm does not
			// hold up: a chat completion on B, where the key still
			// worked, waited a second for its rate limit to admit it.
			took := eventually(t, time.Second, "revoked everywhere", func() bool {
				sa, _, _ := admin(t, a, "GET", "/v1/models", "", "Authorization", "Bearer "+secret)
				sb, _, _ := admin(t, b, "GET", "/v1/models", "", "Authorization", "Bearer "+secret)
				return sa == 401 && sb == 401
			})
			t.Logf("revocation reached both replicas in %v", took)
			if _, body := chatStatus(t, b, secret, "nova-lite"); !strings.Contains(body, "was revoked") {
				t.Errorf("revoked key's answer: %s", body)
			}
			// No key left that is not revoked: open again, but the revoked
			// key stays refused.
			if st, body := chatStatus(t, b, "", "nova-lite"); st != 200 {
				t.Errorf("no active keys: %d %s", st, body)
			}
			if st, body := chatStatus(t, b, secret, "nova-lite"); st != 401 {
				t.Errorf("revoked key on the open gateway: %d %s", st, body)
			}

			if d := dump(secret); bytes.Contains(d, []byte(secret)) || bytes.Contains(d, []byte(secret[10:])) || len(d) == 0 {
				t.Errorf("the store holds the secret (or nothing was read: %d bytes)", len(d))
			}
			if l := logs.String(); strings.Contains(l, secret[10:]) || !strings.Contains(l, `"key_id":"`+id+`"`) {
				t.Errorf("logs hold the secret or lack the key's ID:\n%s", l)
			}
		})
	}
}

// TestVirtualKeyModels: a model outside the key's list is a 403 in every
// surface's own format; a model it lists (by name, pattern or Bedrock
// model ID) is served.
func TestVirtualKeyModels(t *testing.T) {
	gs, _ := keyGateways(t, 1, nil, server.Options{})
	g := gs[0]
	_, secret := createKey(t, g, `{"name":"nova-only","models":["nova-l?te","amazon.titan-embed-text-*"]}`)
	ctx := context.Background()
	cl := chatClient(g, option.WithAPIKey(secret))

	// OpenAI chat completions.
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	if _, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "nova-lite", Messages: msgs}); err != nil {
		t.Fatalf("allowed model: %v", err)
	}
	_, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "claude-sonnet", Messages: msgs})
	if e := apiErrorOf(t, err, 403); e.Type != "permission_error" || e.Param != "model" || !strings.Contains(e.Message, `"claude-sonnet"`) {
		t.Errorf("chat: %s", e.RawJSON())
	}
	// An alias is the same model.
	_, err = cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "claude-sonnet-4-0", Messages: msgs})
	apiErrorOf(t, err, 403)

	// The model list shows only the key's models.
	var ids []string
	iter := cl.Models.ListAutoPaging(ctx)
	for iter.Next() {
		ids = append(ids, iter.Current().ID)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "nova-lite,titan-embed" {
		t.Errorf("models listed: %v", ids)
	}
	_, err = cl.Models.Get(ctx, "claude-sonnet")
	apiErrorOf(t, err, 403)

	// OpenAI embeddings: titan-embed by its Bedrock model ID; cohere not.
	if _, err := cl.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "titan-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}}); err != nil {
		t.Errorf("titan-embed: %v", err)
	}
	_, err = cl.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "cohere-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
	apiErrorOf(t, err, 403)

	// Responses.
	_, err = cl.Responses.New(ctx, responses.ResponseNewParams{Model: "claude-sonnet", Input: textInput("hi")})
	if e := apiErrorOf(t, err, 403); e.Type != "permission_error" {
		t.Errorf("responses: %s", e.RawJSON())
	}
	if _, err := cl.Responses.New(ctx, responses.ResponseNewParams{Model: "nova-lite", Input: textInput("hi")}); err != nil {
		t.Errorf("responses, allowed model: %v", err)
	}

	// Anthropic Messages.
	st, m, raw := admin(t, g, "POST", "/v1/messages", `{"model":"claude-sonnet-4-0","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`,
		"x-api-key", secret, "anthropic-version", "2023-06-01")
	if e, _ := m["error"].(map[string]any); st != 403 || m["type"] != "error" || e["type"] != "permission_error" {
		t.Errorf("messages: %d %s", st, raw)
	}

	// Elasticsearch: the endpoint's Bedrock model ID decides, whatever the
	// endpoint is called.
	put := func(id, task, model, provider string) {
		st, _, raw := admin(t, g, "PUT", "/_inference/"+task+"/"+id, `{"service":"amazonbedrock","service_settings":{"access_key":"AKIDEXAMPLE",
			"secret_key":"wJalrXUtnFEMI","region":"us-east-1","provider":"`+provider+`","model":"`+model+`"}}`, "Authorization", "ApiKey "+secret)
		if st != 200 {
			t.Fatalf("put %s: %d %s", id, st, raw)
		}
	}
	put("nova-lite", "completion", "anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic")
	put("emb", "text_embedding", "amazon.titan-embed-text-v2:0", "amazontitan")
	st, m, raw = admin(t, g, "POST", "/_inference/completion/nova-lite", `{"input":"hi"}`, "Authorization", "ApiKey "+secret)
	if e, _ := m["error"].(map[string]any); st != 403 || e["type"] != "security_exception" || m["status"] != 403.0 {
		t.Errorf("_inference completion: %d %s", st, raw)
	}
	if st, _, raw := admin(t, g, "POST", "/_inference/text_embedding/emb", `{"input":"hi"}`, "Authorization", "ApiKey "+secret); st != 200 {
		t.Errorf("_inference embedding: %d %s", st, raw)
	}
}

// TestVirtualKeyExpiry: an expired key is a 401 saying when it expired.
func TestVirtualKeyExpiry(t *testing.T) {
	gs, _ := keyGateways(t, 1, nil, server.Options{})
	g := gs[0]
	id, secret := createKey(t, g, `{"name":"temp","expires_at":"2099-01-01T00:00:00Z"}`)
	if st, body := chatStatus(t, g, secret, "nova-lite"); st != 200 {
		t.Fatalf("before expiry: %d %s", st, body)
	}
	if st, m, raw := admin(t, g, "PATCH", "/admin/keys/"+id, `{"expires_at":"2020-01-01T00:00:00Z"}`); st != 200 || m["status"] != "expired" {
		t.Fatalf("patch: %d %s", st, raw)
	}
	st, body := chatStatus(t, g, secret, "nova-lite")
	if st != 401 || !strings.Contains(body, "expired at 2020-01-01T00:00:00Z") || !strings.Contains(body, "authentication_error") {
		t.Errorf("expired: %d %s", st, body)
	}
	st, m, raw := admin(t, g, "POST", "/v1/messages", `{"model":"nova-lite","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`,
		"x-api-key", secret, "anthropic-version", "2023-06-01")
	if e, _ := m["error"].(map[string]any); st != 401 || e["type"] != "authentication_error" || !strings.Contains(raw2s(raw), "expired") {
		t.Errorf("messages, expired: %d %s", st, raw)
	}
}

func raw2s(b []byte) string { return string(b) }

// spendTable is a Spender whose answers the test sets.
type spendTable struct {
	mu    sync.Mutex
	spent map[string]float64
}

func (s *spendTable) Spend(_ context.Context, keyID string, _ time.Time) (float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spent[keyID], nil
}

func (s *spendTable) set(id string, v float64) { s.mu.Lock(); s.spent[id] = v; s.mu.Unlock() }

// untilSpent chats with key until the gateway answers 429 (within 3 s),
// and returns the answer and when today's budget resets.
func untilSpent(t *testing.T, g *gateway, key string) (reset, body string) {
	t.Helper()
	now := time.Now().UTC()
	eventually(t, 3*time.Second, "429 once the budget is spent", func() bool {
		var st int
		st, body = chatStatus(t, g, key, "nova-lite")
		return st == 429
	})
	return time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339), body
}

// TestVirtualKeyBudget: once the spend reaches the budget, requests get a
// 429 naming the budget and when it resets.
func TestVirtualKeyBudget(t *testing.T) {
	spend := &spendTable{spent: map[string]float64{}}
	gs, _ := keyGateways(t, 1, nil, server.Options{Spend: spend})
	g := gs[0]
	id, secret := createKey(t, g, `{"name":"capped","budget_usd":1,"budget_period":"day"}`)
	spend.set(id, 0.4)
	if st, body := chatStatus(t, g, secret, "nova-lite"); st != 200 {
		t.Fatalf("under budget: %d %s", st, body)
	}
	spend.set(id, 1.25)
	reset, body := untilSpent(t, g, secret)
	want := `Budget exceeded: the API key \"capped\" has spent $1.25 of its daily budget of $1.00; the budget resets at ` + reset + "."
	if !strings.Contains(body, want) || !strings.Contains(body, `"type":"insufficient_quota"`) {
		t.Errorf("429 body: %s\nwant the message %s", body, want)
	}
	st, m, raw := admin(t, g, "POST", "/v1/messages", `{"model":"nova-lite","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`,
		"x-api-key", secret, "anthropic-version", "2023-06-01")
	if e, _ := m["error"].(map[string]any); st != 429 || e["type"] != "rate_limit_error" {
		t.Errorf("messages over budget: %d %s", st, raw)
	}
}

// TestAdminKeysGuard: with server.admin_key set, /admin/keys needs it.
func TestAdminKeysGuard(t *testing.T) {
	adminKey, _ := config.ParseAPIKey("admin-secret-123")
	gs, _ := keyGateways(t, 1, func(c *config.Config) { c.Server.AdminKey = &adminKey }, server.Options{})
	g := gs[0]
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong-key-456"}} {
		if st, _, raw := admin(t, g, "GET", "/admin/keys", "", hdr...); st != 401 {
			t.Errorf("without the admin key (%v): %d %s", hdr, st, raw)
		}
	}
	st, _, raw := admin(t, g, "POST", "/admin/keys", `{"name":"x"}`, "Authorization", "Bearer admin-secret-123")
	if st != 201 {
		t.Fatalf("with the admin key: %d %s", st, raw)
	}
	// A virtual key is not an admin key.
	var v struct{ Key string }
	json.Unmarshal(raw, &v)
	if st, _, _ := admin(t, g, "GET", "/admin/keys", "", "Authorization", "Bearer "+v.Key); st != 401 {
		t.Errorf("a virtual key on /admin/keys: %d", st)
	}
}

// TestVirtualKeyBudgetRealUsage: a budget spent by real usage (the
// emulator's token counts, priced and recorded by the usage recorder)
// gives the 429 with the documented message, on every surface.
func TestVirtualKeyBudgetRealUsage(t *testing.T) {
	gs, _ := keyGateways(t, 1, nil, server.Options{})
	g := gs[0]
	// One short answer from nova-lite costs about $0.00002.
	id, secret := createKey(t, g, `{"name":"tiny","budget_usd":0.00001,"budget_period":"day"}`)
	cl := chatClient(g, option.WithAPIKey(secret))
	ctx := context.Background()
	if _, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "nova-lite",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Fatalf("first request, nothing spent yet: %v", err)
	}
	now := time.Now().UTC()
	reset, body := untilSpent(t, g, secret)
	want := regexp.MustCompile(`"Budget exceeded: the API key \\"tiny\\" has spent \$0\.\d+ of its daily budget of \$0\.00001; the budget resets at ` +
		regexp.QuoteMeta(reset) + `\."`)
	if !want.MatchString(body) {
		t.Errorf("429 body: %s", body)
	}
	// The spend is the usage store's.
	if rec := g.Server.UsageRecorder(); rec == nil {
		t.Fatal("no usage recorder")
	} else if spent, err := rec.Spend(ctx, id, now.Add(-time.Hour)); err != nil || spent <= 0.00001 {
		t.Errorf("recorded spend %v, %v", spent, err)
	}
	_, err := cl.Responses.New(ctx, responses.ResponseNewParams{Model: "nova-lite", Input: textInput("hi")})
	if e := apiErrorOf(t, err, 429); e.Type != "insufficient_quota" || !strings.Contains(e.Message, "Budget exceeded") {
		t.Errorf("responses: %s", e.RawJSON())
	}
	st, m, raw := admin(t, g, "POST", "/v1/messages", `{"model":"nova-lite","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`,
		"x-api-key", secret, "anthropic-version", "2023-06-01")
	if e, _ := m["error"].(map[string]any); st != 429 || e["type"] != "rate_limit_error" || !strings.Contains(string(raw), "Budget exceeded") {
		t.Errorf("messages: %d %s", st, raw)
	}
}

// TestVirtualKeyRequestsPerMinute: a key's own rpm is enforced, in the
// surface's 429, while another key on the same model is not held back by
// it. (Requests are admitted smoothly, GCRA with a second's burst, and wait
// up to queue_timeout for their turn: at 1 rpm the second one's turn is a
// minute away.)
func TestVirtualKeyRequestsPerMinute(t *testing.T) {
	gs, _ := keyGateways(t, 1, nil, server.Options{})
	g := gs[0]
	_, slow := createKey(t, g, `{"name":"slow","rpm":1}`)
	_, free := createKey(t, g, `{"name":"free"}`)
	if st, body := chatStatus(t, g, slow, "nova-lite"); st != 200 {
		t.Fatalf("first request of the key: %d %s", st, body)
	}
	status, _, raw := admin(t, g, "POST", "/v1/chat/completions", `{"model":"nova-lite","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+slow)
	if status != http.StatusTooManyRequests || !strings.Contains(string(raw), "requests_per_min_limit") {
		t.Errorf("second request of a 1 rpm key: %d %s", status, raw)
	}
	if st, body := chatStatus(t, g, free, "nova-lite"); st != 200 {
		t.Errorf("another key: %d %s", st, body)
	}
}
