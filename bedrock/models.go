package bedrock

import (
	"strconv"
	"strings"
)

// What this package knows of each model generation, in one table for every
// surface built on it: which Converse features a model takes, so that a
// caller can send only what Bedrock accepts (or refuse early with its own
// message) instead of meeting Bedrock's ValidationException. The emulator
// keeps its own catalogue on purpose: it stands in for Bedrock, so it must
// not share the client's beliefs about Bedrock.

// ReasoningKind says how a model is asked to reason in Converse, if at all.
type ReasoningKind string

const (
	// ReasoningNone: the model has no reasoning switch.
	ReasoningNone ReasoningKind = ""
	// ReasoningThinking is Claude's extended thinking:
	// additionalModelRequestFields {"thinking": {"type": "enabled",
	// "budget_tokens": N}} (see ThinkingBudget), with no temperature or
	// top_p, and not with a forced tool call.
	ReasoningThinking ReasoningKind = "thinking"
	// ReasoningEffort is Nova's: additionalModelRequestFields
	// {"reasoningConfig": {"type": "enabled", "maxReasoningEffort":
	// "low"|"medium"|"high"}}.
	ReasoningEffort ReasoningKind = "reasoningConfig"
)

// ModelVersion is a model's generation as its ID spells it: 4.5 for
// anthropic.claude-sonnet-4-5-20250929-v1:0, 3.1 for
// meta.llama3-1-70b-instruct-v1:0, 2.0 for amazon.nova-2-lite-v1:0. The
// zero value means the ID does not say.
type ModelVersion struct{ Major, Minor int }

// AtLeast reports whether v is o or later.
func (v ModelVersion) AtLeast(o ModelVersion) bool {
	return v.Major > o.Major || v.Major == o.Major && v.Minor >= o.Minor
}

func (v ModelVersion) String() string {
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor)
}

// ModelInfo is what LookupModel knows of a model.
type ModelInfo struct {
	Family  Family
	Version ModelVersion
	// Reasoning is the model's reasoning switch in Converse.
	Reasoning ReasoningKind
	// StructuredOutput: outputConfig.textFormat with a JSON schema. Set only
	// where Bedrock is known to take it (Claude 4.5 and later); a forced
	// tool does the same on every model with ToolUse.
	StructuredOutput bool
	// ExclusiveSampling: temperature and top_p may not both be set.
	ExclusiveSampling bool
	// ToolUse: toolConfig; ToolChoice: its "any" and named-tool choices.
	ToolUse, ToolChoice bool
	// Images, Documents and Video: content blocks of those kinds.
	Images, Documents, Video bool
	// PromptCaching: cachePoint blocks. CacheMinTokens is the fewest tokens
	// a prompt prefix must have for a checkpoint to cache it (Bedrock's
	// prompt-caching guide); 0 when unknown.
	PromptCaching  bool
	CacheMinTokens int
	// CountTokens: the CountTokens operation serves the model.
	CountTokens bool
}

// LookupModel returns what this package knows of modelID (a model ID, an
// inference-profile ID or a foundation-model or inference-profile ARN).
// family is the model's family when the caller knows it (an application
// inference profile's ARN does not say); FamilyUnknown tells it from the
// ID. ok is false when no entry matches: the result then has only Family
// (and Version, when the ID spells one), and no capabilities.
func LookupModel(modelID string, family Family) (info ModelInfo, ok bool) {
	if family == FamilyUnknown {
		family = ModelFamily(modelID)
	}
	id := strings.ToLower(modelID)
	v := parseModelVersion(family, id)
	for i := range modelTable {
		e := &modelTable[i]
		if e.family == family && strings.Contains(id, e.match) && v.AtLeast(e.from) {
			info = e.info
			ok = true
			break
		}
	}
	info.Family, info.Version = family, v
	return info, ok
}

// ThinkingBudget is the Claude thinking budget (budget_tokens) for a
// reasoning effort of low, medium or high (Nova's and OpenAI's names); ok
// is false for any other effort.
func ThinkingBudget(effort string) (tokens int, ok bool) {
	switch effort {
	case "low":
		return 1024, true
	case "medium":
		return 4096, true
	case "high":
		return 16384, true
	}
	return 0, false
}

// MinThinkingBudget is the smallest thinking budget Claude accepts.
const MinThinkingBudget = 1024

// ReasoningEffortFor is the reasoning effort a thinking budget amounts to:
// the lowest whose ThinkingBudget covers it ("high" beyond them all).
func ReasoningEffortFor(budgetTokens int) string {
	for _, e := range []string{"low", "medium"} {
		if b, _ := ThinkingBudget(e); budgetTokens <= b {
			return e
		}
	}
	return "high"
}

// versionAnchors are what precedes the version in a family's model IDs.
var versionAnchors = map[Family]string{
	FamilyAnthropic: "claude-", FamilyNova: "nova-", FamilyLlama: "llama",
}

// parseModelVersion reads the version after the family's anchor in a
// lower-case model ID: the first one or two numbers of at most two digits
// among its dash-separated segments, skipping words before them ("sonnet")
// and ending at anything after them (a date, "70b", "v1:0").
func parseModelVersion(f Family, id string) ModelVersion {
	anchor := versionAnchors[f]
	i := strings.Index(id, anchor)
	if anchor == "" || i < 0 {
		return ModelVersion{}
	}
	var nums [2]int
	found := 0
	for seg := range strings.SplitSeq(id[i+len(anchor):], "-") {
		n, ok := versionNumber(seg)
		switch {
		case ok:
			nums[found] = n
			if found++; found == 2 {
				return ModelVersion{nums[0], nums[1]}
			}
		case found > 0:
			return ModelVersion{nums[0], 0}
		}
	}
	if found > 0 {
		return ModelVersion{nums[0], 0}
	}
	return ModelVersion{}
}

// versionNumber reads a segment of one or two digits (strconv.Atoi would
// allocate an error for every word: this runs per request).
func versionNumber(seg string) (int, bool) {
	if len(seg) == 0 || len(seg) > 2 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return 0, false
		}
		n = n*10 + int(seg[i]-'0')
	}
	return n, true
}

// modelEntry is one row of modelTable: it applies to a model of family
// whose lower-case ID contains match and whose version is from or later.
type modelEntry struct {
	family Family
	match  string
	from   ModelVersion
	info   ModelInfo
}

// Capability sets the table shares.
var (
	claude3        = ModelInfo{ToolUse: true, ToolChoice: true, Images: true, Documents: true}
	claude35       = with(claude3, func(m *ModelInfo) { m.CountTokens = true })
	claudeCache    = with(claude35, func(m *ModelInfo) { m.PromptCaching, m.CacheMinTokens = true, 1024 })
	claudeThinking = with(claudeCache, func(m *ModelInfo) { m.Reasoning = ReasoningThinking })
	claude45       = with(claudeThinking, func(m *ModelInfo) { m.StructuredOutput, m.ExclusiveSampling = true, true })
	novaText       = ModelInfo{ToolUse: true, ToolChoice: true, Documents: true, PromptCaching: true, CacheMinTokens: 1000}
	novaMedia      = with(novaText, func(m *ModelInfo) { m.Images, m.Video = true, true })
	novaReasoning  = with(novaMedia, func(m *ModelInfo) { m.Reasoning = ReasoningEffort })
)

func with(base ModelInfo, change func(*ModelInfo)) ModelInfo {
	change(&base)
	return base
}

// modelTable: for each family, the first row that applies wins, so a
// family's specific rows come before its general ones, and the newest
// generations first. A row with a from version also covers generations
// released after this table was written. Sources: Bedrock's "supported
// models and features" (Converse), prompt-caching and CountTokens guides.
var modelTable = []modelEntry{
	// Anthropic Claude.
	{FamilyAnthropic, "haiku-4-5", ModelVersion{}, with(claude45, func(m *ModelInfo) { m.CacheMinTokens = 4096 })},
	{FamilyAnthropic, "opus-4-5", ModelVersion{}, with(claude45, func(m *ModelInfo) { m.CacheMinTokens = 4096 })},
	{FamilyAnthropic, "", ModelVersion{4, 5}, claude45},
	{FamilyAnthropic, "", ModelVersion{3, 7}, claudeThinking}, // 3.7, Sonnet 4, Opus 4 and 4.1
	{FamilyAnthropic, "3-5-haiku", ModelVersion{}, with(claudeCache, func(m *ModelInfo) { m.Images, m.CacheMinTokens = false, 2048 })},
	{FamilyAnthropic, "3-5-sonnet-20241022", ModelVersion{}, claudeCache},
	{FamilyAnthropic, "", ModelVersion{3, 5}, claude35},
	{FamilyAnthropic, "", ModelVersion{3, 0}, claude3},
	{FamilyAnthropic, "", ModelVersion{}, ModelInfo{Documents: true}}, // Claude 2, Instant
	// Amazon Nova.
	{FamilyNova, "nova-micro", ModelVersion{}, novaText},
	{FamilyNova, "nova-premier", ModelVersion{}, novaReasoning},
	{FamilyNova, "", ModelVersion{2, 0}, novaReasoning},
	{FamilyNova, "", ModelVersion{}, novaMedia}, // Lite, Pro
	// Meta Llama.
	{FamilyLlama, "", ModelVersion{4, 0}, ModelInfo{ToolUse: true, Images: true}},
	{FamilyLlama, "llama3-2-11b", ModelVersion{}, ModelInfo{ToolUse: true, Images: true}},
	{FamilyLlama, "llama3-2-90b", ModelVersion{}, ModelInfo{ToolUse: true, Images: true}},
	{FamilyLlama, "llama3-2-", ModelVersion{}, ModelInfo{}}, // 1B, 3B
	{FamilyLlama, "", ModelVersion{3, 1}, ModelInfo{ToolUse: true}},
	{FamilyLlama, "", ModelVersion{}, ModelInfo{}},
	// Mistral.
	{FamilyMistral, "mistral-large", ModelVersion{}, ModelInfo{ToolUse: true, Documents: true}},
	{FamilyMistral, "mistral-small", ModelVersion{}, ModelInfo{ToolUse: true, Documents: true}},
	{FamilyMistral, "", ModelVersion{}, ModelInfo{Documents: true}},
	// Cohere Command and Amazon Titan Text.
	{FamilyCohereCommandR, "", ModelVersion{}, ModelInfo{ToolUse: true, Documents: true}},
	{FamilyCohereCommand, "", ModelVersion{}, ModelInfo{}},
	{FamilyTitanText, "", ModelVersion{}, ModelInfo{Documents: true}},
}
