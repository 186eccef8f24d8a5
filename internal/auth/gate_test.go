package auth

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
)

type ctxMark struct{}

// fakeVirtual knows one active key and one revoked key.
type fakeVirtual struct{ required bool }

func (f fakeVirtual) Required() bool { return f.required }

func (f fakeVirtual) Resolve(ctx context.Context, sum [sha256.Size]byte) (context.Context, bool, string) {
	switch sum {
	case sha256.Sum256([]byte("qk-active")):
		return context.WithValue(ctx, ctxMark{}, "active"), true, ""
	case sha256.Sum256([]byte("qk-revoked")):
		return ctx, true, "This API key was revoked."
	}
	return ctx, false, ""
}

// TestGate: config keys and virtual keys side by side; an open gateway
// (no config keys, no active virtual key) still applies a virtual key
// that is presented.
func TestGate(t *testing.T) {
	for _, c := range []struct {
		name     string
		keys     Keys
		required bool
		key      string
		// want: "next" (passed, no grant), "active" (passed with the
		// virtual key's context), "missing", "invalid", or the refusal.
		want string
	}{
		{"open, no key", nil, false, "", "next"},
		{"open, unknown key", nil, false, "whatever", "next"},
		{"open, virtual key", nil, false, "qk-active", "active"},
		{"open, revoked key", nil, false, "qk-revoked", "This API key was revoked."},
		{"virtual keys exist, no key", nil, true, "", "missing"},
		{"virtual keys exist, unknown key", nil, true, "whatever", "invalid"},
		{"virtual keys exist, virtual key", nil, true, "qk-active", "active"},
		{"config keys, config key", keys(t), false, "plain-key-1", "next"},
		{"config keys, virtual key", keys(t), false, "qk-active", "active"},
		{"config keys, revoked key", keys(t), false, "qk-revoked", "This API key was revoked."},
		{"config keys, unknown key", keys(t), false, "whatever", "invalid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ""
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = "next"
				if v, ok := r.Context().Value(ctxMark{}).(string); ok {
					got = v
				}
			})
			deny := func(w http.ResponseWriter, r *http.Request, presented bool) {
				got = map[bool]string{false: "missing", true: "invalid"}[presented]
				if why := Refusal(r); why != "" {
					got = why
				}
			}
			r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
			if c.key != "" {
				r.Header.Set("Authorization", "Bearer "+c.key)
			}
			Gate{Keys: c.keys, Virtual: fakeVirtual{c.required}}.Require(next, deny).ServeHTTP(httptest.NewRecorder(), r)
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// BenchmarkGate is the key check of every request: a config key, and a
// virtual key found in memory (no store round trip).
func BenchmarkGate(b *testing.B) {
	k := keys(&testing.T{})
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	deny := func(http.ResponseWriter, *http.Request, bool) { b.Fatal("denied") }
	h := Gate{Keys: k, Virtual: fakeVirtual{true}}.Require(next, deny)
	for _, key := range []string{"plain-key-1", "qk-active"} {
		b.Run(key, func(b *testing.B) {
			r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
			r.Header.Set("Authorization", "Bearer "+key)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
