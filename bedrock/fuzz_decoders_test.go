package bedrock

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseError: any error response (status, X-Amzn-ErrorType, body) gives
// an *Error with a bare code and a bounded, printable message.
func FuzzParseError(f *testing.F) {
	f.Add(400, "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/", []byte(`{"message":"bad"}`))
	f.Add(503, "", []byte("<html><body>503 Service Temporarily Unavailable</body></html>"))
	f.Add(424, "", []byte(`{"__type":"ModelErrorException","message":"m","originalStatusCode":500,"resourceName":"arn"}`))
	f.Add(429, "aws.protocoltests#ThrottlingException", []byte(`{"Message":"slow down"}`))
	f.Add(500, "", []byte("\xff\xfe\x00"))
	f.Fuzz(func(t *testing.T, status int, errType string, body []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}}
		if errType != "" {
			resp.Header.Set("X-Amzn-ErrorType", errType)
		}
		e := parseError(resp, body)
		if e.Code == "" || strings.ContainsAny(e.Code, ":#") {
			t.Errorf("code %q", e.Code)
		}
		if e.StatusCode != status {
			t.Errorf("status %d, want %d", e.StatusCode, status)
		}
		if !utf8.ValidString(e.Message) {
			t.Errorf("message %q is not valid UTF-8", e.Message)
		}
		_ = e.Error()
		_ = e.Retryable()
	})
}

// FuzzStreamError: any in-stream exception frame decodes without panic and
// with a printable message.
func FuzzStreamError(f *testing.F) {
	f.Add("throttlingException", []byte(`{"message":"Too many requests"}`))
	f.Add("modelStreamErrorException", []byte(`{"message":"m","originalMessage":"o","originalStatusCode":500}`))
	f.Add("", []byte("not json \xff"))
	// A multi-byte rune across the 200-byte cut.
	f.Add("x", []byte(strings.Repeat("a", 199)+"é and more"))
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		e := streamError(typ, payload, "req")
		if !e.InStream {
			t.Error("not marked in-stream")
		}
		if !utf8.ValidString(e.Message) {
			t.Errorf("message %q is not valid UTF-8", e.Message)
		}
	})
}

// FuzzFamilyStreamChunks: every family's InvokeModelWithResponseStream
// chunk decoder, and the accumulators fed what they decode, survive any
// chunk.
func FuzzFamilyStreamChunks(f *testing.F) {
	for _, s := range []string{
		`{"type":"message_start","message":{"id":"m","role":"assistant","usage":{"input_tokens":3}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`,
		`{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"hi"}}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}`,
		`{"messageStart":{"role":"assistant"}}`,
		`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"x"}}}`,
		`{"contentBlockStart":{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t","name":"n"}}}}`,
		`{"messageStop":{"stopReason":"end_turn"}}`,
		`{"generation":"x","prompt_token_count":1,"generation_token_count":1,"stop_reason":null}`,
		`{"outputs":[{"text":"x","stop_reason":null}]}`,
		`{"outputText":"x","index":0,"totalOutputTextTokenCount":1,"completionReason":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, chunk []byte) {
		if ev, err := DecodeAnthropicStreamEvent(chunk); err == nil && ev != nil {
			var a AnthropicAccumulator
			_ = a.Add(ev)
			_ = a.Add(ev)
		}
		if ev, err := DecodeNovaStreamEvent(chunk); err == nil && ev != nil {
			var a NovaAccumulator
			_ = a.Add(ev)
			_ = a.Add(ev)
		}
		DecodeLlamaStreamChunk(chunk)
		DecodeMistralStreamChunk(chunk)
		DecodeTitanTextStreamChunk(chunk)
	})
}

// seedFiles adds the files matching pattern (relative to the package) to
// f's corpus.
func seedFiles(f *testing.F, pattern string) {
	paths, _ := filepath.Glob(pattern)
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzInvokeResponseBodies: the recorded InvokeModel bodies and anything
// near them decode (or fail) as each family's chunk without panic.
func FuzzInvokeResponseBodies(f *testing.F) {
	seedFiles(f, "testdata/invoke_bodies/*response*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		DecodeAnthropicStreamEvent(body)
		DecodeNovaStreamEvent(body)
		DecodeTitanTextStreamChunk(body)
	})
}
