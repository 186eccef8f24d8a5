package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is an Emulator listening on a loopback port, for tests (like
// httptest.Server) and for the quarry emulate command.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:43123"; use it as the
	// SDK's BaseEndpoint.
	URL string
	// Emulator is the handler being served (for Stats).
	Emulator *Emulator

	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// NewServer starts an Emulator on 127.0.0.1 with a random port.
func NewServer(cfg Config) (*Server, error) {
	return Listen(cfg, "127.0.0.1:0")
}

// Listen starts an Emulator on addr.
func Listen(cfg Config, addr string) (*Server, error) {
	em, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen %s: %w", addr, err)
	}
	s := &Server{
		URL:      "http://" + ln.Addr().String(),
		Emulator: em,
		ln:       ln,
		done:     make(chan struct{}),
		srv: &http.Server{
			Handler:           em,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          nil,
		},
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			em.log.Warn("emulator server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Stats returns the emulator's counters.
func (s *Server) Stats() Stats { return s.Emulator.Stats() }

// Shutdown stops accepting connections and waits for requests in flight
// (streams included) until ctx ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	return err
}

// Close shuts the server down immediately, closing open connections.
func (s *Server) Close() {
	s.srv.Close()
	<-s.done
}
