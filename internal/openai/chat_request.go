package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/clip"
)

// The request half of the chat translation: an OpenAI chat request to a
// Converse request (messages and their content are in chat_content.go).

// defaultAnswerTokens is the room left for the answer beside a thinking
// budget when the request sets no max tokens.
const defaultAnswerTokens = 4096

// Bedrock's rules for tool names, tool use IDs and request metadata are a
// class of characters and a length. Written as a bounded repetition
// ({1,256}), regexp compiles one copy of the class per repetition:
// 26–150 KB each, live for the gateway's life. The class unbounded and a
// length check accept the same strings: every class here is ASCII, so
// bytes are characters.
var (
	toolNameRE    = boundedRE{regexp.MustCompile(`^[a-zA-Z0-9_-]+$`), 64}
	toolUseIDRE   = boundedRE{regexp.MustCompile(`^[a-zA-Z0-9_.:-]+$`), 64}
	metadataKeyRE = boundedRE{regexp.MustCompile(`^[a-zA-Z0-9\s:_@$#=/+,.-]+$`), 256}
	metadataValRE = boundedRE{regexp.MustCompile(`^[a-zA-Z0-9\s:_@$#=/+,.-]*$`), 256}
)

// boundedRE is a pattern and the most bytes it may match.
type boundedRE struct {
	re  *regexp.Regexp
	max int
}

func (b boundedRE) MatchString(s string) bool { return len(s) <= b.max && b.re.MatchString(s) }

// jsonError turns a decoding error into a 400 naming the field under
// prefix (e.g. "messages[2]").
func jsonError(prefix string, err error) *apiError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := joinPath(prefix, te.Field)
		if field == "" {
			return invalid("", "The request body must be a JSON object.")
		}
		return invalid(field, "Invalid type for '%s': expected %s, got %s.", field, jsonTypeName(te.Type.Kind().String()), te.Value)
	}
	if prefix == "" {
		return invalid("", "The request body is not valid: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	return invalid(prefix, "Invalid '%s': %s.", prefix, strings.TrimPrefix(err.Error(), "json: "))
}

func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// chatConverter holds the state of one request's translation.
type chatConverter struct {
	ctx      context.Context
	m        *chatModel
	caps     bedrock.ModelInfo
	fetch    fetchFunc
	req      *chatRequest
	out      *bedrock.ConverseRequest
	plan     *chatPlan
	docNames map[string]bool // made by the first document
	// toolsAsText: no toolConfig is sent, so tool calls and results in the
	// history become text (Bedrock refuses toolUse blocks without one).
	toolsAsText bool
}

// convertChatRequest translates an OpenAI chat request for model m into a
// Converse request and the plan for translating the answer back. m is
// shared by every request to the model and only read. fetch resolves
// http(s) media URLs; nil refuses them.
func convertChatRequest(ctx context.Context, req *chatRequest, m *chatModel, fetch fetchFunc) (*bedrock.ConverseRequest, *chatPlan, *apiError) {
	// Two allocations, not one: a stream keeps the plan for its whole life,
	// and a plan inside the request's allocation would keep the request
	// (the whole conversation) with it.
	c := &chatConverter{ctx: ctx, m: m, caps: m.caps(), fetch: fetch, req: req, out: &bedrock.ConverseRequest{},
		plan: &chatPlan{Model: m.Name, Stream: req.Stream}}
	if req.Stream && req.StreamOptions != nil {
		c.plan.IncludeUsage = req.StreamOptions.IncludeUsage
	}
	if req.N != nil && *req.N != 1 {
		if *req.N < 1 {
			return nil, nil, invalid("n", "'n' must be 1 or more; got %d.", *req.N)
		}
		return nil, nil, invalid("n", "'n' = %d is not supported: Bedrock returns one choice per request. Send n=1 (or omit it) and make several requests instead.", *req.N)
	}
	req.Messages, c.plan.DroppedCacheMarkers = shapeMessages(req.Messages, m.Shaping)
	if err := c.convert(); err != nil {
		return nil, nil, err
	}
	return c.out, c.plan, nil
}

// convert runs the conversion's steps in order. Method expressions, not
// method values: those would be ten closures in convertChatRequest's
// frame, which sits under the decoding of every message (see message).
func (c *chatConverter) convert() *apiError {
	for _, step := range [...]func(*chatConverter) *apiError{
		(*chatConverter).tools, (*chatConverter).responseFormat, (*chatConverter).messages,
		(*chatConverter).inference, (*chatConverter).reasoning, (*chatConverter).metadata,
		(*chatConverter).guardrail, (*chatConverter).extras, (*chatConverter).shapeFields,
		(*chatConverter).sampling,
	} {
		if err := step(c); err != nil {
			return err
		}
	}
	return nil
}

// tools translates tools, tool_choice and parallel_tool_calls.
func (c *chatConverter) tools() *apiError {
	req := c.req
	names := map[string]bool{}
	var tools []bedrock.Tool
	for i, raw := range req.Tools {
		p := "tools[" + strconv.Itoa(i) + "]"
		var t chatTool
		if err := json.Unmarshal(raw, &t); err != nil {
			return jsonError(p, err)
		}
		if t.Type != "function" {
			if t.Type == "" {
				return invalid(p+".type", "Missing required parameter: '%s.type' (only \"function\" tools are supported).", p)
			}
			return invalid(p+".type", "Tool type %q in '%s.type' is not supported; only \"function\" tools are.", t.Type, p)
		}
		if t.Function == nil {
			return invalid(p+".function", "Missing required parameter: '%s.function'.", p)
		}
		f := t.Function
		if !toolNameRE.MatchString(f.Name) {
			return invalid(p+".function.name", "Invalid '%s.function.name': %q. Tool names must be 1 to 64 characters of a-z, A-Z, 0-9, underscores and dashes.", p, clip.String(f.Name, 80, "..."))
		}
		if names[f.Name] {
			return invalid(p+".function.name", "Duplicate tool name %q in '%s.function.name'; tool names must be unique.", f.Name, p)
		}
		names[f.Name] = true
		schema := json.RawMessage(`{"type":"object","properties":{}}`)
		if !isNull(f.Parameters) {
			if t := bytes.TrimSpace(f.Parameters); len(t) == 0 || t[0] != '{' {
				return invalid(p+".function.parameters", "Invalid '%s.function.parameters': expected a JSON Schema object.", p)
			}
			schema = f.Parameters
		}
		spec := &bedrock.ToolSpecification{Name: f.Name, Description: f.Description, InputSchema: bedrock.ToolInputSchema{JSON: schema}}
		tools = append(tools, bedrock.Tool{ToolSpec: spec})
		if t.CachePoint != nil {
			cp, err := checkCachePoint(t.CachePoint, p+".cachePoint")
			if err != nil {
				return err
			}
			tools = append(tools, bedrock.Tool{CachePoint: cp})
		}
	}

	var choice *bedrock.ToolChoice
	none := false
	if !isNull(req.ToolChoice) {
		var s string
		if json.Unmarshal(req.ToolChoice, &s) == nil {
			switch s {
			case "auto":
				choice = &bedrock.ToolChoice{Auto: &struct{}{}}
			case "required":
				choice = &bedrock.ToolChoice{Any: &struct{}{}}
			case "none":
				none = true
			default:
				return invalid("tool_choice", "Invalid 'tool_choice': %q. Use \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}.", clip.String(s, 40, "..."))
			}
		} else {
			var obj struct {
				Type     string `json:"type"`
				Function *struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if err := json.Unmarshal(req.ToolChoice, &obj); err != nil {
				return invalid("tool_choice", "Invalid 'tool_choice': expected a string or an object.")
			}
			if obj.Type != "function" || obj.Function == nil || obj.Function.Name == "" {
				return invalid("tool_choice", "Invalid 'tool_choice': a named tool choice is {\"type\": \"function\", \"function\": {\"name\": ...}}.")
			}
			if !names[obj.Function.Name] {
				return invalid("tool_choice", "'tool_choice' names the tool %q, which is not in 'tools'.", clip.String(obj.Function.Name, 80, "..."))
			}
			choice = &bedrock.ToolChoice{Tool: &bedrock.SpecificToolChoice{Name: obj.Function.Name}}
		}
	}
	if len(names) == 0 {
		if choice != nil && choice.Auto == nil {
			return invalid("tool_choice", "'tool_choice' requires tools, but 'tools' is empty.")
		}
		choice, none = nil, true
	}
	if none {
		// Converse has no "none": send no tools at all.
		c.toolsAsText = true
		return nil
	}
	c.out.ToolConfig = &bedrock.ToolConfig{Tools: tools, ToolChoice: choice}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls {
		c.plan.FirstToolOnly = true
	}
	return nil
}

// responseFormat translates response_format.
func (c *chatConverter) responseFormat() *apiError {
	if isNull(c.req.ResponseFormat) {
		return nil
	}
	var rf struct {
		Type       string          `json:"type"`
		JSONSchema json.RawMessage `json:"json_schema"`
	}
	if err := json.Unmarshal(c.req.ResponseFormat, &rf); err != nil {
		return invalid("response_format", "Invalid 'response_format': expected an object such as {\"type\": \"json_object\"}.")
	}
	switch rf.Type {
	case "text":
		return nil
	case "json_object":
		c.forceJSONTool("json_response", "Respond with your answer as a JSON object.", json.RawMessage(`{"type":"object"}`))
		return nil
	case "json_schema":
	case "":
		return invalid("response_format.type", "Missing required parameter: 'response_format.type'.")
	default:
		return invalid("response_format.type", "Invalid 'response_format.type': %q. Supported: \"text\", \"json_object\", \"json_schema\".", clip.String(rf.Type, 40, "..."))
	}
	var js struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
	}
	if isNull(rf.JSONSchema) {
		return invalid("response_format.json_schema", "Missing required parameter: 'response_format.json_schema'.")
	}
	if err := json.Unmarshal(rf.JSONSchema, &js); err != nil {
		return jsonError("response_format.json_schema", err)
	}
	if !toolNameRE.MatchString(js.Name) {
		return invalid("response_format.json_schema.name", "Invalid 'response_format.json_schema.name': %q. Names must be 1 to 64 characters of a-z, A-Z, 0-9, underscores and dashes.", clip.String(js.Name, 80, "..."))
	}
	if t := bytes.TrimSpace(js.Schema); len(t) == 0 || t[0] != '{' {
		return invalid("response_format.json_schema.schema", "Invalid 'response_format.json_schema.schema': expected a JSON Schema object.")
	}
	if c.caps.StructuredOutput {
		var compact bytes.Buffer
		json.Compact(&compact, js.Schema)
		c.out.OutputConfig = &bedrock.OutputConfig{TextFormat: &bedrock.OutputFormat{
			Type: "json_schema",
			Structure: &bedrock.OutputFormatStructure{JSONSchema: &bedrock.JSONSchemaDefinition{
				Schema: compact.String(), Name: js.Name, Description: js.Description,
			}},
		}}
		return nil
	}
	desc := js.Description
	if desc == "" {
		desc = "Respond with your answer, as this tool's input."
	}
	c.forceJSONTool(js.Name, desc, js.Schema)
	return nil
}

// forceJSONTool stands in for structured output on models without it: a
// tool whose input schema is the requested one, forced, whose input is the
// answer. With tools of the client's own, the model must call one of them
// or the answer tool (toolChoice any), unless the client named a tool.
func (c *chatConverter) forceJSONTool(name, description string, schema json.RawMessage) {
	tc := c.out.ToolConfig
	if tc == nil {
		tc = &bedrock.ToolConfig{}
	}
	taken := map[string]bool{}
	for _, t := range tc.Tools {
		if t.ToolSpec != nil {
			taken[t.ToolSpec.Name] = true
		}
	}
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("json_response_%d", i)
	}
	tc.Tools = append(tc.Tools, bedrock.Tool{ToolSpec: &bedrock.ToolSpecification{
		Name: name, Description: description, InputSchema: bedrock.ToolInputSchema{JSON: schema},
	}})
	switch {
	case len(taken) == 0:
		tc.ToolChoice = &bedrock.ToolChoice{Tool: &bedrock.SpecificToolChoice{Name: name}}
	case tc.ToolChoice == nil || tc.ToolChoice.Tool == nil:
		tc.ToolChoice = &bedrock.ToolChoice{Any: &struct{}{}}
	}
	c.out.ToolConfig = tc
	c.plan.JSONTool = name
}

// inference translates max tokens and stop sequences; temperature and top_p
// are checked here and placed by sampling.
func (c *chatConverter) inference() *apiError {
	req := c.req
	ic := &bedrock.InferenceConfig{}
	for _, f := range []struct {
		name string
		v    *int
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if f.v != nil && *f.v < 1 {
			return invalid(f.name, "Invalid '%s': %d; it must be at least 1.", f.name, *f.v)
		}
	}
	// max_completion_tokens replaced max_tokens in OpenAI's API; it wins.
	ic.MaxTokens = req.MaxCompletionTokens
	if ic.MaxTokens == nil {
		ic.MaxTokens = req.MaxTokens
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"temperature", req.Temperature}, {"top_p", req.TopP}} {
		if f.v != nil && (*f.v < 0 || *f.v > 1) {
			return invalid(f.name, "Invalid '%s': %s. Bedrock accepts values from 0 to 1 (OpenAI's range goes to 2 for temperature; Bedrock's does not).", f.name, strconv.FormatFloat(*f.v, 'g', -1, 64))
		}
	}
	ic.Temperature, ic.TopP = req.Temperature, req.TopP
	if !isNull(req.Stop) {
		var one string
		var many []string
		switch {
		case json.Unmarshal(req.Stop, &one) == nil:
			many = []string{one}
		case json.Unmarshal(req.Stop, &many) == nil:
		default:
			return invalid("stop", "Invalid type for 'stop': expected a string or an array of strings.")
		}
		for _, s := range many {
			// Bedrock refuses empty stop sequences; an empty one stops nothing.
			if s != "" {
				ic.StopSequences = append(ic.StopSequences, s)
			}
		}
		if len(ic.StopSequences) > 0 && c.m.family() == bedrock.FamilyAnthropic {
			// Claude says which sequence matched when asked.
			c.out.AdditionalModelResponseFieldPaths = append(c.out.AdditionalModelResponseFieldPaths, "/stop_sequence")
		}
		c.plan.StopSequences = ic.StopSequences
	}
	c.out.InferenceConfig = ic
	return nil
}

// reasoning translates reasoning_effort, or reasoningConfig, per family.
func (c *chatConverter) reasoning() *apiError {
	effort := c.req.ReasoningEffort
	switch effort {
	case "", "none", "minimal":
	case "low", "medium", "high":
	default:
		return invalid("reasoning_effort", "Invalid 'reasoning_effort': %q. Supported: none, minimal, low, medium, high.", clip.String(effort, 40, "..."))
	}
	budget := 0 // Claude's thinking budget, when reasoningConfig sets one
	if !isNull(c.req.ReasoningConfig) {
		if effort != "" {
			return invalid("reasoningConfig", "'reasoning_effort' and 'reasoningConfig' both set reasoning; send one of them.")
		}
		var aerr *apiError
		if effort, budget, aerr = reasoningConfigOf(c.req.ReasoningConfig); aerr != nil {
			return aerr
		}
	}
	if effort == "" || effort == "none" || effort == "minimal" {
		return nil
	}
	switch {
	case c.caps.Reasoning == bedrock.ReasoningThinking:
		if tc := c.out.ToolConfig; tc != nil && tc.ToolChoice != nil && tc.ToolChoice.Auto == nil {
			// Claude refuses thinking when a tool call is forced (tool_choice
			// required or named, or the response_format tool): the forced
			// call wins and thinking is left off.
			return nil
		}
		if c.midToolLoop() && !c.signedToolTurn() {
			// With thinking on, Claude wants the assistant's tool-use turn to
			// begin with its signed thinking block, which OpenAI clients do
			// not send back: this turn goes without thinking.
			return nil
		}
		if budget == 0 {
			budget, _ = bedrock.ThinkingBudget(effort)
		}
		answer := defaultAnswerTokens
		ic := c.out.InferenceConfig
		if ic.MaxTokens != nil {
			answer = *ic.MaxTokens
		}
		total := budget + answer
		ic.MaxTokens = &total
		// Claude refuses temperature and top_p with thinking.
		ic.Temperature, ic.TopP = nil, nil
		c.setAdditional("thinking", map[string]any{"type": "enabled", "budget_tokens": budget})
	case c.caps.Reasoning == bedrock.ReasoningEffort:
		c.setAdditional("reasoningConfig", map[string]any{"type": "enabled", "maxReasoningEffort": effort})
	}
	return nil
}

// reasoningConfigOf reads a reasoningConfig member: an effort (Nova's
// maxReasoningEffort, else the one a budget falls in) and Claude's budget
// (budgetTokens, else none: the effort's). Enabled with neither is medium;
// disabled is no effort.
func reasoningConfigOf(raw json.RawMessage) (effort string, budget int, aerr *apiError) {
	var rc struct {
		Type               string `json:"type"`
		BudgetTokens       *int   `json:"budgetTokens"`
		MaxReasoningEffort string `json:"maxReasoningEffort"`
	}
	if err := json.Unmarshal(raw, &rc); err != nil {
		return "", 0, jsonError("reasoningConfig", err)
	}
	switch rc.Type {
	case "disabled":
		return "", 0, nil
	case "enabled":
	case "":
		return "", 0, invalid("reasoningConfig.type", "Missing required parameter: 'reasoningConfig.type' (enabled or disabled).")
	default:
		return "", 0, invalid("reasoningConfig.type", "Invalid 'reasoningConfig.type': %q. Use enabled or disabled.", clip.String(rc.Type, 40, "..."))
	}
	switch rc.MaxReasoningEffort {
	case "", "low", "medium", "high":
	default:
		return "", 0, invalid("reasoningConfig.maxReasoningEffort", "Invalid 'reasoningConfig.maxReasoningEffort': %q. Supported: low, medium, high.", clip.String(rc.MaxReasoningEffort, 40, "..."))
	}
	effort = rc.MaxReasoningEffort
	if b := rc.BudgetTokens; b != nil {
		if *b < bedrock.MinThinkingBudget {
			return "", 0, invalid("reasoningConfig.budgetTokens", "Invalid 'reasoningConfig.budgetTokens': %d; it must be at least %d.", *b, bedrock.MinThinkingBudget)
		}
		budget = *b
		if effort == "" {
			effort = bedrock.ReasoningEffortFor(budget)
		}
	}
	if effort == "" {
		effort = "medium"
	}
	return effort, budget, nil
}

// midToolLoop reports whether the last assistant turn called tools (the
// request carries their results).
func (c *chatConverter) midToolLoop() bool {
	for i := len(c.out.Messages) - 1; i >= 0; i-- {
		m := c.out.Messages[i]
		if m.Role != bedrock.RoleAssistant {
			continue
		}
		for _, b := range m.Content {
			if b.ToolUse != nil {
				return true
			}
		}
		return false
	}
	return false
}

func (c *chatConverter) setAdditional(key string, v any) {
	if c.out.AdditionalModelRequestFields == nil {
		c.out.AdditionalModelRequestFields = map[string]any{}
	}
	c.out.AdditionalModelRequestFields[key] = v
}

// metadata translates user and metadata into requestMetadata, within
// Bedrock's limits (16 entries; keys 1-256 and values 0-256 characters of
// letters, digits, whitespace and :_@$#=/+,.-).
func (c *chatConverter) metadata() *apiError {
	var md map[string]string // made for the first entry
	if !isNull(c.req.Metadata) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c.req.Metadata, &m); err != nil {
			return invalid("metadata", "Invalid type for 'metadata': expected an object of string values.")
		}
		for k, raw := range m {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return invalid("metadata."+k, "Invalid type for 'metadata.%s': expected a string.", clip.String(k, 64, "..."))
			}
			if !metadataKeyRE.MatchString(k) {
				return invalid("metadata", "Invalid key in 'metadata': %q. Keys must be 1 to 256 characters of letters, digits, whitespace and :_@$#=/+,.-", clip.String(k, 64, "..."))
			}
			if !metadataValRE.MatchString(v) {
				return invalid("metadata."+k, "Invalid value for 'metadata.%s': values must be at most 256 characters of letters, digits, whitespace and :_@$#=/+,.-", clip.String(k, 64, "..."))
			}
			if md == nil {
				md = make(map[string]string, len(m)+1)
			}
			md[k] = v
		}
	}
	if u := c.req.User; u != "" {
		if !metadataValRE.MatchString(u) {
			return invalid("user", "Invalid 'user': it must be at most 256 characters of letters, digits, whitespace and :_@$#=/+,.- (it is sent to Bedrock as request metadata).")
		}
		if _, set := md["user"]; !set {
			if md == nil {
				md = map[string]string{}
			}
			md["user"] = u
		}
	}
	if len(md) > 16 {
		return invalid("metadata", "'metadata' has %d entries (with 'user'); Bedrock accepts at most 16.", len(md))
	}
	if len(md) > 0 {
		c.out.RequestMetadata = md
	}
	return nil
}

// guardrail applies the model's configured guardrail, which a request
// cannot replace (it may only set trace and streamProcessingMode), or else
// the request's own guardrailConfig.
func (c *chatConverter) guardrail() *apiError {
	rg := c.req.GuardrailConfig
	if rg != nil {
		switch rg.Trace {
		case "", "enabled", "disabled", "enabled_full":
		default:
			return invalid("guardrailConfig.trace", "Invalid 'guardrailConfig.trace': %q. Use enabled, disabled or enabled_full.", clip.String(rg.Trace, 40, "..."))
		}
		switch rg.StreamProcessingMode {
		case "", "sync", "async":
		default:
			return invalid("guardrailConfig.streamProcessingMode", "Invalid 'guardrailConfig.streamProcessingMode': %q. Use sync or async.", clip.String(rg.StreamProcessingMode, 40, "..."))
		}
	}
	var g *bedrock.GuardrailConfig
	if mg := c.m.Guardrail; mg != nil {
		g = &bedrock.GuardrailConfig{GuardrailIdentifier: mg.Identifier, GuardrailVersion: mg.Version, Trace: mg.Trace}
		if rg != nil {
			if (rg.GuardrailIdentifier != "" && rg.GuardrailIdentifier != mg.Identifier) ||
				(rg.GuardrailVersion != "" && rg.GuardrailVersion != mg.Version) {
				return invalid("guardrailConfig.guardrailIdentifier", "This model's guardrail is set by the gateway's configuration and cannot be replaced; a request may only set 'guardrailConfig.trace' and 'guardrailConfig.streamProcessingMode'.")
			}
			if rg.Trace != "" {
				g.Trace = rg.Trace
			}
			g.StreamProcessingMode = rg.StreamProcessingMode
		}
	} else if rg != nil {
		if rg.GuardrailIdentifier == "" || rg.GuardrailVersion == "" {
			return invalid("guardrailConfig", "'guardrailConfig' needs guardrailIdentifier and guardrailVersion.")
		}
		cp := *rg
		g = &cp
	}
	if g != nil && !c.plan.Stream {
		// streamProcessingMode exists for ConverseStream only.
		g.StreamProcessingMode = ""
	}
	c.out.GuardrailConfig = g
	return nil
}

// extras translates the Bedrock members of the body and service_tier.
func (c *chatConverter) extras() *apiError {
	req := c.req
	if !isNull(req.AdditionalModelRequestFields) {
		var extra map[string]any
		if err := json.Unmarshal(req.AdditionalModelRequestFields, &extra); err != nil || extra == nil {
			return invalid("additionalModelRequestFields", "Invalid type for 'additionalModelRequestFields': expected an object.")
		}
		// The request's fields win over what the gateway computed.
		for k, v := range extra {
			c.setAdditional(k, v)
		}
	}
	if pc := req.PerformanceConfig; pc != nil {
		switch pc.Latency {
		case "standard", "optimized":
		default:
			return invalid("performanceConfig.latency", "Invalid 'performanceConfig.latency': %q. Use standard or optimized.", clip.String(pc.Latency, 40, "..."))
		}
		c.out.PerformanceConfig = pc
	}
	switch req.ServiceTier {
	case "", "auto":
	case "default", "flex", "priority":
		c.out.ServiceTier = &bedrock.ServiceTier{Type: req.ServiceTier}
	default:
		return invalid("service_tier", "Invalid 'service_tier': %q. Supported: auto, default, flex, priority.", clip.String(req.ServiceTier, 40, "..."))
	}
	if st := req.BedrockServiceTier; st != nil {
		switch st.Type {
		case "priority", "default", "flex", "reserved":
		default:
			return invalid("serviceTier.type", "Invalid 'serviceTier.type': %q. Use priority, default, flex or reserved.", clip.String(st.Type, 40, "..."))
		}
		c.out.ServiceTier = st
	}
	for i, p := range req.AdditionalModelResponseFieldPaths {
		if p == "" || p[0] != '/' || len(p) > 256 {
			return invalid(fmt.Sprintf("additionalModelResponseFieldPaths[%d]", i), "Invalid 'additionalModelResponseFieldPaths[%d]': %q is not a JSON Pointer such as /stop_sequence.", i, clip.String(p, 60, "..."))
		}
		if !containsString(c.out.AdditionalModelResponseFieldPaths, p) {
			c.out.AdditionalModelResponseFieldPaths = append(c.out.AdditionalModelResponseFieldPaths, p)
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sampling refuses temperature with top_p for models that reject the pair,
// with a clear 400 instead of Bedrock's opaque one, and drops an empty
// inferenceConfig.
func (c *chatConverter) sampling() *apiError {
	ic := c.out.InferenceConfig
	if c.caps.ExclusiveSampling && ic.Temperature != nil && ic.TopP != nil {
		return invalid("temperature", "'temperature' and 'top_p' cannot both be set for %s: this model accepts only one of them. Remove one (check the model's bedrock_temperature/bedrock_top_p defaults too).", c.m.Name)
	}
	if ic.MaxTokens == nil && ic.Temperature == nil && ic.TopP == nil && len(ic.StopSequences) == 0 {
		c.out.InferenceConfig = nil
	}
	return nil
}
