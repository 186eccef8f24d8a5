package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/quarry-dev/quarry/emulator"
)

// lastRequest records the last request a client sent, body included.
type lastRequest struct {
	mu   sync.Mutex
	req  *http.Request
	body string
}

func (l *lastRequest) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	l.mu.Lock()
	l.req, l.body = r, string(b)
	l.mu.Unlock()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(string(b)))
	return http.DefaultTransport.RoundTrip(r2)
}

// TestSignConverseIsWhatConverseSends: the library signs exactly the
// request Converse sends (method, URL, body, header names), without sending
// it; the printed request, sent by a plain client, is accepted by the
// emulator with signature verification on; and so is the ConverseStream
// form.
func TestSignConverseIsWhatConverseSends(t *testing.T) {
	isolateAWSEnv(t)
	emu, err := emulator.NewServer(emulator.Config{}) // SigV4 verified, keys test/test
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	rec := &lastRequest{}
	c := mustNew(t, Config{Region: "us-east-1", Endpoint: emu.URL, AccessKeyID: "test", SecretAccessKey: "test",
		HTTPClient: &http.Client{Transport: rec}})
	maxTok := 50
	req := &ConverseRequest{System: []SystemContentBlock{SystemText("Be brief.")}, Messages: []Message{UserText("Hello")},
		InferenceConfig: &InferenceConfig{MaxTokens: &maxTok}}
	ctx := context.Background()
	if _, err := c.Converse(ctx, "amazon.nova-micro-v1:0", req); err != nil {
		t.Fatal(err)
	}
	sent, sentBody := rec.req, rec.body

	sr, err := c.SignConverse(ctx, "amazon.nova-micro-v1:0", req)
	if err != nil {
		t.Fatal(err)
	}
	if rec.req != sent {
		t.Fatal("SignConverse sent a request")
	}
	if sr.Method != sent.Method || sr.URL != sent.URL.String() || sr.Body != sentBody {
		t.Errorf("signed %s %s %s\nsent   %s %s %s", sr.Method, sr.URL, sr.Body, sent.Method, sent.URL, sentBody)
	}
	var names, want []string
	for k := range sr.Headers {
		if k != "Content-Length" {
			names = append(names, k)
		}
	}
	for k := range sent.Header {
		want = append(want, k)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("signed headers %v, sent %v", names, want)
	}
	if sr.SignedAt.IsZero() || sr.ExpiresAt.Sub(sr.SignedAt) != SignatureLifetime || !strings.Contains(sr.Note(), "accepts it until") {
		t.Errorf("validity %v..%v, note %q", sr.SignedAt, sr.ExpiresAt, sr.Note())
	}
	resp, err := sr.Send(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var conv ConverseResponse
	if resp.StatusCode != 200 || json.Unmarshal(b, &conv) != nil || conv.StopReason == "" {
		t.Errorf("sent as signed: %d %s", resp.StatusCode, b)
	}

	ss, err := c.SignConverseStream(ctx, "amazon.nova-micro-v1:0", req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = ss.Send(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !strings.HasSuffix(ss.URL, "/converse-stream") || resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "application/vnd.amazon.eventstream" {
		t.Errorf("ConverseStream %s: %d %s", ss.URL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestSignConverseBearer: with a Bedrock API key the request is
// bearer-authorized, has no expiry of its own, and says so.
func TestSignConverseBearer(t *testing.T) {
	isolateAWSEnv(t)
	emu, err := emulator.NewServer(emulator.Config{BearerTokens: []string{"bedrock-api-key-1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	ctx := context.Background()
	req := &ConverseRequest{Messages: []Message{UserText("Hello")}}
	for key, want := range map[string]int{"bedrock-api-key-1": 200, "another-key": 403} {
		c := mustNew(t, Config{Region: "us-east-1", Endpoint: emu.URL, APIKey: key})
		sr, err := c.SignConverse(ctx, "amazon.nova-micro-v1:0", req)
		if err != nil {
			t.Fatal(err)
		}
		if sr.Headers["Authorization"] != "Bearer "+key || !sr.SignedAt.IsZero() || !sr.ExpiresAt.IsZero() ||
			!strings.Contains(sr.Note(), "API key") || !strings.Contains(sr.Curl(), "Authorization: Bearer "+key) {
			t.Errorf("%s: %+v, note %q", key, sr, sr.Note())
		}
		resp, err := sr.Send(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", key, resp.StatusCode, want)
		}
	}
}

// TestSignConverseRefusesWhatConverseRefuses: a nil request or an empty
// model ID is refused as Converse refuses it, not signed.
func TestSignConverseRefusesWhatConverseRefuses(t *testing.T) {
	isolateAWSEnv(t)
	c := mustNew(t, Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:1", AccessKeyID: "test", SecretAccessKey: "test"})
	ctx := context.Background()
	req := &ConverseRequest{Messages: []Message{UserText("Hello")}}
	for _, sign := range []func(context.Context, string, *ConverseRequest) (*SignedRequest, error){c.SignConverse, c.SignConverseStream} {
		if sr, err := sign(ctx, "amazon.nova-micro-v1:0", nil); !errors.Is(err, errNilRequest) {
			t.Errorf("nil request: %+v, %v; want errNilRequest", sr, err)
		}
		if sr, err := sign(ctx, "", req); !errors.Is(err, errEmptyModelID) {
			t.Errorf("empty model ID: %+v, %v; want errEmptyModelID", sr, err)
		}
	}
}
