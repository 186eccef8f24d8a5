package bedrock

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// isolateAWSEnv cuts a test off from the machine's AWS setup: every AWS_*
// variable is cleared (and restored afterwards), HOME and the shared files
// point into a temp dir, and instance metadata is disabled so that no chain
// can reach the real metadata service. Tests that need a source set it up
// again on top of this.
func isolateAWSEnv(t *testing.T) (home string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // records the old value for restoration
			os.Unsetenv(k)
		}
	}
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(home, ".aws", "config")
	credFile := filepath.Join(home, ".aws", "credentials")
	for _, f := range []string{cfgFile, credFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return home
}

// writeAWSFile writes the shared config ("config") or credentials
// ("credentials") file of an isolated test.
func writeAWSFile(t *testing.T, which, content string) {
	t.Helper()
	env := map[string]string{"config": "AWS_CONFIG_FILE", "credentials": "AWS_SHARED_CREDENTIALS_FILE"}[which]
	if err := os.WriteFile(os.Getenv(env), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// seenRequest is what the fake Bedrock received.
type seenRequest struct {
	Method     string
	RequestURI string
	Host       string
	Header     http.Header
	Body       []byte
	Length     int64
	Time       time.Time
}

// fakeBedrock is an httptest Bedrock Runtime that records every request and
// answers with respond (200 "{}" when nil).
type fakeBedrock struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []seenRequest
	hits    atomic.Int64
	respond func(w http.ResponseWriter, r *http.Request, n int64)
}

func newFakeBedrock(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int64), before ...func(*httptest.Server)) *fakeBedrock {
	t.Helper()
	f := &fakeBedrock{respond: respond}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := f.hits.Add(1)
		f.mu.Lock()
		f.reqs = append(f.reqs, seenRequest{r.Method, r.RequestURI, r.Host, r.Header.Clone(), body, r.ContentLength, time.Now()})
		respond := f.respond
		f.mu.Unlock()
		if respond != nil {
			respond(w, r, n)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Requestid", "req-ok")
		io.WriteString(w, `{}`)
	}))
	for _, fn := range before {
		fn(f.Server)
	}
	startTestServer(t, f.Server)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBedrock) setRespond(respond func(w http.ResponseWriter, r *http.Request, n int64)) {
	f.mu.Lock()
	f.respond = respond
	f.mu.Unlock()
}

func (f *fakeBedrock) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.reqs...)
}

func (f *fakeBedrock) last(t *testing.T) seenRequest {
	t.Helper()
	r := f.requests()
	if len(r) == 0 {
		t.Fatal("fake Bedrock received no request")
	}
	return r[len(r)-1]
}

// converseCall sends one Converse-shaped JSON call through the client's
// whole stack (limiter, retries, signing, error parsing).
func converseCall(ctx context.Context, c *Client, modelID string) error {
	var out map[string]any
	_, err := c.doJSON(ctx, &call{op: "Converse", path: modelPath(modelID, "converse")}, map[string]any{"messages": []any{}}, &out)
	return err
}

func mustNew(t *testing.T, cfg Config) *Client {
	t.Helper()
	cfg = withTestProto(cfg)
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// accessKeyOf extracts the access key ID from a SigV4 Authorization header.
func accessKeyOf(authz string) string {
	_, rest, ok := strings.Cut(authz, "Credential=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

func TestBearerAuth(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		envKey    string
		wantAuthz string // exact Authorization, or "sigv4:<key id>"
	}{
		{"Config.APIKey", Config{APIKey: "ABSKconfigkey"}, "", "Bearer ABSKconfigkey"},
		{"AWS_BEARER_TOKEN_BEDROCK", Config{}, "ABSKenvkey", "Bearer ABSKenvkey"},
		{"Config.APIKey beats env", Config{APIKey: "ABSKconfigkey"}, "ABSKenvkey", "Bearer ABSKconfigkey"},
		{"explicit keys beat env API key", Config{AccessKeyID: "AKIDEXPLICIT", SecretAccessKey: "secret"}, "ABSKenvkey", "sigv4:AKIDEXPLICIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			if tt.envKey != "" {
				t.Setenv("AWS_BEARER_TOKEN_BEDROCK", tt.envKey)
			}
			fb := newFakeBedrock(t, nil)
			tt.cfg.Endpoint = fb.URL
			c := mustNew(t, tt.cfg)
			if err := converseCall(context.Background(), c, "amazon.nova-micro-v1:0"); err != nil {
				t.Fatal(err)
			}
			r := fb.last(t)
			got := r.Header.Get("Authorization")
			if key, ok := strings.CutPrefix(tt.wantAuthz, "sigv4:"); ok {
				if !strings.HasPrefix(got, "AWS4-HMAC-SHA256 ") || accessKeyOf(got) != key {
					t.Fatalf("Authorization = %q, want SigV4 with %s", got, key)
				}
				return
			}
			if got != tt.wantAuthz {
				t.Fatalf("Authorization = %q, want %q", got, tt.wantAuthz)
			}
			for _, h := range []string{"X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
				if v := r.Header.Get(h); v != "" {
					t.Errorf("bearer request carries SigV4 header %s: %q", h, v)
				}
			}
		})
	}
}

func TestModelIDPathOnTheWire(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, nil)
	c := mustNew(t, Config{Endpoint: fb.URL, AccessKeyID: "AKIDPATH", SecretAccessKey: "secret"})
	tests := []struct{ id, want string }{
		{"amazon.titan-text-lite-v1", "/model/amazon.titan-text-lite-v1/converse"},
		{"amazon.nova-micro-v1:0", "/model/amazon.nova-micro-v1%3A0/converse"},
		{"us.amazon.nova-micro-v1:0", "/model/us.amazon.nova-micro-v1%3A0/converse"},
		{"eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"},
		{"apac.amazon.nova-lite-v1:0", "/model/apac.amazon.nova-lite-v1%3A0/converse"},
		{"global.anthropic.claude-sonnet-4-20250514-v1:0", "/model/global.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3d4e5f6/converse"},
		{"arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123xyz",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aprovisioned-model%2Fabc123xyz/converse"},
		{"arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-text-express-v1:0:8k/ly16hhi765j4",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Acustom-model%2Famazon.titan-text-express-v1%3A0%3A8k%2Fly16hhi765j4/converse"},
		{"arn:aws:bedrock:us-east-1:123456789012:imported-model/abcd1234efgh",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aimported-model%2Fabcd1234efgh/converse"},
		{"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Famazon.nova-pro-v1%3A0/converse"},
		// Bytes outside the unreserved set, including non-ASCII, are encoded
		// byte by byte with upper-case hex, as the SDKs do.
		{"a b+c%d é", "/model/a%20b%2Bc%25d%20%C3%A9/converse"},
	}
	for _, tt := range tests {
		if err := converseCall(context.Background(), c, tt.id); err != nil {
			t.Fatalf("%s: %v", tt.id, err)
		}
		if got := fb.last(t).RequestURI; got != tt.want {
			t.Errorf("model %q: RequestURI = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestEndpointBasePathKept(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, nil)
	for _, ep := range []string{fb.URL + "/proxy", fb.URL + "/proxy/"} {
		c := mustNew(t, Config{Endpoint: ep, APIKey: "k"})
		if err := converseCall(context.Background(), c, "us.amazon.nova-lite-v1:0"); err != nil {
			t.Fatal(err)
		}
		if got, want := fb.last(t).RequestURI, "/proxy/model/us.amazon.nova-lite-v1%3A0/converse"; got != want {
			t.Errorf("endpoint %s: RequestURI = %q, want %q", ep, got, want)
		}
	}
}

// TestConnectionReuse proves that the default transport keeps enough idle
// connections for MaxConcurrent: repeated rounds of N concurrent calls open
// at most N connections in total.
func TestConnectionReuse(t *testing.T) {
	isolateAWSEnv(t)
	const n, rounds = 16, 5
	var newConns atomic.Int64
	fb := newFakeBedrock(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		time.Sleep(5 * time.Millisecond) // keep the round's calls overlapping
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"output":{}}`)
	}, func(s *httptest.Server) {
		s.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				newConns.Add(1)
			}
		}
	})
	c := mustNew(t, Config{Endpoint: fb.URL, AccessKeyID: "AKIDCONN", SecretAccessKey: "secret", MaxConcurrent: n, RequestsPerMinute: -1})
	for range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() { errs <- converseCall(context.Background(), c, "amazon.nova-micro-v1:0") })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := newConns.Load(); got > n {
		t.Fatalf("%d rounds of %d concurrent calls opened %d connections, want <= %d", rounds, n, got, n)
	}
	// The error path must give its connection back too.
	before := newConns.Load()
	fb.setRespond(nil)
	for range 3 {
		_ = converseCall(context.Background(), c, "m")
	}
	if got := newConns.Load(); got != before {
		t.Fatalf("sequential calls opened %d new connections", got-before)
	}
}

func TestNewTransportIdlePool(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{0, DefaultMaxConcurrent}, {-1, DefaultMaxConcurrent}, {1, 1}, {100, 100}} {
		tr, err := NewTransport(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if tr.MaxIdleConnsPerHost != tt.want || tr.MaxIdleConns < tt.want {
			t.Errorf("NewTransport(%d): MaxIdleConnsPerHost=%d MaxIdleConns=%d, want %d", tt.in, tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tt.want)
		}
		if tr.ResponseHeaderTimeout != 0 {
			t.Errorf("NewTransport(%d): a response-header timeout would cut long model calls", tt.in)
		}
	}
}

func TestOpErrorWrapping(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/")
		w.Header().Set("X-Amzn-Requestid", "rid-403")
		w.WriteHeader(403)
		io.WriteString(w, `{"message":"no access"}`)
	})
	c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k"})
	err := converseCall(context.Background(), c, "m")
	var op *OpError
	if !errors.As(err, &op) || op.Op != "Converse" {
		t.Fatalf("err = %#v, want *OpError for Converse", err)
	}
	var be *Error
	if !errors.As(err, &be) || be.Code != CodeAccessDenied || be.StatusCode != 403 || be.RequestID != "rid-403" || be.Message != "no access" {
		t.Fatalf("errors.As *Error = %+v", be)
	}
	if !errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrThrottling) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	if !strings.Contains(err.Error(), "Converse") || !strings.Contains(err.Error(), "rid-403") {
		t.Fatalf("error text %q lacks the operation or request id", err)
	}
}

// AWS_CA_BUNDLE, as the SDKs honour it, is trusted by the Bedrock transport
// (TLS-inspecting proxies), and an unreadable bundle is a config error.
func TestNewTransportCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	pemPath := filepath.Join(t.TempDir(), "bundle.pem")
	cert := srv.Certificate()
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", pemPath)
	tr, err := NewTransport(1)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatalf("the bundle's certificate is not trusted: %v", err)
	}
	resp.Body.Close()

	t.Setenv("AWS_CA_BUNDLE", filepath.Join(t.TempDir(), "missing.pem"))
	var ce *ConfigError
	if _, err := NewTransport(1); !errors.As(err, &ce) || ce.Field != "AWS_CA_BUNDLE" {
		t.Fatalf("missing bundle: err = %v, want a ConfigError naming AWS_CA_BUNDLE", err)
	}
}

// TestRedirectNotFollowed: a 3xx is an error, and the Location (which could
// be anywhere) never sees the API key.
func TestRedirectNotFollowed(t *testing.T) {
	isolateAWSEnv(t)
	elsewhere := newFakeBedrock(t, nil)
	fb := newFakeBedrock(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
	})
	c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "ABSKredirect", Retry: RetryPolicy{MaxAttempts: 1}})
	err := converseCall(context.Background(), c, "m")
	var be *Error
	if !errors.As(err, &be) || be.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("err = %v, want an *Error with status 307", err)
	}
	if elsewhere.hits.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

// A call that gets no response at all matches ErrUnreachable; the gateway
// answers 503 for it, and 502 for a response that broke off.
func TestUnreachable(t *testing.T) {
	isolateAWSEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := mustNew(t, Config{Endpoint: "http://" + addr, APIKey: "k", Retry: RetryPolicy{MaxAttempts: 1}})
	err = converseCall(context.Background(), c, "m")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	var be *Error
	if errors.As(err, &be) {
		t.Fatalf("a transport failure must not look like a Bedrock error: %v", be)
	}
}
