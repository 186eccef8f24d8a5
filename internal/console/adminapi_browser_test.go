package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/config"
)

// fakeAdminAPI stands in for /admin/keys and /admin/usage as the vkeys and
// usage work documents them (README "Virtual keys"; usage.AdminHandler),
// so that the console's keys page is tested beyond its degraded state
// before those branches land.
type fakeAdminAPI struct {
	mu   sync.Mutex
	keys []map[string]any
}

func (f *fakeAdminAPI) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /admin/keys", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeTestJSON(w, 200, map[string]any{"object": "list", "data": f.keys})
	})
	m.HandleFunc("POST /admin/keys", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name   string   `json:"name"`
			Models []string `json:"models"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
			writeTestJSON(w, 400, map[string]any{"error": map[string]any{"message": "'name' is required", "param": "name"}})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		id := fmt.Sprintf("vk_%d", len(f.keys)+1)
		k := map[string]any{"id": id, "object": "key", "name": in.Name, "prefix": "qk-Test" + id, "models": in.Models,
			"created_at": time.Now().UTC(), "revoked_at": nil, "status": "active"}
		f.keys = append(f.keys, k)
		out := map[string]any{"key": "qk-TestSecretValue-" + id}
		for a, b := range k {
			out[a] = b
		}
		writeTestJSON(w, 201, out)
	})
	m.HandleFunc("DELETE /admin/keys/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, k := range f.keys {
			if k["id"] == r.PathValue("id") {
				k["status"], k["revoked_at"] = "revoked", time.Now().UTC()
				writeTestJSON(w, 200, k)
				return
			}
		}
		writeTestJSON(w, 404, map[string]any{"error": map[string]any{"message": "no such key"}})
	})
	m.HandleFunc("GET /admin/usage", func(w http.ResponseWriter, r *http.Request) {
		h := time.Now().UTC().Truncate(time.Hour)
		var rows []map[string]any
		for i, key := range []string{"search-app", "chat-app"} {
			for j := range 3 {
				rows = append(rows, map[string]any{"hour": h.Add(-time.Duration(j) * time.Hour).Format(time.RFC3339), "key": fmt.Sprint("vk_", i),
					"key_name": key, "model": "nova-lite", "requests": 10 + j, "input_tokens": 1000 * (i + 1), "output_tokens": 500, "cost_usd": 0.01 * float64(j+i+1)})
			}
		}
		writeTestJSON(w, 200, map[string]any{"object": "list", "group_by": []string{"hour", "key", "model"}, "data": rows})
	})
	return m
}

func writeTestJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// TestConsoleKeysAndUsageInBrowser: with an admin API beside the console
// (behind the same guard, so the console's session cookie reaches it),
// create a key, see its secret once, revoke it, and see usage charts.
func TestConsoleKeysAndUsageInBrowser(t *testing.T) {
	cfg, err := config.Load(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store.Path = filepath.Join(t.TempDir(), "endpoints.db")
	withAdminKey(adminKey)(cfg)
	srv, _, stop := serve(t, cfg)
	t.Cleanup(func() { stop() })
	fake := auth.Admin(cfg.Server.AdminKey, true, (&fakeAdminAPI{}).routes(), func(w http.ResponseWriter, r *http.Request, _ bool) {
		writeTestJSON(w, 401, map[string]any{"error": map[string]any{"message": "admin key required"}})
	})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			fake.ServeHTTP(w, r)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	b := newBrowser(t, front.URL)
	b.login(false)
	b.do("keys", chromedp.Navigate(front.URL+"/ui/#keys"))
	b.waitFor("keys form", `document.querySelector("#key-name") !== null`)
	b.do("create key", chromedp.SetValue("#key-name", "browser-test"), chromedp.SetValue("#key-models", "nova-*, titan-embed"), chromedp.Click(`#key-form button[type=submit]`))
	b.waitFor("key created", `(document.querySelector("#key-created .secret") || {}).textContent === "qk-TestSecretValue-vk_1"`)
	if row := b.text("#keys-table tbody"); !strings.Contains(row, "browser-test") || !strings.Contains(row, "nova-*, titan-embed") || !strings.Contains(row, "active") {
		t.Fatalf("keys table: %q", row)
	}
	b.waitFor("usage charts", `document.querySelectorAll("#usage-body canvas").length === 2`)
	b.check("keys-with-admin-api")
	b.do("revoke", chromedp.Click(`#keys-table [data-revoke]`))
	b.waitFor("key revoked", `document.querySelector("#keys-table tbody").textContent.includes("revoked") && document.querySelector("#keys-table [data-revoke]") === null`)
}
