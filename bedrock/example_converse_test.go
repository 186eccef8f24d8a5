package bedrock_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/quarry-dev/quarry/bedrock"
)

// cvExampleClient returns a client for a loopback server standing in for
// Bedrock (static keys: no credential lookup).
func cvExampleClient(h http.HandlerFunc) (*bedrock.Client, func()) {
	srv := httptest.NewServer(h)
	c, err := bedrock.New(context.Background(), bedrock.Config{
		Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "SECRET", Region: "us-east-1",
	})
	if err != nil {
		panic(err)
	}
	return c, srv.Close
}

// cvExampleEvents encodes ConverseStream events as Bedrock sends them.
func cvExampleEvents(pairs ...string) []byte {
	var buf bytes.Buffer
	for i := 0; i+1 < len(pairs); i += 2 {
		var hs eventstream.Headers
		if pairs[i] == "throttlingException" {
			hs.Set(":exception-type", eventstream.StringValue(pairs[i]))
			hs.Set(":message-type", eventstream.StringValue("exception"))
		} else {
			hs.Set(":event-type", eventstream.StringValue(pairs[i]))
			hs.Set(":message-type", eventstream.StringValue("event"))
		}
		_ = eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: hs, Payload: []byte(pairs[i+1])})
	}
	return buf.Bytes()
}

func ExampleClient_Converse() {
	c, done := cvExampleClient(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-RequestId", "180bdcbc-0fea-4b99-a0f0-b858dd830a83")
		fmt.Fprint(w, `{"metrics":{"latencyMs":608},"output":{"message":{"content":[{"text":"Hi, how can I help you"}],"role":"assistant"}},"stopReason":"max_tokens","usage":{"inputTokens":8,"outputTokens":10,"totalTokens":18}}`)
	})
	defer done()

	maxTokens := 10
	resp, err := c.Converse(context.Background(), "amazon.titan-text-lite-v1", &bedrock.ConverseRequest{
		Messages:        []bedrock.Message{bedrock.UserText("Say this is a test")},
		InferenceConfig: &bedrock.InferenceConfig{MaxTokens: &maxTokens},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Text())
	fmt.Println(resp.StopReason, resp.Usage.TotalTokens, resp.RequestID)
	// Output:
	// Hi, how can I help you
	// max_tokens 18 180bdcbc-0fea-4b99-a0f0-b858dd830a83
}

func ExampleClient_ConverseStream() {
	c, done := cvExampleClient(func(w http.ResponseWriter, r *http.Request) {
		w.Write(cvExampleEvents(
			"messageStart", `{"p":"abc","role":"assistant"}`,
			"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"This"}}`,
			"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":" is a test"}}`,
			"contentBlockStop", `{"contentBlockIndex":0}`,
			"messageStop", `{"stopReason":"end_turn"}`,
			"metadata", `{"metrics":{"latencyMs":361},"usage":{"inputTokens":37,"outputTokens":8,"totalTokens":45}}`,
		))
	})
	defer done()

	s, err := c.ConverseStream(context.Background(), "anthropic.claude-v2", &bedrock.ConverseRequest{
		Messages: []bedrock.Message{bedrock.UserText("Say this is a test")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	for ev, err := range s.All() {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		switch {
		case ev.ContentBlockDelta != nil:
			fmt.Printf("%q\n", ev.ContentBlockDelta.Delta.Text)
		case ev.MessageStop != nil:
			fmt.Println("stop:", ev.MessageStop.StopReason)
		case ev.Metadata != nil:
			fmt.Println("tokens:", ev.Metadata.Usage.TotalTokens)
		}
	}
	// Output:
	// "This"
	// " is a test"
	// stop: end_turn
	// tokens: 45
}

func ExampleConverseStream_Collect() {
	c, done := cvExampleClient(func(w http.ResponseWriter, r *http.Request) {
		w.Write(cvExampleEvents(
			"messageStart", `{"role":"assistant"}`,
			"contentBlockStart", `{"contentBlockIndex":0,"start":{"toolUse":{"name":"get_cities_list","toolUseId":"tooluse_FQQ2AuomSWSry_S27YpRbA"}}}`,
			"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"toolUse":{"input":""}}}`,
			"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{\"citie"}}}`,
			"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"toolUse":{"input":"s\": [\"Tokyo\"]}"}}}`,
			"contentBlockStop", `{"contentBlockIndex":0}`,
			"messageStop", `{"stopReason":"tool_use"}`,
			"metadata", `{"metrics":{"latencyMs":2499},"usage":{"inputTokens":295,"outputTokens":43,"totalTokens":338}}`,
		))
	})
	defer done()

	s, err := c.ConverseStream(context.Background(), "anthropic.claude-3-sonnet-20240229-v1:0", &bedrock.ConverseRequest{
		Messages: []bedrock.Message{bedrock.UserText("List cities")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := s.Collect()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, tu := range resp.ToolUses() {
		fmt.Println(tu.Name, tu.ToolUseID, string(tu.Input))
	}
	fmt.Println(resp.StopReason, resp.Usage.OutputTokens)
	// Output:
	// get_cities_list tooluse_FQQ2AuomSWSry_S27YpRbA {"cities": ["Tokyo"]}
	// tool_use 43
}

func ExampleError_inStream() {
	c, done := cvExampleClient(func(w http.ResponseWriter, r *http.Request) {
		w.Write(cvExampleEvents(
			"messageStart", `{"role":"assistant"}`,
			"throttlingException", `{"message":"Too many tokens, please wait before trying again."}`,
		))
	})
	defer done()

	s, err := c.ConverseStream(context.Background(), "amazon.nova-micro-v1:0", &bedrock.ConverseRequest{
		Messages: []bedrock.Message{bedrock.UserText("hi")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	for s.Next() {
	}
	err = s.Err()
	var be *bedrock.Error
	fmt.Println(errors.Is(err, bedrock.ErrThrottling), errors.As(err, &be) && be.InStream)
	fmt.Println(be.Code+":", be.Message)
	// Output:
	// true true
	// ThrottlingException: Too many tokens, please wait before trying again.
}
