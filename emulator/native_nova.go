package emulator

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Amazon Nova (messages-v1).

var (
	nativeNovaSource = famObj(nil, map[string]*famSpec{
		"bytes":      famStr(),
		"s3Location": famObj([]string{"uri"}, map[string]*famSpec{"uri": famStr(), "bucketOwner": famStr()}),
	})
	nativeNovaCachePoint = famObj([]string{"type"}, map[string]*famSpec{"type": famEnum("default")})
	nativeNovaImage      = famObj([]string{"format", "source"}, map[string]*famSpec{
		"format": famEnum("png", "jpeg", "gif", "webp"), "source": nativeNovaSource,
	})
	nativeNovaDocument = famObj([]string{"format", "name", "source"}, map[string]*famSpec{
		"format": famEnum("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"), "name": famStr(), "source": nativeNovaSource,
	})
	nativeNovaVideo = famObj([]string{"format", "source"}, map[string]*famSpec{
		"format": famEnum("mkv", "mov", "mp4", "webm", "three_gp", "flv", "mpeg", "mpg", "wmv"), "source": nativeNovaSource,
	})
	nativeNovaContent = famObj(nil, map[string]*famSpec{
		"text":     famStr(),
		"image":    nativeNovaImage,
		"document": nativeNovaDocument,
		"video":    nativeNovaVideo,
		"toolUse": famObj([]string{"toolUseId", "name", "input"}, map[string]*famSpec{
			"toolUseId": famStr(), "name": famStr(), "input": famAnyValue(), "type": famStr(),
		}),
		"toolResult": famObj([]string{"toolUseId", "content"}, map[string]*famSpec{
			"toolUseId": famStr(),
			"content": famList(famObj(nil, map[string]*famSpec{
				"json": famAnyValue(), "text": famStr(), "image": nativeNovaImage, "document": nativeNovaDocument, "video": nativeNovaVideo,
			}), 0, 0),
			"status": famEnum("success", "error"),
		}),
		"reasoningContent": famAnyValue(),
		"cachePoint":       nativeNovaCachePoint,
	})
	nativeNovaSpec = famObj([]string{"messages"}, map[string]*famSpec{
		"schemaVersion": famEnum("messages-v1"),
		"system":        famList(famObj(nil, map[string]*famSpec{"text": famStr(), "cachePoint": nativeNovaCachePoint}), 0, 0),
		"messages": famList(famObj([]string{"role", "content"}, map[string]*famSpec{
			"role": famEnum("user", "assistant"), "content": famList(nativeNovaContent, 0, 0),
		}), 0, 0),
		"inferenceConfig": famObj(nil, map[string]*famSpec{
			"max_new_tokens": {kind: famInteger, min: famFloat(1)},
			"maxTokens":      {kind: famInteger, min: famFloat(1)},
			"temperature":    famNum(0, 1),
			"topP":           famNum(0, 1),
			"top_p":          famNum(0, 1),
			"topK":           {kind: famInteger, min: famFloat(0)},
			"top_k":          {kind: famInteger, min: famFloat(0)},
			"stopSequences":  famList(famStr(), 0, 0),
		}),
		"toolConfig": famObj([]string{"tools"}, map[string]*famSpec{
			"tools": famList(famObj([]string{"toolSpec"}, map[string]*famSpec{
				"toolSpec": famObj([]string{"name", "inputSchema"}, map[string]*famSpec{
					"name": famStr(), "description": famStr(),
					"inputSchema": famObj([]string{"json"}, map[string]*famSpec{"json": {kind: famObject, open: true}}),
				}),
			}), 1, 0),
			"toolChoice": famObj(nil, map[string]*famSpec{
				"auto": famObj(nil, nil), "any": famObj(nil, nil),
				"tool": famObj([]string{"name"}, map[string]*famSpec{"name": famStr()}),
			}),
		}),
		"reasoningConfig": famObj([]string{"type"}, map[string]*famSpec{
			"type": famEnum("enabled", "disabled"), "maxReasoningEffort": famEnum("low", "medium", "high"),
		}),
	})
)

func nativeParseNova(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeNovaSpec)
	if err != nil {
		return nil, err
	}
	req := &genRequest{}
	// Union members (content blocks, system blocks, toolChoice) carry exactly
	// one member.
	var bad []string
	one := func(o map[string]any, path string, total int) {
		if len(o) != 1 {
			bad = append(bad, fmt.Sprintf("%s: #: no subschema matched out of the total %d subschemas", path, total))
		}
	}
	for i, raw := range famGetList(m, "system") {
		b := raw.(map[string]any)
		one(b, fmt.Sprintf("#/system/%d", i), 2)
		if t, ok := b["text"].(string); ok {
			req.System = append(req.System, t)
		}
	}
	msgs := famGetList(m, "messages")
	for i, raw := range msgs {
		msg := raw.(map[string]any)
		gm := genMessage{Role: famGetString(msg, "role")}
		var texts []string
		for j, braw := range famGetList(msg, "content") {
			b := braw.(map[string]any)
			one(b, fmt.Sprintf("#/messages/%d/content/%d", i, j), 8)
			if t, ok := b["text"].(string); ok {
				texts = append(texts, t)
			}
			for _, k := range []string{"image", "document"} {
				if b[k] != nil {
					req.ExtraInputTokens += nativeBlobTokens
				}
			}
			if b["video"] != nil {
				req.ExtraInputTokens += videoInputTokens
			}
			if u := famGetObject(b, "toolUse"); u != nil {
				in, _ := json.Marshal(u["input"])
				gm.ToolUses = append(gm.ToolUses, genToolUse{ID: famGetString(u, "toolUseId"), Name: famGetString(u, "name"), Input: in})
			}
			if r := famGetObject(b, "toolResult"); r != nil {
				var parts []string
				for _, c := range famGetList(r, "content") {
					cm := c.(map[string]any)
					if t, ok := cm["text"].(string); ok {
						parts = append(parts, t)
					} else if j, ok := cm["json"]; ok {
						jb, _ := json.Marshal(j)
						parts = append(parts, string(jb))
					}
				}
				gm.ToolResults = append(gm.ToolResults, genToolResult{ToolUseID: famGetString(r, "toolUseId"), Text: strings.Join(parts, "\n"), Status: famGetString(r, "status")})
			}
		}
		gm.Text = strings.Join(texts, "\n")
		req.Messages = append(req.Messages, gm)
	}
	if tc := famGetObject(famGetObject(m, "toolConfig"), "toolChoice"); tc != nil {
		one(tc, "#/toolConfig/toolChoice", 3)
	}
	if e := nativeViolations(bad); e != nil {
		return nil, e
	}
	if len(msgs) == 0 {
		return nil, validationError("Malformed input request: #/messages: expected minimum item count: 1, found: 0, please reformat your input and try again.")
	}
	if famGetString(msgs[0].(map[string]any), "role") != "user" {
		return nil, validationError("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	for i := 1; i < len(msgs); i++ {
		if famGetString(msgs[i].(map[string]any), "role") == famGetString(msgs[i-1].(map[string]any), "role") {
			return nil, validationError("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		}
	}
	ic := famGetObject(m, "inferenceConfig")
	req.MaxTokens = famGetInt(ic, "max_new_tokens", famGetInt(ic, "maxTokens", 0))
	req.StopSequences = nativeStopSeqs(ic, "stopSequences")
	tcfg := famGetObject(m, "toolConfig")
	for _, raw := range famGetList(tcfg, "tools") {
		spec := famGetObject(raw.(map[string]any), "toolSpec")
		req.Tools = append(req.Tools, genTool{
			Name: famGetString(spec, "name"), Description: famGetString(spec, "description"),
			Schema: famGetObject(famGetObject(spec, "inputSchema"), "json"),
		})
	}
	if tc := famGetObject(tcfg, "toolChoice"); tc != nil {
		switch {
		case tc["any"] != nil:
			req.ToolChoice = "any"
		case tc["tool"] != nil:
			req.ToolChoice = famGetString(famGetObject(tc, "tool"), "name")
		default:
			req.ToolChoice = "auto"
		}
	}
	if rc := famGetObject(m, "reasoningConfig"); rc != nil && famGetString(rc, "type") == "enabled" {
		req.Reasoning = true
	}
	return req, nil
}

var nativeUUIDShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// nativeNovaToolID gives tool calls the UUID ids native Nova bodies carry.
func nativeNovaToolID(id string) string {
	if nativeUUIDShape.MatchString(id) {
		return id
	}
	return nativeUUID("nova-tool", id)
}

func nativeNovaUsage(res genResult) nativeObj {
	return nativeObj{
		{"inputTokens", res.InputTokens},
		{"outputTokens", res.OutputTokens},
		{"totalTokens", res.InputTokens + res.OutputTokens},
		{"cacheReadInputTokenCount", 0},
		{"cacheWriteInputTokenCount", 0},
	}
}

func nativeNovaResponse(res genResult) nativeObj {
	var content []any
	if res.Reasoning != "" {
		content = append(content, nativeObj{{"reasoningContent", nativeObj{{"reasoningText", nativeObj{{"text", res.Reasoning}}}}}})
	}
	if res.Text != "" || len(res.ToolUses) == 0 {
		content = append(content, nativeObj{{"text", res.Text}})
	}
	for _, u := range res.ToolUses {
		content = append(content, nativeObj{{"toolUse", nativeObj{{"name", u.Name}, {"toolUseId", nativeNovaToolID(u.ID)}, {"input", nativeRawInput(u.Input)}}}})
	}
	return nativeObj{
		{"output", nativeObj{{"message", nativeObj{{"content", content}, {"role", "assistant"}}}}},
		{"stopReason", res.StopReason},
		{"usage", nativeNovaUsage(res)},
	}
}

// nativeNovaChunks follows the recordings: every text delta is its own
// content block (delta then stop), tool calls are start/delta/stop with the
// whole input in one delta, then messageStop and the metadata.
func nativeNovaChunks(res genResult) []nativeObj {
	out := []nativeObj{{{"messageStart", nativeObj{{"role", "assistant"}}}}}
	idx := 0
	block := func(delta nativeObj) {
		out = append(out,
			nativeObj{{"contentBlockDelta", nativeObj{{"delta", delta}, {"contentBlockIndex", idx}}}},
			nativeObj{{"contentBlockStop", nativeObj{{"contentBlockIndex", idx}}}})
		idx++
	}
	for _, f := range nativeFragments(res.Reasoning) {
		block(nativeObj{{"reasoningContent", nativeObj{{"text", f}}}})
	}
	for _, f := range nativeFragments(res.Text) {
		block(nativeObj{{"text", f}})
	}
	for _, u := range res.ToolUses {
		out = append(out, nativeObj{{"contentBlockStart", nativeObj{
			{"start", nativeObj{{"toolUse", nativeObj{{"toolUseId", nativeNovaToolID(u.ID)}, {"name", u.Name}}}}},
			{"contentBlockIndex", idx},
		}}})
		block(nativeObj{{"toolUse", nativeObj{{"input", string(nativeRawInput(u.Input))}}}})
	}
	usage := nativeObj{
		{"inputTokens", res.InputTokens},
		{"outputTokens", res.OutputTokens},
		{"cacheReadInputTokenCount", 0},
		{"cacheWriteInputTokenCount", 0},
	}
	return append(out,
		nativeObj{{"messageStop", nativeObj{{"stopReason", res.StopReason}}}},
		nativeObj{{"metadata", nativeObj{{"usage", usage}, {"metrics", nativeObj{}}, {"trace", nativeObj{}}}}},
	)
}
