package bedrock

import "testing"

func TestModelFamily(t *testing.T) {
	tests := []struct {
		id   string
		want Family
	}{
		// Bare model IDs, from the recordings and the model catalogue.
		{"anthropic.claude-v2", FamilyAnthropic},
		{"anthropic.claude-3-5-sonnet-20240620-v1:0", FamilyAnthropic},
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", FamilyAnthropic},
		{"amazon.nova-micro-v1:0", FamilyNova},
		{"amazon.nova-lite-v1:0", FamilyNova},
		{"amazon.nova-pro-v1:0", FamilyNova},
		{"amazon.nova-premier-v1:0", FamilyNova},
		{"amazon.nova-2-lite-v1:0", FamilyNova},
		{"amazon.nova-canvas-v1:0", FamilyNovaCanvas},
		{"amazon.nova-2-multimodal-embeddings-v1:0", FamilyNovaEmbed},
		{"amazon.nova-reel-v1:1", FamilyUnknown},
		{"amazon.nova-sonic-v1:0", FamilyUnknown},
		{"amazon.titan-text-lite-v1", FamilyTitanText},
		{"amazon.titan-text-express-v1", FamilyTitanText},
		{"amazon.titan-text-premier-v1:0", FamilyTitanText},
		{"amazon.titan-tg1-large", FamilyTitanText},
		{"amazon.titan-embed-text-v1", FamilyTitanEmbed},
		{"amazon.titan-embed-text-v2:0", FamilyTitanEmbed},
		{"amazon.titan-embed-g1-text-02", FamilyTitanEmbed},
		{"amazon.titan-embed-image-v1", FamilyTitanEmbed},
		{"amazon.titan-image-generator-v1", FamilyTitanImage},
		{"amazon.titan-image-generator-v2:0", FamilyTitanImage},
		{"meta.llama3-1-70b-instruct-v1:0", FamilyLlama},
		{"meta.llama4-scout-17b-instruct-v1:0", FamilyLlama},
		{"mistral.mistral-7b-instruct-v0:2", FamilyMistral},
		{"mistral.mixtral-8x7b-instruct-v0:1", FamilyMistral},
		{"cohere.command-light-text-v14", FamilyCohereCommand},
		{"cohere.command-text-v14", FamilyCohereCommand},
		{"cohere.command-r-v1:0", FamilyCohereCommandR},
		{"cohere.command-r-plus-v1:0", FamilyCohereCommandR},
		{"cohere.embed-english-v3", FamilyCohereEmbed},
		{"cohere.embed-multilingual-v3", FamilyCohereEmbed},
		{"cohere.embed-v4:0", FamilyCohereEmbed},
		{"ANTHROPIC.CLAUDE-V2", FamilyAnthropic},
		{" amazon.nova-micro-v1:0 ", FamilyNova},

		// Every cross-region prefix.
		{"us.anthropic.claude-3-5-sonnet-20240620-v1:0", FamilyAnthropic},
		{"eu.amazon.nova-lite-v1:0", FamilyNova},
		{"apac.amazon.nova-micro-v1:0", FamilyNova},
		{"global.anthropic.claude-sonnet-4-5-20250929-v1:0", FamilyAnthropic},
		{"us-gov.anthropic.claude-3-haiku-20240307-v1:0", FamilyAnthropic},
		{"jp.anthropic.claude-sonnet-4-5-20250929-v1:0", FamilyAnthropic},
		{"au.anthropic.claude-haiku-4-5-20251001-v1:0", FamilyAnthropic},
		{"ca.amazon.nova-lite-v1:0", FamilyNova},
		{"us.meta.llama3-2-11b-instruct-v1:0", FamilyLlama},
		{"us.cohere.embed-v4:0", FamilyCohereEmbed},
		{"global.cohere.embed-v4:0", FamilyCohereEmbed},
		{"us.amazon.nova-2-multimodal-embeddings-v1:0", FamilyNovaEmbed},
		// A geography this list does not know yet.
		{"sa.amazon.nova-lite-v1:0", FamilyNova},

		// ARNs.
		{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2", FamilyAnthropic},
		{"arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0", FamilyTitanEmbed},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0", FamilyAnthropic},
		{"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0", FamilyNova},
		{"arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/us-gov.meta.llama3-8b-instruct-v1:0", FamilyLlama},
		{"arn:aws-cn:bedrock:cn-north-1::foundation-model/amazon.titan-text-express-v1", FamilyTitanText},
		// Opaque ARNs: the caller must say.
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6", FamilyUnknown},
		{"arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123", FamilyUnknown},
		{"arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-text-express-v1:0:8k/abc", FamilyUnknown},
		{"arn:aws:bedrock:us-east-1:123456789012:imported-model/abc123", FamilyUnknown},
		{"arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint", FamilyUnknown},
		{"arn:aws:bedrock", FamilyUnknown},

		// No native body types here.
		{"ai21.jamba-1-5-large-v1:0", FamilyUnknown},
		{"us.deepseek.r1-v1:0", FamilyUnknown},
		{"openai.gpt-oss-120b-1:0", FamilyUnknown},
		{"anthropic.other", FamilyUnknown},
		{"does-not-exist", FamilyUnknown},
		{"", FamilyUnknown},
		{"us.", FamilyUnknown},
	}
	for _, tt := range tests {
		if got := ModelFamily(tt.id); got != tt.want {
			t.Errorf("ModelFamily(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestFamilyKinds(t *testing.T) {
	for _, f := range []Family{FamilyTitanEmbed, FamilyCohereEmbed, FamilyNovaEmbed} {
		if !f.IsEmbedding() || f.IsImage() {
			t.Errorf("%s: IsEmbedding %v IsImage %v", f, f.IsEmbedding(), f.IsImage())
		}
	}
	for _, f := range []Family{FamilyNovaCanvas, FamilyTitanImage} {
		if f.IsEmbedding() || !f.IsImage() {
			t.Errorf("%s: IsEmbedding %v IsImage %v", f, f.IsEmbedding(), f.IsImage())
		}
	}
	if FamilyAnthropic.IsEmbedding() || FamilyAnthropic.IsImage() {
		t.Error("anthropic is neither")
	}
}
