package emulator

import (
	"sort"
	"strings"
)

// The control plane's listings, answered from the catalogue so that
// `quarry models` (and any SDK's ListFoundationModels) work against the
// emulator. The region in ARNs is the one the request was signed for.

var providerNames = map[string]string{
	"amazon": "Amazon", "anthropic": "Anthropic", "meta": "Meta", "mistral": "Mistral AI", "cohere": "Cohere",
}

// modalities are a kind's input and output modalities, as Bedrock names them.
func modalities(m *Model) (in, out []string) {
	switch m.Kind {
	case kindEmbedding:
		return []string{"TEXT"}, []string{"EMBEDDING"}
	case kindImage:
		return []string{"TEXT", "IMAGE"}, []string{"IMAGE"}
	case kindRerank:
		return []string{"TEXT"}, []string{"TEXT"}
	}
	in = []string{"TEXT"}
	if m.Images {
		in = append(in, "IMAGE")
	}
	if m.Video {
		in = append(in, "VIDEO")
	}
	return in, []string{"TEXT"}
}

// sortedModels are the catalogue's models, each once, by ID.
func (c *catalogue) sortedModels() []*Model {
	seen := map[*Model]bool{}
	var out []*Model
	for _, m := range c.byID {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *call) signedRegion() string {
	// Credential=AKID/date/region/service/aws4_request
	a := c.r.Header.Get("Authorization")
	if _, cred, ok := strings.Cut(a, "Credential="); ok {
		if parts := strings.Split(strings.SplitN(cred, ",", 2)[0], "/"); len(parts) >= 3 {
			return parts[2]
		}
	}
	return "us-east-1"
}

func (e *Emulator) serveListFoundationModels(c *call) {
	region := c.signedRegion()
	type lifecycle struct {
		Status string `json:"status"`
	}
	type summary struct {
		ModelArn                   string    `json:"modelArn"`
		ModelID                    string    `json:"modelId"`
		ModelName                  string    `json:"modelName"`
		ProviderName               string    `json:"providerName"`
		InputModalities            []string  `json:"inputModalities"`
		OutputModalities           []string  `json:"outputModalities"`
		ResponseStreamingSupported bool      `json:"responseStreamingSupported"`
		CustomizationsSupported    []string  `json:"customizationsSupported"`
		InferenceTypesSupported    []string  `json:"inferenceTypesSupported"`
		ModelLifecycle             lifecycle `json:"modelLifecycle"`
	}
	var out []summary
	for _, m := range e.models.sortedModels() {
		provider, _, _ := strings.Cut(m.ID, ".")
		in, outM := modalities(m)
		out = append(out, summary{
			ModelArn: "arn:aws:bedrock:" + region + "::foundation-model/" + m.ID, ModelID: m.ID, ModelName: m.ID,
			ProviderName: providerNames[provider], InputModalities: in, OutputModalities: outM,
			ResponseStreamingSupported: m.Kind == kindChat, CustomizationsSupported: []string{},
			InferenceTypesSupported: []string{"ON_DEMAND"}, ModelLifecycle: lifecycle{"ACTIVE"},
		})
	}
	c.writeJSON(mustJSON(map[string]any{"modelSummaries": out}), nil)
}

// serveListInferenceProfiles lists a US cross-region profile for every chat
// model (the emulator accepts every geography prefix; one is listed).
func (e *Emulator) serveListInferenceProfiles(c *call) {
	region := c.signedRegion()
	type model struct {
		ModelArn string `json:"modelArn"`
	}
	type summary struct {
		InferenceProfileName string  `json:"inferenceProfileName"`
		InferenceProfileArn  string  `json:"inferenceProfileArn"`
		InferenceProfileID   string  `json:"inferenceProfileId"`
		Description          string  `json:"description"`
		Models               []model `json:"models"`
		Status               string  `json:"status"`
		Type                 string  `json:"type"`
	}
	out := []summary{}
	for _, m := range e.models.sortedModels() {
		if m.Kind != kindChat {
			continue
		}
		id := "us." + m.ID
		out = append(out, summary{
			InferenceProfileName: "US " + m.ID, InferenceProfileArn: "arn:aws:bedrock:" + region + ":000000000000:inference-profile/" + id,
			InferenceProfileID: id, Description: "Routes requests to " + m.ID + " in US regions.",
			Models: []model{{"arn:aws:bedrock:us-east-1::foundation-model/" + m.ID}, {"arn:aws:bedrock:us-west-2::foundation-model/" + m.ID}},
			Status: "ACTIVE", Type: "SYSTEM_DEFINED",
		})
	}
	c.writeJSON(mustJSON(map[string]any{"inferenceProfileSummaries": out}), nil)
}
