package anthropic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/clip"
)

// request is a decoded, validated Messages request. The typed fields are
// what the gateway reads; members keeps every top-level member's exact
// bytes, in order, so that the native Claude body passes on what Bedrock
// accepts unchanged (thinking signatures, blocks the gateway does not know).
type request struct {
	Model     string
	Stream    bool
	MaxTokens int // 0: absent (count_tokens)
	members   []member

	// System are the system text blocks, including those of role "system"
	// entries of messages (moved); systemChanged says the native body must
	// rewrite its system member.
	System        []bedrock.AnthropicBlock
	systemChanged bool
	// Messages are the user and assistant turns; rawMessages their exact
	// bytes (same order).
	Messages    []bedrock.AnthropicMessage
	rawMessages []json.RawMessage

	Temperature, TopP *float64
	TopK              *int
	StopSequences     []string
	Tools             []bedrock.AnthropicTool
	ToolChoice        *bedrock.AnthropicToolChoice
	Thinking          *bedrock.AnthropicThinking
}

// member is one top-level member of the request object.
type member struct {
	key string
	raw json.RawMessage
}

// member returns the raw value of the top-level member key, or nil.
func (r *request) member(key string) json.RawMessage {
	for i := range r.members {
		if r.members[i].key == key {
			return r.members[i].raw
		}
	}
	return nil
}

// scanObject splits a JSON object into its members, keeping each value's
// exact bytes and the members' order. After json.Valid the split is a walk
// over the bytes (no decoding, no allocation per value).
func scanObject(body []byte) ([]member, *apiError) {
	if !json.Valid(body) {
		var v any
		return nil, syntaxError(json.Unmarshal(body, &v))
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return nil, invalid("The request body must be a JSON object.")
	}
	out := make([]member, 0, 12)
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		end := valueEnd(body, i)
		key := body[i+1 : end-1]
		var k string
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			json.Unmarshal(body[i:end], &k)
		} else {
			k = string(key)
		}
		i = skipSpace(body, skipSpace(body, end)+1) // past ':'
		end = valueEnd(body, i)
		out = append(out, member{k, body[i:end:end]})
		i = skipSpace(body, end)
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return out, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd is the index just past the valid JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		return i + 1
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			case '"':
				i = valueEnd(b, i) - 1
			}
		}
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return i
}

func syntaxError(err error) *apiError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Error(), "unexpected end") {
			return invalid("The request body is not valid JSON: it ends too early.")
		}
		return invalid("The request body is not valid JSON (offset %d): %v.", se.Offset, se)
	}
	return invalid("The request body is not valid JSON: %v.", err)
}

// toolNamePattern and a length of 1 to 128 is Anthropic's rule for tool
// names. Written as one pattern ({1,128}), regexp would compile 128
// copies of the class, 52 KB for the gateway's life.
var toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// decodeRequest decodes and validates a Messages request body. countOnly
// is for count_tokens, which takes no max_tokens and no stream.
func decodeRequest(body []byte, countOnly bool) (*request, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("The request body is empty; send a JSON object.")
	}
	members, aerr := scanObject(body)
	if aerr != nil {
		return nil, aerr
	}
	req := &request{members: members}
	for i, m := range members {
		for _, prev := range members[:i] {
			if prev.key == m.key {
				return nil, invalid("%s: the member appears more than once.", m.key)
			}
		}
		if aerr := req.decodeMember(m.key, m.raw, countOnly); aerr != nil {
			return nil, aerr
		}
	}
	switch {
	case req.Model == "":
		return nil, invalid("model: Field required (a string naming a model of this gateway).")
	case req.member("messages") == nil:
		return nil, invalid("messages: Field required.")
	case !countOnly && req.MaxTokens == 0:
		return nil, invalid("max_tokens: Field required (an integer of at least 1).")
	case len(req.Messages) == 0:
		return nil, invalid("messages: at least one user or assistant message is required.")
	}
	if t := req.Thinking; t != nil && t.Type == "enabled" && !countOnly && t.BudgetTokens >= req.MaxTokens {
		return nil, invalid("thinking.budget_tokens: must be less than max_tokens (%d).", req.MaxTokens)
	}
	if tc := req.ToolChoice; tc != nil && tc.Type == "tool" && !req.hasTool(tc.Name) {
		return nil, invalid("tool_choice.name: the tool %q is not in tools.", clip.String(tc.Name, 100, "…"))
	}
	return req, nil
}

func (r *request) hasTool(name string) bool {
	for _, t := range r.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// decodeMember decodes one top-level member into req.
func (r *request) decodeMember(key string, raw json.RawMessage, countOnly bool) *apiError {
	switch key {
	case "model":
		if err := json.Unmarshal(raw, &r.Model); err != nil || r.Model == "" {
			return invalid("model: must be a non-empty string.")
		}
	case "max_tokens":
		n, ok := integer(raw)
		if !ok || n < 1 {
			return invalid("max_tokens: must be an integer of at least 1.")
		}
		r.MaxTokens = n
	case "stream":
		if err := json.Unmarshal(raw, &r.Stream); err != nil {
			return invalid("stream: must be a boolean.")
		}
		if countOnly && r.Stream {
			return invalid("stream: count_tokens does not stream.")
		}
	case "messages":
		return r.decodeMessages(raw)
	case "system":
		blocks, aerr := systemBlocks(raw, "system")
		if aerr != nil {
			return aerr
		}
		r.System = append(blocks, r.System...) // moved blocks, if any, come after
	case "temperature":
		f, aerr := number(raw, key, 0, 1)
		r.Temperature = f
		return aerr
	case "top_p":
		f, aerr := number(raw, key, 0, 1)
		r.TopP = f
		return aerr
	case "top_k":
		n, ok := integer(raw)
		if !ok || n < 0 {
			return invalid("top_k: must be an integer of at least 0.")
		}
		r.TopK = &n
	case "stop_sequences":
		if err := json.Unmarshal(raw, &r.StopSequences); err != nil || isNull(raw) {
			return invalid("stop_sequences: must be an array of strings.")
		}
		for i, s := range r.StopSequences {
			if strings.TrimSpace(s) == "" {
				return invalid("stop_sequences.%d: a stop sequence must contain non-whitespace characters.", i)
			}
		}
	case "tools":
		return r.decodeTools(raw)
	case "tool_choice":
		var tc bedrock.AnthropicToolChoice
		if !isObject(raw) || json.Unmarshal(raw, &tc) != nil {
			return invalid("tool_choice: must be an object with a type (auto, any, tool or none).")
		}
		switch tc.Type {
		case "auto", "any", "none":
		case "tool":
			if tc.Name == "" {
				return invalid("tool_choice.name: Field required when tool_choice.type is tool.")
			}
		default:
			return invalid("tool_choice.type: must be one of auto, any, tool or none (got %q).", clip.String(tc.Type, 100, "…"))
		}
		r.ToolChoice = &tc
	case "thinking":
		var t bedrock.AnthropicThinking
		if !isObject(raw) || json.Unmarshal(raw, &t) != nil {
			return invalid("thinking: must be an object with a type (enabled, disabled or adaptive) and, when enabled, an integer budget_tokens.")
		}
		switch t.Type {
		case "enabled":
			if t.BudgetTokens < 1024 {
				return invalid("thinking.budget_tokens: must be an integer of at least 1024.")
			}
		case "disabled", "adaptive":
		default:
			return invalid("thinking.type: must be one of enabled, disabled or adaptive (got %q).", clip.String(t.Type, 100, "…"))
		}
		r.Thinking = &t
	case "metadata":
		var md struct {
			UserID *string `json:"user_id"`
		}
		if !isObject(raw) || json.Unmarshal(raw, &md) != nil {
			return invalid("metadata: must be an object (with an optional string user_id).")
		}
	case "anthropic_beta":
		var l []string
		if json.Unmarshal(raw, &l) != nil {
			return invalid("anthropic_beta: must be an array of strings.")
		}
	}
	return nil
}

// decodeMessages decodes messages; role "system" entries (Claude Code sends
// them) are moved into the system blocks.
func (r *request) decodeMessages(raw json.RawMessage) *apiError {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil || isNull(raw) {
		return invalid("messages: must be an array of message objects.")
	}
	for i, mraw := range list {
		path := fmt.Sprintf("messages.%d", i)
		var m struct {
			Role    *string         `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if !isObject(mraw) || json.Unmarshal(mraw, &m) != nil {
			return invalid("%s: must be an object with a string role and content.", path)
		}
		if m.Role == nil {
			return invalid("%s.role: Field required.", path)
		}
		if isNull(m.Content) {
			return invalid("%s.content: Field required.", path)
		}
		role := *m.Role
		if role == "system" {
			blocks, aerr := systemBlocks(m.Content, path+".content")
			if aerr != nil {
				return aerr
			}
			r.System = append(r.System, blocks...)
			r.systemChanged = true
			continue
		}
		if role != "user" && role != "assistant" {
			return invalid("%s.role: must be user or assistant (got %q).", path, clip.String(role, 100, "…"))
		}
		c, aerr := decodeContent(m.Content, role, path+".content")
		if aerr != nil {
			return aerr
		}
		r.Messages = append(r.Messages, bedrock.AnthropicMessage{Role: role, Content: c})
		r.rawMessages = append(r.rawMessages, mraw)
	}
	return nil
}

// systemBlocks decodes a system value (or a system message's content): a
// string, or an array of text blocks.
func systemBlocks(raw json.RawMessage, path string) ([]bedrock.AnthropicBlock, *apiError) {
	if isNull(raw) {
		return nil, invalid("%s: must be a string or an array of text blocks.", path)
	}
	c, aerr := decodeContent(raw, "system", path)
	if aerr != nil {
		return nil, aerr
	}
	if c.Blocks == nil {
		if c.Text == "" {
			return nil, nil
		}
		return []bedrock.AnthropicBlock{{Type: "text", Text: c.Text}}, nil
	}
	for i, b := range c.Blocks {
		if b.Type != "text" {
			return nil, invalid("%s.%d.type: system content must be text blocks (got %q).", path, i, clip.String(b.Type, 100, "…"))
		}
	}
	return c.Blocks, nil
}

// imageTypes are the image media types Claude takes.
var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// knownBlocks are the block types the gateway decodes; others (search
// results, server tool blocks, ...) are passed to Claude as they are.
var knownBlocks = map[string]bool{"text": true, "image": true, "document": true, "tool_use": true,
	"tool_result": true, "thinking": true, "redacted_thinking": true}

// decodeContent decodes and validates content (a string or an array of
// blocks) of a message of role (or "system", "tool_result").
func decodeContent(raw json.RawMessage, role, path string) (bedrock.AnthropicContent, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var c bedrock.AnthropicContent
		err := json.Unmarshal(raw, &c.Text)
		if err != nil {
			return c, invalid("%s: is not a valid string.", path)
		}
		return c, nil
	}
	var rawBlocks []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &rawBlocks) != nil {
		return bedrock.AnthropicContent{}, invalid("%s: must be a string or an array of content blocks (objects).", path)
	}
	blocks := make([]bedrock.AnthropicBlock, len(rawBlocks))
	for i, braw := range rawBlocks {
		p := fmt.Sprintf("%s.%d", path, i)
		b := &blocks[i]
		var has map[string]json.RawMessage
		if !isObject(braw) || json.Unmarshal(braw, &has) != nil {
			return bedrock.AnthropicContent{}, invalid("%s: must be an object.", p)
		}
		if json.Unmarshal(has["type"], &b.Type) != nil {
			return bedrock.AnthropicContent{}, invalid("%s.type: must be a string.", p)
		}
		if !knownBlocks[b.Type] {
			if b.Type == "" {
				return bedrock.AnthropicContent{}, invalid("%s.type: Field required.", p)
			}
			continue
		}
		// content (of tool_result) is decoded by checkBlock, leniently, as
		// it may hold blocks the gateway does not know (search results).
		var shadow struct {
			bedrock.AnthropicBlock
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(braw, &shadow); err != nil {
			return bedrock.AnthropicContent{}, invalid("%s: is not a valid %s block: %v.", p, b.Type, fieldOf(err))
		}
		*b = shadow.AnthropicBlock
		if aerr := checkBlock(b, has, role, p); aerr != nil {
			return bedrock.AnthropicContent{}, aerr
		}
	}
	return bedrock.AnthropicContent{Blocks: blocks}, nil
}

// fieldOf words a decoding error by the field it is about.
func fieldOf(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s must not be %s", te.Field, te.Value)
	}
	return err.Error()
}

// checkBlock validates a decoded block of a known type; has are its raw
// members.
func checkBlock(b *bedrock.AnthropicBlock, has map[string]json.RawMessage, role, p string) *apiError {
	need := func(field string) *apiError {
		if isNull(has[field]) {
			return invalid("%s.%s: Field required for a %s block.", p, field, b.Type)
		}
		return nil
	}
	if cc := b.CacheControl; cc != nil {
		if cc.Type != "ephemeral" {
			return invalid("%s.cache_control.type: must be ephemeral (got %q).", p, clip.String(cc.Type, 100, "…"))
		}
		if cc.TTL != "" && cc.TTL != "5m" && cc.TTL != "1h" {
			return invalid("%s.cache_control.ttl: must be 5m or 1h (got %q).", p, clip.String(cc.TTL, 100, "…"))
		}
	}
	var aerr *apiError
	switch b.Type {
	case "":
		return invalid("%s.type: Field required.", p)
	case "text":
		aerr = need("text")
	case "image", "document":
		if aerr = need("source"); aerr == nil {
			aerr = checkSource(b, p)
		}
	case "tool_use":
		if role != "assistant" {
			return invalid("%s: tool_use blocks may only appear in assistant messages.", p)
		}
		for _, f := range []string{"id", "name", "input"} {
			if aerr = need(f); aerr != nil {
				return aerr
			}
		}
		if !isObject(b.Input) {
			return invalid("%s.input: must be an object.", p)
		}
	case "tool_result":
		if role != "user" {
			return invalid("%s: tool_result blocks may only appear in user messages.", p)
		}
		if b.ToolUseID == "" {
			return invalid("%s.tool_use_id: Field required for a tool_result block.", p)
		}
		if !isNull(has["content"]) {
			c, cerr := decodeContent(has["content"], "tool_result", p+".content")
			b.Content, aerr = &c, cerr
		}
	case "thinking":
		if role != "assistant" {
			return invalid("%s: thinking blocks may only appear in assistant messages.", p)
		}
		if aerr = need("thinking"); aerr == nil {
			aerr = need("signature")
		}
	case "redacted_thinking":
		aerr = need("data")
	}
	if aerr != nil {
		return aerr
	}
	return nil
}

// checkSource validates an image or document source.
func checkSource(b *bedrock.AnthropicBlock, p string) *apiError {
	s := b.Source
	if s == nil {
		return invalid("%s.source: must be an object.", p)
	}
	switch s.Type {
	case "base64":
		if b.Type == "image" && !imageTypes[s.MediaType] {
			return invalid("%s.source.media_type: must be one of image/jpeg, image/png, image/gif or image/webp (got %q).", p, clip.String(s.MediaType, 100, "…"))
		}
		if b.Type == "document" && s.MediaType != "application/pdf" {
			return invalid("%s.source.media_type: a base64 document must be application/pdf (got %q).", p, clip.String(s.MediaType, 100, "…"))
		}
		if s.Data == "" {
			return invalid("%s.source.data: Field required (base64 data).", p)
		}
		if _, err := base64.StdEncoding.DecodeString(s.Data); err != nil {
			return invalid("%s.source.data: is not valid base64.", p)
		}
	case "text":
		if b.Type != "document" {
			return invalid("%s.source.type: text sources are for documents only.", p)
		}
	case "url", "content", "file":
	default:
		return invalid("%s.source.type: must be base64, url or (documents) text or content (got %q).", p, clip.String(s.Type, 100, "…"))
	}
	return nil
}

// decodeTools decodes tools: client tools need a name and an input_schema
// object; typed (Anthropic-defined) tools a name.
func (r *request) decodeTools(raw json.RawMessage) *apiError {
	var list []json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &list) != nil {
		return invalid("tools: must be an array of tool objects.")
	}
	seen := map[string]bool{}
	for i, traw := range list {
		var t bedrock.AnthropicTool
		if !isObject(traw) || json.Unmarshal(traw, &t) != nil {
			return invalid("tools.%d: must be an object with a name and an input_schema.", i)
		}
		if len(t.Name) > 128 || !toolNamePattern.MatchString(t.Name) {
			return invalid("tools.%d.name: must match ^[a-zA-Z0-9_-]{1,128}$ (got %q).", i, clip.String(t.Name, 100, "…"))
		}
		if seen[t.Name] {
			return invalid("tools.%d.name: tool names must be unique (%q repeats).", i, t.Name)
		}
		seen[t.Name] = true
		if (t.Type == "" || t.Type == "custom") && !isObject(t.InputSchema) {
			return invalid("tools.%d.input_schema: Field required (a JSON Schema object).", i)
		}
		r.Tools = append(r.Tools, t)
	}
	return nil
}

// number decodes a number within [lo, hi].
func number(raw json.RawMessage, field string, lo, hi float64) (*float64, *apiError) {
	var f float64
	if isNull(raw) || json.Unmarshal(raw, &f) != nil {
		return nil, invalid("%s: must be a number.", field)
	}
	if f < lo || f > hi {
		return nil, invalid("%s: must be between %g and %g (got %g).", field, lo, hi, f)
	}
	return &f, nil
}

// integer decodes a JSON integer (1.0 is not one).
func integer(raw json.RawMessage) (int, bool) {
	var n int
	if isNull(raw) || bytes.ContainsAny(raw, ".eE") || json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	return n, true
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// thinkingBudget is the request's enabled thinking budget (0: none).
func thinkingBudget(r *request) int {
	if t := r.Thinking; t != nil && t.Type == "enabled" {
		return t.BudgetTokens
	}
	return 0
}
