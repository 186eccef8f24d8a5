package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: SigV4 verification of any Authorization header, date, token,
// path and body refuses or accepts without panic, and never accepts a
// request whose signature it did not compute.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=test/20250206/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd",
		"20250206T120000Z", "", "/model/amazon.nova-lite-v1%3A0/converse", []byte(`{}`))
	f.Add("Bearer token", "", "", "/model/x/invoke", []byte(nil))
	f.Add("AWS4-HMAC-SHA256 Credential=test/2025/us-east-1/bedrock", "garbage", "tok", "/", []byte("x"))
	f.Add("AWS4-HMAC-SHA256 Credential=test/20250206/us-east-1/bedrock/aws4_request, SignedHeaders=content-length;host;transfer-encoding;x-amz-content-sha256, Signature=",
		"20250206T120000Z", "", "/%zz/%", []byte("{"))
	v := newVerifier(Config{Credentials: []Credential{{AccessKeyID: "test", SecretAccessKey: "test"}}, ClockSkew: 5 * time.Minute})
	now := time.Date(2025, 2, 6, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, authz, date, token, path string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Amz-Date", date)
		if token != "" {
			r.Header.Set("X-Amz-Security-Token", token)
		}
		if err := v.verify(r, path, body, now); err == nil && strings.HasPrefix(authz, sigV4Algorithm) {
			t.Errorf("a made-up SigV4 signature was accepted: %q", authz)
		}
	})
}

// FuzzServeBody: every operation's body parser (Converse, the native
// InvokeModel bodies of each family, embeddings, images, CountTokens,
// ApplyGuardrail) answers any body with a Bedrock-shaped response, never a
// panic or a 500 for bad input.
func FuzzServeBody(f *testing.F) {
	paths := []string{
		"/model/amazon.nova-lite-v1:0/converse",
		"/model/anthropic.claude-3-haiku-20240307-v1:0/invoke",
		"/model/amazon.nova-lite-v1:0/invoke",
		"/model/amazon.titan-text-express-v1/invoke",
		"/model/meta.llama3-8b-instruct-v1:0/invoke",
		"/model/mistral.mistral-7b-instruct-v0:2/invoke",
		"/model/cohere.command-r-v1:0/invoke",
		"/model/amazon.titan-embed-text-v2:0/invoke",
		"/model/cohere.embed-english-v3/invoke",
		"/model/amazon.nova-canvas-v1:0/invoke",
		"/model/amazon.titan-image-generator-v2:0/invoke",
		"/model/amazon.nova-lite-v1:0/count-tokens",
	}
	for i, body := range []string{
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`,
		`{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":5}}`,
		`{"inputText":"hi","textGenerationConfig":{"maxTokenCount":5}}`,
		`{"prompt":"hi","max_gen_len":5}`,
		`{"prompt":"<s>[INST] hi [/INST]","max_tokens":5}`,
		`{"message":"hi","max_tokens":5}`,
		`{"inputText":"hello","dimensions":256}`,
		`{"texts":["a","b"],"input_type":"search_document"}`,
		`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a cat"},"imageGenerationConfig":{"width":512,"height":512}}`,
		`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a dog"}}`,
		`{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"hi"}]}]}}}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Add(uint8(0), []byte(`{"messages":[{"role":"user","content":[{"text":"[[quarry:stall]]"}]}]}`))
	e, err := New(Config{NoAuth: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		// A bound on markers such as [[quarry:stall]], which wait for the
		// client to go away.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
		r.RequestURI = ""
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code >= 400 {
			if w.Code == 500 && !bytes.Contains(body, []byte("[[quarry:")) {
				t.Errorf("%s: 500 for %q: %s", path, body, w.Body)
			}
			var v map[string]any
			if json.Unmarshal(w.Body.Bytes(), &v) != nil && w.Body.Len() > 0 {
				t.Errorf("%s: error body is not JSON: %s", path, w.Body)
			}
		}
	})
}
