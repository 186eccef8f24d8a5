package console_test

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

const quickstart = "../../examples/quickstart.yaml"

// startGateway runs the gateway in-process on a loopback port with the
// config at path, edited by edit, and stops it when the test ends.
func startGateway(t testing.TB, path string, edit func(*config.Config)) string {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store.Path = filepath.Join(t.TempDir(), "endpoints.db")
	cfg.Server.DrainDelay = 0 // no load balancer to wait for
	if edit != nil {
		edit(cfg)
	}
	_, base, stop := serve(t, cfg)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return base
}

// serve starts a gateway for cfg; stop shuts it down gracefully and
// returns what Serve returned.
func serve(t testing.TB, cfg *config.Config) (srv *server.Server, base string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	srv, err = server.New(ctx, cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		srv.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return srv, "http://" + ln.Addr().String(), func() error {
		cancel()
		err := <-done
		srv.Close()
		return err
	}
}

// withAdminKey sets server.admin_key.
func withAdminKey(key string) func(*config.Config) {
	return func(c *config.Config) {
		k, err := config.ParseAPIKey(key)
		if err != nil {
			panic(err)
		}
		c.Server.AdminKey = &k
	}
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
