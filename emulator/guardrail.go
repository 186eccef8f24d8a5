package emulator

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Guardrail is a configured Bedrock guardrail: denied words and topics, and
// the messages that replace blocked input or output.
type Guardrail struct {
	// ID is the guardrail identifier; requests may also use its ARN
	// arn:aws:bedrock:<region>:<account>:guardrail/<ID>.
	ID string `yaml:"id"`
	// Versions that exist besides DRAFT (which always exists), e.g. ["1","2"].
	Versions []string `yaml:"versions"`
	// DeniedWords are blocked whole words or phrases (case-insensitive).
	DeniedWords []string `yaml:"denied_words"`
	// DeniedTopics are blocked topics.
	DeniedTopics []GuardrailTopic `yaml:"denied_topics"`
	// BlockedInputMessage replaces the reply when the input is blocked
	// (default "Sorry, the model cannot answer this question.").
	BlockedInputMessage string `yaml:"blocked_input_message"`
	// BlockedOutputMessage replaces the reply when the output is blocked
	// (default "Sorry, the model cannot answer this question.").
	BlockedOutputMessage string `yaml:"blocked_output_message"`
}

// GuardrailTopic is a denied topic: text mentioning its name or any of its
// keywords is blocked.
type GuardrailTopic struct {
	Name     string   `yaml:"name"`
	Keywords []string `yaml:"keywords"`
}

const defaultBlockedMessage = "Sorry, the model cannot answer this question."

type guardrail struct {
	Guardrail
	versions map[string]bool
	words    []*regexp.Regexp
	topics   []topicMatcher
}

type topicMatcher struct {
	name string
	res  []*regexp.Regexp
}

func wordRegexp(w string) (*regexp.Regexp, error) {
	return regexp.Compile(`(?i)\b` + regexp.QuoteMeta(strings.TrimSpace(w)) + `\b`)
}

func newGuardrails(cfg []Guardrail) (map[string]*guardrail, error) {
	out := make(map[string]*guardrail, len(cfg))
	for _, gc := range cfg {
		if gc.ID == "" {
			return nil, fmt.Errorf("guardrail: id is required")
		}
		g := &guardrail{Guardrail: gc, versions: map[string]bool{"DRAFT": true}}
		for _, v := range gc.Versions {
			g.versions[v] = true
		}
		if g.BlockedInputMessage == "" {
			g.BlockedInputMessage = defaultBlockedMessage
		}
		if g.BlockedOutputMessage == "" {
			g.BlockedOutputMessage = defaultBlockedMessage
		}
		for _, w := range gc.DeniedWords {
			re, err := wordRegexp(w)
			if err != nil {
				return nil, fmt.Errorf("guardrail %s: denied word %q: %w", gc.ID, w, err)
			}
			g.words = append(g.words, re)
		}
		for _, t := range gc.DeniedTopics {
			tm := topicMatcher{name: t.Name}
			for _, k := range append([]string{t.Name}, t.Keywords...) {
				if strings.TrimSpace(k) == "" {
					continue
				}
				re, err := wordRegexp(k)
				if err != nil {
					return nil, fmt.Errorf("guardrail %s: topic %q: %w", gc.ID, t.Name, err)
				}
				tm.res = append(tm.res, re)
			}
			g.topics = append(g.topics, tm)
		}
		out[gc.ID] = g
	}
	return out, nil
}

var guardrailVersionRE = regexp.MustCompile(`^(|[1-9][0-9]{0,7}|DRAFT)$`)

func errGuardrailNotFound() *apiError {
	return errNotFound("The guardrail identifier or version provided in the request does not exist.")
}

// findGuardrail resolves an identifier (ID or ARN) and version.
func (e *Emulator) findGuardrail(id, version string) (*guardrail, *apiError) {
	if !guardrailVersionRE.MatchString(version) {
		return nil, validationError("1 validation error detected: Value '%s' at 'guardrailVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (([1-9][0-9]{0,7})|(DRAFT))", version)
	}
	if i := strings.LastIndex(id, ":guardrail/"); i >= 0 {
		id = id[i+len(":guardrail/"):]
	}
	g := e.guardrails[id]
	if version == "" {
		version = "DRAFT"
	}
	if g == nil || !g.versions[version] {
		return nil, errGuardrailNotFound()
	}
	return g, nil
}

// assessment is one GuardrailAssessment (the trace / ApplyGuardrail shape).
type assessment struct {
	TopicPolicy       *topicPolicy       `json:"topicPolicy,omitempty"`
	WordPolicy        *wordPolicy        `json:"wordPolicy,omitempty"`
	InvocationMetrics invocationMetricsG `json:"invocationMetrics"`
}

type topicPolicy struct {
	Topics []topicHit `json:"topics"`
}

type topicHit struct {
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
	Name     string `json:"name"`
	Type     string `json:"type"`
}

type wordPolicy struct {
	CustomWords []wordHit `json:"customWords"`
}

type wordHit struct {
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
	Match    string `json:"match"`
}

type invocationMetricsG struct {
	GuardrailCoverage          coverage   `json:"guardrailCoverage"`
	GuardrailProcessingLatency int        `json:"guardrailProcessingLatency"`
	Usage                      guardUsage `json:"usage"`
}

type coverage struct {
	TextCharacters struct {
		Guarded int `json:"guarded"`
		Total   int `json:"total"`
	} `json:"textCharacters"`
}

type guardUsage struct {
	ContentPolicyUnits                  int `json:"contentPolicyUnits"`
	ContextualGroundingPolicyUnits      int `json:"contextualGroundingPolicyUnits"`
	SensitiveInformationPolicyFreeUnits int `json:"sensitiveInformationPolicyFreeUnits"`
	SensitiveInformationPolicyUnits     int `json:"sensitiveInformationPolicyUnits"`
	TopicPolicyUnits                    int `json:"topicPolicyUnits"`
	WordPolicyUnits                     int `json:"wordPolicyUnits"`
}

// assess checks texts against the guardrail. It reports whether they are
// blocked and the assessment.
func (g *guardrail) assess(texts []string) (bool, assessment) {
	var a assessment
	chars := 0
	blocked := false
	for _, t := range texts {
		chars += len(t)
		for _, tm := range g.topics {
			for _, re := range tm.res {
				if re.MatchString(t) {
					if a.TopicPolicy == nil {
						a.TopicPolicy = &topicPolicy{}
					}
					a.TopicPolicy.Topics = append(a.TopicPolicy.Topics, topicHit{Action: "BLOCKED", Detected: true, Name: tm.name, Type: "DENY"})
					blocked = true
					break
				}
			}
		}
		for _, re := range g.words {
			if m := re.FindString(t); m != "" {
				if a.WordPolicy == nil {
					a.WordPolicy = &wordPolicy{}
				}
				a.WordPolicy.CustomWords = append(a.WordPolicy.CustomWords, wordHit{Action: "BLOCKED", Detected: true, Match: m})
				blocked = true
			}
		}
	}
	units := (chars + 999) / 1000
	if units == 0 {
		units = 1
	}
	a.InvocationMetrics.GuardrailCoverage.TextCharacters.Guarded = chars
	a.InvocationMetrics.GuardrailCoverage.TextCharacters.Total = chars
	a.InvocationMetrics.GuardrailProcessingLatency = 50 + chars/100
	if len(g.topics) > 0 {
		a.InvocationMetrics.Usage.TopicPolicyUnits = units
	}
	if len(g.words) > 0 {
		a.InvocationMetrics.Usage.WordPolicyUnits = units
	}
	return blocked, a
}

// guardTrace is Converse's trace.guardrail (GuardrailTraceAssessment).
type guardTrace struct {
	ActionReason      string                  `json:"actionReason,omitempty"`
	InputAssessment   map[string]assessment   `json:"inputAssessment,omitempty"`
	ModelOutput       []string                `json:"modelOutput,omitempty"`
	OutputAssessments map[string][]assessment `json:"outputAssessments,omitempty"`
}

// guardOutcome is the result of running a guardrail around a generation.
type guardOutcome struct {
	g           *guardrail
	trace       string // "", enabled, enabled_full, disabled
	inBlocked   bool
	outBlocked  bool
	in          assessment
	out         assessment
	modelOutput string
}

func (o *guardOutcome) intervened() bool { return o.inBlocked || o.outBlocked }

// traceJSON is {"guardrail":{…}} for Converse's "trace" member, or nil when
// trace is off.
func (o *guardOutcome) traceJSON() []byte {
	if o == nil || (o.trace != "enabled" && o.trace != "enabled_full") {
		return nil
	}
	t := guardTrace{InputAssessment: map[string]assessment{o.g.ID: o.in}}
	if !o.inBlocked {
		t.OutputAssessments = map[string][]assessment{o.g.ID: {o.out}}
		if o.trace == "enabled_full" || o.outBlocked {
			t.ModelOutput = []string{o.modelOutput}
		}
	}
	if o.intervened() {
		t.ActionReason = "Guardrail blocked."
	} else {
		t.ActionReason = "No action."
	}
	return mustJSON(map[string]any{"guardrail": t})
}

// guardInput runs the input check: only guardContent texts when there are
// any, else every user text and the system prompt.
func (o *guardOutcome) guardInput(texts []string) {
	o.inBlocked, o.in = o.g.assess(texts)
}

// guardOutput runs the output check on the generated result, replacing
// blocked output with the guardrail's message.
func (o *guardOutcome) apply(res *genResult) {
	if o.inBlocked {
		res.Text = o.g.BlockedInputMessage
		res.Reasoning, res.ReasoningSignature, res.ToolUses = "", "", nil
		res.StopReason = "guardrail_intervened"
		res.OutputTokens = 0
		return
	}
	texts := []string{res.Text}
	for _, u := range res.ToolUses {
		texts = append(texts, string(u.Input))
	}
	o.modelOutput = res.Text
	o.outBlocked, o.out = o.g.assess(texts)
	if o.outBlocked {
		res.Text = o.g.BlockedOutputMessage
		res.Reasoning, res.ReasoningSignature, res.ToolUses = "", "", nil
		res.StopReason = "guardrail_intervened"
	}
}

// ApplyGuardrail: POST /guardrail/{id}/version/{version}/apply.
type applyGuardrailRequest struct {
	Source      string `json:"source"`
	OutputScope string `json:"outputScope"`
	Content     []struct {
		Text *struct {
			Text       string   `json:"text"`
			Qualifiers []string `json:"qualifiers"`
		} `json:"text"`
		Image json.RawMessage `json:"image"`
	} `json:"content"`
}

func (e *Emulator) serveApplyGuardrail(c *call, id, version string) {
	var req applyGuardrailRequest
	if aerr := decodeStrict(c.body, &req); aerr != nil {
		c.fail(aerr)
		return
	}
	if req.Source != "INPUT" && req.Source != "OUTPUT" {
		c.fail(validationError("1 validation error detected: Value '%s' at 'source' failed to satisfy constraint: Member must satisfy enum value set: [INPUT, OUTPUT]", req.Source))
		return
	}
	if req.OutputScope != "" && req.OutputScope != "INTERVENTIONS" && req.OutputScope != "FULL" {
		c.fail(validationError("1 validation error detected: Value '%s' at 'outputScope' failed to satisfy constraint: Member must satisfy enum value set: [INTERVENTIONS, FULL]", req.OutputScope))
		return
	}
	if len(req.Content) == 0 {
		c.fail(validationError("1 validation error detected: Value '[]' at 'content' failed to satisfy constraint: Member must have length greater than or equal to 1"))
		return
	}
	g, aerr := e.findGuardrail(id, version)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	var texts []string
	for i, b := range req.Content {
		switch {
		case b.Text != nil:
			texts = append(texts, b.Text.Text)
		case b.Image != nil:
		default:
			c.fail(validationError("The content field at content.%d is empty. Add text or an image, and try again.", i))
			return
		}
	}
	blocked, a := g.assess(texts)
	resp := map[string]any{
		"usage":             a.InvocationMetrics.Usage,
		"assessments":       []assessment{a},
		"guardrailCoverage": a.InvocationMetrics.GuardrailCoverage,
	}
	if blocked {
		msg := g.BlockedInputMessage
		if req.Source == "OUTPUT" {
			msg = g.BlockedOutputMessage
		}
		resp["action"] = "GUARDRAIL_INTERVENED"
		resp["actionReason"] = "Guardrail blocked."
		resp["outputs"] = []map[string]string{{"text": msg}}
	} else {
		resp["action"] = "NONE"
		resp["actionReason"] = "No action."
		resp["outputs"] = []map[string]string{}
	}
	c.writeJSON(mustJSON(resp), nil)
}
