package console_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const adminKey = "console-admin-key-0123456789"

// consoleRoutes is every console route and API call, with a body where the
// route takes one.
var consoleRoutes = []struct{ method, path, body string }{
	{"GET", "/ui/", ""},
	{"GET", "/ui/assets/app.js", ""},
	{"GET", "/ui/assets/app.css", ""},
	{"GET", "/ui/assets/index.html", ""},
	{"GET", "/ui/assets/vendor/uPlot.iife.min.js", ""},
	{"GET", "/ui/api/overview", ""},
	{"GET", "/ui/api/live", ""},
	{"POST", "/ui/api/playground/chat", `{"model":"nova-lite","messages":[{"role":"user","content":"hi"}],"stream":true}`},
	{"POST", "/ui/api/playground/embeddings", `{"model":"titan-embed","input":"hi"}`},
	{"POST", "/ui/api/playground/images", `{"model":"nova-canvas","prompt":"a cat"}`},
	{"GET", "/ui/api/inference/_all", ""},
	{"PUT", "/ui/api/inference/text_embedding/e1", `{"service":"amazonbedrock","service_settings":{}}`},
	{"PUT", "/ui/api/inference/text_embedding/e1/_update", `{}`},
	{"DELETE", "/ui/api/inference/text_embedding/e1", ""},
	{"POST", "/ui/logout", ""},
	{"GET", "/ui/no-such-page", ""},
}

func call(t *testing.T, c *http.Client, method, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") && strings.HasSuffix(url, "/live") {
		return resp, "" // an endless stream: the status is what counts
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestConsoleRoutesNeedTheAdminKey(t *testing.T) {
	t.Parallel()
	base := startGateway(t, quickstart, withAdminKey(adminKey))
	for _, cred := range []struct {
		name string
		hdr  map[string]string
	}{
		{"no key", nil},
		{"wrong key", map[string]string{"Authorization": "Bearer not-the-admin-key"}},
		{"bogus session cookie", map[string]string{"Cookie": "quarry_admin_session=4102444800.00"}},
	} {
		for _, rt := range consoleRoutes {
			t.Run(cred.name+" "+rt.method+" "+rt.path, func(t *testing.T) {
				resp, _ := call(t, noRedirect, rt.method, base+rt.path, rt.body, cred.hdr)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", resp.StatusCode)
				}
			})
		}
	}
	// With the key, none is refused.
	for _, rt := range consoleRoutes {
		resp, body := call(t, noRedirect, rt.method, base+rt.path, rt.body, map[string]string{"Authorization": "Bearer " + adminKey})
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			t.Errorf("%s %s with the key: %d %s", rt.method, rt.path, resp.StatusCode, body)
		}
	}
}

// login posts the admin key to the login form and returns the session cookie.
func login(t *testing.T, base, key string) *http.Cookie {
	t.Helper()
	resp, err := noRedirect.PostForm(base+"/ui/login", url.Values{"key": {key}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "quarry_admin_session" {
			return c
		}
	}
	t.Fatal("login set no session cookie")
	return nil
}

func TestConsoleLogin(t *testing.T) {
	t.Parallel()
	base := startGateway(t, quickstart, withAdminKey(adminKey))

	resp, body := call(t, noRedirect, "GET", base+"/ui/", "", nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `action="/ui/login"`) {
		t.Fatalf("page without a session: %d, want 401 with the login form:\n%s", resp.StatusCode, body)
	}
	resp, _ = call(t, noRedirect, "GET", base+"/ui/login", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	wrong, err := noRedirect.PostForm(base+"/ui/login", url.Values{"key": {"nope"}})
	if err != nil {
		t.Fatal(err)
	}
	wrong.Body.Close()
	if wrong.StatusCode != http.StatusUnauthorized || len(wrong.Cookies()) != 0 {
		t.Fatalf("wrong key: %d, cookies %v", wrong.StatusCode, wrong.Cookies())
	}

	c := login(t, base, adminKey)
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v: want Secure, HttpOnly, SameSite=Strict", c)
	}
	if strings.Contains(c.Value, adminKey) {
		t.Fatal("the session cookie carries the admin key")
	}
	cookie := map[string]string{"Cookie": c.Name + "=" + c.Value}
	for _, rt := range consoleRoutes {
		if rt.path == "/ui/logout" {
			continue
		}
		hdr := map[string]string{"Cookie": cookie["Cookie"], "Sec-Fetch-Site": "same-origin"}
		if resp, body := call(t, noRedirect, rt.method, base+rt.path, rt.body, hdr); resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			t.Errorf("%s %s with the session: %d %s", rt.method, rt.path, resp.StatusCode, body)
		}
	}
	resp, _ = call(t, noRedirect, "POST", base+"/ui/logout", "", map[string]string{"Cookie": cookie["Cookie"], "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %v", resp.StatusCode, resp.Cookies())
	}
}

func TestConsoleRefusesCrossSiteCalls(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		key  bool
	}{{"with an admin key and a session", true}, {"open on loopback without a key", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var base string
			hdrs := map[string]string{}
			if tc.key {
				base = startGateway(t, quickstart, withAdminKey(adminKey))
				c := login(t, base, adminKey)
				hdrs["Cookie"] = c.Name + "=" + c.Value
			} else {
				base = startGateway(t, quickstart, nil)
			}
			for _, cross := range []map[string]string{
				{"Sec-Fetch-Site": "cross-site"},
				{"Origin": "https://evil.example"},
				{"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"},
			} {
				for _, rt := range consoleRoutes {
					if rt.method == "GET" {
						continue
					}
					h := map[string]string{}
					for k, v := range hdrs {
						h[k] = v
					}
					for k, v := range cross {
						h[k] = v
					}
					if resp, body := call(t, noRedirect, rt.method, base+rt.path, rt.body, h); resp.StatusCode != http.StatusForbidden {
						t.Errorf("%s %s %v: %d %s, want 403", rt.method, rt.path, cross, resp.StatusCode, body)
					}
				}
			}
			// Nothing happened: no endpoint created, no model called.
			_, body := call(t, noRedirect, "GET", base+"/ui/api/overview", "", map[string]string{"Authorization": "Bearer " + adminKey})
			if !strings.Contains(body, `"endpoints":[]`) || strings.Contains(body, `"requests":1`) {
				t.Fatalf("a refused call had an effect: %s", body)
			}
			// A cross-site login is refused too (login CSRF).
			resp, _ := call(t, noRedirect, "POST", base+"/ui/login", "", map[string]string{"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"})
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("cross-site login: %d, want 403", resp.StatusCode)
			}
		})
	}
}

func TestConsoleSecurityHeaders(t *testing.T) {
	t.Parallel()
	base := startGateway(t, quickstart, nil)
	for _, p := range []string{"/ui/", "/ui/login", "/ui/api/overview", "/ui/assets/app.js"} {
		resp, _ := call(t, noRedirect, "GET", base+p, "", nil)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
			t.Errorf("%s: CSP %q is not strict", p, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", p)
		}
	}
}
