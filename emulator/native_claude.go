package emulator

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Anthropic Claude (Messages API, anthropic_version bedrock-2023-05-31).

var (
	nativeClaudeCache = famOpen(famObj([]string{"type"}, map[string]*famSpec{"type": famEnum("ephemeral")}))
	nativeClaudeText  = famObj([]string{"type", "text"}, map[string]*famSpec{
		"type": famStr(), "text": famStr(), "cache_control": nativeClaudeCache, "citations": famAnyValue(),
	})
	nativeClaudeSource = famOpen(famObj([]string{"type"}, map[string]*famSpec{
		"type": famEnum("base64", "url", "text", "content", "file"), "media_type": famStr(), "data": famStr(), "url": famStr(),
	}))
	nativeClaudeImage = famObj([]string{"type", "source"}, map[string]*famSpec{
		"type": famStr(), "source": nativeClaudeSource, "cache_control": nativeClaudeCache,
	})
	nativeClaudeDocument = famObj([]string{"type", "source"}, map[string]*famSpec{
		"type": famStr(), "source": nativeClaudeSource, "title": famStr(), "context": famStr(),
		"citations": famAnyValue(), "cache_control": nativeClaudeCache,
	})
	nativeClaudeResultBlock = &famSpec{kind: famObject, byType: map[string]*famSpec{
		"text": nativeClaudeText, "image": nativeClaudeImage, "document": nativeClaudeDocument,
	}}
	nativeClaudeBlock = &famSpec{kind: famObject, byType: map[string]*famSpec{
		"text":     nativeClaudeText,
		"image":    nativeClaudeImage,
		"document": nativeClaudeDocument,
		"tool_use": famObj([]string{"type", "id", "name", "input"}, map[string]*famSpec{
			"type": famStr(), "id": famStr(), "name": famStr(), "input": {kind: famObject, open: true},
			"cache_control": nativeClaudeCache,
		}),
		"tool_result": famObj([]string{"type", "tool_use_id"}, map[string]*famSpec{
			"type": famStr(), "tool_use_id": famStr(),
			"content":  famOneOf(famStr(), famList(nativeClaudeResultBlock, 0, 0)),
			"is_error": famBool(), "cache_control": nativeClaudeCache,
		}),
		"thinking": famObj([]string{"type", "thinking"}, map[string]*famSpec{
			"type": famStr(), "thinking": famStr(), "signature": famStr(),
		}),
		"redacted_thinking": famObj([]string{"type", "data"}, map[string]*famSpec{"type": famStr(), "data": famStr()}),
	}}
	nativeClaudeSpec = famObj([]string{"anthropic_version", "max_tokens", "messages"}, map[string]*famSpec{
		"anthropic_version": famStr(),
		"anthropic_beta":    famList(famStr(), 0, 0),
		"max_tokens":        {kind: famInteger, min: famFloat(1)},
		"messages": famList(famObj([]string{"role", "content"}, map[string]*famSpec{
			"role":    famEnum("user", "assistant"),
			"content": famOneOf(famStr(), famList(nativeClaudeBlock, 0, 0)),
		}), 0, 0),
		"system":         famOneOf(famStr(), famList(nativeClaudeText, 0, 0)),
		"temperature":    famNum(0, 1),
		"top_p":          famNum(0, 1),
		"top_k":          {kind: famInteger, min: famFloat(0)},
		"stop_sequences": famList(famStr(), 0, 8191),
		"tools": famList(famObj([]string{"name"}, map[string]*famSpec{
			"name": famStr(), "description": famStr(), "input_schema": {kind: famObject, open: true},
			"type": famStr(), "cache_control": nativeClaudeCache, "strict": famBool(),
			"display_width_px": famAnyValue(), "display_height_px": famAnyValue(), "display_number": famAnyValue(),
		}), 0, 0),
		"tool_choice": famObj([]string{"type"}, map[string]*famSpec{
			"type": famEnum("auto", "any", "tool", "none"), "name": famStr(), "disable_parallel_tool_use": famBool(),
		}),
		"thinking": famObj([]string{"type"}, map[string]*famSpec{
			"type": famEnum("enabled", "disabled", "adaptive"), "budget_tokens": {kind: famInteger},
		}),
		"metadata": famOpen(famObj(nil, map[string]*famSpec{"user_id": famStr()})),
	})
)

func famFloat(f float64) *float64 { return &f }

func nativeParseClaude(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeClaudeSpec)
	if err != nil {
		return nil, err
	}
	if v := famGetString(m, "anthropic_version"); v != "bedrock-2023-05-31" {
		return nil, validationError("Invalid anthropic_version: %q; the only accepted value is bedrock-2023-05-31.", v)
	}
	req := &genRequest{MaxTokens: famGetInt(m, "max_tokens", 0), StopSequences: nativeStopSeqs(m, "stop_sequences")}
	switch sys := m["system"].(type) {
	case string:
		if sys != "" {
			req.System = []string{sys}
		}
	case []any:
		for _, b := range sys {
			req.System = append(req.System, famGetString(b.(map[string]any), "text"))
		}
	}
	msgs := famGetList(m, "messages")
	if len(msgs) == 0 {
		return nil, validationError("messages: at least one message is required")
	}
	for i, raw := range msgs {
		msg := raw.(map[string]any)
		gm := genMessage{Role: famGetString(msg, "role")}
		var texts []string
		switch c := msg["content"].(type) {
		case string:
			texts = append(texts, c)
		case []any:
			for j, braw := range c {
				b := braw.(map[string]any)
				switch famGetString(b, "type") {
				case "text":
					texts = append(texts, famGetString(b, "text"))
				case "image", "document":
					req.ExtraInputTokens += nativeBlobTokens
				case "tool_use":
					if gm.Role != "assistant" {
						return nil, validationError("messages.%d.content.%d: tool_use blocks may only appear in assistant messages", i, j)
					}
					in, _ := json.Marshal(b["input"])
					gm.ToolUses = append(gm.ToolUses, genToolUse{ID: famGetString(b, "id"), Name: famGetString(b, "name"), Input: in})
				case "tool_result":
					if gm.Role != "user" {
						return nil, validationError("messages.%d.content.%d: tool_result blocks may only appear in user messages", i, j)
					}
					status := ""
					if famGetBool(b, "is_error", false) {
						status = "error"
					}
					gm.ToolResults = append(gm.ToolResults, genToolResult{ToolUseID: famGetString(b, "tool_use_id"), Text: nativeClaudeResultText(b["content"]), Status: status})
				}
			}
		}
		gm.Text = strings.Join(texts, "\n")
		// Anthropic checks that tool results answer the previous turn's calls.
		if len(gm.ToolResults) > 0 {
			known := map[string]bool{}
			if i > 0 {
				for _, u := range req.Messages[i-1].ToolUses {
					known[u.ID] = true
				}
			}
			var stray []string
			for _, r := range gm.ToolResults {
				if !known[r.ToolUseID] {
					stray = append(stray, r.ToolUseID)
				}
			}
			if len(stray) > 0 {
				return nil, validationError("messages.%d.content.0: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, strings.Join(stray, ", "))
			}
		}
		req.Messages = append(req.Messages, gm)
	}
	names := map[string]bool{}
	for i, raw := range famGetList(m, "tools") {
		t := raw.(map[string]any)
		name := famGetString(t, "name")
		if !toolNameRE.MatchString(name) {
			return nil, validationError("tools.%d.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'", i)
		}
		if names[name] {
			return nil, validationError("tools: Tool names must be unique.")
		}
		names[name] = true
		typ := famGetString(t, "type")
		schema := famGetObject(t, "input_schema")
		if (typ == "" || typ == "custom") && schema == nil {
			return nil, validationError("tools.%d.custom.input_schema: Field required", i)
		}
		req.Tools = append(req.Tools, genTool{Name: name, Description: famGetString(t, "description"), Schema: schema})
	}
	if tc := famGetObject(m, "tool_choice"); tc != nil {
		switch famGetString(tc, "type") {
		case "any":
			req.ToolChoice = "any"
		case "tool":
			name, ok := tc["name"].(string)
			if !ok {
				return nil, validationError("tool_choice.tool.name: Field required")
			}
			if !names[name] {
				return nil, validationError("Tool '%s' not found in provided tools", name)
			}
			req.ToolChoice = name
		case "none":
			req.Tools = nil
		default:
			req.ToolChoice = "auto"
		}
		if req.ToolChoice != "auto" && len(req.Tools) == 0 && famGetString(tc, "type") != "none" {
			return nil, validationError("tool_choice may only be specified while providing tools.")
		}
	}
	if th := famGetObject(m, "thinking"); th != nil && famGetString(th, "type") != "disabled" {
		if famGetString(th, "type") == "enabled" {
			if _, ok := th["budget_tokens"]; !ok {
				return nil, validationError("thinking.enabled.budget_tokens: Field required")
			}
			b := famGetInt(th, "budget_tokens", 0)
			if b < 1024 {
				return nil, validationError("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
			}
			if b >= req.MaxTokens {
				return nil, validationError("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
			}
		}
		if t, ok := m["temperature"].(json.Number); ok && string(t) != "1" && string(t) != "1.0" {
			return nil, validationError("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility")
		}
		if _, ok := m["top_k"]; ok {
			return nil, validationError("`top_k` must be unset when thinking is enabled or in adaptive mode. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility")
		}
		req.Reasoning = true
	}
	return req, nil
}

// nativeClaudeResultText is the text of a tool_result's content (a string or
// text blocks).
func nativeClaudeResultText(c any) string {
	switch x := c.(type) {
	case string:
		return x
	case []any:
		var parts []string
		for _, b := range x {
			if bm, ok := b.(map[string]any); ok && famGetString(bm, "type") == "text" {
				parts = append(parts, famGetString(bm, "text"))
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

var nativeClaudeVersionSuffix = regexp.MustCompile(`-v\d+(:\d+)?$`)

// nativeClaudeModelName is the "model" member Claude reports: the model ID
// without provider, region prefix and Bedrock version suffix
// ("anthropic.claude-3-5-sonnet-20240620-v1:0" → "claude-3-5-sonnet-20240620").
func nativeClaudeModelName(modelID string) string {
	base := strings.TrimPrefix(famBaseModelID(modelID), "anthropic.")
	switch base {
	case "claude-v2":
		return "claude-2.0"
	case "claude-v2:1":
		return "claude-2.1"
	case "claude-instant-v1":
		return "claude-instant-1.2"
	}
	return nativeClaudeVersionSuffix.ReplaceAllString(base, "")
}

// nativeClaudeToolID keeps Claude-style tool ids and maps others onto that
// form deterministically, so a follow-up turn echoes ids the family knows.
func nativeClaudeToolID(id string) string {
	if strings.HasPrefix(id, "toolu_") {
		return id
	}
	return "toolu_bdrk_01" + nativeBase62ID(22, "tool", id)
}

func nativeClaudeMessageID(modelID string, req *genRequest, res genResult) string {
	return "msg_bdrk_01" + nativeBase62ID(22, modelID, res.Text, res.Reasoning, fmt.Sprint(len(req.Messages)), nativeLastUserText(req))
}

func nativeLastUserText(req *genRequest) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			return req.Messages[i].Text
		}
	}
	return ""
}

func nativeClaudeMessage(modelID string, req *genRequest, res genResult) nativeObj {
	var content []any
	if res.Reasoning != "" {
		content = append(content, nativeObj{{"type", "thinking"}, {"thinking", res.Reasoning}, {"signature", nativeSignature(modelID, res)}})
	}
	if res.Text != "" || len(res.ToolUses) == 0 {
		content = append(content, nativeObj{{"type", "text"}, {"text", res.Text}})
	}
	for _, u := range res.ToolUses {
		content = append(content, nativeObj{{"type", "tool_use"}, {"id", nativeClaudeToolID(u.ID)}, {"name", u.Name}, {"input", nativeRawInput(u.Input)}})
	}
	stopSeq := any(nil)
	if res.StopReason == "stop_sequence" {
		stopSeq = res.StopSequence
	}
	return nativeObj{
		{"id", nativeClaudeMessageID(modelID, req, res)},
		{"type", "message"},
		{"role", "assistant"},
		{"model", nativeClaudeModelName(modelID)},
		{"content", content},
		{"stop_reason", res.StopReason},
		{"stop_sequence", stopSeq},
		{"usage", nativeClaudeUsage(res, res.OutputTokens)},
	}
}

func nativeClaudeChunks(modelID string, req *genRequest, res genResult) []nativeObj {
	out := []nativeObj{{
		{"type", "message_start"},
		{"message", nativeObj{
			{"id", nativeClaudeMessageID(modelID, req, res)},
			{"type", "message"},
			{"role", "assistant"},
			{"model", nativeClaudeModelName(modelID)},
			{"content", []any{}},
			{"stop_reason", nil},
			{"stop_sequence", nil},
			{"usage", nativeClaudeUsage(res, 1)},
		}},
	}}
	idx := 0
	delta := func(d nativeObj) nativeObj {
		return nativeObj{{"type", "content_block_delta"}, {"index", idx}, {"delta", d}}
	}
	stop := func() {
		out = append(out, nativeObj{{"type", "content_block_stop"}, {"index", idx}})
		idx++
	}
	if res.Reasoning != "" {
		out = append(out, nativeObj{{"type", "content_block_start"}, {"index", idx}, {"content_block", nativeObj{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}}})
		for _, f := range nativeFragments(res.Reasoning) {
			out = append(out, delta(nativeObj{{"type", "thinking_delta"}, {"thinking", f}}))
		}
		out = append(out, delta(nativeObj{{"type", "signature_delta"}, {"signature", nativeSignature(modelID, res)}}))
		stop()
	}
	if res.Text != "" || len(res.ToolUses) == 0 {
		out = append(out, nativeObj{{"type", "content_block_start"}, {"index", idx}, {"content_block", nativeObj{{"type", "text"}, {"text", ""}}}})
		for _, f := range nativeFragments(res.Text) {
			out = append(out, delta(nativeObj{{"type", "text_delta"}, {"text", f}}))
		}
		stop()
	}
	for _, u := range res.ToolUses {
		out = append(out, nativeObj{{"type", "content_block_start"}, {"index", idx}, {"content_block", nativeObj{
			{"type", "tool_use"}, {"id", nativeClaudeToolID(u.ID)}, {"name", u.Name}, {"input", nativeObj{}},
		}}})
		for _, f := range nativeJSONFragments(string(nativeRawInput(u.Input))) {
			out = append(out, delta(nativeObj{{"type", "input_json_delta"}, {"partial_json", f}}))
		}
		stop()
	}
	stopSeq := any(nil)
	if res.StopReason == "stop_sequence" {
		stopSeq = res.StopSequence
	}
	out = append(out,
		nativeObj{{"type", "message_delta"}, {"delta", nativeObj{{"stop_reason", res.StopReason}, {"stop_sequence", stopSeq}}}, {"usage", nativeObj{{"output_tokens", res.OutputTokens}}}},
		nativeObj{{"type", "message_stop"}},
	)
	return out
}
