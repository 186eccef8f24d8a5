package server_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/internal/config"
)

// TestTokensPerMinuteLocal: without Redis, tokens_per_min_limit holds in
// the one process: once a call's reported usage has spent the minute's
// tokens, the next request is a 429 naming the limit, with a Retry-After
// from the limiter's state (seconds away, not a constant 1).
func TestTokensPerMinuteLocal(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, func(c *config.Config) {
		for i := range c.Models {
			if c.Models[i].Name == "nova-micro" {
				c.Models[i].AWS.TokensPerMinute = 60 // one token a second
			}
		}
	})
	status, tokens, _, err := chatOnce(context.Background(), g.URL, "nova-micro")
	if err != nil || status != http.StatusOK || tokens < 4 {
		t.Fatalf("first request: status %d, %d tokens, err %v; want 200 using a few seconds' worth", status, tokens, err)
	}
	body := `{"model":"nova-micro","messages":[{"role":"user","content":"Say hello"}]}`
	resp, err := http.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(raw), "tokens_per_min_limit of model:nova-micro") {
		t.Fatalf("second request: %d %s; want a 429 naming the limit", resp.StatusCode, raw)
	}
	if ra < 2 || ra > tokens+1 {
		t.Errorf("Retry-After %q, want the seconds until %d tokens are paid back (2..%d)", resp.Header.Get("Retry-After"), tokens, tokens+1)
	}
	// Other models are not held back.
	if status, _, _, err := chatOnce(context.Background(), g.URL, "nova-lite"); err != nil || status != http.StatusOK {
		t.Errorf("another model: status %d, err %v", status, err)
	}
}
