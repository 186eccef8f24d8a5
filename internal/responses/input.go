package responses

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/clip"
	"github.com/quarry-dev/quarry/internal/openai"
)

// item is an input (or output) item as the gateway reads it. Which members
// matter depends on Type.
type item struct {
	Type             string          `json:"type"`
	ID               string          `json:"id,omitempty"`
	Role             string          `json:"role,omitempty"`
	Content          json.RawMessage `json:"content,omitempty"`
	CallID           string          `json:"call_id,omitempty"`
	Name             string          `json:"name,omitempty"`
	Arguments        json.RawMessage `json:"arguments,omitempty"`
	Input            json.RawMessage `json:"input,omitempty"`
	Output           json.RawMessage `json:"output,omitempty"`
	Summary          []summaryPart   `json:"summary,omitempty"`
	EncryptedContent *string         `json:"encrypted_content,omitempty"`
}

type summaryPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// part is a content part of a message item.
type part struct {
	Type     string          `json:"type"`
	Text     *string         `json:"text"`
	ImageURL json.RawMessage `json:"image_url"`
	FileID   string          `json:"file_id"`
	FileData string          `json:"file_data"`
	FileURL  string          `json:"file_url"`
	Filename string          `json:"filename"`
	Detail   string          `json:"detail"`
	Refusal  *string         `json:"refusal"`
}

// chatMsg is a chat message being built from input items.
type chatMsg struct {
	Role           string           `json:"role"`
	Content        any              `json:"content,omitempty"`
	ToolCalls      []map[string]any `json:"tool_calls,omitempty"`
	ToolCallID     string           `json:"tool_call_id,omitempty"`
	ThinkingBlocks []map[string]any `json:"thinking_blocks,omitempty"`
}

// input translates instructions, the history and input into chat messages.
func (d *decoded) input(history []json.RawMessage) *openai.Error {
	var msgs []*chatMsg
	if !isNull(d.req.Instructions) {
		var s string
		if err := json.Unmarshal(d.req.Instructions, &s); err != nil {
			return openai.Invalid("instructions", "Invalid type for 'instructions': expected a string.")
		}
		if strings.TrimSpace(s) != "" {
			msgs = append(msgs, &chatMsg{Role: "system", Content: s})
			d.msgIndex = append(d.msgIndex, -1)
		}
	}
	raw := d.req.Input
	if isNull(raw) {
		if len(history) == 0 {
			return openai.Invalid("input", "Missing required parameter: 'input'.")
		}
		raw = json.RawMessage("[]")
	}
	var items []json.RawMessage
	switch bytes.TrimSpace(raw)[0] {
	case '"':
		var s string
		json.Unmarshal(raw, &s)
		if strings.TrimSpace(s) == "" {
			return openai.Invalid("input", "'input' is empty: send some text or a list of input items.")
		}
		items = []json.RawMessage{mustJSON(map[string]any{"type": "message", "role": "user", "content": s})}
	case '[':
		if err := json.Unmarshal(raw, &items); err != nil {
			return openai.Invalid("input", "Invalid 'input': not a valid array.")
		}
		if len(items) == 0 && len(history) == 0 {
			return openai.Invalid("input", "'input' is empty: send at least one input item.")
		}
	default:
		return openai.Invalid("input", "Invalid type for 'input': expected a string or an array of input items.")
	}
	// The stored history first; its items are the gateway's own.
	all := append(append([]json.RawMessage{}, history...), items...)
	var asst *chatMsg            // the assistant message being built, if any
	var pending []map[string]any // reasoning waiting for its assistant turn
	assistant := func(k int) *chatMsg {
		if asst == nil {
			asst = &chatMsg{Role: "assistant"}
			msgs = append(msgs, asst)
			d.msgIndex = append(d.msgIndex, k)
		}
		return asst
	}
	for n, raw := range all {
		k := n - len(history) // the index in this request's input (<0: history)
		p := "input[" + strconv.Itoa(k) + "]"
		if k < 0 {
			p = "previous_response_id"
		}
		var it item
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			return openai.Invalid(p, "Invalid '%s': expected an input item object.", p)
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return openai.Invalid(p, "Invalid '%s': %s.", p, strings.TrimPrefix(err.Error(), "json: "))
		}
		if it.Type == "" && it.Role != "" {
			it.Type = "message"
		}
		if k >= 0 {
			d.items = append(d.items, withID(raw, &it))
		}
		switch it.Type {
		case "message":
			switch it.Role {
			case "user", "system", "developer":
				content, aerr := inputContent(it.Content, p, it.Role)
				if aerr != nil {
					return aerr
				}
				asst = nil
				msgs = append(msgs, &chatMsg{Role: it.Role, Content: content})
				d.msgIndex = append(d.msgIndex, k)
			case "assistant":
				content, aerr := assistantContent(it.Content, p)
				if aerr != nil {
					return aerr
				}
				a := assistant(k)
				if a.Content == nil {
					a.Content = []map[string]any{}
				}
				a.Content = append(a.Content.([]map[string]any), content...)
			case "":
				return openai.Invalid(p+".role", "Missing required parameter: '%s.role'.", p)
			default:
				return openai.Invalid(p+".role", "Invalid '%s.role': %q. Supported: user, assistant, system, developer.", p, clip.String(it.Role, 40, "..."))
			}
		case "function_call", "custom_tool_call":
			if it.CallID == "" {
				return openai.Invalid(p+".call_id", "Missing required parameter: '%s.call_id'.", p)
			}
			if it.Name == "" {
				return openai.Invalid(p+".name", "Missing required parameter: '%s.name'.", p)
			}
			args := it.Arguments
			if it.Type == "custom_tool_call" {
				var s string
				if err := json.Unmarshal(it.Input, &s); err != nil {
					return openai.Invalid(p+".input", "Invalid '%s.input': expected a string.", p)
				}
				args = mustJSON(string(mustJSON(map[string]string{"input": s})))
			} else if isNull(args) {
				return openai.Invalid(p+".arguments", "Missing required parameter: '%s.arguments'.", p)
			}
			a := assistant(k)
			a.ToolCalls = append(a.ToolCalls, map[string]any{"id": it.CallID, "type": "function",
				"function": map[string]any{"name": it.Name, "arguments": args}})
		case "function_call_output", "custom_tool_call_output":
			if it.CallID == "" {
				return openai.Invalid(p+".call_id", "Missing required parameter: '%s.call_id'.", p)
			}
			out, aerr := toolOutput(it.Output, p)
			if aerr != nil {
				return aerr
			}
			asst = nil
			msgs = append(msgs, &chatMsg{Role: "tool", ToolCallID: it.CallID, Content: out})
			d.msgIndex = append(d.msgIndex, k)
		case "reasoning":
			tb, aerr := thinkingOf(&it, p)
			if aerr != nil {
				return aerr
			}
			if tb != nil {
				if asst != nil && len(asst.ToolCalls) == 0 && asst.Content == nil {
					asst.ThinkingBlocks = append(asst.ThinkingBlocks, tb)
				} else {
					asst = nil
					pending = append(pending, tb)
				}
			}
			continue
		case "item_reference":
			return openai.Invalid(p+".type", "'%s' is an item_reference, which this gateway does not resolve: send the item itself, or use 'previous_response_id'.", p)
		case "":
			return openai.Invalid(p+".type", "Missing required parameter: '%s.type'.", p)
		default:
			return openai.Invalid(p+".type", "Invalid '%s.type': %q. Supported input items: message, function_call, function_call_output, custom_tool_call, custom_tool_call_output, reasoning.", p, clip.String(it.Type, 40, "..."))
		}
		if len(pending) > 0 && asst != nil {
			asst.ThinkingBlocks = append(pending, asst.ThinkingBlocks...)
			pending = nil
		}
	}
	for _, m := range msgs {
		if m.Role == "assistant" && m.Content == nil && len(m.ToolCalls) == 0 {
			m.Content = ""
		}
	}
	b, _ := json.Marshal(msgs)
	d.members["messages"] = b
	return nil
}

// withID is an input item as GET .../input_items lists it: with an ID, a
// type, and a message's string content as one text part, as OpenAI
// lists them.
func withID(raw json.RawMessage, it *item) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	if it.Type == "message" {
		var s string
		if json.Unmarshal(it.Content, &s) == nil {
			kind := "input_text"
			if it.Role == "assistant" {
				kind = "output_text"
			}
			m["content"] = mustJSON([]map[string]string{{"type": kind, "text": s}})
		}
	}
	if it.ID != "" {
		return mustJSON(m)
	}
	prefix := "msg_"
	switch it.Type {
	case "function_call":
		prefix = "fc_"
	case "function_call_output":
		prefix = "fco_"
	case "reasoning":
		prefix = "rs_"
	case "custom_tool_call":
		prefix = "ctc_"
	case "custom_tool_call_output":
		prefix = "ctco_"
	}
	it.ID = prefix + accesslog.NewID()
	m["id"] = mustJSON(it.ID)
	if _, ok := m["type"]; !ok {
		m["type"] = mustJSON(it.Type)
	}
	return mustJSON(m)
}

// inputContent translates a user, system or developer message's content.
func inputContent(raw json.RawMessage, p, role string) (any, *openai.Error) {
	if isNull(raw) {
		return nil, openai.Invalid(p+".content", "Missing required parameter: '%s.content'.", p)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []part
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, openai.Invalid(p+".content", "Invalid '%s.content': expected a string or an array of content parts.", p)
	}
	out := make([]map[string]any, 0, len(parts))
	for j, pt := range parts {
		pp := p + ".content[" + strconv.Itoa(j) + "]"
		switch pt.Type {
		case "input_text", "output_text", "text":
			if pt.Text == nil {
				return nil, openai.Invalid(pp+".text", "Missing required parameter: '%s.text'.", pp)
			}
			out = append(out, map[string]any{"type": "text", "text": *pt.Text})
			continue
		case "":
			return nil, openai.Invalid(pp+".type", "Missing required parameter: '%s.type'.", pp)
		}
		if role != "user" {
			return nil, openai.Invalid(pp+".type", "Invalid '%s.type': %q is not allowed in a %s message; only input_text is.", pp, clip.String(pt.Type, 40, "..."), role)
		}
		switch pt.Type {
		case "input_image":
			if pt.FileID != "" {
				return nil, openai.Invalid(pp+".file_id", "'%s.file_id' is not supported: this gateway has no Files API. Send the image as a data: URL or an http(s) URL in 'image_url'.", pp)
			}
			var u string
			if json.Unmarshal(pt.ImageURL, &u) != nil {
				var obj struct {
					URL string `json:"url"`
				}
				json.Unmarshal(pt.ImageURL, &obj)
				u = obj.URL
			}
			if strings.TrimSpace(u) == "" {
				return nil, openai.Invalid(pp+".image_url", "Missing required parameter: '%s.image_url'.", pp)
			}
			out = append(out, map[string]any{"type": "image_url", "image_url": map[string]string{"url": u, "detail": pt.Detail}})
		case "input_file":
			if pt.FileID != "" {
				return nil, openai.Invalid(pp+".file_id", "'%s.file_id' is not supported: this gateway has no Files API. Send the file inline in 'file_data' (a data: URL) or by 'file_url'.", pp)
			}
			data := pt.FileData
			if data == "" {
				data = pt.FileURL
			}
			if data == "" {
				return nil, openai.Invalid(pp+".file_data", "Missing required parameter: '%s.file_data' (or 'file_url').", pp)
			}
			out = append(out, map[string]any{"type": "file", "file": map[string]string{"file_data": data, "filename": pt.Filename}})
		default:
			return nil, openai.Invalid(pp+".type", "Invalid '%s.type': %q. Supported content parts: input_text, input_image, input_file.", pp, clip.String(pt.Type, 40, "..."))
		}
	}
	return out, nil
}

// assistantContent translates an assistant message's content (output_text
// and refusal parts) into chat text parts.
func assistantContent(raw json.RawMessage, p string) ([]map[string]any, *openai.Error) {
	if isNull(raw) {
		return nil, openai.Invalid(p+".content", "Missing required parameter: '%s.content'.", p)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []map[string]any{{"type": "text", "text": s}}, nil
	}
	var parts []part
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, openai.Invalid(p+".content", "Invalid '%s.content': expected a string or an array of output_text parts.", p)
	}
	var out []map[string]any
	for j, pt := range parts {
		pp := p + ".content[" + strconv.Itoa(j) + "]"
		switch pt.Type {
		case "output_text", "input_text", "text":
			if pt.Text == nil {
				return nil, openai.Invalid(pp+".text", "Missing required parameter: '%s.text'.", pp)
			}
			out = append(out, map[string]any{"type": "text", "text": *pt.Text})
		case "refusal":
			if pt.Refusal == nil {
				return nil, openai.Invalid(pp+".refusal", "Missing required parameter: '%s.refusal'.", pp)
			}
			out = append(out, map[string]any{"type": "text", "text": *pt.Refusal})
		case "":
			return nil, openai.Invalid(pp+".type", "Missing required parameter: '%s.type'.", pp)
		default:
			return nil, openai.Invalid(pp+".type", "Invalid '%s.type': %q is not allowed in an assistant message; use output_text or refusal.", pp, clip.String(pt.Type, 40, "..."))
		}
	}
	return out, nil
}

// toolOutput translates a function_call_output's output: a string or text
// parts.
func toolOutput(raw json.RawMessage, p string) (string, *openai.Error) {
	if isNull(raw) {
		return "", openai.Invalid(p+".output", "Missing required parameter: '%s.output'.", p)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []part
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", openai.Invalid(p+".output", "Invalid '%s.output': expected a string or an array of input_text parts.", p)
	}
	var texts []string
	for j, pt := range parts {
		if (pt.Type != "input_text" && pt.Type != "output_text") || pt.Text == nil {
			return "", openai.Invalid(p+".output["+strconv.Itoa(j)+"]", "Invalid '%s.output[%d]': only input_text parts are supported in a tool output.", p, j)
		}
		texts = append(texts, *pt.Text)
	}
	return strings.Join(texts, "\n"), nil
}

// encryptedPrefix marks the gateway's own encrypted_content: Bedrock's
// reasoning text and signature (or redacted content), base64url JSON, so
// that the turn goes back to Claude exactly as it came.
const encryptedPrefix = "qr1."

type sealedReasoning struct {
	Text      string `json:"t,omitempty"`
	Signature string `json:"s,omitempty"`
	Redacted  []byte `json:"r,omitempty"`
}

func sealReasoning(r sealedReasoning) string {
	return encryptedPrefix + base64.RawURLEncoding.EncodeToString(mustJSON(r))
}

// thinkingOf turns a reasoning item into a chat thinking block; nil when it
// carries nothing Bedrock can take back (no encrypted_content).
func thinkingOf(it *item, p string) (map[string]any, *openai.Error) {
	if it.EncryptedContent == nil || *it.EncryptedContent == "" {
		return nil, nil // a summary alone cannot be verified by the model
	}
	ec := *it.EncryptedContent
	if rest, ok := strings.CutPrefix(ec, encryptedPrefix); ok {
		b, err := base64.RawURLEncoding.DecodeString(rest)
		var r sealedReasoning
		if err != nil || json.Unmarshal(b, &r) != nil {
			return nil, openai.Invalid(p+".encrypted_content", "Invalid '%s.encrypted_content': it is not what this gateway returned; send it back unchanged.", p)
		}
		if len(r.Redacted) > 0 {
			return map[string]any{"type": "redacted_thinking", "data": r.Redacted}, nil
		}
		return map[string]any{"type": "thinking", "thinking": r.Text, "signature": r.Signature}, nil
	}
	// Someone else's encrypted content: the signature, with the summary
	// as the text.
	var texts []string
	for _, s := range it.Summary {
		texts = append(texts, s.Text)
	}
	return map[string]any{"type": "thinking", "thinking": strings.Join(texts, ""), "signature": ec}, nil
}
