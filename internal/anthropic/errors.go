package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/quarry-dev/quarry/internal/reqbody"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// Anthropic's error types, with the statuses its API answers them with.
const (
	errInvalidRequest = "invalid_request_error" // 400
	errAuthentication = "authentication_error"  // 401
	errPermission     = "permission_error"      // 403
	errNotFound       = "not_found_error"       // 404
	errTooLarge       = "request_too_large"     // 413
	errRateLimit      = "rate_limit_error"      // 429
	errAPI            = "api_error"             // 500
	errTimeout        = "timeout_error"         // 504
	errOverloaded     = "overloaded_error"      // 529
)

// statusOverloaded is Anthropic's status for overloaded_error.
const statusOverloaded = 529

// apiError is an Anthropic error answer.
type apiError struct {
	Status     int
	Type       string
	Msg        string
	RetryAfter time.Duration
}

func (e *apiError) Error() string { return e.Msg }

// invalid is a 400 invalid_request_error; the message names the field.
func invalid(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: errInvalidRequest, Msg: fmt.Sprintf(format, args...)}
}

// errorBody is {"type":"error","error":{"type":…,"message":…}}, the body
// of an error answer and the data of an in-stream error event.
type errorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func newErrorBody(typ, msg string) *errorBody {
	b := &errorBody{Type: "error"}
	b.Error.Type, b.Error.Message = typ, msg
	return b
}

// setRequestID puts the request-id header Anthropic's clients read (and log)
// on the answer: the gateway's own request ID.
func setRequestID(w http.ResponseWriter, r *http.Request) {
	if id := accesslog.From(r.Context()).ID; id != "" {
		w.Header()["Request-Id"] = []string{id}
	}
}

// writeError answers with e in Anthropic's format.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	accesslog.From(r.Context()).SetError(e.Type)
	setRequestID(w, r)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(max(e.RetryAfter.Round(time.Second), time.Second)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(newErrorBody(e.Type, e.Msg))
}

// failure turns a failed Bedrock call (upstream.Classify's table) into
// Anthropic's error types and statuses.
func failure(err error) (*apiError, upstream.Failure) {
	f := upstream.Classify(err)
	e := &apiError{Msg: f.Message, RetryAfter: f.RetryAfter}
	switch f.Kind {
	case "invalid_request":
		e.Status, e.Type = http.StatusBadRequest, errInvalidRequest
	case "not_found":
		e.Status, e.Type = http.StatusNotFound, errNotFound
	case "rate_limit", "budget_exceeded":
		e.Status, e.Type = http.StatusTooManyRequests, errRateLimit
	case "permission_denied":
		e.Status, e.Type = http.StatusForbidden, errPermission
	case "upstream_unavailable":
		e.Status, e.Type = statusOverloaded, errOverloaded
	case "upstream_timeout":
		e.Status, e.Type = http.StatusGatewayTimeout, errTimeout
	case "canceled":
		e.Status, e.Type = 499, errAPI
	default:
		e.Status, e.Type = http.StatusInternalServerError, errAPI
	}
	if f.Code == bedrock.CodeAccessDenied {
		e.Status, e.Type = http.StatusForbidden, errPermission
	}
	if e.Status != http.StatusTooManyRequests && e.Status != statusOverloaded {
		e.RetryAfter = 0
	}
	return e, f
}

// writeFailure answers a failed Bedrock call.
func writeFailure(w http.ResponseWriter, r *http.Request, err error) {
	e, f := failure(err)
	if f.RequestID != "" {
		accesslog.From(r.Context()).SetUpstreamRequestID(f.RequestID)
		w.Header().Set("x-amzn-requestid", f.RequestID)
	}
	writeError(w, r, e)
}

// Deny answers a request without a valid API key (auth.Keys.Require).
func Deny(w http.ResponseWriter, r *http.Request, presented bool) {
	msg := "Missing API key: send it in the x-api-key header (or as 'Authorization: Bearer <key>')."
	if presented {
		msg = "invalid x-api-key"
	}
	if why := auth.Refusal(r); why != "" {
		msg = why
	}
	accesslog.From(r.Context()).SetSurface("anthropic")
	w.Header().Set("WWW-Authenticate", `Bearer realm="quarry"`)
	writeError(w, r, &apiError{Status: http.StatusUnauthorized, Type: errAuthentication, Msg: msg})
}

// bodyError is the answer for a body the gateway refuses (reqbody.Read:
// too large, late, not JSON, not UTF-8), with its status kept.
func bodyError(e *reqbody.Error) *apiError {
	if e.Status == http.StatusRequestEntityTooLarge {
		return &apiError{Status: e.Status, Type: errTooLarge,
			Msg: fmt.Sprintf("The request body is larger than the gateway's limit of %d bytes.", e.Limit)}
	}
	return &apiError{Status: e.Status, Type: errInvalidRequest, Msg: e.Msg}
}
