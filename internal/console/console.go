// Package console serves the gateway's web console under /ui/: pages
// embedded in the binary, and the small JSON and SSE API they call. Every
// route is behind auth.Admin (the admin key, or the session cookie the login
// form sets); state-changing calls are refused cross-origin, and the pages
// run under a strict Content-Security-Policy, loading nothing from elsewhere.
package console

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/config"
)

//go:generate sh ./generate.sh

//go:embed static
var staticFS embed.FS

// assets is the static tree served under /ui/assets/.
var assets, _ = fs.Sub(staticFS, "static")

// CSP lets the pages load scripts, styles and data only from the gateway;
// images also from data: URLs (generated images arrive as base64).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options wire the console to the gateway it belongs to.
type Options struct {
	Config *config.Config
	// Loopback: the gateway listens on loopback only (the console is then
	// open without an admin key, as the admin API is).
	Loopback bool
	// Gateway serves the OpenAI routes the playground calls in-process
	// (without an API key: the console's own guard has passed), behind the
	// access log so that playground calls show in the live view.
	Gateway http.Handler
	// Inference serves /_inference (the Elasticsearch surface), for the
	// endpoints page.
	Inference http.Handler
	// Live and Stats are fed by the gateway's request observer.
	Live  *Live
	Stats *Stats
	// Capture, when not nil, is the upstream transport wrapper that shows
	// the playground the Bedrock requests a call became.
	Capture *Capture
	Logger  *slog.Logger
}

// Handler serves /ui/.
type Handler struct {
	opts  Options
	mux   *http.ServeMux
	guard http.Handler
}

// New builds the console.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Live == nil {
		opts.Live = NewLive(0)
	}
	if opts.Stats == nil {
		opts.Stats = NewStats(nil)
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	m := h.mux
	m.Handle("GET /ui/{$}", http.HandlerFunc(h.index))
	m.Handle("GET /ui/assets/", http.StripPrefix("/ui/assets/", http.FileServerFS(assets)))
	m.HandleFunc("POST /ui/logout", h.logout)
	m.HandleFunc("GET /ui/api/overview", h.overview)
	m.HandleFunc("GET /ui/api/live", h.live)
	m.HandleFunc("POST /ui/api/playground/{op}", h.playground)
	m.HandleFunc("/ui/api/inference/{path...}", h.inference)
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{"no such console route: " + r.Method + " " + r.URL.Path})
	})
	h.guard = auth.Admin(opts.Config.Server.AdminKey, opts.Loopback, m, h.deny)
	return h
}

// ServeHTTP sets the security headers on every answer, serves the login
// form unguarded and everything else behind auth.Admin.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == "/ui/login" && r.Method == http.MethodPost:
		// Cross-origin refusal applies to the login too (login CSRF).
		loginCOP.Handler(http.HandlerFunc(h.login)).ServeHTTP(w, r)
	case r.URL.Path == "/ui/login" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.loginPage(w, http.StatusOK, "")
	case r.URL.Path == "/ui/login.css":
		// The login form's only asset: a style sheet, no data.
		http.ServeFileFS(w, r, assets, "login.css")
	case r.URL.Path == "/ui":
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	default:
		h.guard.ServeHTTP(w, r)
	}
}

var loginCOP = http.NewCrossOriginProtection()

type apiError struct {
	Error string `json:"error"`
}

// deny answers 401: the login form for a page, JSON for the API.
func (h *Handler) deny(w http.ResponseWriter, r *http.Request, presented bool) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="quarry-admin"`)
	if strings.HasPrefix(r.URL.Path, "/ui/api/") || r.Method != http.MethodGet {
		msg := "the console needs the admin key (server.admin_key): log in at /ui/login or send it as Authorization: Bearer"
		if presented {
			msg = "wrong admin key"
		}
		writeJSON(w, http.StatusUnauthorized, apiError{msg})
		return
	}
	h.loginPage(w, http.StatusUnauthorized, "")
}

var loginTmpl = template.Must(template.ParseFS(staticFS, "static/login.html"))

func (h *Handler) loginPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	loginTmpl.Execute(w, struct {
		Error    string
		HasKey   bool
		Loopback bool
	}{msg, h.opts.Config.Server.AdminKey != nil, h.opts.Loopback})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	key := r.PostFormValue("key")
	ak := h.opts.Config.Server.AdminKey
	switch {
	case ak == nil && h.opts.Loopback:
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	case ak == nil:
		h.loginPage(w, http.StatusUnauthorized, "This gateway has no admin key (server.admin_key): the console is closed off loopback.")
	case key == "" || !ak.Match(key):
		h.opts.Logger.Warn("console login refused", "remote", r.RemoteAddr)
		h.loginPage(w, http.StatusUnauthorized, "Wrong admin key.")
	default:
		http.SetCookie(w, auth.NewSession(time.Now()))
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	}
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, auth.EndSession())
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	http.ServeFileFS(w, r, assets, "index.html")
}
