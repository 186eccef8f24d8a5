package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

// gateway is a running gateway for end-to-end tests.
type gateway struct {
	URL    string // base URL, e.g. http://127.0.0.1:12345
	Server *server.Server
}

// startGateway runs `quarry serve` in-process on a loopback port with the
// config at path (the quick start unless a test needs another), and stops it
// when the test ends. edit, if not nil, adjusts the loaded config.
func startGateway(t testing.TB, path string, edit func(*config.Config)) *gateway {
	t.Helper()
	return startChatGateway(t, path, edit, server.Options{})
}

// startChatGateway is startGateway with server options (e.g. media fetching).
func startChatGateway(t testing.TB, path string, edit func(*config.Config), opts server.Options) *gateway {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// Never write into the source tree: the endpoint store goes to a
	// per-test directory.
	cfg.Store.Path = filepath.Join(t.TempDir(), "endpoints.db")
	cfg.Server.DrainDelay = 0 // no load balancer to wait for
	if edit != nil {
		edit(cfg)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return serveGateway(t, cfg, opts, nil)
}

// serveGateway serves cfg on a loopback port until the test ends. beside,
// when set, runs alongside Serve, with the server and a context that ends
// before the server stops (a config watcher).
func serveGateway(t testing.TB, cfg *config.Config, opts server.Options, beside func(context.Context, *server.Server)) *gateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	besideDone := make(chan struct{})
	go func() {
		defer close(besideDone)
		if beside != nil {
			beside(ctx, srv)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-besideDone
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		srv.Close()
	})
	return &gateway{URL: "http://" + ln.Addr().String(), Server: srv}
}

const quickstart = "../../examples/quickstart.yaml"

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, nil)
	for _, p := range []string{"/health", "/v1/ready"} {
		resp, err := http.Get(g.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", p, resp.StatusCode)
		}
	}
}
