package shaping_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/bedrock/shaping"
)

func Example() {
	// A loopback server standing in for Bedrock: it prints the request's
	// shaped body and answers with a truncated reply.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		b, _ := json.Marshal(map[string]any{"messages": req["messages"], "extra": req["additionalModelRequestFields"], "inference": req["inferenceConfig"]})
		fmt.Println(string(b))
		fmt.Fprint(w, `{"output":{"message":{"role":"assistant","content":[{"text":"Once upon"}]}},"stopReason":"max_tokens","usage":{}}`)
	}))
	defer srv.Close()
	c, err := bedrock.New(context.Background(), bedrock.Config{Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "SECRET", Region: "us-east-1"})
	if err != nil {
		panic(err)
	}

	o := &shaping.Options{
		AllowedRoles:                 []string{"user", "assistant"}, // system messages become user messages
		FinishReasonDenyList:         []string{"length"},            // refuse truncated answers
		NoStreaming:                  true,                          // Stream calls Converse
		TopK:                         new(50),                       // in the family's native field
		Inference:                    &bedrock.InferenceConfig{MaxTokens: new(5)},
		AdditionalModelRequestFields: map[string]any{"anthropic_beta": []string{"context-1m-2025-08-07"}},
	}
	if err := o.Validate(); err != nil {
		panic(err)
	}
	const model = "anthropic.claude-3-haiku-20240307-v1:0"
	req := &bedrock.ConverseRequest{}
	req.System, req.Messages, err = o.Conversation([]shaping.Message{
		{Role: "system", Content: []bedrock.ContentBlock{bedrock.TextBlock("You tell stories.")}},
		{Role: "user", Content: []bedrock.ContentBlock{bedrock.TextBlock("Tell me one.")}},
	})
	if err != nil {
		panic(err)
	}
	if err := o.Apply(req, bedrock.ModelFamily(model)); err != nil {
		panic(err)
	}
	s, err := shaping.Stream(context.Background(), c, model, req, o)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for s.Next() {
		ev := s.Current()
		switch {
		case ev.ContentBlockDelta != nil:
			fmt.Printf("text %q\n", ev.ContentBlockDelta.Delta.Text)
		case ev.MessageStop != nil:
			var fe *shaping.FinishReasonError
			if err := o.CheckFinish(ev.MessageStop.StopReason); errors.As(err, &fe) {
				fmt.Println("refused:", fe.StopReason)
			}
		}
	}
	// Output:
	// {"extra":{"anthropic_beta":["context-1m-2025-08-07"],"top_k":50},"inference":{"maxTokens":5},"messages":[{"content":[{"text":"You tell stories."},{"text":"Tell me one."}],"role":"user"}]}
	// text "Once upon"
	// refused: max_tokens
}
