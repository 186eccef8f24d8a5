// Package redistest gives tests a Redis: the shared one CI starts
// (QUARRY_TEST_REDIS_URL), or a private redis-server they may stop. Without
// one a test skips, unless QUARRY_REQUIRE_REDIS=1 (CI) makes it fail.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

const install = "install redis-server (apt-get install redis-server) and set QUARRY_TEST_REDIS_URL, as .ci/run does"

func skip(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("QUARRY_REQUIRE_REDIS") == "1" {
		t.Fatalf("Redis required (QUARRY_REQUIRE_REDIS=1): %s", why)
	}
	t.Skip("needs Redis: " + install)
}

// URL is the shared test Redis, with the test's name as a key prefix the
// caller should use so that tests do not meet.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("QUARRY_TEST_REDIS_URL")
	if u == "" {
		skip(t, "QUARRY_TEST_REDIS_URL is not set")
	}
	return u
}

// Server is a private redis-server.
type Server struct {
	URL  string
	Addr string
	bin  string
	cmd  *exec.Cmd
}

// Start runs a private redis-server on 127.0.0.1 and a free port, with no
// persistence, stopped at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skip(t, "redis-server is not on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), bin: bin}
	s.URL = "redis://" + s.Addr + "/0"
	t.Cleanup(s.Stop)
	s.launch(t)
	return s
}

// launch starts redis-server on s.Addr and waits until it listens.
func (s *Server) launch(t testing.TB) {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command(s.bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	s.cmd.Dir = t.TempDir()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) wait() error {
	for range 200 {
		if c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("redis-server did not listen on %s", s.Addr)
}

// Stop kills the server (SIGKILL: gone at once, as a crash).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.launch(t)
}
