package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/bedrock/shaping"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// This file holds the pure translations of the chat surface: an OpenAI
// request to a Converse request, a Converse response to a chat.completion,
// and ConverseStream events to chat.completion.chunks. They do no I/O except
// through the fetch function given for http(s) media URLs, and are tested
// by the golden files in testdata/chat.

// chatModel is what the translation needs to know about the served model.
type chatModel struct {
	Name         string          `json:"name"`
	ModelID      string          `json:"model_id"`
	Family       bedrock.Family  `json:"family,omitempty"` // empty: from ModelID
	SystemPrompt string          `json:"system_prompt,omitempty"`
	Guardrail    *modelGuardrail `json:"guardrail,omitempty"`
	Defaults     map[string]any  `json:"defaults,omitempty"`
	// Shaping is the model's request shaping (shaping.go); nil: none.
	Shaping *config.Shaping `json:"shaping,omitempty"`
}

// modelGuardrail is a guardrail configured for a model: it applies to every
// request and a request cannot replace it.
type modelGuardrail struct {
	Identifier string `json:"identifier"`
	Version    string `json:"version"`
	Trace      string `json:"trace,omitempty"`
}

func chatModelOf(m *upstream.Model) chatModel {
	cm := chatModel{Name: m.Name, ModelID: m.ModelID, Family: m.Family, SystemPrompt: m.SystemPrompt, Defaults: m.Defaults}
	if m.Kind == config.KindChat {
		cm.Shaping = withShapingDefaults(m.Shaping)
	}
	if g := m.Guardrail; g != nil {
		cm.Guardrail = &modelGuardrail{Identifier: g.Identifier, Version: g.Version, Trace: g.Trace}
	}
	return cm
}

func (m *chatModel) family() bedrock.Family {
	if m.Family != "" {
		return m.Family
	}
	return bedrock.ModelFamily(m.ModelID)
}

// chatPlan is what the response translation needs to know about the request.
type chatPlan struct {
	Model        string `json:"model"` // the served model name, echoed in responses
	Stream       bool   `json:"stream,omitempty"`
	IncludeUsage bool   `json:"include_usage,omitempty"`
	// JSONTool names the forced tool standing in for response_format: its
	// input is the answer, returned as the message content.
	JSONTool string `json:"json_tool,omitempty"`
	// FirstToolOnly is parallel_tool_calls: false. Converse has no such
	// switch, so the gateway returns only the first tool call.
	FirstToolOnly bool `json:"first_tool_only,omitempty"`
	// StopSequences tell which one matched when Bedrock does not say.
	StopSequences []string `json:"stop_sequences,omitempty"`
}

// fetchFunc fetches an http(s) media URL: its bytes and MIME type.
type fetchFunc func(ctx context.Context, rawURL string) ([]byte, string, error)

// Model capabilities. One place decides what the gateway may ask of a model
// in Converse; everything else asks these functions.

// claudeVersion parses the generation of a Claude model ID
// ("anthropic.claude-sonnet-4-5-20250929-v1:0" is 4.5,
// "us.anthropic.claude-3-7-sonnet-20250219-v1:0" is 3.7). ok is false for
// IDs that do not name a Claude model (application inference profiles).
func claudeVersion(modelID string) (major, minor int, ok bool) {
	id := strings.ToLower(modelID)
	i := strings.Index(id, "claude-")
	if i < 0 {
		return 0, 0, false
	}
	var nums [2]int
	found := 0
	for seg := range strings.SplitSeq(id[i+len("claude-"):], "-") {
		n, err := strconv.Atoi(seg)
		switch {
		case err == nil && len(seg) <= 2:
			nums[found] = n
			if found++; found == 2 {
				return nums[0], nums[1], true
			}
		case found > 0:
			// A date or "v1:0" ends the version.
			return nums[0], 0, true
		}
	}
	if found > 0 {
		return nums[0], 0, true
	}
	return 0, 0, false
}

// claudeAtLeast reports whether modelID is a Claude model of generation
// major.minor or later.
func claudeAtLeast(modelID string, major, minor int) bool {
	ma, mi, ok := claudeVersion(modelID)
	return ok && (ma > major || ma == major && mi >= minor)
}

// modelCaps are the Converse features the gateway relies on per model.
type modelCaps struct {
	// StructuredOutput: outputConfig.textFormat (json_schema). Claude 4.5
	// and later. (The emulator's catalogue accepts it for more models; the
	// gateway sends it only where real Bedrock is known to take it and uses
	// a forced tool elsewhere, which every tool-calling model accepts.)
	StructuredOutput bool
	// ExclusiveSampling: temperature and top_p may not both be set (Claude
	// 4.5 and later reject the pair).
	ExclusiveSampling bool
	// Thinking: Claude extended thinking (3.7 and later).
	Thinking bool
	// NovaReasoning: Nova reasoningConfig (Nova 2 and Premier).
	NovaReasoning bool
}

func capsOf(m *chatModel) modelCaps {
	switch m.family() {
	case bedrock.FamilyAnthropic:
		return modelCaps{
			StructuredOutput:  claudeAtLeast(m.ModelID, 4, 5),
			ExclusiveSampling: claudeAtLeast(m.ModelID, 4, 5),
			Thinking:          claudeAtLeast(m.ModelID, 3, 7),
		}
	case bedrock.FamilyNova:
		id := strings.ToLower(m.ModelID)
		return modelCaps{NovaReasoning: strings.Contains(id, "nova-2-") || strings.Contains(id, "nova-premier")}
	}
	return modelCaps{}
}

// Claude thinking budgets for reasoning_effort.
var thinkingBudget = map[string]int{"low": 1024, "medium": 4096, "high": 16384}

// defaultAnswerTokens is the room left for the answer beside a thinking
// budget when the request sets no max tokens.
const defaultAnswerTokens = 4096

var (
	toolNameRE    = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	toolUseIDRE   = regexp.MustCompile(`^[a-zA-Z0-9_.:-]{1,64}$`)
	metadataKeyRE = regexp.MustCompile(`^[a-zA-Z0-9\s:_@$#=/+,.-]{1,256}$`)
	metadataValRE = regexp.MustCompile(`^[a-zA-Z0-9\s:_@$#=/+,.-]{0,256}$`)
)

// aliases are request members that set the same thing: a default for one
// does not apply when the request sets the other.
var aliases = map[string]string{"max_tokens": "max_completion_tokens", "max_completion_tokens": "max_tokens"}

// decodeChatRequest decodes a request body's members into a chatRequest,
// with the model's defaults (OpenAI field names) filling the members the
// request does not set.
func decodeChatRequest(members map[string]json.RawMessage, defaults map[string]any) (*chatRequest, *apiError) {
	if len(defaults) > 0 {
		// set asks about the request's own members: a default added here
		// must not stop the default for its alias (which one would depend
		// on the map's order).
		given := members
		members = maps.Clone(members)
		set := func(k string) bool { raw, ok := given[k]; return ok && !isNull(raw) }
		for k, v := range defaults {
			if set(k) || (aliases[k] != "" && set(aliases[k])) {
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				continue // not representable in JSON: a config bug, not the client's
			}
			members[k] = b
		}
	}
	data, err := json.Marshal(members)
	if err != nil {
		return nil, invalid("", "The request body is not valid JSON.")
	}
	req := new(chatRequest)
	if err := json.Unmarshal(data, req); err != nil {
		return nil, jsonError("", err)
	}
	return req, nil
}

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
	caps     modelCaps
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
	// The two results, allocated together.
	r := &struct {
		out  bedrock.ConverseRequest
		plan chatPlan
	}{plan: chatPlan{Model: m.Name, Stream: req.Stream}}
	c := &chatConverter{ctx: ctx, m: m, caps: capsOf(m), fetch: fetch, req: req, out: &r.out, plan: &r.plan}
	if req.Stream && req.StreamOptions != nil {
		c.plan.IncludeUsage = req.StreamOptions.IncludeUsage
	}
	if req.N != nil && *req.N != 1 {
		if *req.N < 1 {
			return nil, nil, invalid("n", "'n' must be 1 or more; got %d.", *req.N)
		}
		return nil, nil, invalid("n", "'n' = %d is not supported: Bedrock returns one choice per request. Send n=1 (or omit it) and make several requests instead.", *req.N)
	}
	req.Messages = shapeMessages(req.Messages, m.Shaping)
	steps := []func() *apiError{
		c.tools, c.responseFormat, c.messages, c.inference, c.reasoning,
		c.metadata, c.guardrail, c.extras, c.shapeFields, c.sampling,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	return c.out, c.plan, nil
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
			return invalid(p+".function.name", "Invalid '%s.function.name': %q. Tool names must be 1 to 64 characters of a-z, A-Z, 0-9, underscores and dashes.", p, clipString(f.Name, 80))
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
				return invalid("tool_choice", "Invalid 'tool_choice': %q. Use \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}.", clipString(s, 40))
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
				return invalid("tool_choice", "'tool_choice' names the tool %q, which is not in 'tools'.", clipString(obj.Function.Name, 80))
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
		return invalid("response_format.type", "Invalid 'response_format.type': %q. Supported: \"text\", \"json_object\", \"json_schema\".", clipString(rf.Type, 40))
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
		return invalid("response_format.json_schema.name", "Invalid 'response_format.json_schema.name': %q. Names must be 1 to 64 characters of a-z, A-Z, 0-9, underscores and dashes.", clipString(js.Name, 80))
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

// messages translates the conversation.
func (c *chatConverter) messages() *apiError {
	if c.req.Messages == nil {
		return invalid("messages", "Missing required parameter: 'messages'.")
	}
	if len(c.req.Messages) == 0 {
		return invalid("messages", "'messages' is empty; send at least one message.")
	}
	if s := strings.TrimSpace(c.m.SystemPrompt); s != "" {
		c.out.System = append(c.out.System, bedrock.SystemText(c.m.SystemPrompt))
	}
	turns := make([]bedrock.Message, 0, len(c.req.Messages))
	add := func(role string, blocks []bedrock.ContentBlock) {
		// Bedrock requires alternating roles: consecutive messages of one
		// role (tool results and the user message after them, say) merge.
		if n := len(turns); n > 0 && turns[n-1].Role == role {
			turns[n-1].Content = append(turns[n-1].Content, blocks...)
			return
		}
		turns = append(turns, bedrock.Message{Role: role, Content: blocks})
	}
	var msg chatMessage // one for every message: decoding moves it to the heap
	for i, raw := range c.req.Messages {
		p := "messages[" + strconv.Itoa(i) + "]"
		msg = chatMessage{}
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			return invalid(p, "Invalid '%s': expected a message object.", p)
		}
		if err := json.Unmarshal(raw, &msg); err != nil {
			return jsonError(p, err)
		}
		marker, aerr := messageCachePoint(&msg, p)
		if aerr != nil {
			return aerr
		}
		switch msg.Role {
		case "system", "developer":
			blocks, aerr := c.textContent(msg.Content, p, false)
			if aerr != nil {
				return aerr
			}
			if len(blocks) == 0 {
				return invalid(p+".content", "'%s' is empty: a %s message needs non-blank text.", p, msg.Role)
			}
			for _, b := range blocks {
				if b.CachePoint != nil {
					c.out.System = append(c.out.System, bedrock.SystemContentBlock{CachePoint: b.CachePoint})
				} else {
					c.out.System = append(c.out.System, bedrock.SystemText(b.Text))
				}
			}
			if marker != nil {
				c.out.System = append(c.out.System, bedrock.SystemContentBlock{CachePoint: marker})
			}
		case "user":
			blocks, aerr := c.userContent(msg.Content, p)
			if aerr != nil {
				return aerr
			}
			if !hasContent(blocks) {
				return invalid(p+".content", "'%s' is empty: its content is missing or blank, and Bedrock refuses blank text.", p)
			}
			add(bedrock.RoleUser, withCachePoint(blocks, marker))
		case "assistant":
			blocks, aerr := c.assistantContent(&msg, p)
			if aerr != nil {
				return aerr
			}
			if !hasContent(blocks) {
				return invalid(p+".content", "'%s' is empty: an assistant message needs non-blank content or tool_calls.", p)
			}
			add(bedrock.RoleAssistant, withCachePoint(blocks, marker))
		case "tool":
			block, aerr := c.toolResult(&msg, p)
			if aerr != nil {
				return aerr
			}
			add(bedrock.RoleUser, withCachePoint([]bedrock.ContentBlock{block}, marker))
		case "":
			return invalid(p+".role", "Missing required parameter: '%s.role'.", p)
		case "function":
			return invalid(p+".role", "The deprecated 'function' role in '%s.role' is not supported; use tool_calls and 'tool' messages.", p)
		default:
			return invalid(p+".role", "Invalid value for '%s.role': %q. Supported roles: system, developer, user, assistant, tool.", p, clipString(msg.Role, 40))
		}
	}
	if len(turns) == 0 {
		return invalid("messages", "'messages' has no user or assistant message; Bedrock needs a conversation, not only a system prompt.")
	}
	c.out.Messages = turns
	return nil
}

func hasContent(blocks []bedrock.ContentBlock) bool {
	for _, b := range blocks {
		if b.CachePoint == nil {
			return true
		}
	}
	return false
}

func withCachePoint(blocks []bedrock.ContentBlock, cp *bedrock.CachePointBlock) []bedrock.ContentBlock {
	if cp != nil {
		blocks = append(blocks, bedrock.ContentBlock{CachePoint: cp})
	}
	return blocks
}

// messageCachePoint reads a message's cache marker (cache_control or
// cachePoint).
func messageCachePoint(msg *chatMessage, p string) (*bedrock.CachePointBlock, *apiError) {
	return cacheMarker(msg.CacheControl, msg.CachePoint, p)
}

func cacheMarker(cc *cacheControl, cp *bedrock.CachePointBlock, p string) (*bedrock.CachePointBlock, *apiError) {
	switch {
	case cp != nil:
		return checkCachePoint(cp, p+".cachePoint")
	case cc != nil:
		if cc.Type != "ephemeral" {
			return nil, invalid(p+".cache_control.type", "Invalid '%s.cache_control.type': %q; only \"ephemeral\" is supported.", p, clipString(cc.Type, 40))
		}
		return checkCachePoint(&bedrock.CachePointBlock{Type: "default", TTL: cc.TTL}, p+".cache_control")
	}
	return nil, nil
}

func checkCachePoint(cp *bedrock.CachePointBlock, p string) (*bedrock.CachePointBlock, *apiError) {
	out := *cp
	if out.Type == "" {
		out.Type = "default"
	}
	if out.Type != "default" {
		return nil, invalid(p+".type", "Invalid '%s.type': %q; only \"default\" is supported.", p, clipString(out.Type, 40))
	}
	switch out.TTL {
	case "", "5m", "1h":
	default:
		return nil, invalid(p+".ttl", "Invalid '%s.ttl': %q; use \"5m\" or \"1h\".", p, clipString(out.TTL, 40))
	}
	return &out, nil
}

// decodeContent splits a message's content into its string form (isText)
// or its parts. A missing or null content is neither.
func decodeContent(raw json.RawMessage, p string) (text string, isText bool, parts []contentPart, err *apiError) {
	if isNull(raw) {
		return "", false, nil, nil
	}
	switch bytes.TrimSpace(raw)[0] {
	case '"':
		s, ok := jsonString(raw)
		if !ok {
			return "", false, nil, invalid(p+".content", "Invalid '%s.content': not a valid string.", p)
		}
		return s, true, nil, nil
	case '[':
		var raws []json.RawMessage
		if e := json.Unmarshal(raw, &raws); e != nil {
			return "", false, nil, invalid(p+".content", "Invalid '%s.content': not a valid array.", p)
		}
		parts = make([]contentPart, len(raws))
		for j, r := range raws {
			pp := contentPath(p, j)
			if t := bytes.TrimSpace(r); len(t) == 0 || t[0] != '{' {
				return "", false, nil, invalid(pp, "Invalid '%s': expected a content part object such as {\"type\": \"text\", \"text\": ...}.", pp)
			}
			if e := json.Unmarshal(r, &parts[j]); e != nil {
				return "", false, nil, jsonError(pp, e)
			}
		}
		return "", false, parts, nil
	}
	return "", false, nil, invalid(p+".content", "Invalid type for '%s.content': expected a string or an array of content parts.", p)
}

// contentPath is the path of part j of the content of message path p.
func contentPath(p string, j int) string { return p + ".content[" + strconv.Itoa(j) + "]" }

// jsonString decodes a JSON string as json.Unmarshal does; ok is false when
// raw is not one. A string without escapes is taken as it is, the
// common case, without the decoder.
func jsonString(raw []byte) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		inner := raw[1 : n-1]
		plain := true
		for _, c := range inner {
			if c < ' ' || c == '"' || c == '\\' {
				plain = false
				break
			}
		}
		if plain && utf8.Valid(inner) {
			return string(inner), true
		}
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err == nil
}

// textContent reads content that may hold only text (system, developer,
// tool messages; assistant text with refusals when refusals is set). Blank
// text is dropped: Bedrock refuses blank text blocks.
func (c *chatConverter) textContent(raw json.RawMessage, p string, refusals bool) ([]bedrock.ContentBlock, *apiError) {
	text, isText, parts, aerr := decodeContent(raw, p)
	if aerr != nil {
		return nil, aerr
	}
	if isText {
		return textBlocks(text), nil
	}
	var out []bedrock.ContentBlock
	for j, part := range parts {
		pp := contentPath(p, j)
		var s *string
		switch {
		case part.Type == "text":
			if part.Text == nil {
				return nil, invalid(pp+".text", "Missing required parameter: '%s.text'.", pp)
			}
			s = part.Text
		case part.Type == "refusal" && refusals:
			if part.Refusal == nil {
				return nil, invalid(pp+".refusal", "Missing required parameter: '%s.refusal'.", pp)
			}
			s = part.Refusal
		case part.Type == "":
			return nil, invalid(pp+".type", "Missing required parameter: '%s.type'.", pp)
		default:
			return nil, invalid(pp+".type", "Invalid '%s.type': %q is not allowed in this message; only text is.", pp, clipString(part.Type, 40))
		}
		out = append(out, textBlocks(*s)...)
		cp, aerr := cacheMarker(part.CacheControl, part.CachePoint, pp)
		if aerr != nil {
			return nil, aerr
		}
		out = withCachePoint(out, cp)
	}
	return out, nil
}

// textBlocks is s as one text block, or none when it is blank: Bedrock
// refuses blank text blocks.
func textBlocks(s string) []bedrock.ContentBlock {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return []bedrock.ContentBlock{bedrock.TextBlock(s)}
}

// userContent reads a user message: text and media parts.
func (c *chatConverter) userContent(raw json.RawMessage, p string) ([]bedrock.ContentBlock, *apiError) {
	text, isText, parts, aerr := decodeContent(raw, p)
	if aerr != nil {
		return nil, aerr
	}
	if isText {
		return textBlocks(text), nil
	}
	var out []bedrock.ContentBlock
	for j, part := range parts {
		pp := contentPath(p, j)
		switch part.Type {
		case "text":
			if part.Text == nil {
				return nil, invalid(pp+".text", "Missing required parameter: '%s.text'.", pp)
			}
			out = append(out, textBlocks(*part.Text)...)
		case "image_url":
			if part.ImageURL == nil || strings.TrimSpace(part.ImageURL.URL) == "" {
				return nil, invalid(pp+".image_url", "Missing required parameter: '%s.image_url.url'.", pp)
			}
			img, aerr := c.image(part.ImageURL.URL, pp+".image_url")
			if aerr != nil {
				return nil, aerr
			}
			out = append(out, bedrock.ContentBlock{Image: img})
		case "input_audio":
			a := part.InputAudio
			if a == nil || a.Data == "" {
				return nil, invalid(pp+".input_audio", "Missing required parameter: '%s.input_audio.data'.", pp)
			}
			format := strings.ToLower(a.Format)
			if !mediaAudioFormats[format] {
				return nil, invalid(pp+".input_audio.format", "Invalid '%s.input_audio.format': %q. Supported: wav, mp3 (and Bedrock's other audio formats).", pp, clipString(a.Format, 40))
			}
			data, err := decodeBase64Lenient(a.Data)
			if err != nil || len(data) == 0 {
				return nil, invalid(pp+".input_audio.data", "Invalid '%s.input_audio.data': expected base64-encoded audio.", pp)
			}
			out = append(out, bedrock.ContentBlock{Audio: &bedrock.AudioBlock{Format: format, Source: bedrock.MediaSource{Bytes: data}}})
		case "video_url", "audio_url":
			u, kind := part.VideoURL, "video"
			if part.Type == "audio_url" {
				u, kind = part.AudioURL, "audio"
			}
			b, aerr := c.urlMedia(kind, u, pp+"."+part.Type)
			if aerr != nil {
				return nil, aerr
			}
			out = append(out, b)
		case "file":
			doc, aerr := c.document(part.File, pp+".file")
			if aerr != nil {
				return nil, aerr
			}
			out = append(out, bedrock.ContentBlock{Document: doc})
		case "":
			return nil, invalid(pp+".type", "Missing required parameter: '%s.type'.", pp)
		default:
			return nil, invalid(pp+".type", "Invalid '%s.type': %q. Supported content parts: text, image_url, input_audio, audio_url, video_url, file.", pp, clipString(part.Type, 40))
		}
		cp, aerr := cacheMarker(part.CacheControl, part.CachePoint, pp)
		if aerr != nil {
			return nil, aerr
		}
		out = withCachePoint(out, cp)
	}
	return out, nil
}

// media resolves a media reference (data: URI, s3:// URI, http(s) URL): its
// bytes and MIME type, or its S3 location.
func (c *chatConverter) media(ref, p string) (data []byte, mt string, s3 *bedrock.S3Location, aerr *apiError) {
	ref = strings.TrimSpace(ref)
	switch {
	case hasPrefixFold(ref, "data:"):
		d, err := parseDataURI(ref)
		if err != nil {
			return nil, "", nil, invalid(p, "Invalid data URI in '%s': %s.", p, err.Error())
		}
		return d.Data, d.MIME, nil, nil
	case hasPrefixFold(ref, "s3://"):
		if _, ok := parseS3URI(ref); !ok {
			return nil, "", nil, invalid(p, "Invalid S3 URI in '%s': expected s3://bucket/key.", p)
		}
		return nil, "", &bedrock.S3Location{URI: ref}, nil
	case hasPrefixFold(ref, "http://"), hasPrefixFold(ref, "https://"):
		if c.fetch == nil {
			return nil, "", nil, invalid(p, "'%s' is an http(s) URL, but this gateway does not fetch media URLs; send the data inline as a data: URI.", p)
		}
		data, mt, err := c.fetch(c.ctx, ref)
		if err != nil {
			var me *mediaError
			if errors.As(err, &me) {
				return nil, "", nil, invalid(p, "Could not use the URL in '%s': fetching from %s failed: %s.", p, me.Host, me.Reason)
			}
			return nil, "", nil, invalid(p, "Could not use the URL in '%s': the download failed.", p)
		}
		return data, mt, nil, nil
	}
	return nil, "", nil, invalid(p, "Invalid URL in '%s': expected a data: URI, an http(s) URL or an s3:// URI.", p)
}

func hasPrefixFold(s, prefix string) bool {
	_, ok := cutPrefixFold(s, prefix)
	return ok
}

// image resolves an image_url part.
func (c *chatConverter) image(ref, p string) (*bedrock.ImageBlock, *apiError) {
	if aerr := checkMediaMode(c.m.Shaping, c.m.Name, "image", ref, p); aerr != nil {
		return nil, aerr
	}
	data, mt, s3, aerr := c.media(ref, p)
	if aerr != nil {
		return nil, aerr
	}
	if s3 != nil {
		key, _ := parseS3URI(s3.URI)
		f, ok := mediaImageExtensions[strings.ToLower(pathExt(key))]
		if !ok {
			return nil, invalid(p, "Cannot tell the image format of the S3 object in '%s' from its name; use a .png, .jpg, .jpeg, .gif or .webp key.", p)
		}
		return &bedrock.ImageBlock{Format: f, Source: bedrock.MediaSource{S3Location: s3}}, nil
	}
	f, ok := imageFormatOf(mt, data)
	if !ok {
		return nil, invalid(p, "Unsupported image format %q in '%s'. Supported: image/png, image/jpeg, image/gif, image/webp.", clipString(mt, 60), p)
	}
	return &bedrock.ImageBlock{Format: f, Source: bedrock.MediaSource{Bytes: data}}, nil
}

// document resolves a file part into a document block.
func (c *chatConverter) document(f *filePart, p string) (*bedrock.DocumentBlock, *apiError) {
	if f == nil {
		return nil, invalid(p, "Missing required parameter: '%s'.", p)
	}
	if f.FileData == "" {
		if f.FileID != "" {
			return nil, invalid(p+".file_id", "'%s.file_id' is not supported: this gateway has no Files API. Send the file inline in 'file_data' as a data: URI.", p)
		}
		return nil, invalid(p+".file_data", "Missing required parameter: '%s.file_data'.", p)
	}
	ref := f.FileData
	var data []byte
	var mt string
	var s3 *bedrock.S3Location
	if aerr := checkMediaMode(c.m.Shaping, c.m.Name, "pdf", ref, p+".file_data"); aerr != nil {
		return nil, aerr
	}
	if hasPrefixFold(ref, "data:") || hasPrefixFold(ref, "s3://") || hasPrefixFold(ref, "http://") || hasPrefixFold(ref, "https://") {
		var aerr *apiError
		if data, mt, s3, aerr = c.media(ref, p+".file_data"); aerr != nil {
			return nil, aerr
		}
	} else {
		// Bare base64, as some clients send it: the file name says the format.
		var err error
		if data, err = decodeBase64Lenient(ref); err != nil || len(data) == 0 {
			return nil, invalid(p+".file_data", "Invalid '%s.file_data': expected a data: URI or base64 data.", p)
		}
	}
	filename := f.Filename
	if filename == "" && s3 != nil {
		filename, _ = parseS3URI(s3.URI)
	}
	format, ok := documentFormatOf(mt, filename)
	if !ok {
		return nil, invalid(p, "Unsupported document type in '%s' (%s). Supported: pdf, csv, doc, docx, xls, xlsx, html, txt, md.", p, clipString(describeType(mt, filename), 80))
	}
	src := bedrock.DocumentSource{Bytes: data, S3Location: s3}
	if c.docNames == nil {
		c.docNames = map[string]bool{}
	}
	return &bedrock.DocumentBlock{Format: format, Name: documentName(baseName(filename), c.docNames), Source: src}, nil
}

func describeType(mt, filename string) string {
	switch {
	case mt != "" && filename != "":
		return mt + ", " + filename
	case mt != "":
		return mt
	case filename != "":
		return filename
	}
	return "no type and no file name"
}

func pathExt(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 && !strings.ContainsRune(s[i:], '/') {
		return s[i:]
	}
	return ""
}

func baseName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		return s[i+1:]
	}
	return s
}

// assistantContent reads an assistant message: text, then tool calls.
func (c *chatConverter) assistantContent(msg *chatMessage, p string) ([]bedrock.ContentBlock, *apiError) {
	blocks, aerr := c.textContent(msg.Content, p, true)
	if aerr != nil {
		return nil, aerr
	}
	for j, raw := range msg.ToolCalls {
		pp := p + ".tool_calls[" + strconv.Itoa(j) + "]"
		var tc chatToolCall
		if err := json.Unmarshal(raw, &tc); err != nil {
			return nil, jsonError(pp, err)
		}
		if tc.ID == "" {
			return nil, invalid(pp+".id", "Missing required parameter: '%s.id'.", pp)
		}
		if tc.Type != "" && tc.Type != "function" {
			return nil, invalid(pp+".type", "Invalid '%s.type': %q; only \"function\" is supported.", pp, clipString(tc.Type, 40))
		}
		if tc.Function.Name == "" {
			return nil, invalid(pp+".function.name", "Missing required parameter: '%s.function.name'.", pp)
		}
		input, aerr := toolArguments(tc.Function.Arguments, pp+".function.arguments")
		if aerr != nil {
			return nil, aerr
		}
		if c.toolsAsText {
			blocks = append(blocks, bedrock.TextBlock(fmt.Sprintf("[called tool %s with arguments %s]", tc.Function.Name, input)))
			continue
		}
		blocks = append(blocks, bedrock.ContentBlock{ToolUse: &bedrock.ToolUseBlock{
			ToolUseID: toolUseID(tc.ID), Name: tc.Function.Name, Input: input,
		}})
	}
	return blocks, nil
}

// toolArguments parses a tool call's arguments: a string holding a JSON
// object, as OpenAI sends them (an object itself is accepted too). Bedrock
// needs the parsed object.
func toolArguments(raw json.RawMessage, p string) (json.RawMessage, *apiError) {
	if isNull(raw) {
		return json.RawMessage("{}"), nil
	}
	args := []byte(raw)
	if t := bytes.TrimSpace(raw); t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, invalid(p, "Invalid '%s': not a valid string.", p)
		}
		if strings.TrimSpace(s) == "" {
			return json.RawMessage("{}"), nil
		}
		args = []byte(s)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(args, &obj); err != nil || obj == nil {
		return nil, invalid(p, "Invalid '%s': the arguments must be a JSON object encoded as a string, e.g. \"{\\\"city\\\": \\\"Paris\\\"}\"; got %q.", p, clipString(string(args), 80))
	}
	var compact bytes.Buffer
	json.Compact(&compact, args)
	return compact.Bytes(), nil
}

// toolUseID makes an OpenAI tool call ID fit Bedrock's pattern
// [a-zA-Z0-9_.:-]{1,64}. The mapping is deterministic, so a call and its
// result still match.
func toolUseID(id string) string {
	if toolUseIDRE.MatchString(id) {
		return id
	}
	b := []byte(id)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || ch == ':' || ch == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// toolResult reads a tool message. Text-only content; an empty result is
// sent as "(no output)" because Bedrock refuses blank text.
func (c *chatConverter) toolResult(msg *chatMessage, p string) (bedrock.ContentBlock, *apiError) {
	if msg.ToolCallID == nil || *msg.ToolCallID == "" {
		return bedrock.ContentBlock{}, invalid(p+".tool_call_id", "Missing required parameter: '%s.tool_call_id'.", p)
	}
	blocks, aerr := c.textContent(msg.Content, p, false)
	if aerr != nil {
		return bedrock.ContentBlock{}, aerr
	}
	var texts []string
	for _, b := range blocks {
		if b.CachePoint == nil {
			texts = append(texts, b.Text)
		}
	}
	text := strings.Join(texts, "\n")
	if text == "" {
		text = "(no output)"
	}
	if c.toolsAsText {
		return bedrock.TextBlock(fmt.Sprintf("[result of tool call %s: %s]", *msg.ToolCallID, text)), nil
	}
	return bedrock.ToolResultText(toolUseID(*msg.ToolCallID), text), nil
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

// reasoning translates reasoning_effort per family.
func (c *chatConverter) reasoning() *apiError {
	effort := c.req.ReasoningEffort
	switch effort {
	case "", "none", "minimal":
		return nil
	case "low", "medium", "high":
	default:
		return invalid("reasoning_effort", "Invalid 'reasoning_effort': %q. Supported: none, minimal, low, medium, high.", clipString(effort, 40))
	}
	switch {
	case c.caps.Thinking:
		if tc := c.out.ToolConfig; tc != nil && tc.ToolChoice != nil && tc.ToolChoice.Auto == nil {
			// Claude refuses thinking when a tool call is forced (tool_choice
			// required or named, or the response_format tool): the forced
			// call wins and thinking is left off.
			return nil
		}
		if c.midToolLoop() {
			// With thinking on, Claude wants the assistant's tool-use turn to
			// begin with its signed thinking block, which OpenAI clients do
			// not send back: this turn goes without thinking.
			return nil
		}
		budget := thinkingBudget[effort]
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
	case c.caps.NovaReasoning:
		c.setAdditional("reasoningConfig", map[string]any{"type": "enabled", "maxReasoningEffort": effort})
	}
	return nil
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
				return invalid("metadata."+k, "Invalid type for 'metadata.%s': expected a string.", clipString(k, 64))
			}
			if !metadataKeyRE.MatchString(k) {
				return invalid("metadata", "Invalid key in 'metadata': %q. Keys must be 1 to 256 characters of letters, digits, whitespace and :_@$#=/+,.-", clipString(k, 64))
			}
			if !metadataValRE.MatchString(v) {
				return invalid("metadata."+k, "Invalid value for 'metadata.%s': values must be at most 256 characters of letters, digits, whitespace and :_@$#=/+,.-", clipString(k, 64))
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
			return invalid("guardrailConfig.trace", "Invalid 'guardrailConfig.trace': %q. Use enabled, disabled or enabled_full.", clipString(rg.Trace, 40))
		}
		switch rg.StreamProcessingMode {
		case "", "sync", "async":
		default:
			return invalid("guardrailConfig.streamProcessingMode", "Invalid 'guardrailConfig.streamProcessingMode': %q. Use sync or async.", clipString(rg.StreamProcessingMode, 40))
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
			return invalid("performanceConfig.latency", "Invalid 'performanceConfig.latency': %q. Use standard or optimized.", clipString(pc.Latency, 40))
		}
		c.out.PerformanceConfig = pc
	}
	switch req.ServiceTier {
	case "", "auto":
	case "default", "flex", "priority":
		c.out.ServiceTier = &bedrock.ServiceTier{Type: req.ServiceTier}
	default:
		return invalid("service_tier", "Invalid 'service_tier': %q. Supported: auto, default, flex, priority.", clipString(req.ServiceTier, 40))
	}
	if st := req.BedrockServiceTier; st != nil {
		switch st.Type {
		case "priority", "default", "flex", "reserved":
		default:
			return invalid("serviceTier.type", "Invalid 'serviceTier.type': %q. Use priority, default, flex or reserved.", clipString(st.Type, 40))
		}
		c.out.ServiceTier = st
	}
	for i, p := range req.AdditionalModelResponseFieldPaths {
		if p == "" || p[0] != '/' || len(p) > 256 {
			return invalid(fmt.Sprintf("additionalModelResponseFieldPaths[%d]", i), "Invalid 'additionalModelResponseFieldPaths[%d]': %q is not a JSON Pointer such as /stop_sequence.", i, clipString(p, 60))
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

// finishReason maps a Converse stop reason to OpenAI's finish_reason.
func finishReason(stop string) string { return shaping.OpenAIFinishReason(stop) }

// openAIUsage converts Bedrock's usage: prompt_tokens counts cache reads and
// writes too, which Bedrock reports apart from inputTokens.
func openAIUsage(u bedrock.TokenUsage) *chatUsage {
	out := usageOf(u)
	return &out
}

func usageOf(u bedrock.TokenUsage) chatUsage {
	out := chatUsage{
		PromptTokens:     u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens,
		CompletionTokens: u.OutputTokens,
	}
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	out.PromptTokensDetails.CachedTokens = u.CacheReadInputTokens
	return out
}

// matchedStopSequence is the stop sequence that ended the reply: from the
// model's additional response fields, else the only one requested.
func matchedStopSequence(extra json.RawMessage, stopReason string, plan *chatPlan) *string {
	if len(extra) > 0 {
		var f struct {
			StopSequence *string `json:"stop_sequence"`
		}
		if json.Unmarshal(extra, &f) == nil && f.StopSequence != nil {
			return f.StopSequence
		}
	}
	if stopReason == bedrock.StopReasonStopSequence && len(plan.StopSequences) == 1 {
		s := plan.StopSequences[0]
		return &s
	}
	return nil
}

func newBedrockMeta(u bedrock.TokenUsage, trace *bedrock.ConverseTrace, pc *bedrock.PerformanceConfig, st *bedrock.ServiceTier, stopSeq *string, requestID string) *bedrockMeta {
	m := bedrockMetaOf(u, trace, pc, st, stopSeq, requestID)
	return &m
}

func bedrockMetaOf(u bedrock.TokenUsage, trace *bedrock.ConverseTrace, pc *bedrock.PerformanceConfig, st *bedrock.ServiceTier, stopSeq *string, requestID string) bedrockMeta {
	return bedrockMeta{
		Trace:             trace,
		Usage:             bedrockCacheUsage{CacheReadInputTokens: u.CacheReadInputTokens, CacheWriteInputTokens: u.CacheWriteInputTokens},
		StopSequence:      stopSeq,
		PerformanceConfig: pc,
		ServiceTier:       st,
		RequestID:         requestID,
	}
}

// convertChatResponse translates a Converse response into a chat.completion.
func convertChatResponse(resp *bedrock.ConverseResponse, plan *chatPlan, id string, created int64) *chatCompletion {
	// The completion and what it points to, allocated together.
	a := &struct {
		cc      chatCompletion
		choices [1]chatChoice
		usage   chatUsage
		meta    bedrockMeta
		content string // the message content: the text or the answer
	}{}
	var text, reasoning textJoin
	var calls []responseToolCall
	answered := false // content holds the response_format tool's input
	if m := resp.Output.Message; m != nil {
		for _, b := range m.Content {
			switch {
			case b.ToolUse != nil:
				if plan.JSONTool != "" && b.ToolUse.Name == plan.JSONTool && !answered {
					a.content, answered = compactJSON(b.ToolUse.Input), true
					continue
				}
				if plan.FirstToolOnly && len(calls) > 0 {
					continue
				}
				args := compactJSON(b.ToolUse.Input)
				calls = append(calls, responseToolCall{ID: b.ToolUse.ToolUseID, Type: "function",
					Function: toolFunction{Name: b.ToolUse.Name, Arguments: args}})
			case b.ReasoningContent != nil:
				if rt := b.ReasoningContent.ReasoningText; rt != nil {
					reasoning.add(rt.Text)
				}
			case b.CitationsContent != nil:
				for _, g := range b.CitationsContent.Content {
					text.add(g.Text)
				}
			default:
				text.add(b.Text)
			}
		}
	}
	finish := finishReason(resp.StopReason)
	msg := responseMessage{Role: "assistant", ToolCalls: calls, ReasoningContent: reasoning.String()}
	switch {
	case answered:
		// Text around the answer tool call (Nova's <thinking>, a preamble)
		// would break the JSON the client asked for: the answer alone is
		// the content.
		msg.Content = &a.content
		if len(calls) == 0 && finish == "tool_calls" {
			finish = "stop"
		}
	case text.String() != "" || len(calls) == 0:
		a.content = text.String()
		msg.Content = &a.content
	}
	a.choices[0] = chatChoice{Index: 0, Message: msg, FinishReason: finish}
	a.usage = usageOf(resp.Usage)
	a.meta = bedrockMetaOf(resp.Usage, resp.Trace, resp.PerformanceConfig, resp.ServiceTier,
		matchedStopSequence(resp.AdditionalModelResponseFields, resp.StopReason, plan), resp.RequestID)
	a.cc = chatCompletion{
		ID: id, Object: "chat.completion", Created: created, Model: plan.Model,
		Choices: a.choices[:], Usage: &a.usage, Bedrock: &a.meta,
	}
	return &a.cc
}

// textJoin concatenates strings, copying them only when two or more are
// not empty (a reply is most often one text block).
type textJoin struct {
	first string
	all   strings.Builder // once a second string comes
	n     int
}

func (j *textJoin) add(s string) {
	if s == "" {
		return
	}
	j.n++
	switch j.n {
	case 1:
		j.first = s
		return
	case 2:
		j.all.WriteString(j.first)
	}
	j.all.WriteString(s)
}

func (j *textJoin) String() string {
	if j.n < 2 {
		return j.first
	}
	return j.all.String()
}

// compactJSON is a tool input as OpenAI's arguments string: compact JSON,
// {} when empty.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if len(bytes.TrimSpace(raw)) == 0 || json.Compact(&b, raw) != nil {
		if len(bytes.TrimSpace(raw)) == 0 {
			return "{}"
		}
		return string(raw)
	}
	return b.String()
}

// chatStreamTranslator turns ConverseStream events into chunks. Tool calls
// are indexed by their order among tool calls (OpenAI's index), not by
// content block. The finish chunk waits for the metadata event that follows
// messageStop, so that the last chunk can carry usage and the bedrock
// object.
type chatStreamTranslator struct {
	plan      *chatPlan
	id        string
	created   int64
	requestID string

	roleSent   bool
	tools      map[int]int // content block index → tool call index; -1: dropped
	jsonBlocks map[int]bool
	nCalls     int
	jsonUsed   bool
	held       strings.Builder // text held back while an answer tool may come
	stop       *bedrock.MessageStopEvent
	finished   bool
}

func newChatStreamTranslator(plan *chatPlan, id string, created int64, requestID string) *chatStreamTranslator {
	return &chatStreamTranslator{plan: plan, id: id, created: created, requestID: requestID,
		tools: map[int]int{}, jsonBlocks: map[int]bool{}}
}

func (t *chatStreamTranslator) chunk(d chunkDelta) chatChunk {
	return chatChunk{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.plan.Model,
		Choices: []chunkChoice{{Index: 0, Delta: d}}}
}

// delta returns the chunks for d, preceded by the role chunk if it has not
// been sent.
func (t *chatStreamTranslator) delta(d chunkDelta) []chatChunk {
	if !t.roleSent {
		t.roleSent = true
		if d.Role == "" {
			d.Role = "assistant"
		}
	}
	return []chatChunk{t.chunk(d)}
}

func strPtr(s string) *string { return &s }

// textDelta reports whether event(ev) would return exactly one chunk whose
// delta is just the content text (the role already sent, not held back for
// an answer tool), and that text: the common text delta, which the caller
// can write with sseWriter.textChunk without building the chunk. When it
// returns true the translator's state is as event(ev) would leave it (a
// text delta changes none).
func (t *chatStreamTranslator) textDelta(ev *bedrock.StreamEvent) (string, bool) {
	if ev.MessageStart != nil || ev.ContentBlockStart != nil || ev.ContentBlockDelta == nil ||
		!t.roleSent || t.plan.JSONTool != "" {
		return "", false
	}
	d := &ev.ContentBlockDelta.Delta
	if d.ToolUse != nil || d.ReasoningContent != nil || d.Citation != nil || d.ToolResult != nil || d.Image != nil || d.Text == "" {
		return "", false
	}
	return d.Text, true
}

// event translates one event.
func (t *chatStreamTranslator) event(ev bedrock.StreamEvent) []chatChunk {
	switch {
	case ev.MessageStart != nil:
		if t.roleSent {
			return nil
		}
		return t.delta(chunkDelta{Role: "assistant", Content: strPtr("")})
	case ev.ContentBlockStart != nil:
		tu := ev.ContentBlockStart.Start.ToolUse
		if tu == nil {
			return nil
		}
		i := ev.ContentBlockStart.ContentBlockIndex
		if t.plan.JSONTool != "" && tu.Name == t.plan.JSONTool && !t.jsonUsed {
			t.jsonBlocks[i], t.jsonUsed = true, true
			t.held.Reset()
			return nil
		}
		if t.plan.FirstToolOnly && t.nCalls > 0 {
			t.tools[i] = -1
			return nil
		}
		k := t.nCalls
		t.nCalls++
		t.tools[i] = k
		return t.delta(chunkDelta{ToolCalls: []chunkToolCall{{Index: k, ID: tu.ToolUseID, Type: "function",
			Function: chunkToolFunction{Name: tu.Name, Arguments: ""}}}})
	case ev.ContentBlockDelta != nil:
		i, d := ev.ContentBlockDelta.ContentBlockIndex, &ev.ContentBlockDelta.Delta
		switch {
		case d.ToolUse != nil:
			if d.ToolUse.Input == "" {
				return nil
			}
			if t.jsonBlocks[i] {
				return t.delta(chunkDelta{Content: strPtr(d.ToolUse.Input)})
			}
			if k, ok := t.tools[i]; ok && k >= 0 {
				return t.delta(chunkDelta{ToolCalls: []chunkToolCall{{Index: k, Function: chunkToolFunction{Arguments: d.ToolUse.Input}}}})
			}
		case d.ReasoningContent != nil:
			if d.ReasoningContent.Text != "" {
				return t.delta(chunkDelta{ReasoningContent: strPtr(d.ReasoningContent.Text)})
			}
		case d.Citation != nil, d.ToolResult != nil, d.Image != nil:
		default:
			if d.Text == "" {
				return nil
			}
			if t.plan.JSONTool != "" {
				// The answer may still come as a tool call; text before it
				// is not part of the JSON answer.
				if !t.jsonUsed {
					t.held.WriteString(d.Text)
				}
				return nil
			}
			return t.delta(chunkDelta{Content: strPtr(d.Text)})
		}
	case ev.MessageStop != nil:
		t.stop = ev.MessageStop
		if t.held.Len() > 0 && !t.jsonUsed {
			s := t.held.String()
			t.held.Reset()
			return t.delta(chunkDelta{Content: &s})
		}
	case ev.Metadata != nil:
		return t.finish(ev.Metadata)
	}
	return nil
}

// finish returns the finish chunk and, with include_usage, the usage chunk;
// the last of them carries the bedrock object.
func (t *chatStreamTranslator) finish(md *bedrock.ConverseStreamMetadataEvent) []chatChunk {
	if t.finished || t.stop == nil {
		return nil
	}
	t.finished = true
	var out []chatChunk
	if !t.roleSent {
		out = t.delta(chunkDelta{Role: "assistant", Content: strPtr("")})
	}
	reason := finishReason(t.stop.StopReason)
	if t.jsonUsed && t.nCalls == 0 && reason == "tool_calls" {
		reason = "stop"
	}
	fc := t.chunk(chunkDelta{})
	fc.Choices[0].FinishReason = &reason
	var u bedrock.TokenUsage
	var meta *bedrockMeta
	if md != nil {
		u = md.Usage
		meta = newBedrockMeta(u, md.Trace, md.PerformanceConfig, md.ServiceTier,
			matchedStopSequence(t.stop.AdditionalModelResponseFields, t.stop.StopReason, t.plan), t.requestID)
	} else {
		meta = newBedrockMeta(u, nil, nil, nil, matchedStopSequence(t.stop.AdditionalModelResponseFields, t.stop.StopReason, t.plan), t.requestID)
	}
	if !t.plan.IncludeUsage || md == nil {
		fc.Bedrock = meta
		return append(out, fc)
	}
	uc := chatChunk{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.plan.Model,
		Choices: []chunkChoice{}, Usage: openAIUsage(u), Bedrock: meta}
	return append(out, fc, uc)
}

// end returns what is still owed after the last event of a stream that
// ended cleanly: the finish chunk, if no metadata event came.
func (t *chatStreamTranslator) end() []chatChunk { return t.finish(nil) }
