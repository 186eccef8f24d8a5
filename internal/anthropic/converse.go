package anthropic

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/clip"
	"github.com/quarry-dev/quarry/internal/jsonstring"
	"github.com/quarry-dev/quarry/internal/sse"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// Models other than Claude (Nova, Llama, Mistral, ...) are served through
// Converse: the Messages request is translated to a ConverseRequest, and
// the answer (or the stream's events) back to Anthropic's Message.

// toConverse translates a Messages request for model m.
func toConverse(req *request, m *upstream.Model) (*bedrock.ConverseRequest, *apiError) {
	cacheOK := contains(m.Shaping.AllowedRoleMetadata, "cache_control")
	out := &bedrock.ConverseRequest{}
	if m.SystemPrompt != "" {
		out.System = append(out.System, bedrock.SystemText(m.SystemPrompt))
	}
	for _, b := range req.System {
		out.System = append(out.System, bedrock.SystemText(b.Text))
		if cp := cachePoint(b.CacheControl, cacheOK); cp != nil {
			out.System = append(out.System, bedrock.SystemContentBlock{CachePoint: cp})
		}
	}
	docNames := map[string]bool{} // Bedrock refuses two documents of one name
	for i, msg := range req.Messages {
		path := fmt.Sprintf("messages.%d.content", i)
		bm := bedrock.Message{Role: msg.Role}
		if msg.Content.Blocks == nil {
			bm.Content = []bedrock.ContentBlock{bedrock.TextBlock(msg.Content.Text)}
		}
		for j := range msg.Content.Blocks {
			b := &msg.Content.Blocks[j]
			cb, aerr := converseBlock(b, fmt.Sprintf("%s.%d", path, j), j, docNames)
			if aerr != nil {
				return nil, aerr
			}
			bm.Content = append(bm.Content, cb)
			if cp := cachePoint(b.CacheControl, cacheOK); cp != nil {
				bm.Content = append(bm.Content, bedrock.ContentBlock{CachePoint: cp})
			}
		}
		out.Messages = append(out.Messages, bm)
	}
	ic := &bedrock.InferenceConfig{Temperature: req.Temperature, TopP: req.TopP, StopSequences: req.StopSequences}
	if req.MaxTokens > 0 {
		ic.MaxTokens = &req.MaxTokens
	}
	applyDefaults(ic, m.Defaults)
	if ic.MaxTokens != nil || ic.Temperature != nil || ic.TopP != nil || len(ic.StopSequences) > 0 {
		out.InferenceConfig = ic
	}
	if req.TopK != nil {
		f, err := bedrock.TopKRequestFields(m.Family, *req.TopK)
		if err != nil {
			return nil, invalid("top_k: %s does not take top_k.", req.Model)
		}
		out.AdditionalModelRequestFields = f
	}
	if len(req.Tools) > 0 && (req.ToolChoice == nil || req.ToolChoice.Type != "none" || hasToolBlocks(req)) {
		tc := &bedrock.ToolConfig{}
		for i, t := range req.Tools {
			if t.Type != "" && t.Type != "custom" {
				return nil, invalid("tools.%d.type: %s is an Anthropic-defined tool, which only Claude models take (this model is %s).", i, clip.String(t.Type, 100, "…"), req.Model)
			}
			tc.Tools = append(tc.Tools, bedrock.Tool{ToolSpec: &bedrock.ToolSpecification{
				Name: t.Name, Description: t.Description, InputSchema: bedrock.ToolInputSchema{JSON: t.InputSchema}}})
			if cp := cachePoint(t.CacheControl, cacheOK); cp != nil {
				tc.Tools = append(tc.Tools, bedrock.Tool{CachePoint: cp})
			}
		}
		if ch := req.ToolChoice; ch != nil {
			switch ch.Type {
			case "any":
				tc.ToolChoice = &bedrock.ToolChoice{Any: &struct{}{}}
			case "tool":
				tc.ToolChoice = &bedrock.ToolChoice{Tool: &bedrock.SpecificToolChoice{Name: ch.Name}}
			}
		}
		out.ToolConfig = tc
	}
	if g := m.Guardrail; g != nil {
		out.GuardrailConfig = &bedrock.GuardrailConfig{GuardrailIdentifier: g.Identifier, GuardrailVersion: g.Version, Trace: g.Trace}
		if req.Stream {
			out.GuardrailConfig.StreamProcessingMode = "sync"
		}
	}
	if err := m.Shaping.Apply(out, m.Family); err != nil {
		return nil, invalid("top_k: %v", err)
	}
	return out, nil
}

// hasToolBlocks reports whether the conversation holds tool calls or
// results, which Converse accepts only with a tool configuration.
func hasToolBlocks(req *request) bool {
	for _, m := range req.Messages {
		for _, b := range m.Content.Blocks {
			if b.Type == "tool_use" || b.Type == "tool_result" {
				return true
			}
		}
	}
	return false
}

// applyDefaults fills what the request left unset from the model's
// bedrock_<param> defaults (OpenAI names).
func applyDefaults(ic *bedrock.InferenceConfig, d map[string]any) {
	num := func(k string) *float64 {
		switch v := d[k].(type) {
		case float64:
			return &v
		case int64:
			f := float64(v)
			return &f
		}
		return nil
	}
	if ic.Temperature == nil {
		ic.Temperature = num("temperature")
	}
	if ic.TopP == nil {
		ic.TopP = num("top_p")
	}
	if ic.MaxTokens == nil {
		for _, k := range []string{"max_tokens", "max_completion_tokens"} {
			if f := num(k); f != nil {
				n := int(*f)
				ic.MaxTokens = &n
				break
			}
		}
	}
	if len(ic.StopSequences) == 0 {
		if l, ok := d["stop"].([]string); ok {
			ic.StopSequences = l
		}
	}
}

// cachePoint is the Converse cache point of a cache_control marker, when
// the model forwards cache markers (allowed_role_metadata).
func cachePoint(cc *bedrock.AnthropicCacheControl, allowed bool) *bedrock.CachePointBlock {
	if cc == nil || !allowed {
		return nil
	}
	return &bedrock.CachePointBlock{Type: "default", TTL: cc.TTL}
}

// converseBlock translates one content block.
func converseBlock(b *bedrock.AnthropicBlock, path string, index int, docNames map[string]bool) (bedrock.ContentBlock, *apiError) {
	switch b.Type {
	case "text":
		return bedrock.TextBlock(b.Text), nil
	case "image":
		if b.Source.Type != "base64" {
			return bedrock.ContentBlock{}, invalid("%s.source.type: this model takes base64 images only (got %q).", path, b.Source.Type)
		}
		data, _ := base64.StdEncoding.DecodeString(b.Source.Data) // checked by decodeRequest
		return bedrock.ContentBlock{Image: &bedrock.ImageBlock{Format: strings.TrimPrefix(b.Source.MediaType, "image/"),
			Source: bedrock.MediaSource{Bytes: data}}}, nil
	case "document":
		name := b.Title
		if name == "" {
			name = fmt.Sprintf("document-%d", index+1)
		}
		doc := &bedrock.DocumentBlock{Name: bedrock.DocumentName(name, docNames), Context: b.Context}
		switch b.Source.Type {
		case "base64":
			doc.Format = "pdf"
			doc.Source.Bytes, _ = base64.StdEncoding.DecodeString(b.Source.Data)
		case "text":
			doc.Format = "txt"
			doc.Source.Bytes = []byte(b.Source.Data)
		default:
			return bedrock.ContentBlock{}, invalid("%s.source.type: this model takes base64 PDF or text documents only (got %q).", path, b.Source.Type)
		}
		return bedrock.ContentBlock{Document: doc}, nil
	case "tool_use":
		return bedrock.ContentBlock{ToolUse: &bedrock.ToolUseBlock{ToolUseID: b.ID, Name: b.Name, Input: b.Input}}, nil
	case "tool_result":
		tr := &bedrock.ToolResultBlock{ToolUseID: b.ToolUseID}
		if b.IsError {
			tr.Status = bedrock.ToolResultError
		}
		if c := b.Content; c != nil {
			if c.Blocks == nil {
				tr.Content = append(tr.Content, bedrock.ToolResultContentBlock{Text: c.Text})
			}
			for k := range c.Blocks {
				inner, aerr := converseBlock(&c.Blocks[k], fmt.Sprintf("%s.content.%d", path, k), k, docNames)
				if aerr != nil {
					return bedrock.ContentBlock{}, aerr
				}
				switch {
				case inner.Image != nil:
					tr.Content = append(tr.Content, bedrock.ToolResultContentBlock{Image: inner.Image})
				case inner.Document != nil:
					tr.Content = append(tr.Content, bedrock.ToolResultContentBlock{Document: inner.Document})
				default:
					tr.Content = append(tr.Content, bedrock.ToolResultContentBlock{Text: inner.Text})
				}
			}
		}
		if len(tr.Content) == 0 {
			tr.Content = []bedrock.ToolResultContentBlock{{Text: ""}}
		}
		return bedrock.ContentBlock{ToolResult: tr}, nil
	case "thinking":
		return bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContentBlock{
			ReasoningText: &bedrock.ReasoningTextBlock{Text: b.Thinking, Signature: b.Signature}}}, nil
	case "redacted_thinking":
		data, err := base64.StdEncoding.DecodeString(b.Data)
		if err != nil {
			data = []byte(b.Data)
		}
		return bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContentBlock{RedactedContent: data}}, nil
	}
	return bedrock.ContentBlock{}, invalid("%s.type: %s blocks are for Claude models only.", path, clip.String(b.Type, 100, "…"))
}

// message is Anthropic's Message object.
type message struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Role         string  `json:"role"`
	Model        string  `json:"model"`
	Content      []block `json:"content"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        usage   `json:"usage"`
}

// block is a content block of an answer, its members in Anthropic's order.
type block struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	Data      string          `json:"data,omitempty"`
}

type usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

func usageOf(u bedrock.TokenUsage) usage {
	return usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		CacheCreationInputTokens: u.CacheWriteInputTokens, CacheReadInputTokens: u.CacheReadInputTokens}
}

// stopReason maps a Converse stop reason to Anthropic's.
func stopReason(s string) string {
	switch s {
	case bedrock.StopReasonToolUse, bedrock.StopReasonMaxTokens, bedrock.StopReasonStopSequence,
		bedrock.StopReasonModelContextWindowExceeded:
		return s
	case bedrock.StopReasonGuardrailIntervened, bedrock.StopReasonContentFiltered:
		return "refusal"
	}
	return bedrock.StopReasonEndTurn
}

// fromConverse translates a Converse answer into a Message.
func fromConverse(resp *bedrock.ConverseResponse, id, model string) *message {
	msg := &message{ID: id, Type: "message", Role: "assistant", Model: model, Content: []block{}, Usage: usageOf(resp.Usage)}
	if m := resp.Output.Message; m != nil {
		for i := range m.Content {
			if b, ok := contentBlock(&m.Content[i]); ok {
				msg.Content = append(msg.Content, b)
			}
		}
	}
	sr := stopReason(resp.StopReason)
	msg.StopReason = &sr
	return msg
}

// contentBlock is the Anthropic block of a Converse answer block (false
// for those without one).
func contentBlock(b *bedrock.ContentBlock) (block, bool) {
	switch {
	case b.ToolUse != nil:
		in := b.ToolUse.Input
		if len(in) == 0 {
			in = json.RawMessage("{}")
		}
		return block{Type: "tool_use", ID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name, Input: in}, true
	case b.ReasoningContent != nil:
		if rt := b.ReasoningContent.ReasoningText; rt != nil {
			return block{Type: "thinking", Thinking: &rt.Text, Signature: &rt.Signature}, true
		}
		return block{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(b.ReasoningContent.RedactedContent)}, true
	case b.Image != nil, b.Document != nil, b.CachePoint != nil:
		return block{}, false
	}
	return block{Type: "text", Text: &b.Text}, true
}

// converse serves a non-Claude model through Converse(Stream).
func (h *Handler) converse(c *call) {
	creq, aerr := toConverse(c.req, c.model)
	if aerr != nil {
		writeError(c.w, c.r, aerr)
		return
	}
	id := "msg_" + accesslog.NewID()
	if c.req.Stream {
		h.converseStream(c, creq, id)
		return
	}
	h.converseUnary(c, creq, id)
}

// converseUnary answers with one Converse call. It is apart from converse
// so that a stream, which waits under converse's frame, does not hold
// this path's locals.
func (h *Handler) converseUnary(c *call, creq *bedrock.ConverseRequest, id string) {
	ctx, cancel := context.WithTimeout(c.ctx, h.opts.UpstreamTimeout)
	defer cancel()
	resp, err := c.model.Converse(ctx, creq, c.qt)
	if err != nil {
		c.failed = err // messages answers it, or a fallback does
		return
	}
	c.entry.SetUpstreamRequestID(resp.RequestID)
	recordConverseUsage(c.entry, resp.Usage)
	if e := finishError(c.model, resp.StopReason); e != nil {
		writeError(c.w, c.r, e)
		return
	}
	body, _ := json.Marshal(fromConverse(resp, id, c.req.Model))
	writeJSONBody(c.w, resp.RequestID, body)
}

func recordConverseUsage(e *accesslog.Entry, u bedrock.TokenUsage) { upstream.RecordUsage(e, u) }

// converseStream serves a streamed request through ConverseStream,
// translating each event as it comes (streamTranslator).
func (h *Handler) converseStream(c *call, creq *bedrock.ConverseRequest, id string) {
	s, st, events := openStream(h, c, func(ctx context.Context) (*bedrock.ConverseStream, error) {
		return c.model.ShapedStream(ctx, creq, &c.model.Shaping.Options, c.qt)
	})
	defer st.cancel()
	if events == nil {
		return
	}
	tr := &streamTranslator{id: id, model: c.req.Model}
	// The stream waits for Bedrock under relayConverse, whose frame is
	// small (the end is in endConverse): a stream's handler then waits
	// less than 4 KiB deep, HTTP/1.1 clients' too, so the collector can
	// halve the stack its setup grew to 16 KiB (docs/benchmarks.md, "Open
	// streams").
	if relayConverse(c, s, st, events, tr) {
		endConverse(c, s, st, events, tr)
	}
}

// relayConverse writes Bedrock's events as Anthropic's as they come,
// until the last; false when the stream has ended already (a refused
// finish, or the client gone).
func relayConverse(c *call, s *bedrock.ConverseStream, st *streamStart, events *sse.Writer, tr *streamTranslator) bool {
	ft := firstTokenOnce{e: c.entry}
	for ok := true; ok; ok = st.next(s) {
		ev := s.Current()
		if ev.Metadata != nil {
			recordConverseUsage(c.entry, ev.Metadata.Usage)
		}
		if ev.ContentBlockDelta != nil {
			ft.mark()
		}
		if ev.MessageStop != nil && refuseFinish(c, events, ev.MessageStop.StopReason) {
			return false
		}
		// With the next Bedrock event already read, these are flushed with
		// it: a burst costs one flush, and nothing waits.
		events.Hold = s.Buffered()
		for _, e := range tr.events(&ev) {
			if events.Event(e.typ, e.data) != nil {
				st.cancel()
				return false
			}
		}
	}
	return true
}

// refuseFinish ends the stream with an error event, instead of the end of
// the message, when the model's finish reason is one the request does not
// allow.
func refuseFinish(c *call, events *sse.Writer, reason string) bool {
	e := finishError(c.model, reason)
	if e == nil {
		return false
	}
	c.entry.SetError("finish_reason")
	events.Hold = false
	sseError(events, e.Type, e.Msg)
	return true
}

// endConverse ends a stream read to its end: its error, or the message's
// last events.
func endConverse(c *call, s *bedrock.ConverseStream, st *streamStart, events *sse.Writer, tr *streamTranslator) {
	events.Hold = false // what follows ends the stream: flush it
	if err := s.Err(); err != nil {
		st.end(c, events, err)
		return
	}
	for _, e := range tr.finish() {
		if events.Event(e.typ, e.data) != nil {
			return
		}
	}
}

// sseEvent is one event to write.
type sseEvent struct {
	typ  string
	data []byte
}

// Stream event bodies, members in Anthropic's order.
type (
	startEvent struct {
		Type    string   `json:"type"`
		Message *message `json:"message"`
	}
	blockStartEvent struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock block  `json:"content_block"`
	}
	blockDeltaEvent struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
		Delta delta  `json:"delta"`
	}
	delta struct {
		Type        string  `json:"type"`
		Text        *string `json:"text,omitempty"`
		PartialJSON *string `json:"partial_json,omitempty"`
		Thinking    *string `json:"thinking,omitempty"`
		Signature   *string `json:"signature,omitempty"`
	}
	messageDeltaEvent struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage *usage `json:"usage"`
	}
)

// streamTranslator turns ConverseStream events into Anthropic's stream
// events. Converse reports usage after messageStop, so message_delta (stop
// reason and usage) waits for the metadata event, or the stream's end.
type streamTranslator struct {
	id, model string
	started   bool
	open      map[int]bool // content blocks started and not stopped
	stop      string       // the stop reason, once known
	finished  bool
	out       []sseEvent
	buf       []byte // the last text delta's data, reused
}

func (t *streamTranslator) add(typ string, v any) {
	b, _ := json.Marshal(v)
	t.out = append(t.out, sseEvent{typ, b})
}

var empty = ""

// events translates one ConverseStream event; the slice and its data are
// reused by the next call.
func (t *streamTranslator) events(ev *bedrock.StreamEvent) []sseEvent {
	t.out = t.out[:0]
	if !t.started {
		t.started = true
		t.open = map[int]bool{}
		t.add("message_start", startEvent{"message_start", &message{ID: t.id, Type: "message", Role: "assistant",
			Model: t.model, Content: []block{}}})
		t.out = append(t.out, sseEvent{"ping", []byte(`{"type":"ping"}`)})
	}
	switch {
	case ev.ContentBlockStart != nil:
		i := ev.ContentBlockStart.ContentBlockIndex
		if tu := ev.ContentBlockStart.Start.ToolUse; tu != nil {
			t.open[i] = true
			t.add("content_block_start", blockStartEvent{"content_block_start", i, block{Type: "tool_use", ID: tu.ToolUseID, Name: tu.Name, Input: json.RawMessage("{}")}})
		}
	case ev.ContentBlockDelta != nil:
		i, d := ev.ContentBlockDelta.ContentBlockIndex, &ev.ContentBlockDelta.Delta
		var dl delta
		start := block{Type: "text", Text: &empty}
		switch rc := d.ReasoningContent; {
		case d.ToolUse != nil:
			dl = delta{Type: "input_json_delta", PartialJSON: &d.ToolUse.Input}
		case rc != nil && rc.RedactedContent != nil:
			t.open[i] = true
			t.add("content_block_start", blockStartEvent{"content_block_start", i, block{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(rc.RedactedContent)}})
			return t.out
		case rc != nil && rc.Signature != "":
			start = block{Type: "thinking", Thinking: &empty, Signature: &empty}
			dl = delta{Type: "signature_delta", Signature: &rc.Signature}
		case rc != nil:
			start = block{Type: "thinking", Thinking: &empty, Signature: &empty}
			dl = delta{Type: "thinking_delta", Thinking: &rc.Text}
		default:
			if t.open[i] {
				// The common case, written without reflection.
				t.buf = appendTextDelta(t.buf[:0], i, d.Text)
				t.out = append(t.out, sseEvent{"content_block_delta", t.buf})
				return t.out
			}
			dl = delta{Type: "text_delta", Text: &d.Text}
		}
		if !t.open[i] {
			t.open[i] = true
			t.add("content_block_start", blockStartEvent{"content_block_start", i, start})
		}
		t.add("content_block_delta", blockDeltaEvent{"content_block_delta", i, dl})
	case ev.ContentBlockStop != nil:
		i := ev.ContentBlockStop.ContentBlockIndex
		if t.open[i] {
			delete(t.open, i)
			t.out = append(t.out, sseEvent{"content_block_stop", fmt.Appendf(nil, `{"type":"content_block_stop","index":%d}`, i)})
		}
	case ev.MessageStop != nil:
		t.stop = stopReason(ev.MessageStop.StopReason)
	case ev.Metadata != nil:
		u := usageOf(ev.Metadata.Usage)
		t.end(&u)
	}
	return t.out
}

// appendTextDelta appends what json.Marshal writes for a text_delta
// content_block_delta event (a test checks they agree).
func appendTextDelta(b []byte, index int, text string) []byte {
	b = append(b, `{"type":"content_block_delta","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"delta":{"type":"text_delta","text":`...)
	b = jsonstring.Append(b, text, true)
	return append(b, "}}"...)
}

// end closes the message: message_delta with the stop reason and usage,
// then message_stop.
func (t *streamTranslator) end(u *usage) {
	if t.finished {
		return
	}
	t.finished = true
	if t.stop == "" {
		t.stop = bedrock.StopReasonEndTurn
	}
	md := messageDeltaEvent{Type: "message_delta", Usage: u}
	md.Delta.StopReason = t.stop
	t.add("message_delta", md)
	t.out = append(t.out, sseEvent{"message_stop", []byte(`{"type":"message_stop"}`)})
}

// finish ends a stream that had no metadata event.
func (t *streamTranslator) finish() []sseEvent {
	t.out = t.out[:0]
	t.end(&usage{})
	return t.out
}
