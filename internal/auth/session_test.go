package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
)

func TestAdminSessionAndCrossOrigin(t *testing.T) {
	key, err := config.ParseAPIKey("admin-secret-1")
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	deny := func(w http.ResponseWriter, r *http.Request, presented bool) { w.WriteHeader(http.StatusUnauthorized) }
	now := time.Now()
	good := NewSession(now)
	expired := NewSession(now.Add(-SessionLifetime - time.Minute))
	forged := *good
	forged.Value = strings.Split(good.Value, ".")[0] + "." + strings.Repeat("0", 64)
	for _, tc := range []struct {
		name     string
		key      *config.APIKey
		loopback bool
		method   string
		cookie   *http.Cookie
		header   map[string]string
		want     int
	}{
		{"session cookie", &key, false, "GET", good, nil, http.StatusNoContent},
		{"expired cookie", &key, false, "GET", expired, nil, http.StatusUnauthorized},
		{"forged cookie", &key, false, "GET", &forged, nil, http.StatusUnauthorized},
		{"cookie without a configured key off loopback", nil, false, "GET", good, nil, http.StatusUnauthorized},
		{"wrong header beats a good cookie", &key, false, "GET", good, map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized},
		{"same-origin POST with cookie", &key, false, "POST", good, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusNoContent},
		{"cross-site POST with cookie", &key, false, "POST", good, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cross-site POST to an open loopback gateway", nil, true, "POST", nil, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site POST with the key", &key, false, "DELETE", nil, map[string]string{"Authorization": "Bearer admin-secret-1", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"non-browser POST with the key", &key, false, "POST", nil, map[string]string{"Authorization": "Bearer admin-secret-1"}, http.StatusNoContent},
		{"cross-site GET is only a read", &key, false, "GET", good, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusNoContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://gw.example/admin/keys", nil)
			if tc.cookie != nil {
				r.AddCookie(tc.cookie)
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			Admin(tc.key, tc.loopback, ok, deny).ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d", w.Code, tc.want)
			}
		})
	}
}

func TestNewSessionCookie(t *testing.T) {
	c := NewSession(time.Now())
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie flags: %+v", c)
	}
	if strings.Contains(c.Value, "admin-secret") {
		t.Fatal("cookie carries the key")
	}
}
