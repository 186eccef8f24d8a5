package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/openai/openai-go/v3"

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
