package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/limits"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return &bedrock.OpError{Op: "Converse", Err: err} }
	for _, c := range []struct {
		name       string
		err        error
		status     int
		kind       FailureKind
		retryAfter bool
	}{
		{"validation", wrap(&bedrock.Error{Code: bedrock.CodeValidation, Message: "bad"}), 400, "invalid_request", false},
		{"not found", wrap(&bedrock.Error{Code: bedrock.CodeResourceNotFound}), 404, "not_found", false},
		{"throttling", wrap(&bedrock.Error{Code: bedrock.CodeThrottling}), 429, "rate_limit", true},
		{"in-stream throttling", &bedrock.Error{Code: bedrock.CodeThrottling, InStream: true}, 429, "rate_limit", true},
		{"quota", wrap(&bedrock.Error{Code: bedrock.CodeServiceQuotaExceeded}), 429, "rate_limit", true},
		{"unavailable", wrap(&bedrock.Error{Code: bedrock.CodeServiceUnavailable}), 503, "upstream_unavailable", true},
		{"not ready", wrap(&bedrock.Error{Code: bedrock.CodeModelNotReady}), 503, "upstream_unavailable", true},
		{"model timeout", wrap(&bedrock.Error{Code: bedrock.CodeModelTimeout}), 504, "upstream_timeout", false},
		{"internal", wrap(&bedrock.Error{Code: bedrock.CodeInternalServer}), 502, "upstream_error", false},
		{"model error", wrap(&bedrock.Error{Code: bedrock.CodeModelError}), 502, "upstream_error", false},
		{"stream error", &bedrock.Error{Code: bedrock.CodeModelStreamError, InStream: true}, 502, "upstream_error", false},
		{"access denied", wrap(&bedrock.Error{Code: bedrock.CodeAccessDenied, Message: "no"}), 502, "upstream_error", false},
		{"client limit", wrap(&bedrock.LimitError{Limit: "MaxConcurrent", Err: context.DeadlineExceeded}), 429, "rate_limit", true},
		{"deadline", wrap(context.DeadlineExceeded), 504, "upstream_timeout", false},
		{"canceled", wrap(context.Canceled), 499, "canceled", false},
		{"unreachable", wrap(fmt.Errorf("dial: %w", bedrock.ErrUnreachable)), 503, "upstream_unavailable", true},
		{"truncated", wrap(io.ErrUnexpectedEOF), 502, "upstream_error", false},
		{"reset mid-response", wrap(&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}), 502, "upstream_error", false},
		{"HTML 503 from a proxy", wrap(&bedrock.Error{Code: "UnknownError", StatusCode: 503, Message: "<html>AKIA-leak</html>"}), 503, "upstream_unavailable", true},
		{"HTML 502 from a proxy", wrap(&bedrock.Error{Code: "UnknownError", StatusCode: 502, Message: "<html>AKIA-leak</html>"}), 502, "upstream_error", false},
		{"HTML 429 from a proxy", wrap(&bedrock.Error{Code: "UnknownError", StatusCode: 429, Message: "<html>AKIA-leak</html>"}), 429, "rate_limit", true},
		{"HTML 504 from a proxy", wrap(&bedrock.Error{Code: "UnknownError", StatusCode: 504, Message: "<html>AKIA-leak</html>"}), 504, "upstream_timeout", false},
		{"HTML 403 from a proxy", wrap(&bedrock.Error{Code: "UnknownError", StatusCode: 403, Message: "<html>AKIA-leak</html>"}), 502, "upstream_error", false},
		{"credentials", wrap(&bedrock.CredentialsError{Source: "default chain", Err: fmt.Errorf("secret AKIA-leak")}), 502, "upstream_error", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Classify(c.err)
			if f.Status != c.status || f.Kind != c.kind || (f.RetryAfter > 0) != c.retryAfter {
				t.Errorf("Classify = %+v; want status %d kind %s retryAfter %v", f, c.status, c.kind, c.retryAfter)
			}
			if f.Status == http.StatusInternalServerError {
				t.Error("a Bedrock failure must never be a 500")
			}
			if strings.Contains(f.Message, "AKIA-leak") {
				t.Errorf("message leaks the underlying credential error: %q", f.Message)
			}
		})
	}
}

// TestClassifyDenied: a limits refusal is a 429 whose Retry-After comes
// from the limiter's state, in whole seconds rounded up.
func TestClassifyDenied(t *testing.T) {
	for _, c := range []struct {
		retry, want time.Duration
	}{
		{30 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{8*time.Second + 200*time.Millisecond, 9 * time.Second},
	} {
		err := &bedrock.OpError{Op: "Converse", Err: &limits.Denied{Scope: "model:m", Limit: limits.LimitTokens, RetryAfter: c.retry}}
		f := Classify(err)
		if f.Status != 429 || f.Kind != FailureRateLimit || f.RetryAfter != c.want || !strings.Contains(f.Message, "tokens_per_min_limit of model:m") {
			t.Errorf("Classify(retry %s) = %+v; want 429 retrying after %s naming the limit", c.retry, f, c.want)
		}
	}
}
