package shaping

import (
	"slices"

	"github.com/quarry-dev/quarry/bedrock"
)

// Apply sets o's request defaults on req, for a model of the given family
// (bedrock.ModelFamily(modelID)):
//
//   - Inference: each parameter req.InferenceConfig leaves unset;
//   - TopK: in the family's native field (bedrock.TopKRequestFields), under
//     req.AdditionalModelRequestFields; not for an Anthropic request whose
//     fields already ask for extended thinking, which Claude refuses top-k
//     with;
//   - AdditionalModelRequestFields: under req's own (MergeUnder).
//
// The error is TopKRequestFields' (errors.Is(err, bedrock.ErrTopKUnsupported)
// for a family without top-k); req is then unchanged. Values Apply adds are
// copies, never shared with o.
func (o *Options) Apply(req *bedrock.ConverseRequest, family bedrock.Family) error {
	var topK map[string]any
	if o.TopK != nil {
		_, thinking := req.AdditionalModelRequestFields["thinking"]
		if !thinking || family != bedrock.FamilyAnthropic {
			f, err := bedrock.TopKRequestFields(family, *o.TopK)
			if err != nil {
				return err
			}
			topK = f
		}
	}
	if d := o.Inference; d != nil {
		if req.InferenceConfig == nil {
			req.InferenceConfig = &bedrock.InferenceConfig{}
		}
		ic := req.InferenceConfig
		if ic.MaxTokens == nil && d.MaxTokens != nil {
			ic.MaxTokens = new(*d.MaxTokens)
		}
		if ic.Temperature == nil && d.Temperature != nil {
			ic.Temperature = new(*d.Temperature)
		}
		if ic.TopP == nil && d.TopP != nil {
			ic.TopP = new(*d.TopP)
		}
		if len(ic.StopSequences) == 0 && len(d.StopSequences) > 0 {
			ic.StopSequences = slices.Clone(d.StopSequences)
		}
	}
	req.AdditionalModelRequestFields = MergeUnder(req.AdditionalModelRequestFields, topK)
	req.AdditionalModelRequestFields = MergeUnder(req.AdditionalModelRequestFields, o.AdditionalModelRequestFields)
	return nil
}

// MergeUnder copies into dst the entries of src that dst does not have;
// where both hold objects (map[string]any), it merges them the same way, so
// that dst wins key by key at every level. It returns dst, allocated if nil
// and src is not empty. src is not modified, nor shared with dst.
func MergeUnder(dst, src map[string]any) map[string]any {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]any{}
	}
	for k, sv := range src {
		dv, ok := dst[k]
		if !ok {
			dst[k] = deepCopy(sv)
			continue
		}
		dm, dok := dv.(map[string]any)
		sm, sok := sv.(map[string]any)
		if dok && sok {
			dst[k] = MergeUnder(dm, sm)
		}
	}
	return dst
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, x := range t {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}
