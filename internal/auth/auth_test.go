package auth

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
)

// keys parses api_keys as the config file would give them: one plain, one
// hashed.
func keys(t *testing.T) Keys {
	t.Helper()
	cfg, err := config.Parse("k.yaml", []byte("server:\n  api_keys: [plain-key-1, \""+config.HashAPIKey("hashed-key-2")+"\"]\n"), &config.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	return Keys(cfg.Server.APIKeys)
}

func TestRequire(t *testing.T) {
	k := keys(t)
	for _, c := range []struct {
		name, header, value string
		ok, presented       bool
		xAPIKey             string // sent as well, when set
	}{
		{"x-api-key beside a Basic Authorization", "Authorization", "Basic dXNlcjpwYXNz", true, true, "plain-key-1"},
		{"wrong x-api-key beside a Basic Authorization", "Authorization", "Basic dXNlcjpwYXNz", false, true, "plain-key-9"},
		{"a Bearer key wins over x-api-key", "Authorization", "Bearer plain-key-9", false, true, "plain-key-1"},
		{"bearer plain", "Authorization", "Bearer plain-key-1", true, true, ""},
		{"bearer hashed", "Authorization", "bearer hashed-key-2", true, true, ""},
		{"elasticsearch ApiKey", "Authorization", "ApiKey plain-key-1", true, true, ""},
		{"x-api-key", "X-Api-Key", "hashed-key-2", true, true, ""},
		{"the hash itself is not a key", "Authorization", "Bearer " + config.HashAPIKey("hashed-key-2"), false, true, ""},
		{"wrong key", "Authorization", "Bearer plain-key-2", false, true, ""},
		{"other scheme", "Authorization", "Basic cGxhaW4ta2V5LTE6", false, false, ""},
		{"empty bearer", "Authorization", "Bearer ", false, false, ""},
		{"missing", "", "", false, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
			if c.header != "" {
				r.Header.Set(c.header, c.value)
			}
			if c.xAPIKey != "" {
				r.Header.Set("X-Api-Key", c.xAPIKey)
			}
			var denied, presented bool
			h := k.Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
				func(w http.ResponseWriter, r *http.Request, p bool) { denied, presented = true, p })
			h.ServeHTTP(httptest.NewRecorder(), r)
			if denied == c.ok || (denied && presented != c.presented) {
				t.Errorf("denied %v (key presented %v); want allowed %v (presented %v)", denied, presented, c.ok, c.presented)
			}
		})
	}
	// No keys configured (loopback only): every request passes.
	r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
	if ok, _ := Keys(nil).Check(r); !ok {
		t.Error("an empty key set refused a request")
	}
}

func TestAdmin(t *testing.T) {
	key, err := config.ParseAPIKey("admin-secret-1")
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	deny := func(w http.ResponseWriter, r *http.Request, presented bool) { w.WriteHeader(http.StatusUnauthorized) }
	for _, tc := range []struct {
		name     string
		key      *config.APIKey
		loopback bool
		header   string
		want     int
	}{
		{"no key on loopback is open", nil, true, "", http.StatusNoContent},
		{"no key elsewhere is closed", nil, false, "Bearer admin-secret-1", http.StatusUnauthorized},
		{"right key", &key, false, "Bearer admin-secret-1", http.StatusNoContent},
		{"right key on loopback", &key, true, "Bearer admin-secret-1", http.StatusNoContent},
		{"wrong key", &key, true, "Bearer admin-secret-2", http.StatusUnauthorized},
		{"missing key", &key, true, "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/admin/keys", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			Admin(tc.key, tc.loopback, ok, deny).ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d", w.Code, tc.want)
			}
		})
	}
}

// TestRequireSetsKeyID: a request that passes carries its key's stable ID
// in the access log entry, the same whether the config holds the key
// plain or hashed, and never the key itself.
func TestRequireSetsKeyID(t *testing.T) {
	k := keys(t)
	for _, c := range []struct{ key, id string }{
		{"plain-key-1", "config:" + config.HashAPIKey("plain-key-1")[7:15]},
		{"hashed-key-2", "config:" + config.HashAPIKey("hashed-key-2")[7:15]},
	} {
		var got accesslog.Snapshot
		h := accesslog.Middleware(slog.New(slog.DiscardHandler), k.Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
			func(http.ResponseWriter, *http.Request, bool) { t.Error("denied") }),
			func(_ *http.Request, _ int, _ time.Duration, s accesslog.Snapshot) { got = s })
		r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
		r.Header.Set("Authorization", "Bearer "+c.key)
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got.KeyID != c.id || strings.Contains(got.KeyID, c.key) {
			t.Errorf("%s: key ID %q, want %q", c.key, got.KeyID, c.id)
		}
	}
}
