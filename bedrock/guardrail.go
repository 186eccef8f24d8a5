package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
)

// ApplyGuardrail sources and output scopes.
const (
	GuardrailSourceInput  = "INPUT"
	GuardrailSourceOutput = "OUTPUT"

	GuardrailScopeInterventions = "INTERVENTIONS"
	GuardrailScopeFull          = "FULL"

	GuardrailActionNone       = "NONE"
	GuardrailActionIntervened = "GUARDRAIL_INTERVENED"
)

// ApplyGuardrailRequest is the content to check against a guardrail,
// without invoking a model.
type ApplyGuardrailRequest struct {
	// Source is GuardrailSourceInput (user input) or GuardrailSourceOutput
	// (model output).
	Source  string             `json:"source"`
	Content []GuardrailContent `json:"content"`
	// OutputScope is GuardrailScopeInterventions (default) or
	// GuardrailScopeFull.
	OutputScope string `json:"outputScope,omitempty"`
}

// GuardrailContent is content for a guardrail to evaluate, a union of Text
// or Image: a block of ApplyGuardrailRequest.Content, and the GuardContent
// of a Converse message or system block.
type GuardrailContent struct {
	Text  *GuardrailText  `json:"text,omitempty"`
	Image *GuardrailImage `json:"image,omitempty"`
}

// GuardrailText is text to check; Qualifiers are "grounding_source",
// "query" or "guard_content" (contextual grounding checks).
type GuardrailText struct {
	Text       string   `json:"text"`
	Qualifiers []string `json:"qualifiers,omitempty"`
}

// GuardrailImage is an image to check: Format "png" or "jpeg"; the bytes
// travel base64-encoded.
type GuardrailImage struct {
	Format string               `json:"format"`
	Source GuardrailImageSource `json:"source"`
}

// GuardrailImageSource holds the image bytes.
type GuardrailImageSource struct {
	Bytes []byte `json:"bytes,omitempty"`
}

// GuardrailTextContent is a text block, the common case.
func GuardrailTextContent(text string, qualifiers ...string) GuardrailContent {
	return GuardrailContent{Text: &GuardrailText{Text: text, Qualifiers: qualifiers}}
}

// ApplyGuardrailResponse is the guardrail's verdict.
type ApplyGuardrailResponse struct {
	Usage GuardrailUsage `json:"usage"`
	// Action is GuardrailActionNone or GuardrailActionIntervened.
	Action       string `json:"action"`
	ActionReason string `json:"actionReason,omitempty"`
	// Outputs are the texts to use instead of the input when the guardrail
	// intervened (the blocked message, or the masked text).
	Outputs []GuardrailOutput `json:"outputs"`
	// Assessments are the per-policy findings (topicPolicy, contentPolicy,
	// wordPolicy, sensitiveInformationPolicy, contextualGroundingPolicy,
	// automatedReasoningPolicy, invocationMetrics), kept as raw JSON.
	Assessments       json.RawMessage    `json:"assessments"`
	GuardrailCoverage *GuardrailCoverage `json:"guardrailCoverage,omitempty"`

	ResponseMetadata `json:"-"`
}

// GuardrailOutput is one replacement text.
type GuardrailOutput struct {
	Text string `json:"text"`
}

// Intervened reports whether the guardrail blocked or masked content.
func (r *ApplyGuardrailResponse) Intervened() bool { return r.Action == GuardrailActionIntervened }

// GuardrailUsage counts the policy units billed.
type GuardrailUsage struct {
	TopicPolicyUnits                    int `json:"topicPolicyUnits"`
	ContentPolicyUnits                  int `json:"contentPolicyUnits"`
	WordPolicyUnits                     int `json:"wordPolicyUnits"`
	SensitiveInformationPolicyUnits     int `json:"sensitiveInformationPolicyUnits"`
	SensitiveInformationPolicyFreeUnits int `json:"sensitiveInformationPolicyFreeUnits"`
	ContextualGroundingPolicyUnits      int `json:"contextualGroundingPolicyUnits"`
	ContentPolicyImageUnits             int `json:"contentPolicyImageUnits,omitempty"`
	AutomatedReasoningPolicyUnits       int `json:"automatedReasoningPolicyUnits,omitempty"`
	AutomatedReasoningPolicies          int `json:"automatedReasoningPolicies,omitempty"`
}

// GuardrailCoverage says how much of the content was checked.
type GuardrailCoverage struct {
	TextCharacters *GuardrailCovered `json:"textCharacters,omitempty"`
	Images         *GuardrailCovered `json:"images,omitempty"`
}

// GuardrailCovered is Guarded out of Total.
type GuardrailCovered struct {
	Guarded int `json:"guarded"`
	Total   int `json:"total"`
}

// Patterns of the service model (GuardrailIdentifier, GuardrailVersion).
var (
	guardrailIDPattern      = regexp.MustCompile(`^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+))$`)
	guardrailVersionPattern = regexp.MustCompile(`^(([1-9][0-9]{0,7})|(DRAFT))$`)
)

const maxGuardrailID = 2048

// ValidateGuardrail checks a guardrail identifier (an ID such as
// "abc123xyz" or a guardrail ARN) and version (a number or "DRAFT")
// against the service's patterns, so that configuration mistakes surface
// at start-up rather than on the first request.
func ValidateGuardrail(id, version string) error {
	switch {
	case id == "":
		return fmt.Errorf("guardrail identifier is empty")
	case len(id) > maxGuardrailID:
		return fmt.Errorf("guardrail identifier is %d characters; the limit is %d", len(id), maxGuardrailID)
	case !guardrailIDPattern.MatchString(id):
		return fmt.Errorf("guardrail identifier %q is neither a guardrail ID (lower-case letters and digits) nor a guardrail ARN (arn:aws:bedrock:<region>:<account>:guardrail/<id>)", id)
	case version == "":
		return fmt.Errorf("guardrail version is empty (a version number or DRAFT)")
	case !guardrailVersionPattern.MatchString(version):
		return fmt.Errorf("guardrail version %q must be a version number (1-99999999) or DRAFT", version)
	}
	return nil
}

// ApplyGuardrail checks content against a guardrail without invoking a
// model. guardrailID is an ID or a guardrail ARN; version a number or
// "DRAFT". Both are checked with ValidateGuardrail before sending.
func (c *Client) ApplyGuardrail(ctx context.Context, guardrailID, version string, req *ApplyGuardrailRequest, opts ...CallOption) (*ApplyGuardrailResponse, error) {
	const op = "ApplyGuardrail"
	if req == nil {
		return nil, &OpError{op, errNilRequest}
	}
	if err := ValidateGuardrail(guardrailID, version); err != nil {
		return nil, &OpError{op, err}
	}
	out := new(ApplyGuardrailResponse)
	path := "/guardrail/" + escapeLabel(guardrailID) + "/version/" + escapeLabel(version) + "/apply"
	md, err := c.doJSON(ctx, &call{opts: callOptionsOf(opts), op: op, path: path}, req, out)
	if err != nil {
		return nil, err
	}
	out.ResponseMetadata = md
	return out, nil
}
