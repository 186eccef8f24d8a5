package emulator

import (
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an error response in Bedrock's restJson1 shape: the HTTP status,
// the modeled error code sent in x-amzn-ErrorType, and the message. Real
// Bedrock puts only "message" (plus the exception's extra members) in the body
// and the code in the header; the emulator does the same (see the recordings).
type apiError struct {
	Status  int
	Code    string
	Message string
	// Extra members some exceptions carry (ModelErrorException,
	// ModelStreamErrorException): originalStatusCode, resourceName, originalMessage.
	Extra map[string]any
	// Namespace is the coral namespace in x-amzn-ErrorType; "" means Bedrock's
	// own (com.amazon.bedrock). Front-door (auth) errors use com.amazon.coral.service.
	Namespace string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// validationError is Bedrock's 400 ValidationException.
func validationError(format string, args ...any) *apiError {
	return &apiError{Status: 400, Code: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

// errInvalidModel is the exact error real Bedrock returns for an unknown model
// identifier (recorded in test_converse_with_invalid_model.yaml).
func errInvalidModel() *apiError {
	return validationError("The provided model identifier is invalid.")
}

// The errors Bedrock returns for its modeled exceptions, with its wording.
func errThrottled() *apiError {
	return &apiError{Status: 429, Code: "ThrottlingException", Message: "Too many requests, please wait before trying again."}
}

func errTooManyTokens() *apiError {
	return &apiError{Status: 429, Code: "ThrottlingException", Message: "Too many tokens, please wait before trying again."}
}

func errModelTimeout() *apiError {
	return &apiError{Status: 408, Code: "ModelTimeoutException", Message: "Model has timed out in processing the request. Try your request again."}
}

func errModelNotReady() *apiError {
	return &apiError{Status: 429, Code: "ModelNotReadyException", Message: "Model is not ready to serve inference requests. The AWS SDK will automatically retry the operation up to 5 times. For information about configuring automatic retries, see Retry behavior in the AWS SDKs and Tools reference guide."}
}

func errUnavailable() *apiError {
	return &apiError{Status: 503, Code: "ServiceUnavailableException", Message: "Bedrock is unable to process your request."}
}

func errInternal() *apiError {
	return &apiError{Status: 500, Code: "InternalServerException", Message: "The system encountered an unexpected error during processing. Try your request again."}
}

func errModelError(modelARN string) *apiError {
	return &apiError{Status: 424, Code: "ModelErrorException",
		Message: "The model returned an error: the model encountered an internal error while processing the request.",
		Extra:   map[string]any{"originalStatusCode": 500, "resourceName": modelARN}}
}

func errNotFound(msg string) *apiError {
	return &apiError{Status: 404, Code: "ResourceNotFoundException", Message: msg}
}

// errorTypeHeader is the x-amzn-ErrorType value: "<Code>:http://internal.amazon.com/coral/<namespace>/".
func (e *apiError) errorTypeHeader() string {
	ns := e.Namespace
	if ns == "" {
		ns = "com.amazon.bedrock"
	}
	return e.Code + ":http://internal.amazon.com/coral/" + ns + "/"
}

// body is the compact JSON error body: {"message":...} plus the extra members,
// keys sorted as Bedrock's serializer emits them.
func (e *apiError) body() []byte {
	if len(e.Extra) == 0 {
		b := make([]byte, 0, len(e.Message)+16)
		b = append(b, `{"message":`...)
		b = appendJSONString(b, e.Message)
		return append(b, '}')
	}
	m := make(map[string]any, len(e.Extra)+1)
	for k, v := range e.Extra {
		m[k] = v
	}
	m["message"] = e.Message
	return mustJSON(m)
}

// writeError writes e as an HTTP error response, with the header names
// spelled exactly as the real service spells them.
func writeError(w http.ResponseWriter, requestID string, e *apiError) {
	b := e.body()
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	h["x-amzn-RequestId"] = []string{requestID}
	h["x-amzn-ErrorType"] = []string{e.errorTypeHeader()}
	w.WriteHeader(e.Status)
	w.Write(b)
}
