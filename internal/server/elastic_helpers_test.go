package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// esGateway is a gateway under test for /_inference, with its logs kept
// (the secret-leak test reads them) and every response body recorded.
type esGateway struct {
	URL  string
	Dir  string // the store's directory
	Logs *lockedBuffer
	stop func()

	mu     sync.Mutex
	bodies [][]byte
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startES runs the quick start in-process on a loopback port with its
// store in dir (a fresh temporary directory when empty), logging at debug
// level into a buffer. edit adjusts the config. Stop runs at cleanup, or
// earlier through g.Stop (restart tests).
func startES(t testing.TB, dir string, edit func(*config.Config)) *esGateway {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg, err := config.Load(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store.Path = filepath.Join(dir, "endpoints.db")
	if edit != nil {
		edit(cfg)
	}
	return serveES(t, cfg, dir)
}

func serveES(t testing.TB, cfg *config.Config, dir string) *esGateway {
	t.Helper()
	cfg.Server.DrainDelay = 0 // no load balancer to wait for
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		cancel()
		t.Fatalf("server.New: %v\nlogs:\n%s", err, logs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	g := &esGateway{URL: "http://" + ln.Addr().String(), Dir: dir, Logs: logs}
	g.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			srv.Close()
		})
	}
	t.Cleanup(g.stop)
	return g
}

// Stop shuts the gateway down and closes its store.
func (g *esGateway) Stop() { g.stop() }

// do sends a request and returns the status and body.
func (g *esGateway) do(t testing.TB, method, path, body string, hdr ...string) (int, []byte) {
	t.Helper()
	resp := g.send(t, method, path, body, hdr...)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	g.record(b)
	return resp.StatusCode, b
}

func (g *esGateway) send(t testing.TB, method, path, body string, hdr ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (g *esGateway) record(b []byte) {
	g.mu.Lock()
	g.bodies = append(g.bodies, append([]byte(nil), b...))
	g.mu.Unlock()
}

// ok sends a request that must succeed and decodes its JSON answer.
func (g *esGateway) ok(t testing.TB, method, path, body string) map[string]any {
	t.Helper()
	st, b := g.do(t, method, path, body)
	if st != http.StatusOK {
		t.Fatalf("%s %s = %d: %s", method, path, st, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	return m
}

// esError checks an Elasticsearch error answer: status, type, reason, and
// the root_cause list repeating them.
func esError(t testing.TB, status int, body []byte, wantStatus int, wantType, wantReason string) {
	t.Helper()
	var e struct {
		Error struct {
			RootCause []struct{ Type, Reason string } `json:"root_cause"`
			Type      string                          `json:"type"`
			Reason    string                          `json:"reason"`
		} `json:"error"`
		Status int `json:"status"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not an Elasticsearch error: %s", body)
	}
	if status != wantStatus || e.Status != wantStatus || e.Error.Type != wantType || e.Error.Reason != wantReason ||
		len(e.Error.RootCause) != 1 || e.Error.RootCause[0].Type != wantType || e.Error.RootCause[0].Reason != wantReason {
		t.Errorf("error = %d %s\nwant %d %s %q", status, body, wantStatus, wantType, wantReason)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ Event, Data string }

// stream posts body and reads the whole event stream.
func (g *esGateway) stream(t testing.TB, path, body string) (*http.Response, []sseEvent) {
	t.Helper()
	resp := g.send(t, "POST", path, body)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	g.record(raw)
	return resp, parseSSE(raw)
}

func parseSSE(raw []byte) []sseEvent {
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur != (sseEvent{}) {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data = strings.TrimPrefix(line, "data: ")
		}
	}
	if cur != (sseEvent{}) {
		out = append(out, cur)
	}
	return out
}
