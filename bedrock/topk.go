package bedrock

import (
	"errors"
	"fmt"
	"math"
)

// Converse has no top-k field in inferenceConfig: each model family takes
// it, if at all, in its own native field, passed through
// additionalModelRequestFields. TopKRequestFields is the one place that
// knows where.

// ErrTopKUnsupported is wrapped by TopKRequestFields' errors for a family
// without top-k sampling, or whose family is unknown.
var ErrTopKUnsupported = errors.New("top_k is not supported")

// TopKRequestFields returns the additionalModelRequestFields that set top-k
// sampling to k for a Converse request to a model of family f:
//
//	Anthropic        {"top_k": k}                      (0-500)
//	Nova             {"inferenceConfig": {"topK": k}}  (0 or more)
//	Mistral          {"top_k": k}                      (1-200)
//	Cohere Command   {"k": k}                          (0-500)
//
// Llama and Titan have no top-k parameter, and FamilyUnknown (application
// inference profiles, provisioned or custom model ARNs, providers this
// package has no body types for) cannot be mapped: those errors wrap
// ErrTopKUnsupported. A k outside the family's range is an error too.
// Merge the result into the request's AdditionalModelRequestFields
// (nested maps key by key for Nova, whose inferenceConfig object may carry
// other fields).
func TopKRequestFields(f Family, k int) (map[string]any, error) {
	var lo, hi int
	var fields func() map[string]any
	switch f {
	case FamilyAnthropic:
		lo, hi = 0, 500
		fields = func() map[string]any { return map[string]any{"top_k": k} }
	case FamilyNova:
		lo, hi = 0, math.MaxInt32
		fields = func() map[string]any { return map[string]any{"inferenceConfig": map[string]any{"topK": k}} }
	case FamilyMistral:
		lo, hi = 1, 200
		fields = func() map[string]any { return map[string]any{"top_k": k} }
	case FamilyCohereCommand, FamilyCohereCommandR:
		lo, hi = 0, 500
		fields = func() map[string]any { return map[string]any{"k": k} }
	case FamilyLlama:
		return nil, fmt.Errorf("%w by Meta Llama models (they sample with temperature and top_p only)", ErrTopKUnsupported)
	case FamilyTitanText:
		return nil, fmt.Errorf("%w by Amazon Titan text models (they sample with temperature and topP only)", ErrTopKUnsupported)
	case FamilyUnknown:
		return nil, fmt.Errorf("%w here: the model family cannot be told from the model ID (an application inference profile or a provisioned, custom or third-party model), so its native top-k field is unknown; set it in additionalModelRequestFields yourself", ErrTopKUnsupported)
	default:
		return nil, fmt.Errorf("%w by %s models, which do not serve chat", ErrTopKUnsupported, f)
	}
	if k < lo || k > hi {
		if hi == math.MaxInt32 {
			return nil, fmt.Errorf("top_k must be %d or more for %s models (got %d)", lo, f, k)
		}
		return nil, fmt.Errorf("top_k must be between %d and %d for %s models (got %d)", lo, hi, f, k)
	}
	return fields(), nil
}
