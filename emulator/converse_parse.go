package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// converseParser carries one request through parseConverse's steps: what
// each step learns (the genRequest, the cache prefix, the tool names) is
// what later steps read.
type converseParser struct {
	req    *converseRequest
	m      *Model
	in     *converseInput
	prefix cachePrefix
	tools  map[string]bool // tool names declared in toolConfig
	// cachePoints counts the request's cache points (Bedrock allows 4).
	cachePoints int
	docs        int // documents seen: a citation's documentIndex
}

// maxCachePoints is Bedrock's limit of cache checkpoints per request.
const maxCachePoints = 4

// parseConverse validates a Converse/ConverseStream (or CountTokens
// "converse") request for model m as Bedrock does and reduces it to a
// genRequest. The steps run in Bedrock's order, so that a request with
// several problems gets the error Bedrock reports first.
func parseConverse(req *converseRequest, m *Model) (*converseInput, *apiError) {
	if len(req.Messages) == 0 {
		return nil, validationError("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	p := &converseParser{
		req:    req,
		m:      m,
		in:     &converseInput{guardrail: req.GuardrailConfig, fieldPaths: req.AdditionalModelResponseFieldPaths},
		prefix: newCachePrefix(req, m.ID),
	}
	p.in.gen.ModelID, p.in.gen.Family = m.ID, m.Family
	for _, step := range []func() *apiError{
		p.toolUseConfig,
		p.system,
		p.messages,
		p.inference,
		p.guardrailShape,
		p.requestMetadata,
		p.responseFieldPaths,
		p.reasoning,
		p.structuredOutput,
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return p.in, nil
}

// cachePoint validates a cache point at path and makes everything before it
// the request's cached prefix.
func (p *converseParser) cachePoint(cp *cachePointBlock, path string) *apiError {
	if cp.Type != "default" {
		return validationError("1 validation error detected: Value '%s' at '%s.type' failed to satisfy constraint: Member must satisfy enum value set: [default]", cp.Type, path)
	}
	ttl := 5 * time.Minute
	switch cp.TTL {
	case "", "5m":
	case "1h":
		ttl = time.Hour
	default:
		return validationError("1 validation error detected: Value '%s' at '%s.ttl' failed to satisfy constraint: Member must satisfy enum value set: [5m, 1h]", cp.TTL, path)
	}
	if p.cachePoints++; p.cachePoints > maxCachePoints {
		return validationError("The number of cache points in the request exceeds the maximum of %d. Remove cache points, and try again.", maxCachePoints)
	}
	p.in.cacheTok, p.in.cacheTTL = p.prefix.tokens, ttl
	p.in.cacheKey = p.prefix.key()
	return nil
}

// toolUseConfig checks toolConfig: the tools, their names and schemas, and the
// tool choice.
func (p *converseParser) toolUseConfig() *apiError {
	tc := p.req.ToolConfig
	if tc == nil {
		return nil
	}
	if !p.m.Tools {
		return validationError("This model doesn't support tool use.")
	}
	if len(tc.Tools) == 0 {
		return validationError("1 validation error detected: Value '[]' at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	p.tools = map[string]bool{}
	for i, t := range tc.Tools {
		if err := p.tool(i, &t); err != nil {
			return err
		}
	}
	return p.toolChoice(tc.ToolChoice)
}

func (p *converseParser) tool(i int, t *tool) *apiError {
	path := func() string { return fmt.Sprintf("toolConfig.tools.%d", i) }
	switch {
	case t.CachePoint != nil:
		return p.cachePoint(t.CachePoint, path()+".member.cachePoint")
	case t.ToolSpec != nil:
	case t.SystemTool != nil:
		return nil
	default:
		return validationError("The Tool object at %s is empty. Add a toolSpec, and try again.", path())
	}
	ts := t.ToolSpec
	if !toolNameRE.MatchString(ts.Name) {
		return validationError("1 validation error detected: Value '%s' at '%s.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+ and Member must have length less than or equal to 64", ts.Name, path())
	}
	if p.tools[ts.Name] {
		return validationError("The toolConfig field contains duplicate tool names: %s. Tool names must be unique, try again with unique names.", ts.Name)
	}
	p.tools[ts.Name] = true
	if ts.InputSchema == nil {
		return validationError("The inputSchema field at %s.toolSpec is missing. Add an inputSchema, and try again.", path())
	}
	gt := genTool{Name: ts.Name, Description: ts.Description}
	if raw := bytes.TrimSpace(ts.InputSchema.JSON); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &gt.Schema); err != nil {
			return validationError("The inputSchema at %s.toolSpec.inputSchema.json is not a JSON object. Provide a valid JSON schema, and try again.", path())
		}
		gt.SchemaJSON = string(raw)
	}
	p.in.gen.Tools = append(p.in.gen.Tools, gt)
	p.prefix.tool(&gt)
	return nil
}

func (p *converseParser) toolChoice(ch *toolChoice) *apiError {
	if ch == nil {
		return nil
	}
	g := &p.in.gen
	switch {
	case ch.Auto != nil:
		g.ToolChoice = "auto"
	case ch.Any != nil:
		if !p.m.ToolChoice {
			return validationError("This model doesn't support the toolConfig.toolChoice.any field. Remove toolConfig.toolChoice.any and try again.")
		}
		g.ToolChoice = "any"
	case ch.Tool != nil:
		if !p.m.ToolChoice {
			return validationError("This model doesn't support the toolConfig.toolChoice.tool field. Remove toolConfig.toolChoice.tool and try again.")
		}
		if !p.tools[ch.Tool.Name] {
			return validationError("The tool %s in toolConfig.toolChoice.tool.name is not in toolConfig.tools. Add the tool to toolConfig.tools, and try again.", ch.Tool.Name)
		}
		g.ToolChoice = ch.Tool.Name
	default:
		return validationError("The toolChoice field is empty. Set auto, any or tool, and try again.")
	}
	return nil
}

// system checks the system prompt blocks.
func (p *converseParser) system() *apiError {
	if len(p.req.System) > 0 && p.m.NoSystem {
		return validationError("This model doesn't support system messages. Try again without a system message or with a model that supports system messages.")
	}
	g := &p.in.gen
	for i, s := range p.req.System {
		switch {
		case s.Text != nil:
			if strings.TrimSpace(*s.Text) == "" {
				return validationError("The text field in the SystemContentBlock object at system.%d is blank. Add text to the text field, and try again.", i)
			}
			g.System = append(g.System, *s.Text)
			p.in.guardTexts = append(p.in.guardTexts, *s.Text)
			p.prefix.text(1, *s.Text)
		case s.GuardContent != nil:
			if s.GuardContent.Text != nil {
				g.System = append(g.System, s.GuardContent.Text.Text)
				p.prefix.text(1, s.GuardContent.Text.Text)
			}
		case s.CachePoint != nil:
			if err := p.cachePoint(s.CachePoint, fmt.Sprintf("system.%d.member.cachePoint", i)); err != nil {
				return err
			}
		default:
			return validationError("The SystemContentBlock object at system.%d is empty. Add text, guardContent or cachePoint, and try again.", i)
		}
	}
	return nil
}

// turn is what one message's blocks contribute, before it joins the
// conversation.
type turn struct {
	gm           genMessage
	texts        []string
	results      []string // toolUseIds answered
	guardContent []string
}

// messages checks the conversation: roles alternating from a user turn,
// each message's blocks, and tool results answering the previous turn.
func (p *converseParser) messages() *apiError {
	var guardContent []string
	var prevUses []string
	for i, msg := range p.req.Messages {
		if err := p.role(i, msg.Role); err != nil {
			return err
		}
		if len(msg.Content) == 0 {
			return validationError("The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		t := &turn{gm: genMessage{Role: msg.Role}}
		for j := range msg.Content {
			if err := p.block(t, i, j, &msg.Content[j]); err != nil {
				return err
			}
		}
		if err := checkToolResults(i, msg.Role, prevUses, t.results); err != nil {
			return err
		}
		prevUses = prevUses[:0]
		for _, u := range t.gm.ToolUses {
			prevUses = append(prevUses, u.ID)
		}
		guardContent = append(guardContent, t.guardContent...)
		t.gm.Text = strings.Join(t.texts, "\n")
		p.in.gen.Messages = append(p.in.gen.Messages, t.gm)
	}
	if len(guardContent) > 0 {
		p.in.guardTexts = guardContent
	}
	return nil
}

func (p *converseParser) role(i int, role string) *apiError {
	switch role {
	case "user", "assistant":
	default:
		return validationError("1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", role, i)
	}
	if i == 0 && role != "user" {
		return validationError("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	if i > 0 && role == p.req.Messages[i-1].Role {
		return validationError("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
	}
	return nil
}

// block checks content block j of message i and adds it to t.
func (p *converseParser) block(t *turn, i, j int, b *contentBlock) *apiError {
	path := func() string { return fmt.Sprintf("messages.%d.content.%d", i, j) }
	g, m, role := &p.in.gen, p.m, t.gm.Role
	switch {
	case b.Text != nil:
		if strings.TrimSpace(*b.Text) == "" {
			return validationError("The text field in the ContentBlock object at %s is blank. Add text to the text field, and try again.", path())
		}
		t.texts = append(t.texts, *b.Text)
		if role == "user" {
			p.in.guardTexts = append(p.in.guardTexts, *b.Text)
		}
		p.prefix.text(2, *b.Text)
	case b.GuardContent != nil:
		if b.GuardContent.Text != nil {
			s := b.GuardContent.Text.Text
			t.texts = append(t.texts, s)
			t.guardContent = append(t.guardContent, s)
			p.prefix.text(2, s)
		}
	case b.Image != nil:
		if !imageFormats[b.Image.Format] {
			return validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.image.format' failed to satisfy constraint: Member must satisfy enum value set: [gif, jpeg, png, webp]", b.Image.Format, i, j)
		}
		if !m.Images {
			return validationError("This model doesn't support the image content block that you provided. Try again with a supported content block or a different model.")
		}
		if len(b.Image.Source) == 0 {
			return validationError("The source field in the ImageBlock object at %s is missing. Add a source, and try again.", path())
		}
		g.ExtraInputTokens += 1600
		p.prefix.blob(1600, b.Image.Source)
	case b.Document != nil:
		if !documentFormats[b.Document.Format] {
			return validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.document.format' failed to satisfy constraint: Member must satisfy enum value set: [pdf, csv, doc, docx, xls, xlsx, html, txt, md]", b.Document.Format, i, j)
		}
		if !m.Documents {
			return validationError("This model doesn't support the document content block that you provided. Try again with a supported content block or a different model.")
		}
		if b.Document.Name == "" || len(b.Document.Name) > 200 {
			return validationError("The name field in the DocumentBlock object at %s must be 1 to 200 characters long.", path())
		}
		if c := citedDocument(b.Document, p.docs); c != nil {
			p.in.cited = append(p.in.cited, *c)
		}
		p.docs++
		tok := len(b.Document.Source)/6 + 10
		g.ExtraInputTokens += tok
		p.prefix.blob(tok, b.Document.Source)
	case b.Video != nil:
		id, err := checkVideo(b.Video, m, i, j)
		if err != nil {
			return err
		}
		g.ExtraInputTokens += videoInputTokens
		p.prefix.blob(videoInputTokens, id)
	case b.Audio != nil:
		return validationError("This model doesn't support the video or audio content block that you provided. Try again with a supported content block or a different model.")
	case b.ToolUse != nil:
		return p.toolUse(t, i, j, b.ToolUse)
	case b.ToolResult != nil:
		return p.toolResult(t, i, j, b.ToolResult)
	case b.CachePoint != nil:
		return p.cachePoint(b.CachePoint, path()+".member.cachePoint")
	case b.ReasoningContent != nil, b.CitationsContent != nil, b.SearchResult != nil, b.ToolAddition != nil, b.ToolRemoval != nil:
		// Carried context; not billed as new text.
	default:
		return validationError("The ContentBlock object at %s is empty. Add a content block, and try again.", path())
	}
	return nil
}

func (p *converseParser) toolUse(t *turn, i, j int, tu *toolUseBlock) *apiError {
	if t.gm.Role != "assistant" {
		return validationError("The toolUse block at messages.%d.content.%d is in a user message. Tool use blocks are only valid in assistant messages.", i, j)
	}
	if p.req.ToolConfig == nil {
		return validationError("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
	}
	if !toolUseIDRE.MatchString(tu.ToolUseID) {
		return validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.toolUse.toolUseId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+", tu.ToolUseID, i, j)
	}
	input := tu.Input
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	u := genToolUse{ID: tu.ToolUseID, Name: tu.Name, Input: input}
	t.gm.ToolUses = append(t.gm.ToolUses, u)
	p.prefix.toolUse(u.Name, u.Input)
	return nil
}

func (p *converseParser) toolResult(t *turn, i, j int, tr *toolResultBlock) *apiError {
	if t.gm.Role != "user" {
		return validationError("The toolResult block at messages.%d.content.%d is in an assistant message. Tool result blocks are only valid in user messages.", i, j)
	}
	if p.req.ToolConfig == nil {
		return validationError("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
	}
	switch tr.Status {
	case "", "success", "error":
	default:
		return validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.toolResult.status' failed to satisfy constraint: Member must satisfy enum value set: [success, error]", tr.Status, i, j)
	}
	text := toolResultText(tr.Content)
	t.gm.ToolResults = append(t.gm.ToolResults, genToolResult{ToolUseID: tr.ToolUseID, Text: text, Status: tr.Status})
	t.results = append(t.results, tr.ToolUseID)
	p.prefix.text(4, text)
	return nil
}

// checkToolResults checks that message i's tool results answer exactly the
// previous assistant turn's tool uses.
func checkToolResults(i int, role string, prevUses, results []string) *apiError {
	if len(results) > 0 {
		want := map[string]bool{}
		for _, id := range prevUses {
			want[id] = true
		}
		for _, id := range results {
			if !want[id] {
				if len(prevUses) == 0 {
					return validationError("The number of toolResult blocks at messages.%d.content exceeds the number of toolUse blocks of previous turn.", i)
				}
				return validationError("The toolResult block with toolUseId %s at messages.%d.content has no matching toolUse block in the previous turn (messages.%d).", id, i, i-1)
			}
		}
	}
	if role == "user" && len(prevUses) > 0 && len(results) < len(prevUses) {
		got := map[string]bool{}
		for _, id := range results {
			got[id] = true
		}
		var missing []string
		for _, id := range prevUses {
			if !got[id] {
				missing = append(missing, id)
			}
		}
		return validationError("Expected toolResult blocks at messages.%d.content for the following Ids: %s", i, strings.Join(missing, ", "))
	}
	return nil
}

// inference checks inferenceConfig.
func (p *converseParser) inference() *apiError {
	ic := p.req.InferenceConfig
	if ic == nil {
		return nil
	}
	g, m := &p.in.gen, p.m
	if ic.MaxTokens != nil {
		if *ic.MaxTokens < 1 {
			return validationError("1 validation error detected: Value '%d' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1", *ic.MaxTokens)
		}
		if m.MaxTokens > 0 && *ic.MaxTokens > m.MaxTokens {
			return validationError("The maximum tokens you requested exceeds the model limit of %d. Try again with a maximum tokens value that is lower than %d.", m.MaxTokens, m.MaxTokens+1)
		}
		g.MaxTokens = *ic.MaxTokens
	}
	for name, v := range map[string]*float64{"temperature": ic.Temperature, "topP": ic.TopP} {
		if v == nil {
			continue
		}
		if *v < 0 {
			return validationError("1 validation error detected: Value '%s' at 'inferenceConfig.%s' failed to satisfy constraint: Member must have value greater than or equal to 0", strconv.FormatFloat(*v, 'f', -1, 64), name)
		}
		if *v > 1 {
			return validationError("1 validation error detected: Value '%s' at 'inferenceConfig.%s' failed to satisfy constraint: Member must have value less than or equal to 1", strconv.FormatFloat(*v, 'f', -1, 64), name)
		}
	}
	if len(ic.StopSequences) > 2500 {
		return validationError("1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to satisfy constraint: Member must have length less than or equal to 2500")
	}
	for k, s := range ic.StopSequences {
		if s == "" {
			return validationError("1 validation error detected: Value '' at 'inferenceConfig.stopSequences.%d.member' failed to satisfy constraint: Member must have length greater than or equal to 1", k)
		}
	}
	g.StopSequences = ic.StopSequences
	return nil
}

// guardrailShape checks guardrailConfig's members (the guardrail itself is
// looked up when the request is served).
func (p *converseParser) guardrailShape() *apiError {
	gc := p.req.GuardrailConfig
	if gc == nil {
		return nil
	}
	if !guardrailVersionRE.MatchString(gc.GuardrailVersion) {
		return validationError("1 validation error detected: Value '%s' at 'guardrailConfig.guardrailVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (([1-9][0-9]{0,7})|(DRAFT))", gc.GuardrailVersion)
	}
	switch gc.Trace {
	case "", "enabled", "disabled", "enabled_full":
	default:
		return validationError("1 validation error detected: Value '%s' at 'guardrailConfig.trace' failed to satisfy constraint: Member must satisfy enum value set: [enabled, disabled, enabled_full]", gc.Trace)
	}
	if gc.GuardrailIdentifier == "" {
		return validationError("1 validation error detected: Value '' at 'guardrailConfig.guardrailIdentifier' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	return nil
}

// requestMetadata checks requestMetadata's size, keys and values.
func (p *converseParser) requestMetadata() *apiError {
	md := p.req.RequestMetadata
	if md == nil {
		return nil
	}
	if len(md) < 1 || len(md) > 16 {
		return validationError("1 validation error detected: Value at 'requestMetadata' failed to satisfy constraint: Member must have length less than or equal to 16 and greater than or equal to 1")
	}
	for k, v := range md {
		if !metadataKeyRE.MatchString(k) {
			return validationError("1 validation error detected: Value '%s' at 'requestMetadata' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{1,256}]", k)
		}
		if !metadataValRE.MatchString(v) {
			return validationError("1 validation error detected: Value '%s' at 'requestMetadata' failed to satisfy constraint: Map values must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{0,256}]", v)
		}
	}
	return nil
}

// responseFieldPaths checks additionalModelResponseFieldPaths.
func (p *converseParser) responseFieldPaths() *apiError {
	paths := p.req.AdditionalModelResponseFieldPaths
	if len(paths) > 10 {
		return validationError("1 validation error detected: Value at 'additionalModelResponseFieldPaths' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	for k, s := range paths {
		if s == "" || len(s) > 256 || s[0] != '/' {
			return validationError("The additionalModelResponseFieldPaths.%d value %q is not a valid JSON Pointer. Provide a JSON Pointer such as /stop_sequence, and try again.", k, s)
		}
	}
	return nil
}

// reasoning reads reasoning settings from the model's own request fields.
func (p *converseParser) reasoning() *apiError {
	raw := bytes.TrimSpace(p.req.AdditionalModelRequestFields)
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	g, m := &p.in.gen, p.m
	var extra struct {
		Thinking *struct {
			Type         string `json:"type"`
			BudgetTokens int    `json:"budget_tokens"`
		} `json:"thinking"`
		ReasoningConfig *struct {
			Type               string `json:"type"`
			MaxReasoningEffort string `json:"maxReasoningEffort"`
		} `json:"reasoningConfig"`
	}
	if err := json.Unmarshal(raw, &extra); err != nil {
		return validationError("The format of the value at additionalModelRequestFields is invalid. Provide a JSON object, and try again.")
	}
	if t := extra.Thinking; t != nil && t.Type == "enabled" {
		if !m.Reasoning || m.Family != familyAnthropic {
			return validationError("The model returned the following errors: thinking: Extra inputs are not permitted")
		}
		if t.BudgetTokens < 1024 {
			return validationError("The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
		}
		if g.MaxTokens > 0 && t.BudgetTokens >= g.MaxTokens {
			return validationError("The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
		}
		g.Reasoning = true
	}
	if rc := extra.ReasoningConfig; rc != nil && rc.Type == "enabled" {
		if !m.Reasoning || m.Family != familyNova {
			return validationError("The model returned the following errors: extraneous key [reasoningConfig] is not permitted")
		}
		g.Reasoning = true
	}
	return nil
}

// structuredOutput checks outputConfig.textFormat and keeps its schema.
func (p *converseParser) structuredOutput() *apiError {
	oc := p.req.OutputConfig
	if oc == nil || oc.TextFormat == nil {
		return nil
	}
	tf := oc.TextFormat
	if tf.Type != "json_schema" {
		return validationError("1 validation error detected: Value '%s' at 'outputConfig.textFormat.type' failed to satisfy constraint: Member must satisfy enum value set: [json_schema]", tf.Type)
	}
	if !p.m.StructuredOutput {
		return validationError("This model doesn't support structured output. Remove outputConfig.textFormat, or try again with a model that supports it.")
	}
	if tf.Structure == nil || tf.Structure.JSONSchema == nil {
		return validationError("The structure field at outputConfig.textFormat is missing a jsonSchema. Add structure.jsonSchema, and try again.")
	}
	if err := json.Unmarshal([]byte(tf.Structure.JSONSchema.Schema), &p.in.gen.JSONSchema); err != nil || p.in.gen.JSONSchema == nil {
		return validationError("The schema at outputConfig.textFormat.structure.jsonSchema.schema is not a valid JSON schema. Provide the schema as a JSON object string, and try again.")
	}
	return nil
}
