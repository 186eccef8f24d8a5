package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/limits"
)

// Failure is what a failed Bedrock call means for the gateway's client:
// the HTTP status, a kind for the API's error "type", a message safe to
// show (no credentials, no internal addresses), and how long to wait
// before retrying (for 429 and 503).
type Failure struct {
	Status     int
	Kind       FailureKind
	Code       string // the Bedrock exception name, when there is one
	Message    string
	RetryAfter time.Duration
	RequestID  string // Bedrock's x-amzn-RequestId, when known
}

// unknownCode is what package bedrock names an error response that carried
// no Bedrock error code: typically a proxy's or load balancer's HTML page.
const unknownCode = "UnknownError"

// notBedrock is the Failure of an error response that did not come from
// Bedrock itself: its body (HTML, say) is never shown, only its status,
// which keeps its meaning for the client (429, 503 and 504 as such, with
// a retry hint for the first two; anything else a 502).
func notBedrock(be *bedrock.Error) Failure {
	f := Failure{Status: http.StatusBadGateway, Kind: FailureUpstreamError, RequestID: be.RequestID,
		Message: fmt.Sprintf("Bedrock's endpoint answered HTTP %d %s with a body that is not a Bedrock error (a proxy or load balancer in between?)",
			be.StatusCode, http.StatusText(be.StatusCode))}
	switch be.StatusCode {
	case http.StatusTooManyRequests:
		f.Status, f.Kind, f.RetryAfter = http.StatusTooManyRequests, FailureRateLimit, time.Second
	case http.StatusServiceUnavailable:
		f.Status, f.Kind, f.RetryAfter = http.StatusServiceUnavailable, FailureUpstreamUnavailable, 5*time.Second
	case http.StatusGatewayTimeout:
		f.Status, f.Kind = http.StatusGatewayTimeout, FailureUpstreamTimeout
	}
	return f
}

// FailureKind says what went wrong, for the API surfaces' error types and
// the access log's error field.
type FailureKind string

// The failure kinds.
const (
	FailureInvalidRequest      FailureKind = "invalid_request"
	FailureNotFound            FailureKind = "not_found"
	FailureRateLimit           FailureKind = "rate_limit"
	FailureUpstreamTimeout     FailureKind = "upstream_timeout"
	FailureUpstreamUnavailable FailureKind = "upstream_unavailable"
	FailureUpstreamError       FailureKind = "upstream_error"
	FailureCanceled            FailureKind = "canceled" // the client went away
	// A virtual key's refusals (Denied): a model outside its list, a
	// budget spent for the period.
	FailurePermission FailureKind = "permission_denied"
	FailureBudget     FailureKind = "budget_exceeded"
)

// Classify maps an error from a bedrock call to a Failure. This is the one
// place that decides statuses, for every API surface.
func Classify(err error) Failure {
	if f, ok := denied(err); ok {
		return f
	}
	var be *bedrock.Error
	var denied *limits.Denied
	switch {
	case errors.As(err, &denied):
		// Retry-After is whole seconds: rounded up, so a retry at that time
		// finds the limiter's state moved on.
		return Failure{Status: http.StatusTooManyRequests, Kind: FailureRateLimit,
			RetryAfter: max(time.Second, (denied.RetryAfter + time.Second - 1).Truncate(time.Second)),
			Message:    denied.Error()}
	case errors.As(err, &be):
		f := Failure{Code: be.Code, Message: be.Message, RequestID: be.RequestID}
		switch be.Code {
		case bedrock.CodeValidation:
			f.Status, f.Kind = http.StatusBadRequest, FailureInvalidRequest
		case bedrock.CodeResourceNotFound:
			f.Status, f.Kind = http.StatusNotFound, FailureNotFound
		case bedrock.CodeThrottling, bedrock.CodeServiceQuotaExceeded:
			f.Status, f.Kind, f.RetryAfter = http.StatusTooManyRequests, FailureRateLimit, time.Second
		case bedrock.CodeModelNotReady, bedrock.CodeServiceUnavailable:
			f.Status, f.Kind, f.RetryAfter = http.StatusServiceUnavailable, FailureUpstreamUnavailable, 5*time.Second
		case bedrock.CodeModelTimeout:
			f.Status, f.Kind = http.StatusGatewayTimeout, FailureUpstreamTimeout
		case unknownCode:
			return notBedrock(be)
		case bedrock.CodeAccessDenied:
			// The gateway's AWS identity lacks access: not something the
			// client can fix with other input, so not a 4xx.
			f.Status, f.Kind = http.StatusBadGateway, FailureUpstreamError
			f.Message = "Bedrock denied the gateway access to this model: " + be.Message
		default: // ModelError, ModelStreamError, InternalServer, unknown codes
			f.Status, f.Kind = http.StatusBadGateway, FailureUpstreamError
		}
		if f.Message == "" {
			f.Message = be.Code
		}
		return f
	case errors.Is(err, bedrock.ErrLimited):
		return Failure{Status: http.StatusTooManyRequests, Kind: FailureRateLimit, RetryAfter: time.Second,
			Message: "the model's request limit (requests_per_min_limit or max_concurrent_invocations) is reached; retry later"}
	case errors.Is(err, context.DeadlineExceeded):
		return Failure{Status: http.StatusGatewayTimeout, Kind: FailureUpstreamTimeout, Message: "Bedrock did not answer in time"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer. 499 as nginx does.
		return Failure{Status: 499, Kind: FailureCanceled, Message: "the request was canceled"}
	}
	var ce *bedrock.CredentialsError
	if errors.As(err, &ce) {
		return Failure{Status: http.StatusBadGateway, Kind: FailureUpstreamError,
			Message: "the gateway could not obtain AWS credentials for this model (" + ce.Source + ")"}
	}
	if errors.Is(err, bedrock.ErrUnreachable) {
		return Failure{Status: http.StatusServiceUnavailable, Kind: FailureUpstreamUnavailable, RetryAfter: time.Second,
			Message: "Bedrock could not be reached"}
	}
	// A response that started and then broke (truncated, reset, corrupt).
	return Failure{Status: http.StatusBadGateway, Kind: FailureUpstreamError,
		Message: "Bedrock's response could not be read to the end"}
}
