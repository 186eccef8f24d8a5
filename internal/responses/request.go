// Package responses serves the OpenAI Responses API (/v1/responses) in
// front of Bedrock. It is a translator: a Responses request becomes the
// members of a chat request, which the chat surface (internal/openai)
// translates for Bedrock with everything it knows (models, defaults, media
// under the fetch rules, tools, response formats, reasoning per family,
// guardrails, shaping); Bedrock's answer or events become the Responses
// object or event sequence here. Stored responses live in internal/store.
package responses

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/quarry-dev/quarry/internal/clip"
	"github.com/quarry-dev/quarry/internal/openai"
)

// request is the body of POST /v1/responses. Union members stay raw and
// are decoded with the field named in errors. Members Bedrock has no use
// for (prompt_cache_key, safety_identifier, client_metadata, ...) are not
// declared: accepted and ignored, as on chat.
type request struct {
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       json.RawMessage   `json:"instructions"`
	Tools              []json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls"`
	Text               *textConfig       `json:"text"`
	Reasoning          *reasoningConfig  `json:"reasoning"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	Metadata           json.RawMessage   `json:"metadata"`
	User               string            `json:"user"`
	Include            []string          `json:"include"`
	Truncation         string            `json:"truncation"`
	Store              *bool             `json:"store"`
	PreviousResponseID string            `json:"previous_response_id"`
	Stream             bool              `json:"stream"`
	Background         bool              `json:"background"`
	Conversation       json.RawMessage   `json:"conversation"`
	ServiceTier        string            `json:"service_tier"`
}

type textConfig struct {
	Format    json.RawMessage `json:"format"`
	Verbosity string          `json:"verbosity,omitempty"`
}

type reasoningConfig struct {
	Effort  string `json:"effort,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// bedrockExtras are chat request members in Bedrock's spelling that a
// Responses request may carry too; they pass through unchanged.
var bedrockExtras = []string{"guardrailConfig", "additionalModelRequestFields", "additionalModelResponseFieldPaths",
	"performanceConfig", "serviceTier", "top_k"}

// builtinTools are OpenAI's hosted tools, which Bedrock has no equivalent
// for.
var builtinTools = map[string]bool{"web_search": true, "web_search_preview": true, "file_search": true, "computer_use": true,
	"computer_use_preview": true, "code_interpreter": true, "image_generation": true, "mcp": true, "local_shell": true,
	"shell": true, "apply_patch": true, "web_search_2025_08_26": true, "web_search_preview_2025_03_11": true}

// plan is what translating the answer back needs from the request.
type plan struct {
	Model            string // as requested
	Summary          bool   // reasoning.summary asked for
	IncludeEncrypted bool   // include: reasoning.encrypted_content
	Custom           map[string]bool
	// Namespaces maps a flattened tool name to its namespace.
	Namespaces map[string]string
}

// decoded is a Responses request made ready for the chat translation.
type decoded struct {
	req     *request
	members map[string]json.RawMessage // chat request members
	items   []json.RawMessage          // this request's input items, with IDs
	plan    plan
	// msgIndex maps a chat message index to its input item index (-1: the
	// instructions), to name input items in the chat translation's errors.
	msgIndex []int
}

// decodeRequest checks a Responses request and turns it into chat request
// members. history is the stored conversation previous_response_id
// continues (nil: none); its items come first.
func decodeRequest(body []byte, history []json.RawMessage) (*decoded, *openai.Error) {
	var members map[string]json.RawMessage
	if aerr := openai.UnmarshalBody(body, &members); aerr != nil {
		return nil, aerr
	}
	if members == nil {
		return nil, openai.Invalid("", "The request body must be a JSON object.")
	}
	req := new(request)
	if aerr := openai.UnmarshalBody(body, req); aerr != nil {
		return nil, aerr
	}
	if req.Model == "" {
		return nil, openai.Invalid("model", "Missing required parameter: 'model'.")
	}
	if req.Background {
		return nil, openai.Invalid("background", "'background': true is not supported: this gateway answers every response in the request (use stream: true for long answers).")
	}
	if !isNull(req.Conversation) {
		return nil, openai.Invalid("conversation", "'conversation' is not supported: this gateway has no Conversations API; continue with 'previous_response_id' or send the items back.")
	}
	switch req.Truncation {
	case "", "disabled", "auto":
	default:
		return nil, openai.Invalid("truncation", "Invalid 'truncation': %q. Supported: auto, disabled.", clip.String(req.Truncation, 40, "..."))
	}
	for i, inc := range req.Include {
		switch inc {
		case "reasoning.encrypted_content":
		case "message.output_text.logprobs", "web_search_call.action.sources", "code_interpreter_call.outputs",
			"computer_call_output.output.image_url", "file_search_call.results", "message.input_image.image_url", "web_search_call.results":
		default:
			return nil, openai.Invalid("include["+strconv.Itoa(i)+"]", "Invalid 'include[%d]': %q is not a known includable.", i, clip.String(inc, 60, "..."))
		}
	}
	d := &decoded{req: req, members: map[string]json.RawMessage{}, plan: plan{Model: req.Model}}
	d.plan.IncludeEncrypted = slices.Contains(req.Include, "reasoning.encrypted_content")
	out := d.members
	out["model"] = members["model"]
	if req.Stream {
		out["stream"] = json.RawMessage("true")
	}
	if req.MaxOutputTokens != nil {
		out["max_completion_tokens"] = members["max_output_tokens"]
	}
	for _, k := range []string{"temperature", "top_p", "metadata", "user", "parallel_tool_calls", "service_tier"} {
		if v, ok := members[k]; ok {
			out[k] = v
		}
	}
	for _, k := range bedrockExtras {
		if v, ok := members[k]; ok {
			out[k] = v
		}
	}
	if r := req.Reasoning; r != nil {
		if r.Effort != "" {
			out["reasoning_effort"] = mustJSON(r.Effort)
		}
		switch r.Summary {
		case "", "none":
		case "auto", "concise", "detailed":
			d.plan.Summary = true
		default:
			return nil, openai.Invalid("reasoning.summary", "Invalid 'reasoning.summary': %q. Supported: auto, concise, detailed.", clip.String(r.Summary, 40, "..."))
		}
	}
	if aerr := d.textFormat(); aerr != nil {
		return nil, aerr
	}
	if aerr := d.tools(); aerr != nil {
		return nil, aerr
	}
	if aerr := d.input(history); aerr != nil {
		return nil, aerr
	}
	return d, nil
}

// textFormat translates text.format into response_format.
func (d *decoded) textFormat() *openai.Error {
	if d.req.Text == nil || isNull(d.req.Text.Format) {
		return nil
	}
	var f struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict"`
	}
	if err := json.Unmarshal(d.req.Text.Format, &f); err != nil {
		return openai.Invalid("text.format", "Invalid 'text.format': expected an object such as {\"type\": \"json_schema\", \"name\": ..., \"schema\": {...}}.")
	}
	switch f.Type {
	case "text":
		return nil
	case "json_object":
		d.members["response_format"] = json.RawMessage(`{"type":"json_object"}`)
		return nil
	case "json_schema":
		if f.Name == "" {
			return openai.Invalid("text.format.name", "Missing required parameter: 'text.format.name'.")
		}
		if isNull(f.Schema) {
			return openai.Invalid("text.format.schema", "Missing required parameter: 'text.format.schema'.")
		}
		js := map[string]any{"name": f.Name, "schema": f.Schema}
		if f.Description != "" {
			js["description"] = f.Description
		}
		d.members["response_format"] = mustJSON(map[string]any{"type": "json_schema", "json_schema": js})
		return nil
	case "":
		return openai.Invalid("text.format.type", "Missing required parameter: 'text.format.type'.")
	}
	return openai.Invalid("text.format.type", "Invalid 'text.format.type': %q. Supported: text, json_object, json_schema.", clip.String(f.Type, 40, "..."))
}

// customInputSchema is the one-string input a custom (free-form) tool gets.
const customInputSchema = `{"type":"object","properties":{"input":{"type":"string","description":"The tool's free-form input."}},"required":["input"]}`

// tools translates tools and tool_choice. Namespaced tools are flattened
// (their function names must not collide).
func (d *decoded) tools() *openai.Error {
	var tools []json.RawMessage
	add := func(p, name, desc string, params json.RawMessage, strict *bool) {
		f := map[string]any{"name": name}
		if desc != "" {
			f["description"] = desc
		}
		if !isNull(params) {
			f["parameters"] = params
		}
		if strict != nil {
			f["strict"] = *strict
		}
		tools = append(tools, mustJSON(map[string]any{"type": "function", "function": f}))
	}
	var walk func(raws []json.RawMessage, prefix, namespace string) *openai.Error
	walk = func(raws []json.RawMessage, prefix, namespace string) *openai.Error {
		for i, raw := range raws {
			p := prefix + "[" + strconv.Itoa(i) + "]"
			var t struct {
				Type        string            `json:"type"`
				Name        string            `json:"name"`
				Description string            `json:"description"`
				Parameters  json.RawMessage   `json:"parameters"`
				Strict      *bool             `json:"strict"`
				Tools       []json.RawMessage `json:"tools"`
			}
			if err := json.Unmarshal(raw, &t); err != nil {
				return openai.Invalid(p, "Invalid '%s': expected a tool object such as {\"type\": \"function\", \"name\": ..., \"parameters\": {...}}.", p)
			}
			switch {
			case t.Type == "function":
				if t.Name == "" {
					return openai.Invalid(p+".name", "Missing required parameter: '%s.name'.", p)
				}
				add(p, t.Name, t.Description, t.Parameters, t.Strict)
			case t.Type == "custom":
				if t.Name == "" {
					return openai.Invalid(p+".name", "Missing required parameter: '%s.name'.", p)
				}
				if d.plan.Custom == nil {
					d.plan.Custom = map[string]bool{}
				}
				d.plan.Custom[t.Name] = true
				add(p, t.Name, t.Description, json.RawMessage(customInputSchema), nil)
			case t.Type == "namespace" && namespace == "":
				if t.Name == "" {
					return openai.Invalid(p+".name", "Missing required parameter: '%s.name'.", p)
				}
				if aerr := walk(t.Tools, p+".tools", t.Name); aerr != nil {
					return aerr
				}
				continue
			case t.Type == "":
				return openai.Invalid(p+".type", "Missing required parameter: '%s.type'.", p)
			case builtinTools[t.Type]:
				return openai.Invalid(p+".type", "The built-in tool %q in '%s.type' is not supported: Bedrock models have no hosted %s. Remove it, or define a function tool your code runs.", t.Type, p, t.Type)
			default:
				return openai.Invalid(p+".type", "Invalid '%s.type': %q. Supported: function, custom, namespace.", p, clip.String(t.Type, 40, "..."))
			}
			if namespace != "" {
				if d.plan.Namespaces == nil {
					d.plan.Namespaces = map[string]string{}
				}
				d.plan.Namespaces[t.Name] = namespace
			}
		}
		return nil
	}
	if aerr := walk(d.req.Tools, "tools", ""); aerr != nil {
		return aerr
	}
	if tools != nil {
		d.members["tools"] = mustJSON(tools)
	}
	raw := d.req.ToolChoice
	if isNull(raw) {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto", "none", "required":
			d.members["tool_choice"] = raw
			return nil
		}
		return openai.Invalid("tool_choice", "Invalid 'tool_choice': %q. Supported: auto, none, required, or {\"type\": \"function\", \"name\": ...}.", clip.String(s, 40, "..."))
	}
	var tc struct {
		Type  string `json:"type"`
		Name  string `json:"name"`
		Mode  string `json:"mode"`
		Tools []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(raw, &tc); err != nil {
		return openai.Invalid("tool_choice", "Invalid 'tool_choice': expected a string or an object.")
	}
	switch tc.Type {
	case "function", "custom":
		if tc.Name == "" {
			return openai.Invalid("tool_choice.name", "Missing required parameter: 'tool_choice.name'.")
		}
		d.members["tool_choice"] = mustJSON(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
	case "allowed_tools":
		// Converse cannot restrict the declared tools per turn: the mode
		// applies to all of them.
		switch tc.Mode {
		case "", "auto":
			d.members["tool_choice"] = json.RawMessage(`"auto"`)
		case "required":
			d.members["tool_choice"] = json.RawMessage(`"required"`)
		default:
			return openai.Invalid("tool_choice.mode", "Invalid 'tool_choice.mode': %q. Supported: auto, required.", clip.String(tc.Mode, 40, "..."))
		}
	case "":
		return openai.Invalid("tool_choice.type", "Missing required parameter: 'tool_choice.type'.")
	default:
		if builtinTools[tc.Type] {
			return openai.Invalid("tool_choice.type", "The built-in tool %q in 'tool_choice.type' is not supported on Bedrock.", tc.Type)
		}
		return openai.Invalid("tool_choice.type", "Invalid 'tool_choice.type': %q. Supported: function, custom, allowed_tools.", clip.String(tc.Type, 40, "..."))
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only ever called with values that marshal
	}
	return b
}

// rename rewrites the chat translation's field names in an error into the
// Responses request's own.
func (d *decoded) rename(e *openai.Error) *openai.Error {
	if e == nil {
		return nil
	}
	out := *e
	fix := func(s string) string {
		for _, r := range [][2]string{{"max_completion_tokens", "max_output_tokens"}, {"reasoning_effort", "reasoning.effort"},
			{"response_format.json_schema.schema", "text.format.schema"}, {"response_format.json_schema.name", "text.format.name"},
			{"response_format", "text.format"}, {".function.name", ".name"}, {".function.parameters", ".parameters"},
			{".function.", "."}, {".image_url.url", ".image_url"}, {".file.file_data", ".file_data"}} {
			s = strings.ReplaceAll(s, r[0], r[1])
		}
		// messages[i] -> input[j]
		for {
			i := strings.Index(s, "messages[")
			if i < 0 {
				return s
			}
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return s
			}
			n, err := strconv.Atoi(s[i+len("messages[") : i+j])
			repl := "input"
			if err == nil && n < len(d.msgIndex) {
				if k := d.msgIndex[n]; k >= 0 {
					repl = "input[" + strconv.Itoa(k) + "]"
				} else {
					repl = "instructions"
				}
			}
			s = s[:i] + repl + s[i+j+1:]
		}
	}
	out.Param, out.Msg = fix(out.Param), fix(out.Msg)
	return &out
}
