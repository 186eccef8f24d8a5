package bedrock

import "testing"

func TestParseModelVersion(t *testing.T) {
	for _, c := range []struct {
		id   string
		want ModelVersion
	}{
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", ModelVersion{4, 5}},
		{"us.anthropic.claude-sonnet-4-20250514-v1:0", ModelVersion{4, 0}},
		{"anthropic.claude-opus-4-1-20250805-v1:0", ModelVersion{4, 1}},
		{"anthropic.claude-3-7-sonnet-20250219-v1:0", ModelVersion{3, 7}},
		{"anthropic.claude-3-haiku-20240307-v1:0", ModelVersion{3, 0}},
		{"global.anthropic.claude-haiku-4-5-20251001-v1:0", ModelVersion{4, 5}},
		{"anthropic.claude-v2:1", ModelVersion{}},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", ModelVersion{}},
		{"amazon.nova-2-lite-v1:0", ModelVersion{2, 0}},
		{"amazon.nova-lite-v1:0", ModelVersion{}},
		{"meta.llama3-1-70b-instruct-v1:0", ModelVersion{3, 1}},
		{"meta.llama3-70b-instruct-v1:0", ModelVersion{3, 0}},
		{"meta.llama4-scout-17b-instruct-v1:0", ModelVersion{4, 0}},
		{"mistral.mistral-large-2407-v1:0", ModelVersion{}},
	} {
		info, _ := LookupModel(c.id, FamilyUnknown)
		if info.Version != c.want {
			t.Errorf("%s: version %v; want %v", c.id, info.Version, c.want)
		}
	}
}

// TestLookupModel checks the table's answers for the models the gateway
// decides on, and for IDs it has never seen.
func TestLookupModel(t *testing.T) {
	type caps struct {
		reasoning                  ReasoningKind
		structured, exclusive      bool
		tools, images, docs, video bool
		cacheMin                   int // 0: no prompt caching
		countTokens                bool
	}
	for _, c := range []struct {
		id     string
		family Family
		ok     bool
		want   caps
	}{
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "", true, caps{ReasoningThinking, true, true, true, true, true, false, 1024, true}},
		{"global.anthropic.claude-haiku-4-5-20251001-v1:0", "", true, caps{ReasoningThinking, true, true, true, true, true, false, 4096, true}},
		{"anthropic.claude-opus-4-5-20251101-v1:0", "", true, caps{ReasoningThinking, true, true, true, true, true, false, 4096, true}},
		{"anthropic.claude-sonnet-5-20270101-v1:0", "", true, caps{ReasoningThinking, true, true, true, true, true, false, 1024, true}}, // later generations
		{"anthropic.claude-opus-4-1-20250805-v1:0", "", true, caps{ReasoningThinking, false, false, true, true, true, false, 1024, true}},
		{"us.anthropic.claude-sonnet-4-20250514-v1:0", "", true, caps{ReasoningThinking, false, false, true, true, true, false, 1024, true}},
		{"anthropic.claude-3-7-sonnet-20250219-v1:0", "", true, caps{ReasoningThinking, false, false, true, true, true, false, 1024, true}},
		{"anthropic.claude-3-5-haiku-20241022-v1:0", "", true, caps{"", false, false, true, false, true, false, 2048, true}},
		{"anthropic.claude-3-5-sonnet-20241022-v2:0", "", true, caps{"", false, false, true, true, true, false, 1024, true}},
		{"anthropic.claude-3-5-sonnet-20240620-v1:0", "", true, caps{"", false, false, true, true, true, false, 0, true}},
		{"anthropic.claude-3-haiku-20240307-v1:0", "", true, caps{"", false, false, true, true, true, false, 0, false}},
		{"anthropic.claude-v2:1", "", true, caps{docs: true}},
		{"amazon.nova-micro-v1:0", "", true, caps{tools: true, docs: true, cacheMin: 1000}},
		{"us.amazon.nova-lite-v1:0", "", true, caps{tools: true, images: true, docs: true, video: true, cacheMin: 1000}},
		{"amazon.nova-premier-v1:0", "", true, caps{reasoning: ReasoningEffort, tools: true, images: true, docs: true, video: true, cacheMin: 1000}},
		{"us.amazon.nova-2-lite-v1:0", "", true, caps{reasoning: ReasoningEffort, tools: true, images: true, docs: true, video: true, cacheMin: 1000}},
		{"meta.llama3-2-90b-instruct-v1:0", "", true, caps{tools: true, images: true}},
		{"meta.llama3-2-3b-instruct-v1:0", "", true, caps{}},
		{"meta.llama3-3-70b-instruct-v1:0", "", true, caps{tools: true}},
		{"meta.llama3-8b-instruct-v1:0", "", true, caps{}},
		{"mistral.mistral-large-2407-v1:0", "", true, caps{tools: true, docs: true}},
		{"cohere.command-r-plus-v1:0", "", true, caps{tools: true, docs: true}},
		{"amazon.titan-text-express-v1", "", true, caps{docs: true}},
		// An application inference profile says nothing; its family alone
		// promises no capability.
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x1", "", false, caps{}},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x1", FamilyAnthropic, true, caps{docs: true}},
		{"amazon.titan-embed-text-v2:0", "", false, caps{}},
		{"deepseek.r1-v1:0", "", false, caps{}},
	} {
		info, ok := LookupModel(c.id, c.family)
		got := caps{info.Reasoning, info.StructuredOutput, info.ExclusiveSampling, info.ToolUse, info.Images, info.Documents, info.Video, info.CacheMinTokens, info.CountTokens}
		if ok != c.ok || got != c.want {
			t.Errorf("%s: %+v, %v\nwant %+v, %v", c.id, got, ok, c.want, c.ok)
		}
		if info.PromptCaching != (info.CacheMinTokens > 0) {
			t.Errorf("%s: prompt caching %v with a minimum of %d tokens", c.id, info.PromptCaching, info.CacheMinTokens)
		}
		if info.ToolChoice && !info.ToolUse {
			t.Errorf("%s: tool choice without tools", c.id)
		}
	}
}

func TestThinkingBudget(t *testing.T) {
	for effort, want := range map[string]int{"low": 1024, "medium": 4096, "high": 16384, "minimal": 0, "": 0} {
		if got, ok := ThinkingBudget(effort); got != want || ok != (want > 0) {
			t.Errorf("ThinkingBudget(%q) = %d, %v", effort, got, ok)
		}
	}
}

func TestReasoningEffortFor(t *testing.T) {
	for budget, want := range map[int]string{1024: "low", 1025: "medium", 4096: "medium", 4097: "high", 50000: "high"} {
		if got := ReasoningEffortFor(budget); got != want {
			t.Errorf("ReasoningEffortFor(%d) = %q; want %q", budget, got, want)
		}
	}
}
