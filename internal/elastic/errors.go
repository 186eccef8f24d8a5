package elastic

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/auth"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// Error is an Elasticsearch error: the exception type (e.g.
// validation_exception), its reason and the HTTP status. Clients match on
// all three, so they are Elasticsearch's own words.
type Error struct {
	Status int
	Type   string
	Reason string
	// RetryAfter, in seconds, for 429 and 503 from Bedrock.
	RetryAfter int
}

func (e *Error) Error() string { return e.Type + ": " + e.Reason }

// errorBody is the JSON Elasticsearch answers errors with, in its field
// order.
type errorBody struct {
	Error struct {
		RootCause []errorCause `json:"root_cause"`
		errorCause
	} `json:"error"`
	Status int `json:"status"`
}

type errorCause struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// maxReason bounds a reason in an error body: messages that list what a
// request sent (unknown keys, say) stay small however large the request.
const maxReason = 4096

func (e *Error) body() errorBody {
	var b errorBody
	reason := e.Reason
	if len(reason) > maxReason {
		cut := maxReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut] + "... [truncated]"
	}
	b.Error.errorCause = errorCause{Type: e.Type, Reason: reason}
	b.Error.RootCause = []errorCause{b.Error.errorCause}
	b.Status = e.Status
	return b
}

// statusErr is ElasticsearchStatusException: Elasticsearch's generic error
// with a status.
func statusErr(status int, format string, args ...any) *Error {
	return &Error{Status: status, Type: "status_exception", Reason: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return statusErr(http.StatusBadRequest, format, args...)
}

// notFound is what Elasticsearch answers for an unknown inference_id.
func notFound(id string) *Error {
	return &Error{Status: http.StatusNotFound, Type: "resource_not_found_exception",
		Reason: "Inference endpoint not found [" + id + "]"}
}

func alreadyExists(id string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "resource_already_exists_exception",
		Reason: "Inference endpoint [" + id + "] already exists"}
}

func unknownTaskType(t string) *Error { return badRequest("Unknown task_type [%s]", t) }

func parseErr(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "x_content_parse_exception", Reason: fmt.Sprintf(format, args...)}
}

// validation collects problems like Elasticsearch's ValidationException,
// which reports them all at once, numbered.
type validation struct{ errs []string }

func (v *validation) add(format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

func (v *validation) err() *Error {
	if len(v.errs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("Validation Failed: ")
	for i, e := range v.errs {
		fmt.Fprintf(&b, "%d: %s;", i+1, e)
	}
	return &Error{Status: http.StatusBadRequest, Type: "validation_exception", Reason: b.String()}
}

// upstreamErr maps a failed Bedrock call through the gateway's one table
// (upstream.Classify) into Elasticsearch's error shape.
func upstreamErr(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	f := upstream.Classify(err)
	reason := f.Message
	if f.Code != "" && !strings.Contains(reason, f.Code) {
		reason = f.Code + ": " + reason
	}
	typ := "status_exception"
	if f.Kind == upstream.FailurePermission {
		typ = "security_exception" // Elasticsearch's 403 for an action the credentials may not run
	}
	return &Error{Status: f.Status, Type: typ, Reason: reason, RetryAfter: int(f.RetryAfter.Seconds())}
}

// writeError answers with e in Elasticsearch's format and records its type
// in the access log.
func writeError(w http.ResponseWriter, r *http.Request, e *Error) {
	accesslog.From(r.Context()).SetError(e.Type)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	writeJSON(w, e.Status, e.body())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Deny answers a request without a valid API key as Elasticsearch's
// security layer does (401 security_exception). The gateway uses it for
// /_inference behind its API-key check.
func Deny(w http.ResponseWriter, r *http.Request, presented bool) {
	reason := "missing authentication credentials for REST request [" + r.URL.Path + "]"
	if presented {
		reason = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
	}
	if why := auth.Refusal(r); why != "" {
		reason = why
	}
	w.Header().Set("WWW-Authenticate", `ApiKey, Bearer realm="quarry"`)
	writeError(w, r, &Error{Status: http.StatusUnauthorized, Type: "security_exception", Reason: reason})
}
