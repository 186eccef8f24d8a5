package emulator

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

func TestInvokeModelClaudeSDK(t *testing.T) {
	client, _ := newSDK(t, Config{})
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":[{"type":"text","text":"Tell me about lighthouses"}]}]}`
	out, err := client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Content []struct{ Text string }
		Usage   struct{ InputTokens, OutputTokens int } `json:"usage"`
	}
	if err := json.Unmarshal(out.Body, &resp); err != nil || len(resp.Content) == 0 || resp.Content[0].Text == "" {
		t.Fatalf("body %s: %v", out.Body, err)
	}

	st, err := client.InvokeModelWithResponseStream(ctxT(t), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if st.ContentType == nil || *st.ContentType != "application/json" {
		t.Errorf("contentType %v", st.ContentType)
	}
	n := 0
	var last []byte
	for ev := range st.GetStream().Events() {
		c, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		last = c.Value.Bytes
		n++
	}
	if err := st.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if n < 3 || !strings.Contains(string(last), "amazon-bedrock-invocationMetrics") {
		t.Errorf("%d chunks, last %s", n, last)
	}

	// Faults apply to InvokeModel too.
	_, err = client.InvokeModel(ctxT(t), &bedrockruntime.InvokeModelInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"),
		Body: []byte(strings.Replace(body, "lighthouses", "lighthouses [[quarry:throttle]]", 1))})
	if code, _ := apiCode(err); code != "ThrottlingException" {
		t.Errorf("fault: %v", err)
	}
	st, err = client.InvokeModelWithResponseStream(ctxT(t), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"),
		Body: []byte(strings.Replace(body, "lighthouses", "lighthouses [[quarry:model-stream-error]]", 1))})
	if err != nil {
		t.Fatal(err)
	}
	for range st.GetStream().Events() {
	}
	var mse *types.ModelStreamErrorException
	if !errors.As(st.GetStream().Err(), &mse) {
		t.Errorf("in-stream fault: %v", st.GetStream().Err())
	}
}
