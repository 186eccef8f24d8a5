package bedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestParseError(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		wantCode   string
		wantMsg    string
		wantReqID  string
		wantOrigSC int
		wantRes    string
	}{
		{
			name:   "header with coral URI (real Bedrock)",
			status: 400,
			header: map[string]string{"X-Amzn-ErrorType": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
				"X-Amzn-RequestId": "d425bf99-8a4e-4d83-8d77-a48410dd82b2"},
			body:     `{"message":"The provided model identifier is invalid."}`,
			wantCode: CodeValidation, wantMsg: "The provided model identifier is invalid.", wantReqID: "d425bf99-8a4e-4d83-8d77-a48410dd82b2",
		},
		{
			name: "header beats body", status: 429,
			header:   map[string]string{"x-amzn-errortype": "ThrottlingException"},
			body:     `{"__type":"ValidationException","message":"Too many tokens, please wait before trying again."}`,
			wantCode: CodeThrottling, wantMsg: "Too many tokens, please wait before trying again.",
		},
		{
			name: "body __type with namespace", status: 429,
			body:     `{"__type":"com.amazon.bedrock#ThrottlingException","message":"Too many requests, please wait before trying again."}`,
			wantCode: CodeThrottling, wantMsg: "Too many requests, please wait before trying again.",
		},
		{
			name: "body __type with namespace and URI (smithy protocol test)", status: 400,
			body:     `{"__type":"aws.protocoltests.restjson#FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/"}`,
			wantCode: "FooError", wantMsg: "Bad Request",
		},
		{
			name: "body code", status: 404,
			header:   map[string]string{"X-Amz-Request-Id": "legacy-id"},
			body:     `{"code":"ResourceNotFoundException","message":"Model not found."}`,
			wantCode: CodeResourceNotFound, wantMsg: "Model not found.", wantReqID: "legacy-id",
		},
		{
			name: "body code beats __type", status: 400,
			body:     `{"code":"ServiceQuotaExceededException","__type":"ValidationException","message":"quota"}`,
			wantCode: CodeServiceQuotaExceeded, wantMsg: "quota",
		},
		{
			name: "Message capitalized", status: 403,
			body:     `{"__type":"AccessDeniedException","Message":"You don't have access to the model with the specified model ID."}`,
			wantCode: CodeAccessDenied, wantMsg: "You don't have access to the model with the specified model ID.",
		},
		{
			name: "ModelErrorException members", status: 424,
			body:     `{"__type":"ModelErrorException","message":"model failed","originalStatusCode":500,"resourceName":"arn:aws:sagemaker:us-east-1:1:endpoint/e"}`,
			wantCode: CodeModelError, wantMsg: "model failed", wantOrigSC: 500, wantRes: "arn:aws:sagemaker:us-east-1:1:endpoint/e",
		},
		{
			name: "non-JSON body", status: 502,
			body:     "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>",
			wantCode: "UnknownError", wantMsg: "<html> <head><title>502 Bad Gateway</title></head> </html>",
		},
		{
			name: "non-JSON body with header code", status: 503,
			header:   map[string]string{"X-Amzn-ErrorType": "ServiceUnavailableException"},
			body:     "upstream connect error",
			wantCode: CodeServiceUnavailable, wantMsg: "upstream connect error",
		},
		{
			name: "empty body with header", status: 408,
			header:   map[string]string{"X-Amzn-ErrorType": "ModelTimeoutException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
			wantCode: CodeModelTimeout, wantMsg: "Request Timeout",
		},
		{
			name: "empty body, no code", status: 500,
			wantCode: "UnknownError", wantMsg: "Internal Server Error",
		},
		{
			name: "empty JSON object", status: 400, body: `{}`,
			wantCode: "UnknownError", wantMsg: "Bad Request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
			for k, v := range tt.header {
				resp.Header.Set(k, v)
			}
			e := parseError(resp, []byte(tt.body))
			if e.Code != tt.wantCode || e.Message != tt.wantMsg || e.StatusCode != tt.status || e.RequestID != tt.wantReqID ||
				e.OriginalStatusCode != tt.wantOrigSC || e.ResourceName != tt.wantRes || e.InStream {
				t.Fatalf("got %+v\nwant code=%q msg=%q status=%d rid=%q", e, tt.wantCode, tt.wantMsg, tt.status, tt.wantReqID)
			}
		})
	}
}

func TestParseErrorLongBodyExcerpt(t *testing.T) {
	e := parseError(&http.Response{StatusCode: 502, Header: http.Header{}}, []byte(strings.Repeat("x", 5000)+"\xff"))
	if len(e.Message) > 210 || !strings.HasSuffix(e.Message, "...") {
		t.Fatalf("excerpt not bounded: %d bytes", len(e.Message))
	}
}

// TestModeledErrorsThroughClient sends each modeled error the way Bedrock
// does and checks the typed error the caller gets, its sentinel and whether
// it was retried.
func TestModeledErrorsThroughClient(t *testing.T) {
	isolateAWSEnv(t)
	sentinels := map[string]*Error{
		CodeValidation: ErrValidation, CodeAccessDenied: ErrAccessDenied, CodeResourceNotFound: ErrResourceNotFound,
		CodeThrottling: ErrThrottling, CodeModelTimeout: ErrModelTimeout, CodeModelNotReady: ErrModelNotReady,
		CodeModelError: ErrModelError, CodeServiceQuotaExceeded: ErrServiceQuotaExceeded,
		CodeServiceUnavailable: ErrServiceUnavailable, CodeInternalServer: ErrInternalServer,
	}
	tests := []struct {
		code      string
		status    int
		retryable bool
	}{
		{CodeValidation, 400, false},
		{CodeAccessDenied, 403, false},
		{CodeResourceNotFound, 404, false},
		{CodeModelTimeout, 408, false},
		{CodeThrottling, 429, true},
		{CodeModelNotReady, 429, true},
		{CodeServiceQuotaExceeded, 400, false},
		{CodeModelError, 424, false},
		{CodeInternalServer, 500, true},
		{CodeServiceUnavailable, 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if codeStatus[tt.code] != tt.status {
				t.Fatalf("codeStatus[%s] = %d, want %d", tt.code, codeStatus[tt.code], tt.status)
			}
			fb := newFakeBedrock(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Amzn-ErrorType", tt.code+":http://internal.amazon.com/coral/com.amazon.bedrock/")
				w.Header().Set("X-Amzn-RequestId", "rid-"+tt.code)
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"message":"msg for `+tt.code+`"}`)
			})
			c := mustNew(t, Config{Endpoint: fb.URL, APIKey: "k", Retry: RetryPolicy{MaxAttempts: 2, BaseDelay: 1}})
			err := converseCall(context.Background(), c, "m")
			var be *Error
			if !errors.As(err, &be) {
				t.Fatalf("err %v is not an *Error", err)
			}
			if be.Code != tt.code || be.StatusCode != tt.status || be.Message != "msg for "+tt.code || be.RequestID != "rid-"+tt.code {
				t.Fatalf("got %+v", be)
			}
			for code, s := range sentinels {
				if got := errors.Is(err, s); got != (code == tt.code) {
					t.Errorf("errors.Is(err, Err<%s>) = %v", code, got)
				}
			}
			if be.Retryable() != tt.retryable {
				t.Errorf("Retryable() = %v, want %v", be.Retryable(), tt.retryable)
			}
			wantAttempts := int64(1)
			if tt.retryable {
				wantAttempts = 2
			}
			if fb.hits.Load() != wantAttempts {
				t.Errorf("attempts = %d, want %d", fb.hits.Load(), wantAttempts)
			}
			for _, part := range []string{tt.code, "msg for " + tt.code, "rid-" + tt.code} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error text %q lacks %q", err, part)
				}
			}
		})
	}
}

func TestStreamError(t *testing.T) {
	tests := []struct {
		typ, payload      string
		wantCode, wantMsg string
		wantStatus        int
		sentinel          *Error
		wantOrig          int
		wantOrigMsg       string
	}{
		{"throttlingException", `{"message":"Too many tokens"}`, CodeThrottling, "Too many tokens", 429, ErrThrottling, 0, ""},
		{"modelStreamErrorException", `{"message":"boom","originalStatusCode":500,"originalMessage":"upstream"}`,
			CodeModelStreamError, "boom", 424, ErrModelStreamError, 500, "upstream"},
		{"internalServerException", `{"Message":"oops"}`, CodeInternalServer, "oops", 500, ErrInternalServer, 0, ""},
		{"validationException", `not json`, CodeValidation, "not json", 400, ErrValidation, 0, ""},
	}
	for _, tt := range tests {
		e := streamError(tt.typ, []byte(tt.payload), "rid")
		if e.Code != tt.wantCode || e.Message != tt.wantMsg || e.StatusCode != tt.wantStatus || !e.InStream ||
			e.RequestID != "rid" || e.OriginalStatusCode != tt.wantOrig || e.OriginalMessage != tt.wantOrigMsg {
			t.Errorf("%s: got %+v", tt.typ, e)
		}
		if !errors.Is(e, tt.sentinel) {
			t.Errorf("%s: errors.Is(sentinel) false", tt.typ)
		}
		if e.Retryable() {
			t.Errorf("%s: an in-stream error must not be retryable", tt.typ)
		}
	}
}

func TestErrorIsMatchesOnlyBareSentinels(t *testing.T) {
	e := &Error{Code: CodeThrottling, Message: "x", StatusCode: 429}
	if !errors.Is(e, ErrThrottling) {
		t.Fatal("want match on code")
	}
	if errors.Is(e, &Error{Code: CodeThrottling, Message: "other"}) {
		t.Fatal("a non-sentinel *Error with a message must not match by code")
	}
	if errors.Is(e, ErrValidation) {
		t.Fatal("different code matched")
	}
}
