package bedrock_test

import (
	"context"
	"fmt"
	"log"

	"github.com/quarry-dev/quarry/bedrock"
)

func ExampleModelFamily() {
	for _, id := range []string{
		"anthropic.claude-3-5-haiku-20241022-v1:0",
		"eu.amazon.nova-lite-v1:0",
		"arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
		"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
	} {
		fmt.Printf("%q\n", bedrock.ModelFamily(id))
	}
	// Output:
	// "anthropic"
	// "nova"
	// "titan-embed"
	// ""
}

func ExampleClient_InvokeModelWithResponseStream() {
	ctx := context.Background()
	c, err := bedrock.New(ctx, bedrock.Config{Region: "us-east-1"})
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}`)
	s, err := c.InvokeModelWithResponseStream(ctx, "us.anthropic.claude-3-5-haiku-20241022-v1:0", &bedrock.InvokeModelInput{Body: body})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	var acc bedrock.AnthropicAccumulator
	for s.Next() {
		ev, err := bedrock.DecodeAnthropicStreamEvent(s.Current())
		if err != nil {
			log.Fatal(err)
		}
		if ev.Delta != nil && ev.Delta.Type == "text_delta" {
			fmt.Print(ev.Delta.Text)
		}
		if err := acc.Add(ev); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("\ntokens:", s.InvocationMetrics().InputTokenCount, s.InvocationMetrics().OutputTokenCount)
}

func ExampleClient_EmbedTitan() {
	ctx := context.Background()
	c, err := bedrock.New(ctx, bedrock.Config{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := c.EmbedTitan(ctx, "amazon.titan-embed-text-v2:0", &bedrock.TitanEmbedRequest{InputText: "hello", Dimensions: 256})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(r.Embedding), r.InputTextTokenCount)
}
