package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
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
	// CAFile is the PEM file of the CA that signed the server certificate
	// when Config.TLS is set (else empty): give it to AWS_CA_BUNDLE,
	// NODE_EXTRA_CA_CERTS or REQUESTS_CA_BUNDLE.
	CAFile string
	// CertPool trusts that CA (nil without TLS), for Go clients.
	CertPool *x509.CertPool

	srv     *http.Server
	ln      net.Listener
	done    chan struct{}
	tempDir string
}

// NewServer starts an Emulator on 127.0.0.1 with a random port.
func NewServer(cfg Config) (*Server, error) {
	return Listen(cfg, "127.0.0.1:0")
}

// Listen starts an Emulator on addr. Plain HTTP serves HTTP/1.1 and HTTP/2
// with prior knowledge (h2c), as the AWS SDK for JavaScript v3 sends by
// default; with Config.TLS, HTTPS negotiates h2 or http/1.1 by ALPN.
func Listen(cfg Config, addr string) (*Server, error) {
	em, err := New(cfg)
	if err != nil {
		return nil, err
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	var cert *serverCert
	if cfg.TLS != nil {
		if cert, err = newServerCert(cfg.TLS); err != nil {
			return nil, err
		}
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if cert != nil && cert.tempDir != "" {
			os.RemoveAll(cert.tempDir)
		}
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
			// An idle keep-alive connection (and an idle HTTP/2 one) is
			// closed after this, as Bedrock's front end does, rather than
			// held for ever.
			IdleTimeout: 2 * time.Minute,
			Protocols:   &protocols,
		},
	}
	if cert != nil {
		s.URL = "https://" + ln.Addr().String()
		s.CAFile, s.CertPool, s.tempDir = cert.caFile, cert.pool, cert.tempDir
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.cert}, MinVersion: tls.VersionTLS12}
	}
	go func() {
		defer close(s.done)
		serve := s.srv.Serve
		if cert != nil {
			serve = func(ln net.Listener) error { return s.srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			em.log.Warn("emulator server stopped", "err", err)
		}
	}()
	return s, nil
}

// Client returns an HTTP client for the server: over TLS it trusts the
// server's CA and negotiates HTTP/2; over plain HTTP it speaks HTTP/1.1.
func (s *Server) Client() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if s.CertPool != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: s.CertPool, MinVersion: tls.VersionTLS12}
		t.ForceAttemptHTTP2 = true
	}
	return &http.Client{Transport: t}
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
	s.removeTemp()
	return err
}

func (s *Server) removeTemp() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}

// Close shuts the server down immediately, closing open connections.
func (s *Server) Close() {
	s.srv.Close()
	<-s.done
	s.removeTemp()
}
