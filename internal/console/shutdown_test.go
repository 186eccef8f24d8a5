package console_test

import (
	"bufio"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
)

// TestLiveStreamDoesNotHoldShutdown: an open console tab's live stream ends
// when the gateway shuts down, instead of holding it for ShutdownTimeout.
func TestLiveStreamDoesNotHoldShutdown(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store.Path = filepath.Join(t.TempDir(), "endpoints.db")
	cfg.Server.ShutdownTimeout = time.Minute
	cfg.Server.DrainDelay = 0 // no load balancer to wait for
	_, base, stop := serve(t, cfg)

	resp, err := http.Get(base + "/ui/api/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && sc.Text() != ": ready" {
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown still waiting for the live stream after 10s")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}
