package server_test

import (
	"bufio"
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

// TestIdleTimeoutClosesKeepAlive: server.idle_timeout closes a keep-alive
// connection that stays idle, and not one that is still within it.
func TestIdleTimeoutClosesKeepAlive(t *testing.T) {
	const idle = time.Second
	g := startGateway(t, quickstart, func(c *config.Config) { c.Server.IdleTimeout = idle })
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func() {
		t.Helper()
		if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: quarry\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("GET /health: %d, close=%v", resp.StatusCode, resp.Close)
		}
	}
	get()
	// Within the idle timeout the connection is still served.
	time.Sleep(idle / 10)
	get()
	start := time.Now()
	// The bound only turns a hang into a failure; the default idle timeout
	// (120 s) would hit it.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := br.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, io.EOF) {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the idle connection was not closed")
		}
		t.Fatalf("read on the idle connection: %d bytes, %v; want EOF", n, err)
	}
	if waited := time.Since(start); waited < idle/2 {
		t.Errorf("the connection closed after %v, before the idle timeout of %v", waited, idle)
	}
}
