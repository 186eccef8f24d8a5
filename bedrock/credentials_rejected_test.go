package bedrock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rejectKeys answers 403 code for requests signed with one of the keys.
func rejectKeys(code string, keys ...string) func(w http.ResponseWriter, r *http.Request, _ int64) {
	return func(w http.ResponseWriter, r *http.Request, _ int64) {
		k := accessKeyOf(r.Header.Get("Authorization"))
		for _, bad := range keys {
			if k == bad {
				w.Header().Set("X-Amzn-ErrorType", code+":http://internal.amazon.com/coral/com.amazon.coral.service/")
				w.WriteHeader(403)
				io.WriteString(w, `{"message":"rejected"}`)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{}`)
	}
}

// syncBuffer is a log destination safe for concurrent calls.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRejectedCredentialsRefreshed: when Bedrock rejects the credentials a
// call was signed with, the cached ones are dropped, the chain resolved
// again and the call retried once, for cached sessions (a rotating ECS
// endpoint) and static keys alike (a rewritten credentials file); it is
// logged once however many calls saw the rejection.
func TestRejectedCredentialsRefreshed(t *testing.T) {
	for _, c := range []struct {
		name  string
		code  string
		setup func(t *testing.T) (cfg Config, fetches func() int64)
		calls int
		ok    bool
		hits  int64 // Bedrock requests in all; -1: each call once or twice
		logs  int
	}{
		{"ECS session expired", "ExpiredTokenException", func(t *testing.T) (Config, func() int64) {
			hits, _ := newFakeECS(t, time.Hour)
			return Config{}, hits.Load
		}, 1, true, 2, 1},
		{"ECS key unrecognized, 8 calls at once", "UnrecognizedClientException", func(t *testing.T) (Config, func() int64) {
			hits, _ := newFakeECS(t, time.Hour)
			return Config{}, hits.Load
		}, 8, true, -1, 1},
		{"shared credentials file rotated", "InvalidSignatureException", func(t *testing.T) (Config, func() int64) {
			writeAWSFile(t, "credentials", "[default]\naws_access_key_id = ASIAECS1\naws_secret_access_key = old\n")
			return Config{}, func() int64 {
				writeAWSFile(t, "credentials", "[default]\naws_access_key_id = AKIDNEW\naws_secret_access_key = new\n")
				return 0
			}
		}, 1, true, 2, 1},
		{"static keys in code stay rejected: one retry only", "UnrecognizedClientException", func(t *testing.T) (Config, func() int64) {
			return Config{AccessKeyID: "ASIAECS1", SecretAccessKey: "s"}, func() int64 { return 0 }
		}, 1, false, 2, 1},
		{"other 403s are not retried", "AccessDeniedException", func(t *testing.T) (Config, func() int64) {
			hits, _ := newFakeECS(t, time.Hour)
			return Config{}, hits.Load
		}, 1, false, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			isolateAWSEnv(t)
			cfg, after := c.setup(t)
			fb := newFakeBedrock(t, rejectKeys(c.code, "ASIAECS1"))
			var logs syncBuffer
			cfg.Endpoint, cfg.Retry = fb.URL, RetryPolicy{MaxAttempts: 1}
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			cl := mustNew(t, cfg)
			if c.name == "shared credentials file rotated" {
				// The client has resolved the file; now it is rotated.
				cl.auth.retrieve(context.Background())
				after()
			}
			var wg sync.WaitGroup
			var failed atomic.Int64
			for range c.calls {
				wg.Go(func() {
					if err := converseCall(context.Background(), cl, "m"); err != nil {
						failed.Add(1)
						var be *Error
						if !errors.As(err, &be) || be.StatusCode != 403 {
							t.Errorf("error %v, want Bedrock's 403", err)
						}
					}
				})
			}
			wg.Wait()
			if ok := failed.Load() == 0; ok != c.ok {
				t.Errorf("%d of %d calls failed; want success %v", failed.Load(), c.calls, c.ok)
			}
			if got := fb.hits.Load(); got != c.hits && (c.hits != -1 || got <= int64(c.calls) || got > 2*int64(c.calls)) {
				t.Errorf("Bedrock saw %d requests, want %d", got, c.hits)
			}
			if got := strings.Count(logs.String(), "credentials were rejected"); got != c.logs {
				t.Errorf("logged %d times, want %d:\n%s", got, c.logs, logs.String())
			}
			if strings.Contains(logs.String(), "ecsSecret") || strings.Contains(logs.String(), "old") {
				t.Errorf("the log shows a secret: %s", logs.String())
			}
		})
	}
}
