package emulator

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// The capability table in catalogue.go is what Converse enforces: structured
// output only where Bedrock offers it, images only for vision models.
func TestCapabilityTable(t *testing.T) {
	client, _ := newSDK(t, Config{})
	ctx := ctxT(t)
	structured := &types.OutputConfig{TextFormat: &types.OutputFormat{Type: types.OutputFormatTypeJsonSchema,
		Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{
			Schema: aws.String(`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`), Name: aws.String("x")}}}}
	for model, ok := range map[string]bool{
		"anthropic.claude-sonnet-4-5-20250929-v1:0": true, "us.anthropic.claude-opus-4-1-20250805-v1:0": true,
		"amazon.nova-lite-v1:0": true, "anthropic.claude-sonnet-4-20250514-v1:0": false,
		"anthropic.claude-3-5-sonnet-20241022-v2:0": false, "meta.llama3-1-70b-instruct-v1:0": false,
	} {
		_, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: userText("Name a river"), OutputConfig: structured})
		code, msg := apiCode(err)
		if ok && err != nil {
			t.Errorf("%s: structured output refused: %v", model, err)
		}
		if !ok && (code != "ValidationException" || msg != "This model doesn't support structured output. Remove outputConfig.textFormat, or try again with a model that supports it.") {
			t.Errorf("%s: structured output: %q %q", model, code, msg)
		}
	}
	img := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
		&types.ContentBlockMemberImage{Value: types.ImageBlock{Format: types.ImageFormatPng, Source: &types.ImageSourceMemberBytes{Value: []byte("png")}}},
		&types.ContentBlockMemberText{Value: "What is this?"}}}}
	for model, ok := range map[string]bool{"anthropic.claude-3-5-haiku-20241022-v1:0": false, "anthropic.claude-3-haiku-20240307-v1:0": true, "amazon.nova-micro-v1:0": false} {
		_, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: img})
		if (err == nil) != ok {
			t.Errorf("%s: image block: %v", model, err)
		}
	}
}
