package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// StreamEvent is one ConverseStream event: a union with exactly one member
// set. Type is the event's name on the wire (messageStart, contentBlockDelta,
// ...). Marshalled to JSON it has the shape of the service's event union,
// {"contentBlockDelta":{...}}.
type StreamEvent struct {
	Type string `json:"-"`

	MessageStart      *MessageStartEvent           `json:"messageStart,omitempty"`
	ContentBlockStart *ContentBlockStartEvent      `json:"contentBlockStart,omitempty"`
	ContentBlockDelta *ContentBlockDeltaEvent      `json:"contentBlockDelta,omitempty"`
	ContentBlockStop  *ContentBlockStopEvent       `json:"contentBlockStop,omitempty"`
	MessageStop       *MessageStopEvent            `json:"messageStop,omitempty"`
	Metadata          *ConverseStreamMetadataEvent `json:"metadata,omitempty"`
}

// MessageStartEvent opens the message.
type MessageStartEvent struct {
	Role string `json:"role"`
}

// ContentBlockStartEvent opens a content block that is not plain text (text
// blocks start directly with a delta).
type ContentBlockStartEvent struct {
	ContentBlockIndex int               `json:"contentBlockIndex"`
	Start             ContentBlockStart `json:"start"`
}

// ContentBlockStart is a union: ToolUse, ToolResult or Image.
type ContentBlockStart struct {
	ToolUse    *ToolUseBlockStart    `json:"toolUse,omitempty"`
	ToolResult *ToolResultBlockStart `json:"toolResult,omitempty"`
	Image      *ImageBlockStart      `json:"image,omitempty"`
}

// ToolUseBlockStart names the tool being called.
type ToolUseBlockStart struct {
	ToolUseID string `json:"toolUseId"`
	Name      string `json:"name"`
	Type      string `json:"type,omitempty"`
}

// ToolResultBlockStart opens the result of a server-side tool.
type ToolResultBlockStart struct {
	ToolUseID string `json:"toolUseId"`
	Type      string `json:"type,omitempty"`
	Status    string `json:"status,omitempty"`
}

// ImageBlockStart opens a generated image.
type ImageBlockStart struct {
	Format string `json:"format"`
}

// ContentBlockDeltaEvent is a piece of a content block.
type ContentBlockDeltaEvent struct {
	ContentBlockIndex int               `json:"contentBlockIndex"`
	Delta             ContentBlockDelta `json:"delta"`
}

// ContentBlockDelta is a union: Text, ToolUse, ToolResult, ReasoningContent,
// Citation or Image. A delta with no member set is an empty text delta.
type ContentBlockDelta struct {
	Text             string                      `json:"text,omitempty"`
	ToolUse          *ToolUseBlockDelta          `json:"toolUse,omitempty"`
	ToolResult       []ToolResultBlockDelta      `json:"toolResult,omitempty"`
	ReasoningContent *ReasoningContentBlockDelta `json:"reasoningContent,omitempty"`
	Citation         *Citation                   `json:"citation,omitempty"`
	Image            *ImageBlockDelta            `json:"image,omitempty"`
}

// ToolUseBlockDelta is a fragment of a tool call's JSON input; concatenate
// the fragments of a block and parse them at its ContentBlockStop.
type ToolUseBlockDelta struct {
	Input string `json:"input"`
}

// ToolResultBlockDelta is a piece of a server-side tool's result (a union:
// Text or JSON).
type ToolResultBlockDelta struct {
	Text string          `json:"text,omitempty"`
	JSON json.RawMessage `json:"json,omitempty"`
}

// ReasoningContentBlockDelta is a piece of reasoning (a union: Text,
// Signature or RedactedContent).
type ReasoningContentBlockDelta struct {
	Text            string `json:"text,omitempty"`
	Signature       string `json:"signature,omitempty"`
	RedactedContent []byte `json:"redactedContent,omitempty"`
}

// ImageBlockDelta carries a generated image or the reason it failed.
type ImageBlockDelta struct {
	Source *MediaSource `json:"source,omitempty"`
	Error  *ErrorBlock  `json:"error,omitempty"`
}

// ContentBlockStopEvent closes a content block.
type ContentBlockStopEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
}

// MessageStopEvent closes the message.
type MessageStopEvent struct {
	StopReason                    string          `json:"stopReason"`
	AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields,omitempty"`
}

// ConverseStreamMetadataEvent is the last event: usage and latency.
type ConverseStreamMetadataEvent struct {
	Usage             TokenUsage         `json:"usage"`
	Metrics           ConverseMetrics    `json:"metrics"`
	Trace             *ConverseTrace     `json:"trace,omitempty"`
	PerformanceConfig *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier       *ServiceTier       `json:"serviceTier,omitempty"`
}

// ConverseStream iterates over the events of a ConverseStream response:
//
//	s, err := c.ConverseStream(ctx, model, req)
//	if err != nil { ... }
//	defer s.Close()
//	for s.Next() {
//		ev := s.Current()
//		...
//	}
//	if err := s.Err(); err != nil { ... }
//
// An exception sent inside the stream ends it and Err returns it as a *Error
// with InStream set (errors.Is(err, ErrThrottling) works). The stream holds
// a connection and a limiter slot until it ends or is closed.
type ConverseStream struct {
	ctx  context.Context
	r    *eventReader
	meta ResponseMetadata
	cur  StreamEvent
	err  error
	done bool

	// events, for a stream made by StreamFromResponse (r is nil then): the
	// events still to yield. closed is set by Close.
	events []StreamEvent
	closed atomic.Bool
}

// ConverseStream sends a conversation to modelID and returns the stream of
// the reply's events. Errors before the stream starts (HTTP errors, such as
// a ValidationException for an unknown model) are returned here.
func (c *Client) ConverseStream(ctx context.Context, modelID string, req *ConverseRequest, opts ...CallOption) (*ConverseStream, error) {
	const op = "ConverseStream"
	if err := checkModelCall(op, modelID, req == nil); err != nil {
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, &OpError{op, fmt.Errorf("encoding request: %w", err)}
	}
	resp, err := c.send(ctx, &call{opts: callOptionsOf(opts), op: op, modelID: modelID, action: "converse-stream", body: body, stream: true, header: jsonHeader})
	if err != nil {
		return nil, err
	}
	return newConverseStream(ctx, resp.Body, metadataOf(resp)), nil
}

// newConverseStream reads events from body: the response of ConverseStream,
// or a recorded one in tests.
func newConverseStream(ctx context.Context, body io.ReadCloser, md ResponseMetadata) *ConverseStream {
	return &ConverseStream{ctx: ctx, r: newEventReader(body, md.RequestID), meta: md}
}

// StreamFromResponse returns a stream that yields, from memory, the events
// ConverseStream would have sent for resp: messageStart; for each content
// block its contentBlockStart (tool use, server tool result, image),
// contentBlockDelta(s) and contentBlockStop; messageStop; metadata. Collect
// on it returns resp again (its ResponseMetadata included). Blocks a
// stream cannot carry (documents, video, audio, guard content, cache
// points, search results, tool additions and removals) are skipped. Use it
// to serve a streaming consumer from a Converse answer; a nil resp gives an
// empty stream. Close, Buffered and All behave as on a network stream; Err
// is always nil.
func StreamFromResponse(resp *ConverseResponse) *ConverseStream {
	s := &ConverseStream{ctx: context.Background(), events: responseEvents(resp)}
	if resp != nil {
		s.meta = resp.ResponseMetadata
	}
	return s
}

// responseEvents is the event sequence of a whole response.
func responseEvents(resp *ConverseResponse) []StreamEvent {
	if resp == nil {
		return nil
	}
	role := RoleAssistant
	var blocks []ContentBlock
	if m := resp.Output.Message; m != nil {
		blocks = m.Content
		if m.Role != "" {
			role = m.Role
		}
	}
	evs := []StreamEvent{{Type: "messageStart", MessageStart: &MessageStartEvent{Role: role}}}
	start := func(i int, st ContentBlockStart) {
		evs = append(evs, StreamEvent{Type: "contentBlockStart", ContentBlockStart: &ContentBlockStartEvent{ContentBlockIndex: i, Start: st}})
	}
	delta := func(i int, d ContentBlockDelta) {
		evs = append(evs, StreamEvent{Type: "contentBlockDelta", ContentBlockDelta: &ContentBlockDeltaEvent{ContentBlockIndex: i, Delta: d}})
	}
	for i, b := range blocks {
		switch {
		case b.ToolUse != nil:
			start(i, ContentBlockStart{ToolUse: &ToolUseBlockStart{ToolUseID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name, Type: b.ToolUse.Type}})
			delta(i, ContentBlockDelta{ToolUse: &ToolUseBlockDelta{Input: string(b.ToolUse.Input)}})
		case b.ToolResult != nil:
			r := b.ToolResult
			start(i, ContentBlockStart{ToolResult: &ToolResultBlockStart{ToolUseID: r.ToolUseID, Type: r.Type, Status: r.Status}})
			var parts []ToolResultBlockDelta
			for _, c := range r.Content {
				if c.Text != "" || len(c.JSON) > 0 {
					parts = append(parts, ToolResultBlockDelta{Text: c.Text, JSON: c.JSON})
				}
			}
			if len(parts) > 0 {
				delta(i, ContentBlockDelta{ToolResult: parts})
			}
		case b.Image != nil:
			start(i, ContentBlockStart{Image: &ImageBlockStart{Format: b.Image.Format}})
			src := b.Image.Source
			delta(i, ContentBlockDelta{Image: &ImageBlockDelta{Source: &src, Error: b.Image.Error}})
		case b.ReasoningContent != nil:
			rc := b.ReasoningContent
			d := &ReasoningContentBlockDelta{RedactedContent: rc.RedactedContent}
			if t := rc.ReasoningText; t != nil && len(rc.RedactedContent) == 0 {
				d = &ReasoningContentBlockDelta{Text: t.Text, Signature: t.Signature}
			}
			delta(i, ContentBlockDelta{ReasoningContent: d})
		case b.CitationsContent != nil:
			var text strings.Builder
			for _, c := range b.CitationsContent.Content {
				text.WriteString(c.Text)
			}
			delta(i, ContentBlockDelta{Text: text.String()})
			for j := range b.CitationsContent.Citations {
				delta(i, ContentBlockDelta{Citation: &b.CitationsContent.Citations[j]})
			}
		case b.Document != nil, b.Video != nil, b.Audio != nil, b.GuardContent != nil, b.CachePoint != nil,
			b.SearchResult != nil, b.ToolAddition != nil, b.ToolRemoval != nil:
			continue
		default:
			delta(i, ContentBlockDelta{Text: b.Text})
		}
		evs = append(evs, StreamEvent{Type: "contentBlockStop", ContentBlockStop: &ContentBlockStopEvent{ContentBlockIndex: i}})
	}
	evs = append(evs,
		StreamEvent{Type: "messageStop", MessageStop: &MessageStopEvent{StopReason: resp.StopReason, AdditionalModelResponseFields: resp.AdditionalModelResponseFields}},
		StreamEvent{Type: "metadata", Metadata: &ConverseStreamMetadataEvent{Usage: resp.Usage, Metrics: resp.Metrics, Trace: resp.Trace,
			PerformanceConfig: resp.PerformanceConfig, ServiceTier: resp.ServiceTier}})
	return evs
}

// RequestID is Bedrock's x-amzn-RequestId of the response.
func (s *ConverseStream) RequestID() string { return s.meta.RequestID }

// ResponseMetadata is the request ID and the HTTP header of the response.
func (s *ConverseStream) ResponseMetadata() ResponseMetadata { return s.meta }

// Next advances to the next event and reports whether there is one. It
// returns false at the end of the stream, on error (see Err) and after
// Close. Events of unknown types are skipped.
func (s *ConverseStream) Next() bool {
	if s.done {
		return false
	}
	if s.r == nil { // StreamFromResponse
		if s.closed.Load() || len(s.events) == 0 {
			s.done, s.cur, s.events = true, StreamEvent{}, nil
			return false
		}
		s.cur, s.events = s.events[0], s.events[1:]
		return true
	}
	for {
		// Wait here, not under next (see await).
		if err := s.r.await(); err != nil {
			s.finish(err)
			return false
		}
		et, payload, err := s.r.next()
		if err != nil {
			s.finish(err)
			return false
		}
		ev, known, err := decodeStreamEvent(et, payload)
		if err != nil {
			s.finish(fmt.Errorf("decoding %s event: %w", et, err))
			return false
		}
		if known {
			s.cur = ev
			return true
		}
	}
}

// decodeStreamEvent decodes a payload straight into its event struct. known
// is false for event types this version does not model.
func decodeStreamEvent(eventType string, payload []byte) (ev StreamEvent, known bool, err error) {
	ev.Type = eventType
	var dst any
	switch eventType {
	case "contentBlockDelta":
		if d, ok := decodeTextDelta(payload); ok {
			ev.ContentBlockDelta = d
			return ev, true, nil
		}
		ev.ContentBlockDelta = new(ContentBlockDeltaEvent)
		dst = ev.ContentBlockDelta
	case "contentBlockStart":
		ev.ContentBlockStart = new(ContentBlockStartEvent)
		dst = ev.ContentBlockStart
	case "contentBlockStop":
		ev.ContentBlockStop = new(ContentBlockStopEvent)
		dst = ev.ContentBlockStop
	case "messageStart":
		ev.MessageStart = new(MessageStartEvent)
		dst = ev.MessageStart
	case "messageStop":
		ev.MessageStop = new(MessageStopEvent)
		dst = ev.MessageStop
	case "metadata":
		ev.Metadata = new(ConverseStreamMetadataEvent)
		dst = ev.Metadata
	default:
		// aws-sdk-go-v2 matches event names case-insensitively; do the same
		// (rarely taken: the service sends the exact member names).
		for _, name := range streamEventNames {
			if strings.EqualFold(eventType, name) {
				return decodeStreamEvent(name, payload)
			}
		}
		return StreamEvent{}, false, nil
	}
	if err := json.Unmarshal(payload, dst); err != nil {
		return StreamEvent{}, false, err
	}
	return ev, true, nil
}

// decodeTextDelta decodes the payload of a text contentBlockDelta in the
// exact form Bedrock sends it,
//
//	{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcdefgh"}
//
// ("p", the padding, may be absent), when the index is a plain non-negative
// number of at most nine digits and neither string has an escape or a
// control character and the text is valid UTF-8. Then the event is the one
// json.Unmarshal gives, without its reflection and scanner allocations (a
// test checks the two against each other); for anything else ok is false and
// the caller uses json.Unmarshal.
func decodeTextDelta(p []byte) (ev *ContentBlockDeltaEvent, ok bool) {
	const (
		head  = `{"contentBlockIndex":`
		delta = `,"delta":{"text":"`
		pad   = `,"p":"`
	)
	if !bytes.HasPrefix(p, []byte(head)) {
		return nil, false
	}
	p = p[len(head):]
	n, idx := 0, 0
	for ; n < len(p) && n <= 9 && '0' <= p[n] && p[n] <= '9'; n++ {
		idx = idx*10 + int(p[n]-'0')
	}
	if n == 0 || n > 9 || (n > 1 && p[0] == '0') {
		return nil, false
	}
	p = p[n:]
	if !bytes.HasPrefix(p, []byte(delta)) {
		return nil, false
	}
	text, p, ok := plainJSONString(p[len(delta):])
	if !ok || !utf8.Valid(text) || len(p) == 0 || p[0] != '}' {
		return nil, false
	}
	p = p[1:]
	if bytes.HasPrefix(p, []byte(pad)) {
		if _, p, ok = plainJSONString(p[len(pad):]); !ok {
			return nil, false
		}
	}
	if len(p) != 1 || p[0] != '}' {
		return nil, false
	}
	return &ContentBlockDeltaEvent{ContentBlockIndex: idx, Delta: ContentBlockDelta{Text: string(text)}}, true
}

// plainJSONString splits p, which follows an opening quote, at its closing
// quote: the string's bytes and what follows the quote. ok is false if the
// string has a backslash or a control character, or no closing quote.
func plainJSONString(p []byte) (s, rest []byte, ok bool) {
	for i, c := range p {
		switch {
		case c == '"':
			return p[:i], p[i+1:], true
		case c == '\\' || c < 0x20:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

var streamEventNames = [...]string{"contentBlockDelta", "contentBlockStart", "contentBlockStop", "messageStart", "messageStop", "metadata"}

// finish ends the iteration with err (nil at a clean end or after Close)
// and releases the connection at once.
func (s *ConverseStream) finish(err error) {
	s.done = true
	s.cur = StreamEvent{}
	s.err = streamEndError(s.ctx, "ConverseStream", err)
	s.r.close()
}

// streamEndError is what Err reports for the error that ended a stream of
// operation op: nil at a clean end (io.EOF) or after Close, an in-stream
// *Error as it is, the context's error once it is done, else an *OpError.
func streamEndError(ctx context.Context, op string, err error) error {
	if err == nil || errors.Is(err, errStreamClosed) {
		return nil
	}
	if errors.Is(err, io.EOF) {
		// A body cut by cancelling can read as a clean EOF (seen over
		// HTTP/1.1 with TLS): once the caller has cancelled, report that,
		// whichever protocol carried the stream.
		return ctx.Err()
	}
	if be, ok := errors.AsType[*Error](err); ok {
		return be
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &OpError{op, err}
}

// Buffered reports whether the next event has already arrived: Next will
// return it without waiting for Bedrock. A proxy uses it to flush its client
// once per burst of events rather than once per event, without delaying any
// event. Call it between Next calls, from the goroutine that calls Next.
func (s *ConverseStream) Buffered() bool {
	if s.r == nil {
		return !s.done && !s.closed.Load() && len(s.events) > 0
	}
	return !s.done && s.r.ready()
}

// Current is the event Next moved to.
func (s *ConverseStream) Current() StreamEvent { return s.cur }

// Err is the error that ended the iteration, if any: a *Error for an
// exception sent inside the stream, the context's error if it was
// cancelled, or an *OpError (a truncated stream wraps io.ErrUnexpectedEOF).
func (s *ConverseStream) Err() error { return s.err }

// Close closes the response body at once, releasing the connection and the
// limiter slot; a Next blocked in another goroutine returns false. It is
// idempotent and safe to call at any time.
func (s *ConverseStream) Close() error {
	if s.r == nil {
		s.closed.Store(true)
		return nil
	}
	return s.r.close()
}

// All returns the events as a sequence for range loops. It stops at the
// first error, which it yields with a zero event, and closes the stream when
// the loop ends.
func (s *ConverseStream) All() iter.Seq2[StreamEvent, error] {
	return func(yield func(StreamEvent, error) bool) {
		defer s.Close()
		for s.Next() {
			if !yield(s.Current(), nil) {
				return
			}
		}
		if err := s.Err(); err != nil {
			yield(StreamEvent{}, err)
		}
	}
}

// Collect reads the rest of the stream and assembles it into the response
// Converse would have returned. It closes the stream. If the stream fails,
// it returns what was assembled so far along with the error.
func (s *ConverseStream) Collect() (*ConverseResponse, error) {
	defer s.Close()
	var acc StreamAccumulator
	var addErr error
	for s.Next() {
		// Keep reading after a bad event: the rest of the message (usage,
		// stop reason) is still worth returning with the error.
		if err := acc.Add(s.Current()); err != nil && addErr == nil {
			addErr = err
		}
	}
	resp, respErr := acc.Response()
	resp.ResponseMetadata = s.meta
	switch {
	case s.Err() != nil:
		return resp, s.Err()
	case addErr != nil:
		return resp, addErr
	}
	return resp, respErr
}

// maxContentBlocks bounds the block index an accumulator accepts, so that a
// corrupt index cannot make it allocate without limit.
const maxContentBlocks = 1 << 16

// StreamAccumulator assembles ConverseStream events into a ConverseResponse:
// text deltas are joined per block, tool-call input fragments concatenated
// and parsed when the block stops, reasoning text and signature kept
// together. Use it to forward events while building the final response:
//
//	var acc bedrock.StreamAccumulator
//	for s.Next() {
//		ev := s.Current()
//		forward(ev)
//		if err := acc.Add(ev); err != nil { ... }
//	}
//	resp, err := acc.Response()
//
// The zero value is ready to use.
type StreamAccumulator struct {
	role       string
	blocks     []*accBlock
	stopReason string
	extra      json.RawMessage
	meta       *ConverseStreamMetadataEvent
}

type accBlock struct {
	text       strings.Builder
	toolUse    *ToolUseBlockStart
	input      strings.Builder
	parsed     json.RawMessage // tool input, set at contentBlockStop
	toolResult *ToolResultBlockStart
	results    []ToolResultContentBlock
	image      *ImageBlock
	reasoning  bool
	reasonText strings.Builder
	signature  string
	redacted   []byte
	citations  []Citation
	stopped    bool
}

// Add folds one event into the response. It returns an error for an
// out-of-range block index or a tool call whose input is not valid JSON at
// its ContentBlockStop.
func (a *StreamAccumulator) Add(ev StreamEvent) error {
	switch {
	case ev.MessageStart != nil:
		a.role = ev.MessageStart.Role
	case ev.ContentBlockStart != nil:
		b, err := a.block(ev.ContentBlockStart.ContentBlockIndex)
		if err != nil {
			return err
		}
		st := ev.ContentBlockStart.Start
		switch {
		case st.ToolUse != nil:
			b.toolUse = st.ToolUse
		case st.ToolResult != nil:
			b.toolResult = st.ToolResult
		case st.Image != nil:
			b.image = &ImageBlock{Format: st.Image.Format}
		}
	case ev.ContentBlockDelta != nil:
		b, err := a.block(ev.ContentBlockDelta.ContentBlockIndex)
		if err != nil {
			return err
		}
		d := &ev.ContentBlockDelta.Delta
		switch {
		case d.ToolUse != nil:
			b.input.WriteString(d.ToolUse.Input)
		case d.ReasoningContent != nil:
			b.reasoning = true
			b.reasonText.WriteString(d.ReasoningContent.Text)
			b.signature += d.ReasoningContent.Signature
			b.redacted = append(b.redacted, d.ReasoningContent.RedactedContent...)
		case d.Citation != nil:
			b.citations = append(b.citations, *d.Citation)
		case d.ToolResult != nil:
			for _, r := range d.ToolResult {
				b.results = append(b.results, ToolResultContentBlock{Text: r.Text, JSON: r.JSON})
			}
		case d.Image != nil:
			if b.image == nil {
				b.image = &ImageBlock{}
			}
			if d.Image.Source != nil {
				b.image.Source = *d.Image.Source
			}
			b.image.Error = d.Image.Error
		default:
			b.text.WriteString(d.Text)
		}
	case ev.ContentBlockStop != nil:
		i := ev.ContentBlockStop.ContentBlockIndex
		b, err := a.block(i)
		if err != nil {
			return err
		}
		b.stopped = true
		if b.toolUse != nil {
			return b.parseInput(i)
		}
	case ev.MessageStop != nil:
		a.stopReason = ev.MessageStop.StopReason
		a.extra = ev.MessageStop.AdditionalModelResponseFields
	case ev.Metadata != nil:
		a.meta = ev.Metadata
	}
	return nil
}

func (a *StreamAccumulator) block(i int) (*accBlock, error) {
	if i < 0 || i >= maxContentBlocks {
		return nil, fmt.Errorf("bedrock: content block index %d out of range", i)
	}
	for len(a.blocks) <= i {
		a.blocks = append(a.blocks, nil)
	}
	if a.blocks[i] == nil {
		a.blocks[i] = new(accBlock)
	}
	return a.blocks[i], nil
}

// parseInput validates the concatenated tool input. An empty input (a tool
// without parameters) is {}.
func (b *accBlock) parseInput(index int) error {
	in := strings.TrimSpace(b.input.String())
	if in == "" {
		b.parsed = json.RawMessage("{}")
		return nil
	}
	if !json.Valid([]byte(in)) {
		b.parsed = nil
		return fmt.Errorf("bedrock: tool use %s (%s, block %d): input is not valid JSON: %q",
			b.toolUse.ToolUseID, b.toolUse.Name, index, excerpt([]byte(in)))
	}
	b.parsed = json.RawMessage(in)
	return nil
}

// Response returns the response assembled so far. Blocks that never got
// their ContentBlockStop are included as they are; the error reports a tool
// call among them whose input is not valid JSON (its Input is then {}).
func (a *StreamAccumulator) Response() (*ConverseResponse, error) {
	role := a.role
	if role == "" {
		role = RoleAssistant
	}
	msg := &Message{Role: role, Content: make([]ContentBlock, 0, len(a.blocks))}
	var firstErr error
	for i, b := range a.blocks {
		if b == nil {
			continue
		}
		cb, err := b.contentBlock(i)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		msg.Content = append(msg.Content, cb)
	}
	resp := &ConverseResponse{
		Output:                        ConverseOutput{Message: msg},
		StopReason:                    a.stopReason,
		AdditionalModelResponseFields: a.extra,
	}
	if m := a.meta; m != nil {
		resp.Usage = m.Usage
		resp.Metrics = m.Metrics
		resp.Trace = m.Trace
		resp.PerformanceConfig = m.PerformanceConfig
		resp.ServiceTier = m.ServiceTier
	}
	return resp, firstErr
}

func (b *accBlock) contentBlock(index int) (ContentBlock, error) {
	switch {
	case b.toolUse != nil:
		var err error
		if b.parsed == nil {
			err = b.parseInput(index)
		}
		input := b.parsed
		if input == nil {
			input = json.RawMessage("{}")
		}
		return ContentBlock{ToolUse: &ToolUseBlock{
			ToolUseID: b.toolUse.ToolUseID,
			Name:      b.toolUse.Name,
			Input:     input,
			Type:      b.toolUse.Type,
		}}, err
	case b.toolResult != nil:
		return ContentBlock{ToolResult: &ToolResultBlock{
			ToolUseID: b.toolResult.ToolUseID,
			Content:   b.results,
			Status:    b.toolResult.Status,
			Type:      b.toolResult.Type,
		}}, nil
	case b.image != nil:
		return ContentBlock{Image: b.image}, nil
	case b.reasoning:
		rc := &ReasoningContentBlock{}
		if len(b.redacted) > 0 {
			rc.RedactedContent = b.redacted
		} else {
			rc.ReasoningText = &ReasoningTextBlock{Text: b.reasonText.String(), Signature: b.signature}
		}
		return ContentBlock{ReasoningContent: rc}, nil
	case len(b.citations) > 0:
		return ContentBlock{CitationsContent: &CitationsContentBlock{
			Content:   []CitationGeneratedContent{{Text: b.text.String()}},
			Citations: b.citations,
		}}, nil
	default:
		return ContentBlock{Text: b.text.String()}, nil
	}
}
