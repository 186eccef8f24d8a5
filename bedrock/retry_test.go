package bedrock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fastRetry keeps retry tests quick.
var fastRetry = RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// failWith answers every request with status/code and a message naming the
// attempt, so the test can tell which attempt's error it got back.
func failWith(status int, code string) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, _ *http.Request, n int64) {
		if code != "" {
			w.Header().Set("X-Amzn-ErrorType", code)
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":"attempt %d"}`, n)
	}
}

// resetConnection hijacks the connection and closes it without a response;
// over HTTP/2, which cannot be hijacked, it resets the stream (RST_STREAM).
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestRetryPolicyOutcomes(t *testing.T) {
	tests := []struct {
		name         string
		respond      func(http.ResponseWriter, *http.Request, int64)
		wantAttempts int64
		wantCode     string // "" with wantOK
		wantOK       bool
		transport    bool // want a connection error
	}{
		{"429 ThrottlingException", failWith(429, CodeThrottling), 3, CodeThrottling, false, false},
		{"429 without a code", failWith(429, ""), 3, "UnknownError", false, false},
		{"400 ThrottlingException code", failWith(400, "ThrottlingException"), 3, CodeThrottling, false, false},
		{"500 InternalServerException", failWith(500, CodeInternalServer), 3, CodeInternalServer, false, false},
		{"502 from a proxy", failWith(502, ""), 3, "UnknownError", false, false},
		{"503 ServiceUnavailableException", failWith(503, CodeServiceUnavailable), 3, CodeServiceUnavailable, false, false},
		{"400 ValidationException", failWith(400, CodeValidation), 1, CodeValidation, false, false},
		{"400 ServiceQuotaExceededException", failWith(400, CodeServiceQuotaExceeded), 1, CodeServiceQuotaExceeded, false, false},
		{"403 AccessDeniedException", failWith(403, CodeAccessDenied), 1, CodeAccessDenied, false, false},
		{"408 ModelTimeoutException", failWith(408, CodeModelTimeout), 1, CodeModelTimeout, false, false},
		{"424 ModelErrorException", failWith(424, CodeModelError), 1, CodeModelError, false, false},
		{"503 then success", func(w http.ResponseWriter, r *http.Request, n int64) {
			if n == 1 {
				failWith(503, CodeServiceUnavailable)(w, r, n)
				return
			}
			io.WriteString(w, "{}")
		}, 2, "", true, false},
		{"connection reset then success", func(w http.ResponseWriter, _ *http.Request, n int64) {
			if n < 3 {
				resetConnection(w)
				return
			}
			io.WriteString(w, "{}")
		}, 3, "", true, false},
		{"connection reset every time", func(w http.ResponseWriter, _ *http.Request, _ int64) { resetConnection(w) }, 3, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			fb := newFakeBedrock(t, tt.respond)
			c := mustNew(t, Config{Endpoint: fb.URL, AccessKeyID: "AKID", SecretAccessKey: "s", Retry: fastRetry})
			err := converseCall(context.Background(), c, "m")
			if got := fb.hits.Load(); got != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", got, tt.wantAttempts)
			}
			switch {
			case tt.wantOK:
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
			case tt.transport:
				var te *transportError
				if !errors.As(err, &te) {
					t.Fatalf("err = %v, want a connection error", err)
				}
			default:
				var be *Error
				if !errors.As(err, &be) || be.Code != tt.wantCode {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
				// The error returned is the last attempt's.
				if want := fmt.Sprintf("attempt %d", tt.wantAttempts); be.Message != want {
					t.Fatalf("message %q, want %q (the last attempt's)", be.Message, want)
				}
			}
		})
	}
}

func TestRetryMaxAttemptsOne(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, failWith(503, CodeServiceUnavailable))
	c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", Retry: RetryPolicy{MaxAttempts: 1}})
	if err := converseCall(context.Background(), c, "m"); !errors.Is(err, ErrServiceUnavailable) || fb.hits.Load() != 1 {
		t.Fatalf("err = %v after %d attempts, want one attempt", err, fb.hits.Load())
	}
}

// TestRetryNotAfterResponseStarted: once a 2xx response has begun, a failure
// while reading it is returned, never retried (the request may have been
// processed and billed).
func TestRetryNotAfterResponseStarted(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		io.WriteString(w, `{"output":`)
		w.(http.Flusher).Flush()
		resetConnection(w)
	})
	c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", Retry: fastRetry})
	err := converseCall(context.Background(), c, "m")
	if err == nil || !strings.Contains(err.Error(), "reading response") {
		t.Fatalf("err = %v, want a read error", err)
	}
	if fb.hits.Load() != 1 {
		t.Fatalf("attempts = %d, want 1", fb.hits.Load())
	}
}

func TestRetryContextCancelledDuringBackoff(t *testing.T) {
	for _, mode := range []string{"cancel", "deadline"} {
		t.Run(mode, func(t *testing.T) {
			isolateAWSEnv(t)
			answered := make(chan struct{}, 1)
			fb := newFakeBedrock(t, func(w http.ResponseWriter, r *http.Request, n int64) {
				failWith(503, CodeServiceUnavailable)(w, r, n)
				answered <- struct{}{}
			})
			// A long backoff: without honouring the context the call would
			// sleep for up to an hour. (Jitter draws from [0, 1h): a draw
			// short enough to let a second attempt through before the
			// context ends has odds of about 1 in 3600.)
			c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k",
				Retry: RetryPolicy{MaxAttempts: 5, BaseDelay: time.Hour, MaxDelay: time.Hour}})
			ctx, cancel := context.WithCancel(context.Background())
			want := context.Canceled
			if mode == "deadline" {
				ctx, cancel = context.WithTimeout(context.Background(), time.Second) // room for the first attempt on a loaded machine
				want = context.DeadlineExceeded
			}
			defer cancel()
			if mode == "cancel" {
				go func() {
					<-answered
					// Let the client read the 503 and enter its backoff (TLS
					// on a loaded machine can take longer than 20ms).
					time.Sleep(200 * time.Millisecond)
					cancel()
				}()
			}
			start := time.Now()
			err := converseCall(ctx, c, "m")
			// Far below the backoff, far above any scheduling delay.
			if d := time.Since(start); d > 5*time.Minute {
				t.Fatalf("call took %v: it slept through the backoff after the context ended", d)
			}
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if !errors.Is(err, ErrServiceUnavailable) {
				t.Fatalf("err = %v lost the cause", err)
			}
			if fb.hits.Load() != 1 {
				t.Fatalf("attempts = %d, want 1", fb.hits.Load())
			}
			if c.limiter.inFlight() != 0 {
				t.Fatal("concurrency slot not released")
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	p := RetryPolicy{BaseDelay: 10 * time.Millisecond, MaxDelay: 200 * time.Millisecond}.withDefaults()
	for n := 1; n <= 40; n++ {
		ceiling := min(p.BaseDelay<<(min(n, 20)-1), p.MaxDelay)
		seen := map[time.Duration]bool{}
		var hi time.Duration
		for range 300 {
			d := p.backoff(n)
			if d < 0 || d >= ceiling {
				t.Fatalf("backoff(%d) = %v, want in [0, %v)", n, d, ceiling)
			}
			seen[d] = true
			hi = max(hi, d)
		}
		if len(seen) < 50 {
			t.Errorf("backoff(%d): only %d distinct values in 300 draws: not jittered", n, len(seen))
		}
		if hi < ceiling/2 {
			t.Errorf("backoff(%d): max %v never approached the ceiling %v", n, hi, ceiling)
		}
	}
	if d := (RetryPolicy{BaseDelay: 0, MaxDelay: 0}).backoff(3); d != 0 {
		t.Errorf("zero policy backoff = %v", d)
	}
	// A huge attempt number must not overflow into a negative or zero cap.
	q := RetryPolicy{BaseDelay: time.Second, MaxDelay: 20 * time.Second}
	for range 100 {
		if d := q.backoff(1000); d < 0 || d >= 20*time.Second {
			t.Fatalf("backoff(1000) = %v", d)
		}
	}
}

// TestRetryNotAfterStreamStarted: once a stream's 200 response has begun,
// nothing that breaks it is retried, neither an in-stream throttling
// exception (retryable as an HTTP error) nor a connection cut inside a frame.
func TestRetryNotAfterStreamStarted(t *testing.T) {
	for _, tc := range []struct {
		name        string
		invoke, cut bool
	}{
		{"ConverseStream, in-stream throttling", false, false},
		{"ConverseStream, connection cut", false, true},
		{"InvokeModelWithResponseStream, in-stream throttling", true, false},
		{"InvokeModelWithResponseStream, connection cut", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateAWSEnv(t)
			first := esEvent(t, "messageStart", `{"role":"assistant"}`)
			if tc.invoke {
				first = invChunk(t, invTitanChunk1)
			}
			fb := newFakeBedrock(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
				w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
				w.WriteHeader(200)
				w.Write(first)
				if !tc.cut {
					w.Write(esException(t, "throttlingException", `{"message":"Too many tokens, please wait before trying again."}`))
					return
				}
				w.Write(first[:len(first)/2])
				w.(http.Flusher).Flush()
				resetConnection(w)
			})
			c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", Retry: fastRetry})
			ctx := context.Background()
			var events int
			var err error
			if tc.invoke {
				s, serr := c.InvokeModelWithResponseStream(ctx, "amazon.titan-text-lite-v1", &InvokeModelInput{Body: []byte(`{}`)})
				if serr != nil {
					t.Fatal(serr)
				}
				for s.Next() {
					events++
				}
				err = s.Err()
			} else {
				s, serr := c.ConverseStream(ctx, "m", stReq)
				if serr != nil {
					t.Fatal(serr)
				}
				for s.Next() {
					events++
				}
				err = s.Err()
			}
			if events != 1 {
				t.Errorf("%d events before the failure, want 1", events)
			}
			if tc.cut {
				if err == nil || errors.As(err, new(*Error)) {
					t.Errorf("Err = %v, want a read error", err)
				}
			} else if !errors.Is(err, ErrThrottling) {
				t.Errorf("Err = %v, want the in-stream ThrottlingException", err)
			}
			if n := fb.hits.Load(); n != 1 {
				t.Errorf("attempts = %d, want 1: a started stream must not be retried", n)
			}
			if n := c.limiter.inFlight(); n != 0 {
				t.Errorf("limiter slots in flight after the failure: %d", n)
			}
		})
	}
}
