package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/quarry-dev/quarry/emulator"
	"github.com/quarry-dev/quarry/internal/server"
)

// TestGatewayUpstreamHTTP2: the gateway reaches a TLS Bedrock (the emulator
// over HTTPS) over HTTP/2 by default, and over HTTP/1.1 with
// server.upstream_http2: false; a chat completion and a chat stream, made
// by the OpenAI Go SDK, come back the same either way.
func TestGatewayUpstreamHTTP2(t *testing.T) {
	for _, tt := range []struct {
		name   string
		server string // extra server: keys
		wantH2 bool
	}{
		{"default h2", "", true},
		{"upstream_http2 false", "  upstream_http2: false\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			emu, err := emulator.NewServer(emulator.Config{TLS: &emulator.TLSConfig{Dir: t.TempDir()}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(emu.Close)
			t.Setenv("AWS_CA_BUNDLE", emu.CAFile)
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			cfgPath := filepath.Join(t.TempDir(), "quarry.yaml")
			yaml := fmt.Sprintf(`version: v1
server:
  address: 127.0.0.1:0
%smodels:
  - name: nova
    from: bedrock:amazon.nova-lite-v1:0
    params:
      aws_region: us-east-1
      aws_access_key_id: test
      aws_secret_access_key: test
      endpoint_url: %s
`, tt.server, emu.URL)
			if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			g := startChatGateway(t, cfgPath, nil, server.Options{})
			c := chatClient(g)
			ctx := context.Background()
			params := openai.ChatCompletionNewParams{
				Model:    "nova",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
			}
			cc, err := c.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("chat completion: %v", err)
			}
			if len(cc.Choices) != 1 || cc.Choices[0].Message.Content == "" {
				t.Fatalf("empty completion: %+v", cc)
			}
			stream := c.Chat.Completions.NewStreaming(ctx, params)
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("chat stream: %v", err)
			}
			if len(acc.Choices) != 1 || acc.Choices[0].Message.Content == "" || acc.Choices[0].FinishReason != "stop" {
				t.Fatalf("stream accumulated to %+v", acc.Choices)
			}
			st := emu.Stats()
			calls := st.Requests["Converse"] + st.Requests["ConverseStream"]
			if calls != 2 {
				t.Fatalf("emulator saw %d calls (%v), want 2", calls, st.Requests)
			}
			want := int64(0)
			if tt.wantH2 {
				want = calls
			}
			if st.HTTP2 != want {
				t.Errorf("%d of %d upstream calls over HTTP/2, want %d", st.HTTP2, calls, want)
			}
		})
	}
}

// TestGatewayServesH2C: a client speaking HTTP/2 with prior knowledge (a
// proxy or an h2c client) gets chat completions and streams, several on one
// connection; HTTP/1.1 clients are unaffected (every other test).
func TestGatewayServesH2C(t *testing.T) {
	g := startChatGateway(t, quickstart, nil, server.Options{})
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	var dials atomic.Int64
	var d net.Dialer
	tr := &http.Transport{Protocols: &protocols, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	c := chatClient(g, option.WithHTTPClient(hc))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "nova-lite",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
	}
	var protos []string
	cc, err := c.Chat.Completions.New(ctx, params, option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(r)
		if err == nil {
			protos = append(protos, resp.Proto)
		}
		return resp, err
	}))
	if err != nil {
		t.Fatalf("chat completion over h2c: %v", err)
	}
	if len(cc.Choices) != 1 || cc.Choices[0].Message.Content == "" {
		t.Fatalf("empty completion: %+v", cc)
	}
	if len(protos) != 1 || protos[0] != "HTTP/2.0" {
		t.Fatalf("answered over %v, want HTTP/2.0", protos)
	}
	// Three streams open at once on the one connection.
	streams := make([]*ssestream.Stream[openai.ChatCompletionChunk], 3)
	for i := range streams {
		streams[i] = c.Chat.Completions.NewStreaming(ctx, params)
		if !streams[i].Next() {
			t.Fatalf("stream %d: no first chunk: %v", i, streams[i].Err())
		}
	}
	for i, s := range streams {
		var acc openai.ChatCompletionAccumulator
		acc.AddChunk(s.Current())
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if len(acc.Choices) != 1 || acc.Choices[0].Message.Content == "" {
			t.Fatalf("stream %d accumulated to %+v", i, acc.Choices)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d connections for a completion and three concurrent streams, want 1", n)
	}
}
