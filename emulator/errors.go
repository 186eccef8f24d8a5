package emulator

import "fmt"

// apiError is an error response in Bedrock's restJson1 shape: the HTTP status,
// the modeled error code sent in X-Amzn-ErrorType (and as __type in the body),
// and the message.
type apiError struct {
	Status  int
	Code    string
	Message string
	// Extra members some exceptions carry (ModelErrorException,
	// ModelStreamErrorException): originalStatusCode, resourceName, originalMessage.
	Extra map[string]any
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
