package emulator

import (
	"fmt"
	"strings"
)

// Model kinds: what an entry of the catalogue answers.
const (
	kindChat      = "chat"
	kindEmbedding = "embedding"
	kindImage     = "image"
	kindSpeech    = "speech" // InvokeModelWithBidirectionalStream only
)

// Families of the non-text models (the text families are declared in native.go).
const (
	familyTitanEmbed  = "titan-embed"
	familyCohereEmbed = "cohere-embed"
	familyNovaEmbed   = "nova-embed"
	familyNovaCanvas  = "nova-canvas"
	familyTitanImage  = "titan-image"
	familyNovaSonic   = "nova-sonic"
)

// Model describes one model the emulator serves. Config.Models adds entries to
// (or replaces entries of) the built-in catalogue.
type Model struct {
	// ID is the foundation-model identifier, e.g. "amazon.nova-lite-v1:0".
	ID string `yaml:"id"`
	// Family selects the native InvokeModel body: anthropic, nova, titan-text,
	// llama, mistral, cohere-command, cohere-command-r, titan-embed,
	// cohere-embed, nova-embed, nova-canvas, titan-image, amazon-rerank,
	// cohere-rerank.
	Family string `yaml:"family"`
	// Kind is chat, embedding, image or rerank; derived from Family when empty.
	Kind string `yaml:"kind"`
	// Aliases are further identifiers that resolve to this model, such as an
	// application-inference-profile ARN.
	Aliases []string `yaml:"aliases"`
	// MaxTokens is the default and maximum output length (default 4096).
	MaxTokens int `yaml:"max_tokens"`
	// Capabilities of the model in Converse.
	Tools            bool `yaml:"tools"`             // toolConfig accepted
	ToolChoice       bool `yaml:"tool_choice"`       // toolChoice any/tool accepted
	Reasoning        bool `yaml:"reasoning"`         // thinking / reasoningConfig
	StructuredOutput bool `yaml:"structured_output"` // outputConfig.textFormat
	Caching          bool `yaml:"caching"`           // cachePoint blocks
	Images           bool `yaml:"images"`            // image content blocks
	Documents        bool `yaml:"documents"`         // document content blocks
	Video            bool `yaml:"video"`             // video content blocks
	// System reports whether system prompts are accepted (default true for chat).
	NoSystem bool `yaml:"no_system"`
	// MinCacheTokens is the shortest prefix a cache point caches (default
	// for caching models: Nova 1000, Claude 1024, Claude 3.5 Haiku 2048,
	// Claude Haiku 4.5 and Opus 4.5 4096, per the Bedrock prompt caching
	// documentation); a shorter one is billed as plain input.
	MinCacheTokens int `yaml:"min_cache_tokens"`
}

// defaultMinCacheTokens is a caching model's minimum cacheable prefix.
func defaultMinCacheTokens(m *Model) int {
	switch {
	case m.Family == familyNova:
		return 1000
	case strings.Contains(m.ID, "claude-3-5-haiku"):
		return 2048
	case strings.Contains(m.ID, "claude-haiku-4-5"), strings.Contains(m.ID, "claude-opus-4-5"):
		return 4096
	}
	return 1024
}

// caps are the capability shorthand used by the built-in table.
const (
	capTools = 1 << iota
	capToolChoice
	capReasoning
	capStructured
	capCaching
	capImages
	capDocuments
	capNoSystem
	capVideo
)

func mk(id, family string, maxTokens, caps int) Model {
	return Model{
		ID: id, Family: family, MaxTokens: maxTokens,
		Tools: caps&capTools != 0, ToolChoice: caps&capToolChoice != 0,
		Reasoning: caps&capReasoning != 0, StructuredOutput: caps&capStructured != 0,
		Caching: caps&capCaching != 0, Images: caps&capImages != 0,
		Documents: caps&capDocuments != 0, NoSystem: caps&capNoSystem != 0,
		Video: caps&capVideo != 0,
	}
}

// This catalogue is the emulator's own on purpose, not bedrock.LookupModel's
// table: the emulator stands in for Bedrock to test the client and the
// gateway, so what it accepts must come from Bedrock's documentation, not
// from the beliefs of the code under test (a wrong entry in one then shows
// up as a test failure instead of agreeing with itself). The two disagree
// where the gateway is more careful than Bedrock needs (structured output
// before Claude 4.5).
//
// builtinModels is the catalogue of well-known Bedrock model IDs. What each
// family accepts in Converse (a request using a capability the model lacks
// gets Bedrock's 400 ValidationException), following the Bedrock "supported
// models and features" and structured-output documentation:
//
//	model                         tools toolChoice images docs video cache reasoning structured
//	Nova Micro                      ✓       ✓               ✓          ✓                  ✓
//	Nova Lite / Pro                 ✓       ✓        ✓      ✓    ✓     ✓                  ✓
//	Nova Premier, Nova 2 Lite       ✓       ✓        ✓      ✓    ✓     ✓       ✓          ✓
//	Claude 2.x, Instant                                     ✓
//	Claude 3, 3.5 Sonnet v1         ✓       ✓        ✓      ✓
//	Claude 3.5 Sonnet v2            ✓       ✓        ✓      ✓          ✓
//	Claude 3.5 Haiku (text only)    ✓       ✓               ✓          ✓
//	Claude 3.7, Sonnet 4, Opus 4    ✓       ✓        ✓      ✓          ✓       ✓
//	Claude Opus 4.1, 4.5 family     ✓       ✓        ✓      ✓          ✓       ✓          ✓
//	Llama 3, 3.2 1B/3B
//	Llama 3.1, 3.3                  ✓
//	Llama 3.2 11B/90B, Llama 4      ✓                ✓
//	Mistral 7B, Mixtral                                     ✓
//	Mistral Large, Small            ✓                       ✓
//	Llama 2 (13B, 70B chat)
//	Cohere Command (no system)
//	Cohere Command R, R+            ✓                       ✓
//	Titan Text, TG1 Large (no system)                       ✓
//
// Reasoning is Claude's thinking or Nova's reasoningConfig; structured is
// outputConfig.textFormat (Bedrock offers it for Claude 4.1/4.5 and, in this
// emulator, every Nova understanding model). Audio blocks are refused by all.
// A video block bills videoInputTokens, an image 1600 tokens. Config.Models
// entries set these per model (yaml keys tools, tool_choice, images,
// documents, video, caching, reasoning, structured_output, no_system).
func builtinModels() []Model {
	const (
		claude3   = capTools | capToolChoice | capImages | capDocuments
		claudeNew = claude3 | capCaching
		claudeR   = claudeNew | capReasoning
		claude45  = claudeR | capStructured
		nova      = capTools | capToolChoice | capImages | capDocuments | capCaching | capStructured | capVideo
		llama     = capTools
		mistral   = capTools | capDocuments
	)
	return []Model{
		// Amazon Nova.
		mk("amazon.nova-micro-v1:0", familyNova, 10000, capTools|capToolChoice|capCaching|capStructured|capDocuments),
		mk("amazon.nova-lite-v1:0", familyNova, 10000, nova),
		mk("amazon.nova-pro-v1:0", familyNova, 10000, nova),
		mk("amazon.nova-premier-v1:0", familyNova, 32000, nova|capReasoning),
		mk("amazon.nova-2-lite-v1:0", familyNova, 65535, nova|capReasoning),
		mk("amazon.nova-canvas-v1:0", familyNovaCanvas, 0, 0),
		mk("amazon.nova-sonic-v1:0", familyNovaSonic, 0, 0),
		mk("amazon.nova-2-sonic-v1:0", familyNovaSonic, 0, 0),
		// Anthropic Claude.
		mk("anthropic.claude-v2", familyAnthropic, 4096, capDocuments),
		mk("anthropic.claude-v2:1", familyAnthropic, 4096, capDocuments),
		mk("anthropic.claude-instant-v1", familyAnthropic, 4096, capDocuments),
		mk("anthropic.claude-3-haiku-20240307-v1:0", familyAnthropic, 4096, claude3),
		mk("anthropic.claude-3-sonnet-20240229-v1:0", familyAnthropic, 4096, claude3),
		mk("anthropic.claude-3-opus-20240229-v1:0", familyAnthropic, 4096, claude3),
		mk("anthropic.claude-3-5-sonnet-20240620-v1:0", familyAnthropic, 8192, claude3),
		mk("anthropic.claude-3-5-sonnet-20241022-v2:0", familyAnthropic, 8192, claudeNew),
		mk("anthropic.claude-3-5-haiku-20241022-v1:0", familyAnthropic, 8192, claudeNew&^capImages),
		mk("anthropic.claude-3-7-sonnet-20250219-v1:0", familyAnthropic, 64000, claudeR),
		mk("anthropic.claude-sonnet-4-20250514-v1:0", familyAnthropic, 64000, claudeR),
		mk("anthropic.claude-opus-4-20250514-v1:0", familyAnthropic, 32000, claudeR),
		mk("anthropic.claude-opus-4-1-20250805-v1:0", familyAnthropic, 32000, claude45),
		mk("anthropic.claude-sonnet-4-5-20250929-v1:0", familyAnthropic, 64000, claude45),
		mk("anthropic.claude-haiku-4-5-20251001-v1:0", familyAnthropic, 64000, claude45),
		mk("anthropic.claude-opus-4-5-20251101-v1:0", familyAnthropic, 64000, claude45),
		// Meta Llama.
		mk("meta.llama2-13b-chat-v1", familyLlama, 2048, 0),
		mk("meta.llama2-70b-chat-v1", familyLlama, 2048, 0),
		mk("meta.llama3-8b-instruct-v1:0", familyLlama, 2048, 0),
		mk("meta.llama3-70b-instruct-v1:0", familyLlama, 2048, 0),
		mk("meta.llama3-1-8b-instruct-v1:0", familyLlama, 2048, llama),
		mk("meta.llama3-1-70b-instruct-v1:0", familyLlama, 2048, llama),
		mk("meta.llama3-1-405b-instruct-v1:0", familyLlama, 2048, llama),
		mk("meta.llama3-2-1b-instruct-v1:0", familyLlama, 2048, 0),
		mk("meta.llama3-2-3b-instruct-v1:0", familyLlama, 2048, 0),
		mk("meta.llama3-2-11b-instruct-v1:0", familyLlama, 2048, llama|capImages),
		mk("meta.llama3-2-90b-instruct-v1:0", familyLlama, 2048, llama|capImages),
		mk("meta.llama3-3-70b-instruct-v1:0", familyLlama, 2048, llama),
		mk("meta.llama4-maverick-17b-instruct-v1:0", familyLlama, 8192, llama|capImages),
		mk("meta.llama4-scout-17b-instruct-v1:0", familyLlama, 8192, llama|capImages),
		// Mistral.
		mk("mistral.mistral-7b-instruct-v0:2", familyMistral, 8192, capDocuments),
		mk("mistral.mixtral-8x7b-instruct-v0:1", familyMistral, 4096, capDocuments),
		mk("mistral.mistral-large-2402-v1:0", familyMistral, 8192, mistral),
		mk("mistral.mistral-large-2407-v1:0", familyMistral, 8192, mistral),
		mk("mistral.mistral-small-2402-v1:0", familyMistral, 8192, mistral),
		// Cohere Command.
		mk("cohere.command-text-v14", familyCohere, 4000, capNoSystem),
		mk("cohere.command-light-text-v14", familyCohere, 4000, capNoSystem),
		mk("cohere.command-r-v1:0", familyCohereR, 4000, capTools|capDocuments),
		mk("cohere.command-r-plus-v1:0", familyCohereR, 4000, capTools|capDocuments),
		// Amazon Titan Text.
		mk("amazon.titan-tg1-large", familyTitanText, 8192, capDocuments|capNoSystem),
		mk("amazon.titan-text-lite-v1", familyTitanText, 4096, capDocuments|capNoSystem),
		mk("amazon.titan-text-express-v1", familyTitanText, 8192, capDocuments|capNoSystem),
		mk("amazon.titan-text-premier-v1:0", familyTitanText, 3072, capDocuments|capNoSystem),
		// Embeddings.
		mk("amazon.titan-embed-text-v1", familyTitanEmbed, 0, 0),
		mk("amazon.titan-embed-text-v2:0", familyTitanEmbed, 0, 0),
		mk("cohere.embed-english-v3", familyCohereEmbed, 0, 0),
		mk("cohere.embed-multilingual-v3", familyCohereEmbed, 0, 0),
		mk("cohere.embed-v4:0", familyCohereEmbed, 0, 0),
		mk("amazon.nova-2-multimodal-embeddings-v1:0", familyNovaEmbed, 0, 0),
		// Image generation.
		mk("amazon.titan-image-generator-v1", familyTitanImage, 0, 0),
		mk("amazon.titan-image-generator-v2:0", familyTitanImage, 0, 0),
		// Rerank.
		mk("amazon.rerank-v1:0", familyAmazonRerank, 0, 0),
		mk("cohere.rerank-v3-5:0", familyCohereRerank, 0, 0),
	}
}

// kindOf derives a model's kind from its family.
func kindOf(family string) string {
	switch family {
	case familyTitanEmbed, familyCohereEmbed, familyNovaEmbed:
		return kindEmbedding
	case familyNovaCanvas, familyTitanImage:
		return kindImage
	case familyAmazonRerank, familyCohereRerank:
		return kindRerank
	case familyNovaSonic:
		return kindSpeech
	}
	return kindChat
}

var knownFamilies = map[string]bool{
	familyAnthropic: true, familyNova: true, familyTitanText: true, familyLlama: true,
	familyMistral: true, familyCohere: true, familyCohereR: true, familyTitanEmbed: true,
	familyCohereEmbed: true, familyNovaEmbed: true, familyNovaCanvas: true, familyTitanImage: true,
	familyAmazonRerank: true, familyCohereRerank: true,
	familyNovaSonic: true,
}

// crossRegionPrefixes are the geography prefixes of system-defined
// cross-region inference profiles.
var crossRegionPrefixes = []string{"us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."}

// catalogue resolves model identifiers (IDs, profile IDs, ARNs, aliases) to
// models. It is built once and read-only afterwards, so lookups need no lock.
type catalogue struct {
	byID map[string]*Model
}

func newCatalogue(extra []Model) (*catalogue, error) {
	c := &catalogue{byID: make(map[string]*Model)}
	all := append(builtinModels(), extra...)
	for i := range all {
		m := all[i]
		if m.ID == "" {
			return nil, fmt.Errorf("model %d: id is required", i)
		}
		if m.Family == "" {
			return nil, fmt.Errorf("model %s: family is required", m.ID)
		}
		if !knownFamilies[m.Family] {
			return nil, fmt.Errorf("model %s: unknown family %q", m.ID, m.Family)
		}
		if m.Kind == "" {
			m.Kind = kindOf(m.Family)
		}
		if m.MaxTokens == 0 && m.Kind == kindChat {
			m.MaxTokens = 4096
		}
		if m.Caching && m.MinCacheTokens == 0 {
			m.MinCacheTokens = defaultMinCacheTokens(&m)
		}
		mp := &m
		c.byID[m.ID] = mp
		for _, a := range m.Aliases {
			c.byID[a] = mp
		}
	}
	return c, nil
}

// lookup resolves id. Accepted forms: a model ID, a cross-region profile ID
// ("us.amazon.nova-lite-v1:0"), and the ARNs
// arn:aws:bedrock:<region>:<account>:foundation-model/<id>,
// …:inference-profile/<profile id> and any configured alias (for example an
// application-inference-profile ARN).
func (c *catalogue) lookup(id string) *Model {
	if m := c.byID[id]; m != nil {
		return m
	}
	if strings.HasPrefix(id, "arn:") {
		parts := strings.SplitN(id, ":", 6)
		if len(parts) != 6 || parts[2] != "bedrock" {
			return nil
		}
		res := parts[5]
		switch {
		case strings.HasPrefix(res, "foundation-model/"):
			return c.byID[strings.TrimPrefix(res, "foundation-model/")]
		case strings.HasPrefix(res, "inference-profile/"):
			return c.lookupProfile(strings.TrimPrefix(res, "inference-profile/"))
		}
		return nil
	}
	return c.lookupProfile(id)
}

func (c *catalogue) lookupProfile(id string) *Model {
	if m := c.byID[id]; m != nil {
		return m
	}
	for _, p := range crossRegionPrefixes {
		if strings.HasPrefix(id, p) {
			return c.byID[id[len(p):]]
		}
	}
	return nil
}
