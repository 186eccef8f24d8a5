package responses

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
)

// response is the Responses object.
type response struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	Error              *respError        `json:"error"`
	IncompleteDetails  *incomplete       `json:"incomplete_details"`
	Instructions       json.RawMessage   `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Model              string            `json:"model"`
	Output             []*outItem        `json:"output"`
	OutputText         string            `json:"output_text,omitempty"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Reasoning          reasoningConfig   `json:"reasoning"`
	Store              bool              `json:"store"`
	Temperature        *float64          `json:"temperature"`
	Text               json.RawMessage   `json:"text"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Tools              []json.RawMessage `json:"tools"`
	TopP               *float64          `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              *usage            `json:"usage"`
	User               *string           `json:"user"`
	Metadata           json.RawMessage   `json:"metadata"`
}

type respError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type incomplete struct {
	Reason string `json:"reason"`
}

type usage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// outItem is an output item: message, function_call, custom_tool_call or
// reasoning.
type outItem struct {
	ID               string         `json:"id"`
	Type             string         `json:"type"`
	Status           string         `json:"status,omitempty"`
	Role             string         `json:"role,omitempty"`
	Content          *[]*outputText `json:"content,omitempty"` // a pointer: [] for messages, absent otherwise
	CallID           string         `json:"call_id,omitempty"`
	Name             string         `json:"name,omitempty"`
	Namespace        string         `json:"namespace,omitempty"`
	Arguments        *string        `json:"arguments,omitempty"`
	Input            *string        `json:"input,omitempty"`
	Summary          *[]summaryPart `json:"summary,omitempty"`
	EncryptedContent *string        `json:"encrypted_content,omitempty"`
}

type outputText struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
	Logprobs    []any  `json:"logprobs"`
}

// newResponse is the response object for d before any output.
func newResponse(d *decoded, id string, created int64, prev string, store bool) *response {
	req := d.req
	r := &response{ID: id, Object: "response", CreatedAt: created, Status: "in_progress", Model: req.Model,
		Output: []*outItem{}, Instructions: orNull(req.Instructions), MaxOutputTokens: req.MaxOutputTokens,
		ParallelToolCalls: req.ParallelToolCalls == nil || *req.ParallelToolCalls, Store: store,
		Temperature: req.Temperature, TopP: req.TopP, Truncation: "disabled", Metadata: orNull(req.Metadata),
		ToolChoice: req.ToolChoice, Tools: req.Tools, Text: json.RawMessage(`{"format":{"type":"text"}}`)}
	if isNull(r.ToolChoice) {
		r.ToolChoice = json.RawMessage(`"auto"`)
	}
	if r.Tools == nil {
		r.Tools = []json.RawMessage{}
	}
	if req.Text != nil && !isNull(req.Text.Format) {
		r.Text = mustJSON(req.Text)
	}
	if req.Reasoning != nil {
		r.Reasoning = *req.Reasoning
	}
	if req.Truncation != "" {
		r.Truncation = req.Truncation
	}
	if prev != "" {
		r.PreviousResponseID = &prev
	}
	if req.User != "" {
		u := req.User // not &req.User, which would keep the request
		r.User = &u
	}
	return r
}

func orNull(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return json.RawMessage("null")
	}
	return raw
}

// emitFunc writes one stream event; nil when not streaming.
type emitFunc func(name string, ev map[string]any) error

// assembler builds a response's output from Bedrock's content blocks, as
// they stream or from a Converse answer, and emits the Responses events
// for each step when streaming. Output items are kept complete (with
// encrypted_content) for the store; public strips what was not asked for.
type assembler struct {
	p        *plan
	resp     *response
	jsonTool string
	first    bool // parallel_tool_calls: false
	emit     emitFunc
	err      error // the first emit error: the client is gone
	blocks   map[int]*open
	nCalls   int
	jsonUsed bool
	token    func() // called at the first generated token
}

// open is an output item being built from Bedrock block i.
type open struct {
	item  *outItem
	index int // output_index
	kind  string
	text  strings.Builder
	sig   string
	red   []byte
	skip  bool
}

func newAssembler(p *plan, resp *response, jsonTool string, firstOnly bool, emit emitFunc) *assembler {
	return &assembler{p: p, resp: resp, jsonTool: jsonTool, first: firstOnly, emit: emit, blocks: map[int]*open{}}
}

func (a *assembler) send(name string, ev map[string]any) {
	if a.emit == nil || a.err != nil {
		return
	}
	a.err = a.emit(name, ev)
}

func (a *assembler) tokenSeen() {
	if a.token != nil {
		a.token()
		a.token = nil
	}
}

// openBlock starts output item for Bedrock block i.
func (a *assembler) openBlock(i int, kind string, tu *bedrock.ToolUseBlockStart) *open {
	o := &open{kind: kind, index: len(a.resp.Output)}
	switch kind {
	case "message":
		o.item = &outItem{ID: "msg_" + accesslog.NewID(), Type: "message", Status: "in_progress", Role: "assistant", Content: &[]*outputText{}}
	case "reasoning":
		o.item = &outItem{ID: "rs_" + accesslog.NewID(), Type: "reasoning", Summary: &[]summaryPart{}}
	case "tool":
		if a.first && a.nCalls > 0 {
			o.skip = true
			a.blocks[i] = o
			return o
		}
		a.nCalls++
		args := ""
		o.item = &outItem{ID: "fc_" + accesslog.NewID(), Type: "function_call", Status: "in_progress", CallID: tu.ToolUseID, Name: tu.Name, Arguments: &args}
		if a.p.Custom[tu.Name] {
			o.item.Type, o.item.Arguments, o.item.ID = "custom_tool_call", nil, "ctc_"+accesslog.NewID()
			o.item.Input = new(string)
		}
		o.item.Namespace = a.p.Namespaces[tu.Name]
	}
	a.blocks[i] = o
	a.resp.Output = append(a.resp.Output, o.item)
	a.send("response.output_item.added", map[string]any{"output_index": o.index, "item": a.public(o.item)})
	if kind == "message" {
		a.send("response.content_part.added", map[string]any{"item_id": o.item.ID, "output_index": o.index, "content_index": 0,
			"part": &outputText{Type: "output_text", Annotations: []any{}}})
	}
	if kind == "reasoning" && a.p.Summary {
		a.send("response.reasoning_summary_part.added", map[string]any{"item_id": o.item.ID, "output_index": o.index, "summary_index": 0,
			"part": summaryPart{Type: "summary_text"}})
	}
	return o
}

// toolStart handles Bedrock's contentBlockStart of a tool use.
func (a *assembler) toolStart(i int, tu *bedrock.ToolUseBlockStart) {
	if a.jsonTool != "" && tu.Name == a.jsonTool && !a.jsonUsed {
		a.jsonUsed = true
		a.openBlock(i, "message", nil)
		return
	}
	a.openBlock(i, "tool", tu)
}

// delta handles one contentBlockDelta.
func (a *assembler) delta(i int, d *bedrock.ContentBlockDelta) {
	o := a.blocks[i]
	switch {
	case d.ToolUse != nil:
		if o == nil || o.skip || d.ToolUse.Input == "" {
			return
		}
		a.tokenSeen()
		o.text.WriteString(d.ToolUse.Input)
		if o.kind == "message" {
			a.send("response.output_text.delta", map[string]any{"item_id": o.item.ID, "output_index": o.index, "content_index": 0, "delta": d.ToolUse.Input, "logprobs": []any{}})
			return
		}
		if o.item.Type == "function_call" {
			a.send("response.function_call_arguments.delta", map[string]any{"item_id": o.item.ID, "output_index": o.index, "delta": d.ToolUse.Input})
		}
	case d.ReasoningContent != nil:
		rc := d.ReasoningContent
		if o == nil {
			o = a.openBlock(i, "reasoning", nil)
		}
		o.sig += rc.Signature
		o.red = append(o.red, rc.RedactedContent...)
		if rc.Text != "" {
			a.tokenSeen()
			o.text.WriteString(rc.Text)
			if a.p.Summary {
				a.send("response.reasoning_summary_text.delta", map[string]any{"item_id": o.item.ID, "output_index": o.index, "summary_index": 0, "delta": rc.Text})
			}
		}
	case d.Citation != nil, d.ToolResult != nil, d.Image != nil:
	default:
		if d.Text == "" {
			return
		}
		if a.jsonTool != "" {
			// Text beside the forced JSON tool is not the answer.
			return
		}
		if o == nil {
			o = a.openBlock(i, "message", nil)
		}
		a.tokenSeen()
		o.text.WriteString(d.Text)
		a.send("response.output_text.delta", map[string]any{"item_id": o.item.ID, "output_index": o.index, "content_index": 0, "delta": d.Text, "logprobs": []any{}})
	}
}

// stop closes Bedrock block i.
func (a *assembler) stop(i int) {
	o := a.blocks[i]
	if o == nil || o.skip {
		return
	}
	delete(a.blocks, i)
	it := o.item
	switch o.kind {
	case "message":
		text := o.text.String()
		pt := &outputText{Type: "output_text", Text: text, Annotations: []any{}, Logprobs: []any{}}
		it.Content, it.Status = &[]*outputText{pt}, "completed"
		a.send("response.output_text.done", map[string]any{"item_id": it.ID, "output_index": o.index, "content_index": 0, "text": text, "logprobs": []any{}})
		a.send("response.content_part.done", map[string]any{"item_id": it.ID, "output_index": o.index, "content_index": 0, "part": pt})
	case "reasoning":
		text := o.text.String()
		if a.p.Summary && text != "" {
			*it.Summary = []summaryPart{{Type: "summary_text", Text: text}}
			a.send("response.reasoning_summary_text.done", map[string]any{"item_id": it.ID, "output_index": o.index, "summary_index": 0, "text": text})
			a.send("response.reasoning_summary_part.done", map[string]any{"item_id": it.ID, "output_index": o.index, "summary_index": 0, "part": (*it.Summary)[0]})
		}
		ec := sealReasoning(sealedReasoning{Text: text, Signature: o.sig, Redacted: o.red})
		if len(o.red) > 0 {
			ec = sealReasoning(sealedReasoning{Redacted: o.red})
		}
		it.EncryptedContent = &ec
	case "tool":
		args := compactArgs(o.text.String())
		it.Status = "completed"
		if it.Type == "custom_tool_call" {
			var in struct {
				Input string `json:"input"`
			}
			json.Unmarshal([]byte(args), &in)
			it.Input = &in.Input
		} else {
			it.Arguments = &args
			a.send("response.function_call_arguments.done", map[string]any{"item_id": it.ID, "output_index": o.index, "arguments": args})
		}
	}
	a.send("response.output_item.done", map[string]any{"output_index": o.index, "item": a.public(it)})
}

func compactArgs(s string) string {
	if strings.TrimSpace(s) == "" {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}

// finish closes what is open and sets the status and usage.
func (a *assembler) finish(stopReason string, u bedrock.TokenUsage) {
	// In block order, so that the output_item.done events are in order.
	for _, i := range slices.Sorted(maps.Keys(a.blocks)) {
		a.stop(i)
	}
	r := a.resp
	r.Status = "completed"
	switch stopReason {
	case bedrock.StopReasonMaxTokens, "model_context_window_exceeded":
		r.Status, r.IncompleteDetails = "incomplete", &incomplete{Reason: "max_output_tokens"}
	case bedrock.StopReasonContentFiltered, bedrock.StopReasonGuardrailIntervened:
		r.Status, r.IncompleteDetails = "incomplete", &incomplete{Reason: "content_filter"}
	}
	us := &usage{InputTokens: u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens, OutputTokens: u.OutputTokens}
	us.InputTokensDetails.CachedTokens = u.CacheReadInputTokens
	us.TotalTokens = us.InputTokens + us.OutputTokens
	r.Usage = us
	r.OutputText = joinedText(r)
}

// joinedText is the response's output_text: its messages' text, joined.
func joinedText(r *response) string {
	var text strings.Builder
	for _, it := range r.Output {
		if it.Content != nil {
			for _, c := range *it.Content {
				text.WriteString(c.Text)
			}
		}
	}
	return text.String()
}

// fromConverse feeds a Converse answer's blocks through the assembler.
func (a *assembler) fromConverse(resp *bedrock.ConverseResponse) {
	var blocks []bedrock.ContentBlock
	if resp.Output.Message != nil {
		blocks = resp.Output.Message.Content
	}
	for i, b := range blocks {
		switch {
		case b.ReasoningContent != nil:
			rc := b.ReasoningContent
			d := &bedrock.ReasoningContentBlockDelta{RedactedContent: rc.RedactedContent}
			if rt := rc.ReasoningText; rt != nil {
				d.Text, d.Signature = rt.Text, rt.Signature
			}
			a.delta(i, &bedrock.ContentBlockDelta{ReasoningContent: d})
		case b.ToolUse != nil:
			a.toolStart(i, &bedrock.ToolUseBlockStart{ToolUseID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name})
			a.delta(i, &bedrock.ContentBlockDelta{ToolUse: &bedrock.ToolUseBlockDelta{Input: string(b.ToolUse.Input)}})
		case b.Text != "":
			a.delta(i, &bedrock.ContentBlockDelta{Text: b.Text})
		}
		a.stop(i)
	}
	a.finish(resp.StopReason, resp.Usage)
}

// public is an output item as the client sees it: encrypted_content only
// when included.
func (a *assembler) public(it *outItem) *outItem {
	return publicItem(it, a.p.IncludeEncrypted)
}

func publicItem(it *outItem, includeEncrypted bool) *outItem {
	if it.Type != "reasoning" || includeEncrypted || it.EncryptedContent == nil {
		return it
	}
	cp := *it
	cp.EncryptedContent = nil
	return &cp
}

// publicResponse is r with its output items as the client sees them.
func publicResponse(r *response, includeEncrypted bool) *response {
	cp := *r
	cp.Output = make([]*outItem, len(r.Output))
	for i, it := range r.Output {
		cp.Output[i] = publicItem(it, includeEncrypted)
	}
	return &cp
}
