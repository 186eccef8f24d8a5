package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
)

// Failure is what a failed Bedrock call means for the gateway's client:
// the HTTP status, a kind for the API's error "type", a message safe to
// show (no credentials, no internal addresses), and how long to wait
// before retrying (for 429 and 503).
type Failure struct {
	Status     int
	Kind       string // invalid_request, not_found, rate_limit, upstream_timeout, upstream_unavailable, upstream_error, canceled
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
	f := Failure{Status: http.StatusBadGateway, Kind: "upstream_error", RequestID: be.RequestID,
		Message: fmt.Sprintf("Bedrock's endpoint answered HTTP %d %s with a body that is not a Bedrock error (a proxy or load balancer in between?)",
			be.StatusCode, http.StatusText(be.StatusCode))}
	switch be.StatusCode {
	case http.StatusTooManyRequests:
		f.Status, f.Kind, f.RetryAfter = http.StatusTooManyRequests, "rate_limit", time.Second
	case http.StatusServiceUnavailable:
		f.Status, f.Kind, f.RetryAfter = http.StatusServiceUnavailable, "upstream_unavailable", 5*time.Second
	case http.StatusGatewayTimeout:
		f.Status, f.Kind = http.StatusGatewayTimeout, "upstream_timeout"
	}
	return f
}

// Classify maps an error from a bedrock call to a Failure. This is the one
// place that decides statuses, for every API surface.
func Classify(err error) Failure {
	var be *bedrock.Error
	switch {
	case errors.As(err, &be):
		f := Failure{Code: be.Code, Message: be.Message, RequestID: be.RequestID}
		switch be.Code {
		case bedrock.CodeValidation:
			f.Status, f.Kind = http.StatusBadRequest, "invalid_request"
		case bedrock.CodeResourceNotFound:
			f.Status, f.Kind = http.StatusNotFound, "not_found"
		case bedrock.CodeThrottling, bedrock.CodeServiceQuotaExceeded:
			f.Status, f.Kind, f.RetryAfter = http.StatusTooManyRequests, "rate_limit", time.Second
		case bedrock.CodeModelNotReady, bedrock.CodeServiceUnavailable:
			f.Status, f.Kind, f.RetryAfter = http.StatusServiceUnavailable, "upstream_unavailable", 5*time.Second
		case bedrock.CodeModelTimeout:
			f.Status, f.Kind = http.StatusGatewayTimeout, "upstream_timeout"
		case unknownCode:
			return notBedrock(be)
		case bedrock.CodeAccessDenied:
			// The gateway's AWS identity lacks access: not something the
			// client can fix with other input, so not a 4xx.
			f.Status, f.Kind = http.StatusBadGateway, "upstream_error"
			f.Message = "Bedrock denied the gateway access to this model: " + be.Message
		default: // ModelError, ModelStreamError, InternalServer, unknown codes
			f.Status, f.Kind = http.StatusBadGateway, "upstream_error"
		}
		if f.Message == "" {
			f.Message = be.Code
		}
		return f
	case errors.Is(err, bedrock.ErrLimited):
		return Failure{Status: http.StatusTooManyRequests, Kind: "rate_limit", RetryAfter: time.Second,
			Message: "the model's request limit (requests_per_min_limit or max_concurrent_invocations) is reached; retry later"}
	case errors.Is(err, context.DeadlineExceeded):
		return Failure{Status: http.StatusGatewayTimeout, Kind: "upstream_timeout", Message: "Bedrock did not answer in time"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer. 499 as nginx does.
		return Failure{Status: 499, Kind: "canceled", Message: "the request was canceled"}
	}
	var ce *bedrock.CredentialsError
	if errors.As(err, &ce) {
		return Failure{Status: http.StatusBadGateway, Kind: "upstream_error",
			Message: "the gateway could not obtain AWS credentials for this model (" + ce.Source + ")"}
	}
	if errors.Is(err, bedrock.ErrUnreachable) {
		return Failure{Status: http.StatusServiceUnavailable, Kind: "upstream_unavailable", RetryAfter: time.Second,
			Message: "Bedrock could not be reached"}
	}
	// A response that started and then broke (truncated, reset, corrupt).
	return Failure{Status: http.StatusBadGateway, Kind: "upstream_error",
		Message: "Bedrock's response could not be read to the end"}
}
