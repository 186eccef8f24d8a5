package bedrock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/quarry-dev/quarry/internal/clip"
)

// Error is an error returned by Bedrock: a modeled exception from an HTTP
// error response, or an exception frame inside a stream (InStream).
// Match it with errors.Is against the sentinels below, or errors.As.
type Error struct {
	// Code is the exception name, e.g. "ThrottlingException" (in-stream
	// lowerCamel names are normalized to this form).
	Code    string
	Message string
	// StatusCode is the HTTP status (for in-stream exceptions, the status the
	// same exception has as an HTTP error).
	StatusCode int
	RequestID  string
	// InStream is true when the exception arrived inside an event stream,
	// after the response had started; such errors are never retried.
	InStream bool

	// Extra members of ModelErrorException and ModelStreamErrorException.
	OriginalStatusCode int
	OriginalMessage    string
	ResourceName       string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("bedrock: ")
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.StatusCode != 0 || e.RequestID != "" {
		b.WriteString(" (")
		if e.StatusCode != 0 {
			fmt.Fprintf(&b, "status %d", e.StatusCode)
		}
		if e.RequestID != "" {
			if e.StatusCode != 0 {
				b.WriteString(", ")
			}
			b.WriteString("request id ")
			b.WriteString(e.RequestID)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Is matches a sentinel *Error by Code, so that
// errors.Is(err, bedrock.ErrThrottling) works for HTTP and in-stream errors.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.RequestID == "" && strings.EqualFold(t.Code, e.Code)
}

// Retryable reports whether the client retries this error: throttling (by
// code, as the AWS SDKs do, or by HTTP 429 when a proxy left no code), a model
// not yet ready (modeled retryable), transient codes and server faults.
// Validation and other client errors are final, and in-stream errors are
// never retried: the response had already started.
func (e *Error) Retryable() bool {
	if e.InStream {
		return false
	}
	if retryableCodes[e.Code] {
		return true
	}
	switch e.StatusCode {
	case 429, 500, 502, 503, 504:
		return true
	}
	return false
}

// retryableCodes are the throttling and transient codes of the AWS SDKs'
// standard retry mode, plus ModelNotReadyException (modeled retryable).
var retryableCodes = map[string]bool{
	CodeThrottling: true, CodeModelNotReady: true, CodeServiceUnavailable: true, CodeInternalServer: true,
	"Throttling": true, "ThrottledException": true, "RequestThrottledException": true,
	"TooManyRequestsException": true, "ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded": true, "BandwidthLimitExceeded": true, "LimitExceededException": true,
	"RequestThrottled": true, "SlowDown": true, "PriorRequestNotComplete": true,
	"RequestTimeout": true, "RequestTimeoutException": true,
}

// The modeled Bedrock Runtime exceptions.
const (
	CodeValidation           = "ValidationException"
	CodeAccessDenied         = "AccessDeniedException"
	CodeResourceNotFound     = "ResourceNotFoundException"
	CodeThrottling           = "ThrottlingException"
	CodeModelTimeout         = "ModelTimeoutException"
	CodeModelNotReady        = "ModelNotReadyException"
	CodeModelError           = "ModelErrorException"
	CodeModelStreamError     = "ModelStreamErrorException"
	CodeServiceQuotaExceeded = "ServiceQuotaExceededException"
	CodeServiceUnavailable   = "ServiceUnavailableException"
	CodeInternalServer       = "InternalServerException"
	CodeConflict             = "ConflictException"
)

// Sentinels for errors.Is.
var (
	ErrValidation           = &Error{Code: CodeValidation}
	ErrAccessDenied         = &Error{Code: CodeAccessDenied}
	ErrResourceNotFound     = &Error{Code: CodeResourceNotFound}
	ErrThrottling           = &Error{Code: CodeThrottling}
	ErrModelTimeout         = &Error{Code: CodeModelTimeout}
	ErrModelNotReady        = &Error{Code: CodeModelNotReady}
	ErrModelError           = &Error{Code: CodeModelError}
	ErrModelStreamError     = &Error{Code: CodeModelStreamError}
	ErrServiceQuotaExceeded = &Error{Code: CodeServiceQuotaExceeded}
	ErrServiceUnavailable   = &Error{Code: CodeServiceUnavailable}
	ErrInternalServer       = &Error{Code: CodeInternalServer}
)

// codeStatus is the HTTP status of each modeled exception (service model).
var codeStatus = map[string]int{
	CodeValidation: 400, CodeAccessDenied: 403, CodeResourceNotFound: 404,
	CodeModelTimeout: 408, CodeThrottling: 429, CodeModelNotReady: 429,
	CodeServiceQuotaExceeded: 400, CodeModelError: 424, CodeModelStreamError: 424,
	CodeInternalServer: 500, CodeServiceUnavailable: 503, CodeConflict: 400,
}

// errorBody is the JSON body of an error response; members beyond message are
// only present for some exceptions.
type errorBody struct {
	Message            string `json:"message"`
	MessageUpper       string `json:"Message"`
	Code               string `json:"code"`
	Type               string `json:"__type"`
	OriginalStatusCode int    `json:"originalStatusCode"`
	OriginalMessage    string `json:"originalMessage"`
	ResourceName       string `json:"resourceName"`
}

// sanitizeCode reduces an error code to its bare name the way the SDKs do:
// "ValidationException:http://internal.amazon.com/..." and
// "aws.protocoltests#FooError" both become the part that names the error.
func sanitizeCode(code string) string {
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return strings.TrimSpace(code)
}

// parseError builds the *Error of a non-2xx response: the code from
// X-Amzn-ErrorType, else from the body's code or __type; the message from the
// body's message (either case).
func parseError(resp *http.Response, body []byte) *Error {
	e := &Error{StatusCode: resp.StatusCode, RequestID: requestID(resp.Header)}
	var b errorBody
	jsonOK := len(body) > 0 && json.Unmarshal(body, &b) == nil
	e.Code = sanitizeCode(resp.Header.Get("X-Amzn-ErrorType"))
	if e.Code == "" && jsonOK {
		if b.Code != "" {
			e.Code = sanitizeCode(b.Code)
		} else {
			e.Code = sanitizeCode(b.Type)
		}
	}
	if e.Code == "" {
		e.Code = "UnknownError"
	}
	switch {
	case jsonOK && b.Message != "":
		e.Message = b.Message
	case jsonOK && b.MessageUpper != "":
		e.Message = b.MessageUpper
	case !jsonOK && len(body) > 0:
		// Not JSON (a proxy's HTML page, say): keep a short, printable excerpt.
		e.Message = excerpt(body)
	default:
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.OriginalStatusCode, e.OriginalMessage, e.ResourceName = b.OriginalStatusCode, b.OriginalMessage, b.ResourceName
	return e
}

// streamError builds the *Error of an in-stream exception frame.
func streamError(exceptionType string, payload []byte, reqID string) *Error {
	code := exceptionType
	if code != "" {
		code = strings.ToUpper(code[:1]) + code[1:]
	}
	e := &Error{Code: code, InStream: true, RequestID: reqID, StatusCode: codeStatus[code]}
	var b errorBody
	if json.Unmarshal(payload, &b) == nil {
		e.Message = b.Message
		if e.Message == "" {
			e.Message = b.MessageUpper
		}
		e.OriginalStatusCode, e.OriginalMessage, e.ResourceName = b.OriginalStatusCode, b.OriginalMessage, b.ResourceName
	} else if len(payload) > 0 {
		e.Message = excerpt(payload)
	}
	return e
}

func excerpt(b []byte) string {
	const max = 200
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Join(strings.Fields(s), " ")
	return clip.String(s, max, "...")
}

func requestID(h http.Header) string {
	if id := h.Get("X-Amzn-Requestid"); id != "" {
		return id
	}
	return h.Get("X-Amz-Request-Id")
}
