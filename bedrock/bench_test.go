package bedrock

// Benchmarks of this library against aws-sdk-go-v2's bedrockruntime client
// (issue 3): the same local server (httptest, loopback, keep-alive) returns
// the same fixed bytes to both. They run only with -bench:
//
//	AWS_EC2_METADATA_DISABLED=true go test -run '^$' -bench . -benchmem -count 5 ./bedrock/
//
// Target: this library at most half the allocations and at most 0.7x the
// time per operation of the official client.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

const cbModel = "anthropic.claude-3-haiku-20240307-v1:0"

// cbConverseBody is a compact Converse response, as Bedrock sends it.
const cbConverseBody = `{"metrics":{"latencyMs":608},"output":{"message":{"content":[{"text":"Hi, how can I help you today? I can answer questions, explain things and help you write."}],"role":"assistant"}},"stopReason":"end_turn","usage":{"inputTokens":14,"outputTokens":22,"totalTokens":36}}`

// cbStreamEvents is the number of frames in the benchmark stream.
const cbStreamEvents = 500

var (
	cbStreamOnce sync.Once
	cbStream     []byte
)

// cbStreamBody encodes, once, a ConverseStream body of 500 frames with
// real framing (aws-sdk-go-v2's encoder, the three standard headers and the
// "p" padding member Bedrock adds): messageStart, 496 text deltas,
// contentBlockStop, messageStop, metadata.
func cbStreamBody() []byte {
	cbStreamOnce.Do(func() {
		var buf bytes.Buffer
		enc := eventstream.NewEncoder()
		pad := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
		frame := func(event, payload string) {
			msg := eventstream.Message{
				Headers: eventstream.Headers{
					{Name: ":event-type", Value: eventstream.StringValue(event)},
					{Name: ":content-type", Value: eventstream.StringValue("application/json")},
					{Name: ":message-type", Value: eventstream.StringValue("event")},
				},
				Payload: []byte(payload),
			}
			if err := enc.Encode(&buf, msg); err != nil {
				panic(err)
			}
		}
		frame("messageStart", `{"p":"`+pad[:10]+`","role":"assistant"}`)
		words := strings.Fields("the quick brown fox jumps over the lazy dog while a curious cat watches from the warm windowsill")
		for i := 0; i < cbStreamEvents-4; i++ {
			w := words[i%len(words)]
			frame("contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":0,"delta":{"text":" %s"},"p":"%s"}`, w, pad[:(i*7)%len(pad)+1]))
		}
		frame("contentBlockStop", `{"contentBlockIndex":0,"p":"`+pad[:20]+`"}`)
		frame("messageStop", `{"p":"`+pad[:5]+`","stopReason":"end_turn"}`)
		frame("metadata", `{"metrics":{"latencyMs":1210},"p":"`+pad[:12]+`","usage":{"inputTokens":14,"outputTokens":496,"totalTokens":510}}`)
		cbStream = buf.Bytes()
	})
	return cbStream
}

// cbServer answers /converse with cbConverseBody and /converse-stream
// with cbStreamBody, reading the request body in full first.
func cbServer(b *testing.B) *httptest.Server {
	b.Helper()
	stream := cbStreamBody()
	conv := []byte(cbConverseBody)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["X-Amzn-Requestid"] = []string{"2b0ae6a1-5a7b-4f42-9d6a-2f4d0c3e1a11"}
		if strings.HasSuffix(r.URL.Path, "/converse-stream") {
			h["Content-Type"] = []string{"application/vnd.amazon.eventstream"}
			h["X-Amzn-Bedrock-Content-Type"] = []string{"application/json"}
			w.Write(stream)
			return
		}
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{fmt.Sprint(len(conv))}
		w.Write(conv)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func cbOurs(b *testing.B, url string) *Client {
	b.Helper()
	c, err := New(context.Background(), Config{
		Region: "us-east-1", Endpoint: url,
		AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		// The official client has no client-side rate limit; ours would pace
		// at 1500 requests/min by default.
		RequestsPerMinute: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func cbSDK(b *testing.B, url string) *bedrockruntime.Client {
	b.Helper()
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
		HTTPClient:   &http.Client{Transport: cbBufferedBody{http.DefaultTransport.(*http.Transport).Clone()}},
	})
}

// cbBufferedBody works around a flake of aws-sdk-go-v2's ConverseStream
// (bedrockruntime v1.63.12, smithy-go v1.28.9) that loopback makes frequent:
// the stream is cut part-way ("use of closed network connection") because
// net/http's write loop fails and closes the connection; smithy's
// ClientHandler closes the request body as soon as client.Do returns, the
// likely trigger. Handing net/http a private copy of the body avoids it; it
// costs the official client a few small allocations per call, counted
// against it.
type cbBufferedBody struct{ rt http.RoundTripper }

func (t cbBufferedBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		data, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	return t.rt.RoundTrip(r)
}

const cbPrompt = "Write a short poem about the sea at night"

var cbMaxTokens = 512

func cbOursRequest() *ConverseRequest {
	return &ConverseRequest{
		Messages:        []Message{{Role: RoleUser, Content: []ContentBlock{{Text: cbPrompt}}}},
		InferenceConfig: &InferenceConfig{MaxTokens: &cbMaxTokens},
	}
}

func cbSDKInput() *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{
		ModelId: aws.String(cbModel),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: cbPrompt}}}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(512)},
	}
}

func BenchmarkClientConverse(b *testing.B) {
	srv := cbServer(b)
	ctx := context.Background()
	b.Run("quarry", func(b *testing.B) {
		c := cbOurs(b, srv.URL)
		req := cbOursRequest()
		b.ReportAllocs()
		for b.Loop() {
			resp, err := c.Converse(ctx, cbModel, req)
			if err != nil {
				b.Fatal(err)
			}
			if resp.StopReason != "end_turn" {
				b.Fatalf("stop reason %q", resp.StopReason)
			}
		}
	})
	b.Run("aws-sdk-go-v2", func(b *testing.B) {
		c := cbSDK(b, srv.URL)
		in := cbSDKInput()
		b.ReportAllocs()
		for b.Loop() {
			out, err := c.Converse(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			if out.StopReason != types.StopReasonEndTurn {
				b.Fatalf("stop reason %q", out.StopReason)
			}
		}
	})
}

func BenchmarkClientConverseStream(b *testing.B) {
	srv := cbServer(b)
	ctx := context.Background()
	b.Run("quarry", func(b *testing.B) {
		c := cbOurs(b, srv.URL)
		req := cbOursRequest()
		b.ReportAllocs()
		for b.Loop() {
			s, err := c.ConverseStream(ctx, cbModel, req)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for s.Next() {
				n++
			}
			s.Close()
			if err := s.Err(); err != nil || n != cbStreamEvents {
				b.Fatalf("%d events, err %v", n, err)
			}
		}
	})
	b.Run("aws-sdk-go-v2", func(b *testing.B) {
		c := cbSDK(b, srv.URL)
		in0 := cbSDKInput()
		in := &bedrockruntime.ConverseStreamInput{ModelId: in0.ModelId, Messages: in0.Messages, InferenceConfig: in0.InferenceConfig}
		b.ReportAllocs()
		for b.Loop() {
			out, err := c.ConverseStream(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			st := out.GetStream()
			n := 0
			for range st.Events() {
				n++
			}
			st.Close()
			if err := st.Err(); err != nil || n != cbStreamEvents {
				b.Fatalf("%d events, err %v", n, err)
			}
		}
	})
}
