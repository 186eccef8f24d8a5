package bedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCountTokens(t *testing.T) {
	temp := 0.5
	tests := []struct {
		name     string
		req      *CountTokensRequest
		wantBody string
	}{
		{"converse", &CountTokensRequest{Converse: &ConverseTokensRequest{
			Messages:                     []Message{UserText("Hello")},
			System:                       []SystemContentBlock{SystemText("Be terse.")},
			AdditionalModelRequestFields: map[string]any{"top_k": 200},
		}}, `{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"Hello"}]}],"system":[{"text":"Be terse."}],"additionalModelRequestFields":{"top_k":200}}}}`},
		{"from a Converse request", ConverseTokens(&ConverseRequest{
			Messages:        []Message{UserText("Hi")},
			InferenceConfig: &InferenceConfig{Temperature: &temp}, // not counted, not sent
		}), `{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}}}`},
		{"invoke model", &CountTokensRequest{InvokeModel: &InvokeModelTokensRequest{Body: []byte(`{"x":1}`)}},
			`{"input":{"invokeModel":{"body":"eyJ4IjoxfQ=="}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			var body []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				path = r.URL.EscapedPath()
				body, _ = io.ReadAll(r.Body)
				w.Header().Set("X-Amzn-RequestId", "rid-ct")
				io.WriteString(w, `{"inputTokens":42}`)
			}))
			defer srv.Close()
			c := newInvClient(t, srv)
			resp, err := c.CountTokens(context.Background(), "anthropic.claude-3-5-haiku-20241022-v1:0", tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.InputTokens != 42 || resp.RequestID != "rid-ct" {
				t.Errorf("response = %+v", resp)
			}
			if path != "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/count-tokens" {
				t.Errorf("path = %q", path)
			}
			if !invJSONEqual(t, body, []byte(tt.wantBody)) {
				t.Errorf("body = %s\nwant %s", body, tt.wantBody)
			}
		})
	}
}

func TestCountTokensErrors(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("X-Amzn-ErrorType", "ValidationException")
		w.WriteHeader(400)
		io.WriteString(w, `{"message":"The provided model doesn't support counting tokens."}`)
	}))
	defer srv.Close()
	c := newInvClient(t, srv)
	for _, req := range []*CountTokensRequest{nil, {}, {Converse: &ConverseTokensRequest{}, InvokeModel: &InvokeModelTokensRequest{}}} {
		if _, err := c.CountTokens(context.Background(), "m", req); err == nil || !strings.HasPrefix(err.Error(), "CountTokens: ") {
			t.Errorf("CountTokens(%+v) = %v", req, err)
		}
	}
	if calls != 0 {
		t.Errorf("%d requests sent for invalid input", calls)
	}
	_, err := c.CountTokens(context.Background(), "amazon.titan-text-lite-v1", &CountTokensRequest{InvokeModel: &InvokeModelTokensRequest{Body: []byte(`{}`)}})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeValidation || e.Message != "The provided model doesn't support counting tokens." {
		t.Errorf("err = %v", err)
	}
}
