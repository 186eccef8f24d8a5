package openai

import "testing"

func TestModelOwner(t *testing.T) {
	for id, want := range map[string]string{
		"amazon.titan-embed-text-v2:0":                                                     "amazon",
		"us.anthropic.claude-sonnet-4-20250514-v1:0":                                       "anthropic",
		"global.anthropic.claude-sonnet-4-5-20250929-v1:0":                                 "anthropic",
		"us-gov.meta.llama3-8b-instruct-v1:0":                                              "meta",
		"apac.amazon.nova-lite-v1:0":                                                       "amazon",
		"cohere.embed-english-v3":                                                          "cohere",
		"arn:aws:bedrock:us-east-1::foundation-model/mistral.mistral-large-2402-v1:0":      "mistral",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0": "amazon",
		"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123":      "bedrock",
		"arn:aws:bedrock:us-east-1:123456789012:provisioned-model/xyz":                     "bedrock",
		"arn:bad": "bedrock",
		"nodots":  "bedrock",
		"us.":     "bedrock",
	} {
		if got := modelOwner(id); got != want {
			t.Errorf("modelOwner(%q) = %q; want %q", id, got, want)
		}
	}
}
