package vkeys

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/store"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// newTestAdmin serves /admin/keys on a fresh SQLite store.
func newTestAdmin(t *testing.T, opts Options) (*Admin, *Cache, *store.VirtualKeys) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenVirtualKeys(ctx, store.Config{Path: filepath.Join(t.TempDir(), "k.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Hour // the tests refresh explicitly
	}
	c, err := NewCache(ctx, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return NewAdmin(st, c, nil), c, st
}

func call(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, w.Body)
	}
	return w.Code, m
}

// TestAdminInvalid: every bad setting is a 400 naming the field and the
// rule, on creation and on update.
func TestAdminInvalid(t *testing.T) {
	a, _, _ := newTestAdmin(t, Options{})
	_, m := call(t, a, "POST", "/admin/keys", `{"name":"ok"}`)
	id := m["id"].(string)
	for _, c := range []struct {
		body, param, says string
	}{
		{`[]`, "", "JSON object"},
		{`{"name":"x"`, "", "JSON object"},
		{`{}`, "name", "required"},
		{`{"name":""}`, "name", "required"},
		{`{"name":7}`, "name", "must be a string"},
		{`{"name":"` + strings.Repeat("n", 129) + `"}`, "name", "at most 128"},
		{`{"name":"a\u0007b"}`, "name", "control characters"},
		{`{"name":"x","owner":[]}`, "owner", "string"},
		{`{"name":"x","labels":["a"]}`, "labels", "object of strings"},
		{`{"name":"x","labels":{"":"v"}}`, "labels", "1 to 64"},
		{`{"name":"x","models":"nova-lite"}`, "models", "array of model names or glob patterns"},
		{`{"name":"x","models":[""]}`, "models", "models[0]"},
		{`{"name":"x","rpm":-1}`, "rpm", "whole number from 0"},
		{`{"name":"x","tpm":1.5}`, "tpm", "whole number"},
		{`{"name":"x","budget_usd":-3}`, "budget_usd", "from 0"},
		{`{"name":"x","budget_usd":"10"}`, "budget_usd", "number of US dollars"},
		{`{"name":"x","budget_period":"week"}`, "budget_period", `"day" or "month"`},
		{`{"name":"x","expires_at":"tomorrow"}`, "expires_at", "RFC 3339"},
		{`{"name":"x","expires_at":"2001-01-01T00:00:00Z"}`, "expires_at", "in the future"},
		{`{"name":"x","key":"qk-mine"}`, "key", "set by the gateway"},
		{`{"name":"x","revoked_at":null}`, "revoked_at", "DELETE"},
		{`{"name":"x","budget":5}`, "budget", "Unknown field 'budget'"},
	} {
		status, m := call(t, a, "POST", "/admin/keys", c.body)
		e, _ := m["error"].(map[string]any)
		param, _ := e["param"].(string)
		msg, _ := e["message"].(string)
		if status != 400 || param != c.param || !strings.Contains(msg, c.says) || e["type"] != "invalid_request_error" {
			t.Errorf("POST %s: %d %v", c.body, status, m)
		}
		if c.param == "expires_at" && strings.Contains(c.says, "future") {
			continue // a past expiry is how an update expires a key
		}
		if c.param == "name" && c.body == `{}` {
			continue // an empty update changes nothing
		}
		if status, m := call(t, a, "PATCH", "/admin/keys/"+id, c.body); status != 400 {
			t.Errorf("PATCH %s: %d %v", c.body, status, m)
		}
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/admin/keys/vk_nope", 404},
		{"PATCH", "/admin/keys/vk_nope", 404},
		{"DELETE", "/admin/keys/vk_nope", 404},
		{"PUT", "/admin/keys/" + id, 405},
		{"DELETE", "/admin/keys", 405},
		{"GET", "/admin/keys/a/b", 404},
	} {
		if status, m := call(t, a, c.method, c.path, `{"name":"y"}`); status != c.status {
			t.Errorf("%s %s: %d %v", c.method, c.path, status, m)
		}
	}
}

// TestAdminLifecycle: create, read, update (null clears), revoke; the
// secret only in the creation's answer.
func TestAdminLifecycle(t *testing.T) {
	a, c, _ := newTestAdmin(t, Options{})
	status, m := call(t, a, "POST", "/admin/keys", `{"name":" ci ","owner":"ana","models":["nova-*"],"budget_usd":5,"expires_at":"2099-01-01T02:00:00+02:00"}`)
	secret, _ := m["key"].(string)
	if status != 201 || !strings.HasPrefix(secret, "qk-") || m["name"] != "ci" || m["budget_period"] != "month" ||
		m["expires_at"] != "2099-01-01T00:00:00Z" || m["status"] != "active" || m["prefix"] != secret[:10]+"…" {
		t.Fatalf("create: %d %v", status, m)
	}
	id := m["id"].(string)
	if !c.Required() {
		t.Error("a key exists, but keys are not required")
	}
	_, m = call(t, a, "PATCH", "/admin/keys/"+id, `{"models":null,"rpm":30,"owner":null}`)
	if _, has := m["key"]; has || len(m["models"].([]any)) != 0 || m["rpm"] != 30.0 || m["owner"] != nil || m["name"] != "ci" {
		t.Errorf("patch: %v", m)
	}
	_, m = call(t, a, "GET", "/admin/keys", "")
	if data := m["data"].([]any); len(data) != 1 || data[0].(map[string]any)["rpm"] != 30.0 {
		t.Errorf("list: %v", m)
	}
	_, m = call(t, a, "DELETE", "/admin/keys/"+id, "")
	first := m["revoked_at"]
	if m["status"] != "revoked" || first == nil {
		t.Errorf("revoke: %v", m)
	}
	if _, m = call(t, a, "DELETE", "/admin/keys/"+id, ""); m["revoked_at"] != first {
		t.Errorf("revoking again moved the time: %v", m)
	}
	if c.Required() {
		t.Error("only revoked keys, but keys are required")
	}
}

type fakeSpend struct {
	mu    sync.Mutex
	value float64
	calls int
	err   error
}

func (f *fakeSpend) Spend(context.Context, string, time.Time) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.value, f.err
}

// TestGrant: Resolve refuses revoked and expired keys with a reason, puts
// an active key's ID on the access log, and its grant refuses models out
// of its list and a spent budget; spend is read once per second at most.
func TestUSD(t *testing.T) {
	for v, want := range map[float64]string{1: "1.00", 1.25: "1.25", 12.5: "12.50", 0.000016: "0.000016", 0: "0.00", 1234.5678: "1234.5678"} {
		if got := usd(v); got != want {
			t.Errorf("usd(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestGrant(t *testing.T) {
	spend := &fakeSpend{value: 0.5}
	now := time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, c, st := newTestAdmin(t, Options{Spend: spend, Now: clock})
	a.now = clock
	_, m := call(t, a, "POST", "/admin/keys", `{"name":"k","models":["nova-*"],"budget_usd":1,"budget_period":"day"}`)
	secret := m["key"].(string)
	sum := sha256.Sum256([]byte(secret))

	if _, found, _ := c.Resolve(context.Background(), sha256.Sum256([]byte("qk-unknown"))); found {
		t.Error("an unknown key was found")
	}
	e := &accesslog.Entry{}
	ctx, found, why := c.Resolve(accesslog.With(context.Background(), e), sum)
	if !found || why != "" {
		t.Fatalf("active key: %v %q", found, why)
	}
	if id := e.Snapshot().KeyID; id != m["id"] || KeyFrom(ctx) == nil || KeyFrom(context.Background()) != nil {
		t.Errorf("key identity: %q", id)
	}
	g := upstream.GrantFrom(ctx)
	if err := g.Allow(ctx, "nova-lite"); err != nil {
		t.Errorf("allowed model under budget: %v", err)
	}
	var d *upstream.Denied
	if err := g.Allow(ctx, "claude", "us.anthropic.claude"); !errors.As(err, &d) || d.Status != 403 ||
		d.Message != `The API key "k" may not use the model "claude": it may use only nova-*.` {
		t.Errorf("other model: %v", err)
	}
	// Spent: the cached 0.5 is used until a second has passed; then the
	// new value is read off the request and applies to the next one.
	spend.mu.Lock()
	spend.value = 1
	spend.mu.Unlock()
	if err := g.Allow(ctx, "nova-lite"); err != nil {
		t.Errorf("within the spend TTL: %v", err)
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	deadline := time.Now().Add(2 * time.Second)
	var err error
	for err = g.Allow(ctx, "nova-lite"); err == nil && time.Now().Before(deadline); err = g.Allow(ctx, "nova-lite") {
		time.Sleep(5 * time.Millisecond)
	}
	if !errors.As(err, &d) || d.Status != 429 || d.RetryAfter != 12*time.Hour-2*time.Second ||
		d.Message != `Budget exceeded: the API key "k" has spent $1.00 of its daily budget of $1.00; the budget resets at 2027-03-11T00:00:00Z.` {
		t.Errorf("spent budget: %v", err)
	}
	if f := upstream.Classify(err); f.Status != 429 || f.Kind != upstream.FailureBudget {
		t.Errorf("classified as %+v", f)
	}
	spend.mu.Lock()
	calls := spend.calls
	spend.mu.Unlock()
	if calls > 3 {
		t.Errorf("spend read %d times", calls)
	}

	// Expired, then revoked: refused with the reason.
	k, _ := st.Get(context.Background(), m["id"].(string))
	k.ExpiresAt = now.Add(-time.Minute)
	st.Update(context.Background(), k)
	c.Refresh(context.Background())
	if _, found, why := c.Resolve(context.Background(), sum); !found || !strings.Contains(why, "expired at 2027-03-10T11:59:02Z") {
		t.Errorf("expired: %v %q", found, why)
	}
	st.Revoke(context.Background(), k.ID)
	c.Refresh(context.Background())
	if _, found, why := c.Resolve(context.Background(), sum); !found || !strings.Contains(why, "was revoked") {
		t.Errorf("revoked: %v %q", found, why)
	}
}
