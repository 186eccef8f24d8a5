package server_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// TestOpenStreamsLetGoOfTheRequest: an open stream keeps none of its
// request. With streams held open on every surface, each request carrying
// a 1 MiB conversation (a coding agent's context is hundreds of KB), the
// gateway's live heap grows by far less than a conversation per stream;
// then every stream still ends as it should. Before, a stream held its
// request two to five times over (the body, its decoding, the Bedrock
// body net/http keeps with the request) for as long as it lasted.
//
// Not parallel: it measures the process's heap.
func TestOpenStreamsLetGoOfTheRequest(t *testing.T) {
	// Enough streams that what is kept once, not per stream, weighs
	// little: encoding/json's pool keeps its largest buffers, say.
	const streams = 32
	big := strings.Repeat("All work and no play makes Jack a dull boy. ", (1<<20)/44)
	q := fmt.Sprintf("%q", big) // as a JSON string
	for _, tt := range []struct {
		name, upstream     string // upstream: server.upstream_http2
		method, path, body string
		end                string // the line that ends the stream
	}{
		{"chat", "true", "POST", "/v1/chat/completions",
			`{"model":"nova","stream":true,"messages":[{"role":"system","content":` + q + `},{"role":"user","content":"Go on"}]}`,
			"data: [DONE]"},
		{"chat, HTTP/1.1 to Bedrock", "false", "POST", "/v1/chat/completions",
			`{"model":"nova","stream":true,"messages":[{"role":"user","content":` + q + `}]}`,
			"data: [DONE]"},
		{"messages, Converse", "true", "POST", "/v1/messages",
			`{"model":"nova","max_tokens":100,"stream":true,"system":` + q + `,"messages":[{"role":"user","content":"Go on"}]}`,
			"event: message_stop"},
		{"messages, Claude", "true", "POST", "/v1/messages",
			`{"model":"claude","max_tokens":100,"stream":true,"system":` + q + `,"messages":[{"role":"user","content":"Go on"}]}`,
			"event: message_stop"},
		{"responses", "true", "POST", "/v1/responses",
			`{"model":"nova","stream":true,"store":false,"input":` + q + `}`,
			"event: response.completed"},
		{"elastic chat_completion", "true", "POST", "/_inference/chat_completion/held/_stream",
			`{"messages":[{"role":"user","content":` + q + `}]}`,
			"data: [DONE]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := newHeldBedrock(t)
			g := startGateway(t, heldConfig(t, up, tt.upstream), nil)
			if strings.HasPrefix(tt.path, "/_inference/") {
				putEndpoint(t, g.URL, "/_inference/chat_completion/held", `{"service":"amazonbedrock","service_settings":{"access_key":"a","secret_key":"s",`+
					`"region":"us-east-1","provider":"anthropic","model":"anthropic.claude-3-haiku-20240307-v1:0","rate_limit":{"requests_per_minute":6000}}}`)
			}
			before := liveHeap()
			bodies := make([]*bufio.Reader, streams)
			var wg sync.WaitGroup
			errs := make([]error, streams)
			for i := range streams {
				wg.Go(func() {
					resp, err := http.Post(g.URL+tt.path, "application/json", strings.NewReader(tt.body))
					if err != nil {
						errs[i] = err
						return
					}
					t.Cleanup(func() { resp.Body.Close() })
					if resp.StatusCode != http.StatusOK {
						b, _ := io.ReadAll(resp.Body)
						errs[i] = fmt.Errorf("status %d: %s", resp.StatusCode, b)
						return
					}
					br := bufio.NewReader(resp.Body)
					if _, err := readUntil(br, "data: "); err != nil {
						errs[i] = fmt.Errorf("before its first event: %v", err)
						return
					}
					bodies[i] = br
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			held := liveHeap()
			per := (int64(held) - int64(before)) / streams
			t.Logf("live heap %d KiB before, %d KiB with %d streams open: %d KiB a stream (the conversation: %d KiB)",
				before>>10, held>>10, streams, per>>10, len(big)>>10)
			if per > int64(len(big))/4 {
				t.Errorf("each open stream holds %d KiB of live heap, with a conversation of %d KiB: the request is kept", per>>10, len(big)>>10)
			}
			close(up.release)
			for i, br := range bodies {
				if _, err := readUntil(br, tt.end); err != nil {
					t.Errorf("stream %d, released: no %q: %v", i, tt.end, err)
				}
			}
		})
	}
}

// liveHeap is the heap the collector found live, right after a
// collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // what the first one's cleanups freed
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// readUntil reads lines until one starts with prefix, and returns it.
func readUntil(br *bufio.Reader, prefix string) (string, error) {
	for {
		line, err := br.ReadString('\n')
		if strings.HasPrefix(line, prefix) {
			return line, nil
		}
		if err != nil {
			return "", err
		}
	}
}

func putEndpoint(t *testing.T, base, path, body string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT %s = %d: %s", path, resp.StatusCode, b)
	}
}

// heldConfig is a gateway config with a Nova and a Claude model on up,
// HTTP/2 to it or not (http2: "true" or "false").
func heldConfig(t *testing.T, up *heldBedrock, http2 string) string {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", up.caFile)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	path := filepath.Join(t.TempDir(), "quarry.yaml")
	yaml := fmt.Sprintf(`version: v1
server:
  address: 127.0.0.1:0
  upstream_http2: %s
  bedrock_endpoint_url: %s
models:
  - name: nova
    from: bedrock:amazon.nova-lite-v1:0
    params: {aws_region: us-east-1, aws_access_key_id: test, aws_secret_access_key: test, endpoint_url: %[2]s}
  - name: claude
    from: bedrock:anthropic.claude-3-haiku-20240307-v1:0
    params: {aws_region: us-east-1, aws_access_key_id: test, aws_secret_access_key: test, endpoint_url: %[2]s}
`, http2, up.URL)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// heldBedrock is a Bedrock Runtime over TLS (HTTP/2, as Bedrock's) whose
// streams send their first events and then wait until release is closed:
// streams a test holds open. It reads each request body and drops it.
type heldBedrock struct {
	URL     string
	caFile  string
	release chan struct{}
}

func newHeldBedrock(t *testing.T) *heldBedrock {
	hb := &heldBedrock{release: make(chan struct{})}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(hb.serve))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	hb.URL = srv.URL
	hb.caFile = filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(hb.caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return hb
}

func (hb *heldBedrock) serve(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	var first, rest []string // event type, then payload
	switch {
	case strings.HasSuffix(r.URL.Path, "/converse-stream"):
		first = []string{
			"messageStart", `{"role":"assistant"}`,
			"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hi"}}`,
		}
		rest = []string{
			"contentBlockStop", `{"contentBlockIndex":0}`,
			"messageStop", `{"stopReason":"end_turn"}`,
			"metadata", `{"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":5}}`,
		}
	case strings.HasSuffix(r.URL.Path, "/invoke-with-response-stream"):
		chunk := func(ev string) string {
			return `{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(ev)) + `"}`
		}
		first = []string{
			"chunk", chunk(`{"type":"message_start","message":{"id":"msg_held","type":"message","role":"assistant","model":"claude-3-haiku","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}`),
			"chunk", chunk(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
			"chunk", chunk(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`),
		}
		rest = []string{
			"chunk", chunk(`{"type":"content_block_stop","index":0}`),
			"chunk", chunk(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1}}`),
			"chunk", chunk(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":3,"outputTokenCount":1,"invocationLatency":5,"firstByteLatency":2}}`),
		}
	default:
		w.Header().Set("X-Amzn-Errortype", "ValidationException")
		http.Error(w, `{"message":"not a stream this test serves"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.Header().Set("X-Amzn-Requestid", "held-stream")
	writeEvents(w, first)
	w.(http.Flusher).Flush()
	select {
	case <-hb.release:
	case <-r.Context().Done():
		return
	}
	writeEvents(w, rest)
}

// writeEvents writes event-stream frames: pairs of event type and payload.
func writeEvents(w io.Writer, evs []string) {
	enc := eventstream.NewEncoder()
	for i := 0; i+1 < len(evs); i += 2 {
		var hs eventstream.Headers
		hs.Set(":event-type", eventstream.StringValue(evs[i]))
		hs.Set(":content-type", eventstream.StringValue("application/json"))
		hs.Set(":message-type", eventstream.StringValue("event"))
		var buf bytes.Buffer
		enc.Encode(&buf, eventstream.Message{Headers: hs, Payload: []byte(evs[i+1])})
		w.Write(buf.Bytes())
	}
}
