package emulator

import (
	"encoding/json"
	"sort"
	"strings"
)

// Cohere Command R / R+ (chat API).

var nativeCohereRSpec = famObj([]string{"message"}, map[string]*famSpec{
	"message": famStr(),
	"chat_history": famList(famObj([]string{"role"}, map[string]*famSpec{
		"role": famEnum("USER", "CHATBOT", "SYSTEM", "TOOL"), "message": famStr(),
		"tool_calls": famAnyValue(), "tool_results": famAnyValue(),
	}), 0, 0),
	"documents":           famList(&famSpec{kind: famObject, open: true}, 0, 0),
	"search_queries_only": famBool(),
	"preamble":            famStr(),
	"max_tokens":          {kind: famInteger, min: famFloat(1)},
	"temperature":         famNum(0, 1),
	"p":                   famNum(0.01, 0.99),
	"k":                   famInt(0, 500),
	"prompt_truncation":   famEnum("OFF", "AUTO_PRESERVE_ORDER"),
	"frequency_penalty":   famNum(0, 1),
	"presence_penalty":    famNum(0, 1),
	"seed":                {kind: famInteger},
	"return_prompt":       famBool(),
	"raw_prompting":       famBool(),
	"force_single_step":   famBool(),
	"stop_sequences":      famList(famStr(), 0, 5),
	"tools": famList(famObj([]string{"name", "description"}, map[string]*famSpec{
		"name": famStr(), "description": famStr(),
		"parameter_definitions": {kind: famObject, open: true},
	}), 0, 0),
	"tool_results": famList(famObj([]string{"call", "outputs"}, map[string]*famSpec{
		"call":    famObj([]string{"name", "parameters"}, map[string]*famSpec{"name": famStr(), "parameters": {kind: famObject, open: true}}),
		"outputs": famList(&famSpec{kind: famObject, open: true}, 0, 0),
	}), 0, 0),
})

// nativeCohereCallID names a Cohere tool call (Cohere has no call ids) so the
// generator can pair calls with results.
func nativeCohereCallID(name string, params any) string {
	b, _ := json.Marshal(params)
	return "cohere_" + nativeBase62ID(16, name, string(b))
}

// nativeCohereType maps Cohere's Python-style parameter types to JSON Schema.
func nativeCohereType(t string) string {
	switch {
	case t == "str":
		return "string"
	case t == "int":
		return "integer"
	case t == "float":
		return "number"
	case t == "bool":
		return "boolean"
	case strings.HasPrefix(t, "List") || strings.HasPrefix(t, "list"):
		return "array"
	case strings.HasPrefix(t, "Dict") || strings.HasPrefix(t, "dict"):
		return "object"
	}
	return "string"
}

func nativeParseCohereR(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeCohereRSpec)
	if err != nil {
		return nil, err
	}
	req := &genRequest{MaxTokens: famGetInt(m, "max_tokens", 0), StopSequences: nativeStopSeqs(m, "stop_sequences")}
	if p := famGetString(m, "preamble"); p != "" {
		req.System = []string{p}
	}
	for _, raw := range famGetList(m, "chat_history") {
		h := raw.(map[string]any)
		text := famGetString(h, "message")
		switch famGetString(h, "role") {
		case "USER":
			req.Messages = append(req.Messages, genMessage{Role: "user", Text: text})
		case "CHATBOT":
			gm := genMessage{Role: "assistant", Text: text}
			if calls, ok := h["tool_calls"].([]any); ok {
				for _, c := range calls {
					cm, _ := c.(map[string]any)
					in, _ := json.Marshal(cm["parameters"])
					gm.ToolUses = append(gm.ToolUses, genToolUse{ID: nativeCohereCallID(famGetString(cm, "name"), cm["parameters"]), Name: famGetString(cm, "name"), Input: in})
				}
			}
			req.Messages = append(req.Messages, gm)
		case "SYSTEM":
			req.System = append(req.System, text)
		}
	}
	user := genMessage{Role: "user", Text: famGetString(m, "message")}
	if results := famGetList(m, "tool_results"); len(results) > 0 {
		// The calls being answered belong to the previous (chatbot) turn.
		var calls genMessage
		calls.Role = "assistant"
		for _, raw := range results {
			r := raw.(map[string]any)
			call := famGetObject(r, "call")
			id := nativeCohereCallID(famGetString(call, "name"), call["parameters"])
			in, _ := json.Marshal(call["parameters"])
			calls.ToolUses = append(calls.ToolUses, genToolUse{ID: id, Name: famGetString(call, "name"), Input: in})
			out, _ := json.Marshal(r["outputs"])
			user.ToolResults = append(user.ToolResults, genToolResult{ToolUseID: id, Text: string(out)})
		}
		n := len(req.Messages)
		if n > 0 && req.Messages[n-1].Role == "assistant" && len(req.Messages[n-1].ToolUses) > 0 {
			req.Messages[n-1].ToolUses = calls.ToolUses
		} else {
			req.Messages = append(req.Messages, calls)
		}
	}
	req.Messages = append(req.Messages, user)
	for _, raw := range famGetList(m, "tools") {
		t := raw.(map[string]any)
		props, required := map[string]any{}, []any{}
		defs := famGetObject(t, "parameter_definitions")
		keys := make([]string, 0, len(defs))
		for k := range defs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d, _ := defs[k].(map[string]any)
			props[k] = map[string]any{"type": nativeCohereType(famGetString(d, "type")), "description": famGetString(d, "description")}
			if famGetBool(d, "required", false) {
				required = append(required, k)
			}
		}
		req.Tools = append(req.Tools, genTool{Name: famGetString(t, "name"), Description: famGetString(t, "description"),
			Schema: map[string]any{"type": "object", "properties": props, "required": required}})
	}
	return req, nil
}

func nativeCohereRIDs(modelID string, req *genRequest, res genResult) (respID, genID string) {
	seed := modelID + "\x00" + nativeLastUserText(req) + "\x00" + res.Text
	return nativeUUID("cohere-r-response", seed), nativeUUID("cohere-r-generation", seed)
}

func nativeCohereRToolCalls(res genResult) []any {
	var calls []any
	for _, u := range res.ToolUses {
		calls = append(calls, nativeObj{{"name", u.Name}, {"parameters", nativeRawInput(u.Input)}})
	}
	return calls
}

func nativeCohereRResponse(modelID string, req *genRequest, res genResult) nativeObj {
	respID, genID := nativeCohereRIDs(modelID, req, res)
	var history []any
	for _, msg := range req.Messages {
		role := "USER"
		if msg.Role == "assistant" {
			role = "CHATBOT"
		}
		if len(msg.ToolResults) > 0 && msg.Text == "" {
			continue
		}
		history = append(history, nativeObj{{"role", role}, {"message", msg.Text}})
	}
	reply := nativeObj{{"role", "CHATBOT"}, {"message", res.Text}}
	if len(res.ToolUses) > 0 {
		reply = append(reply, nativeKV{"tool_calls", nativeCohereRToolCalls(res)})
	}
	history = append(history, reply)
	out := nativeObj{
		{"response_id", respID},
		{"text", res.Text},
		{"generation_id", genID},
		{"chat_history", history},
	}
	if len(res.ToolUses) > 0 {
		out = append(out, nativeKV{"tool_calls", nativeCohereRToolCalls(res)})
	}
	return append(out, nativeKV{"finish_reason", nativeCohereReason(res.StopReason, true)})
}

// nativeCohereRChunks are Cohere's chat stream events: stream-start, one
// text-generation per fragment, tool-calls-generation when tools are called,
// and stream-end carrying the whole response.
func nativeCohereRChunks(modelID string, req *genRequest, res genResult) []nativeObj {
	_, genID := nativeCohereRIDs(modelID, req, res)
	out := []nativeObj{{{"is_finished", false}, {"event_type", "stream-start"}, {"generation_id", genID}}}
	for _, f := range nativeFragments(res.Text) {
		out = append(out, nativeObj{{"is_finished", false}, {"event_type", "text-generation"}, {"text", f}})
	}
	if len(res.ToolUses) > 0 {
		out = append(out, nativeObj{{"is_finished", false}, {"event_type", "tool-calls-generation"}, {"text", res.Text}, {"tool_calls", nativeCohereRToolCalls(res)}})
	}
	return append(out, nativeObj{
		{"is_finished", true},
		{"event_type", "stream-end"},
		{"response", nativeCohereRResponse(modelID, req, res)},
		{"finish_reason", nativeCohereReason(res.StopReason, true)},
	})
}
