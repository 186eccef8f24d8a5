package bedrock

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestTopKRequestFields(t *testing.T) {
	for _, c := range []struct {
		model       string
		k           int
		want        string // JSON, or "" for an error
		unsupported bool
	}{
		{"anthropic.claude-sonnet-4-20250514-v1:0", 40, `{"top_k":40}`, false},
		{"us.amazon.nova-lite-v1:0", 20, `{"inferenceConfig":{"topK":20}}`, false},
		{"mistral.mistral-large-2407-v1:0", 50, `{"top_k":50}`, false},
		{"cohere.command-r-plus-v1:0", 10, `{"k":10}`, false},
		{"cohere.command-text-v14", 0, `{"k":0}`, false},
		{"meta.llama3-1-70b-instruct-v1:0", 5, "", true},
		{"amazon.titan-text-express-v1", 5, "", true},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", 5, "", true},
		{"us.amazon.nova-lite-v1:0", -3, "", false},
		{"cohere.command-r-v1:0", 501, "", false},
		{"mistral.mistral-7b-instruct-v0:2", 0, "", false},
		{"anthropic.claude-3-haiku-20240307-v1:0", -1, "", false},
	} {
		got, err := TopKRequestFields(ModelFamily(c.model), c.k)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s k=%d: no error, got %v", c.model, c.k, got)
			} else if errors.Is(err, ErrTopKUnsupported) != c.unsupported {
				t.Errorf("%s k=%d: errors.Is(ErrTopKUnsupported) = %v: %v", c.model, c.k, !c.unsupported, err)
			}
			continue
		}
		b, _ := json.Marshal(got)
		if err != nil || string(b) != c.want {
			t.Errorf("%s k=%d = %s, %v; want %s", c.model, c.k, b, err, c.want)
		}
	}
}
