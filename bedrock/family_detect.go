package bedrock

import "strings"

// Family names the native InvokeModel body schema a model speaks. Models of
// one family share request and response types (e.g. every Claude model
// speaks the Anthropic Messages body: AnthropicRequest/AnthropicResponse).
type Family string

// The families this package has body types for.
const (
	FamilyUnknown        Family = ""
	FamilyAnthropic      Family = "anthropic"        // anthropic.claude-*: AnthropicRequest
	FamilyNova           Family = "nova"             // amazon.nova-micro/lite/pro/premier, nova-2-lite: NovaRequest
	FamilyNovaCanvas     Family = "nova-canvas"      // amazon.nova-canvas-*: ImageRequest
	FamilyNovaEmbed      Family = "nova-embed"       // amazon.nova-*-multimodal-embeddings-*: NovaEmbedRequest
	FamilyTitanText      Family = "titan-text"       // amazon.titan-text-* (and titan-tg1): TitanTextRequest
	FamilyTitanEmbed     Family = "titan-embed"      // amazon.titan-embed-*: TitanEmbedRequest
	FamilyTitanImage     Family = "titan-image"      // amazon.titan-image-generator-*: ImageRequest
	FamilyLlama          Family = "llama"            // meta.llama*: LlamaRequest
	FamilyMistral        Family = "mistral"          // mistral.*: MistralRequest
	FamilyCohereCommand  Family = "cohere-command"   // cohere.command-text / command-light-text: CohereCommandRequest
	FamilyCohereCommandR Family = "cohere-command-r" // cohere.command-r*: CohereCommandRRequest
	FamilyCohereEmbed    Family = "cohere-embed"     // cohere.embed-*: CohereEmbedRequest
)

// IsEmbedding reports whether the family is an embedding model.
func (f Family) IsEmbedding() bool {
	return f == FamilyTitanEmbed || f == FamilyCohereEmbed || f == FamilyNovaEmbed
}

// IsImage reports whether the family generates images.
func (f Family) IsImage() bool { return f == FamilyNovaCanvas || f == FamilyTitanImage }

// geoPrefixes are the cross-region inference-profile prefixes in use.
// Unknown future prefixes are also recognized: see stripGeoPrefix.
var geoPrefixes = map[string]bool{
	"us": true, "eu": true, "apac": true, "global": true, "us-gov": true,
	"ca": true, "jp": true, "au": true,
}

// providers are the model-ID provider prefixes Bedrock uses.
var providers = map[string]bool{
	"amazon": true, "anthropic": true, "meta": true, "mistral": true, "cohere": true,
	"ai21": true, "deepseek": true, "openai": true, "qwen": true, "writer": true,
	"stability": true, "twelvelabs": true, "luma": true, "google": true, "minimax": true,
	"moonshot": true, "nvidia": true,
}

// ModelFamily tells which native body schema modelID speaks. It accepts
// model IDs ("anthropic.claude-3-haiku-20240307-v1:0"), cross-region
// inference-profile IDs ("us.", "eu.", "apac.", "global.", ... prefixes),
// and foundation-model or inference-profile ARNs.
//
// Application-inference-profile, provisioned-model, custom-model and
// imported-model ARNs are opaque (the ARN does not say which model is
// behind it): ModelFamily returns FamilyUnknown and the caller must state
// the family in its configuration. So it does for models of providers this
// package has no body types for (AI21, DeepSeek, ...); use Converse there.
func ModelFamily(modelID string) Family {
	id := strings.ToLower(strings.TrimSpace(modelID))
	if strings.HasPrefix(id, "arn:") {
		// arn:partition:bedrock:region:account:resource-type/resource; the
		// resource may itself contain ':' (model versions), so split in 6.
		parts := strings.SplitN(id, ":", 6)
		if len(parts) != 6 {
			return FamilyUnknown
		}
		kind, rest, ok := strings.Cut(parts[5], "/")
		if !ok || (kind != "foundation-model" && kind != "inference-profile") {
			return FamilyUnknown
		}
		id = rest
	}
	return familyOf(stripGeoPrefix(id))
}

// stripGeoPrefix removes a cross-region prefix: a known one, or any first
// segment that is not a provider but is followed by one, so that a new
// geography ("sa.", say) works without a release.
func stripGeoPrefix(id string) string {
	first, rest, ok := strings.Cut(id, ".")
	if !ok || providers[first] {
		return id
	}
	if geoPrefixes[first] {
		return rest
	}
	if p, _, ok := strings.Cut(rest, "."); ok && providers[p] {
		return rest
	}
	return id
}

// familyOf maps a bare model ID (provider.model...) to its family.
func familyOf(id string) Family {
	provider, model, ok := strings.Cut(id, ".")
	if !ok {
		return FamilyUnknown
	}
	switch provider {
	case "anthropic":
		if strings.HasPrefix(model, "claude") {
			return FamilyAnthropic
		}
	case "amazon":
		switch {
		case strings.HasPrefix(model, "nova-canvas"):
			return FamilyNovaCanvas
		case strings.HasPrefix(model, "nova") && strings.Contains(model, "embed"):
			return FamilyNovaEmbed
		case strings.HasPrefix(model, "nova-reel"), strings.HasPrefix(model, "nova-sonic"),
			strings.HasPrefix(model, "nova-2-sonic"):
			// Async video and bidirectional speech: not InvokeModel bodies.
			return FamilyUnknown
		case strings.HasPrefix(model, "nova"):
			return FamilyNova
		case strings.HasPrefix(model, "titan-embed"):
			return FamilyTitanEmbed
		case strings.HasPrefix(model, "titan-image"):
			return FamilyTitanImage
		case strings.HasPrefix(model, "titan-text"), strings.HasPrefix(model, "titan-tg1"):
			return FamilyTitanText
		}
	case "meta":
		if strings.HasPrefix(model, "llama") {
			return FamilyLlama
		}
	case "mistral":
		return FamilyMistral
	case "cohere":
		switch {
		case strings.HasPrefix(model, "embed"):
			return FamilyCohereEmbed
		case strings.HasPrefix(model, "command-r"):
			return FamilyCohereCommandR
		case strings.HasPrefix(model, "command"):
			return FamilyCohereCommand
		}
	}
	return FamilyUnknown
}
