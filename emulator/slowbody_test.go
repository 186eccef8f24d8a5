package emulator

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowBodyAndAuthFirst: a body that never arrives gets a 408 once
// BodyReadTimeout passes, and a request without credentials is refused at
// once, before its body is read.
func TestSlowBodyAndAuthFirst(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, c := range []struct {
		name   string
		noAuth bool
		status int
		code   string
	}{
		{"no auth: 408 after the timeout", true, 408, "RequestTimeoutException"},
		{"unsigned: 403 at once", false, 403, "MissingAuthenticationTokenException"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, err := NewServer(Config{NoAuth: c.noAuth, BodyReadTimeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			conn, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			io.WriteString(conn, "POST /model/amazon.nova-lite-v1:0/converse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"mess")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			took := time.Since(start)
			if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("X-Amzn-Errortype"), c.code) {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), c.status, c.code)
			}
			if c.status == 403 && took > timeout/2 {
				t.Errorf("the 403 took %v: the body was waited for", took)
			}
			if c.status == 408 && took < timeout/2 {
				t.Errorf("408 after %v, before the timeout", took)
			}
		})
	}
}
