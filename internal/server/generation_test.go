package server

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
)

// TestGenerationClosesAfterLastRequest: a reload retires the old generation
// but closes its registry only once the requests that started on it have
// ended; one with nothing in flight closes at once. Many requests racing
// with reloads never use a generation after it closed.
func TestGenerationClosesAfterLastRequest(t *testing.T) {
	t.Parallel()
	load := func() *config.Config {
		cfg, err := config.Parse("g.yaml", []byte("server: {drain_delay: 0s}\nstore: {path: "+filepath.Join(t.TempDir(), "g.db")+"}\n"), &config.Secrets{})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	ctx := context.Background()
	s, err := New(ctx, load(), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	first := s.acquire() // a request in flight on generation 1
	if _, err := s.Reload(ctx, load()); err != nil {
		t.Fatal(err)
	}
	if s.gen.Load() == first || !first.retired.Load() {
		t.Fatal("the reload did not swap generations")
	}
	if first.closed.Load() {
		t.Fatal("generation 1 closed with a request still in flight")
	}
	first.release()
	if !first.closed.Load() {
		t.Fatal("generation 1 not closed after its last request")
	}
	second := s.gen.Load()
	if _, err := s.Reload(ctx, load()); err != nil {
		t.Fatal(err)
	}
	if !second.closed.Load() {
		t.Fatal("an idle generation was not closed when replaced")
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				g := s.acquire()
				if g.closed.Load() {
					t.Error("a request got a closed generation")
				}
				g.release()
			}
		})
	}
	for range 20 {
		if _, err := s.Reload(ctx, load()); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
