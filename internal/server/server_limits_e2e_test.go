package server_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
)

// TestServerLimitsE2E: server.max_request_bytes also bounds a body of
// unknown length (chunked), and server.read_header_timeout closes a
// connection whose headers never finish.
func TestServerLimitsE2E(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quickstart, func(c *config.Config) {
		c.Server.MaxRequestBytes = 64 << 10
		c.Server.ReadHeaderTimeout = 100 * time.Millisecond
	})

	t.Run("chunked body over the limit is a 413", func(t *testing.T) {
		body := `{"model":"nova-lite","messages":[{"role":"user","content":"` + strings.Repeat("a", 70<<10) + `"}]}`
		// io.MultiReader hides the length: the client sends it chunked.
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", io.MultiReader(strings.NewReader(body)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if req.ContentLength != 0 || resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(raw), "65536") {
			t.Errorf("content length %d: status %d: %s", req.ContentLength, resp.StatusCode, raw)
		}
	})

	t.Run("headers that never finish", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")); err != nil {
			t.Fatal(err)
		}
		// A guard against hanging forever, not a bound on the timeout.
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		_, err = io.ReadAll(conn)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the gateway kept a connection with unfinished headers open")
		}
	})
}
