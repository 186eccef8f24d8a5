package openai

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/sse"
)

// textChunkSeeds are strings encoding/json escapes in every way it can: HTML
// characters, quotes and backslashes, each control character, DEL, U+2028
// and U+2029, invalid and truncated UTF-8, surrogate halves, and multi-byte
// runes.
var textChunkSeeds = []string{
	"", "Hello", " world.", `<script>alert("x")</script> & more`, `back\slash "quoted"`,
	"\x00\x01\x02\x07\b\t\n\v\f\r\x0e\x1b\x1f\x7f", "line\u2028sep\u2029para",
	"bad \xff utf8 \xc3", "\xe2\x80", "\xed\xa0\x80 surrogate", "héllo wörld 日本語 🚀",
	"\xf4\x90\x80\x80 beyond U+10FFFF", "\ufffd literal", "trailing \xe2\x80\xa8", string([]byte{0xc0, 0xaf}),
}

// FuzzAppendTextChunk checks that the hand-written text chunk is byte for
// byte what encoding/json writes for the same chatChunk.
func FuzzAppendTextChunk(f *testing.F) {
	for i, s := range textChunkSeeds {
		f.Add("chatcmpl-0123456789abcdef01234567", int64(1795498341+i), "nova-lite", s)
		f.Add(s, int64(-i), s, "text")
	}
	f.Fuzz(func(t *testing.T, id string, created int64, model, text string) {
		want, err := json.Marshal(&chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []chunkChoice{{Index: 0, Delta: chunkDelta{Content: &text}}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTextChunk(nil, id, created, model, text); !bytes.Equal(got, want) {
			t.Fatalf("appendTextChunk:\n got: %s\nwant: %s", got, want)
		}
	})
}

// TestSSETextChunk checks that writeTextChunk writes the event JSON would write
// for the same chunk.
func TestSSETextChunk(t *testing.T) {
	for _, s := range textChunkSeeds {
		c := chatChunk{ID: "chatcmpl-x", Object: "chat.completion.chunk", Created: 42, Model: "m<&>",
			Choices: []chunkChoice{{Delta: chunkDelta{Content: &s}}}}
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		if err := sse.Start(want, "text/event-stream").JSON("", &c); err != nil {
			t.Fatal(err)
		}
		if err := writeTextChunk(sse.Start(got, "text/event-stream"), "chatcmpl-x", 42, "m<&>", s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Errorf("textChunk(%q):\n got: %q\nwant: %q", s, got.Body.Bytes(), want.Body.Bytes())
		}
		if !want.Flushed || !got.Flushed {
			t.Errorf("textChunk(%q): not flushed", s)
		}
	}
}

// TestTextDeltaMatchesEvent runs streams through two translators, one only
// through event and one through textDelta where it applies (as streamChat
// does), and checks that the written events are the same and that the fast
// path is taken exactly for plain text deltas after the role chunk.
func TestTextDeltaMatchesEvent(t *testing.T) {
	text := func(i int, s string) bedrock.StreamEvent {
		return bedrock.StreamEvent{Type: "contentBlockDelta", ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{ContentBlockIndex: i, Delta: bedrock.ContentBlockDelta{Text: s}}}
	}
	start := bedrock.StreamEvent{Type: "messageStart", MessageStart: &bedrock.MessageStartEvent{Role: "assistant"}}
	reasoning := bedrock.StreamEvent{Type: "contentBlockDelta", ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{
		Delta: bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningContentBlockDelta{Text: "hmm"}}}}
	toolStart := bedrock.StreamEvent{Type: "contentBlockStart", ContentBlockStart: &bedrock.ContentBlockStartEvent{ContentBlockIndex: 2,
		Start: bedrock.ContentBlockStart{ToolUse: &bedrock.ToolUseBlockStart{ToolUseID: "t1", Name: "answer"}}}}
	toolDelta := bedrock.StreamEvent{Type: "contentBlockDelta", ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{ContentBlockIndex: 2,
		Delta: bedrock.ContentBlockDelta{ToolUse: &bedrock.ToolUseBlockDelta{Input: `{"a":1}`}}}}
	stop := bedrock.StreamEvent{Type: "messageStop", MessageStop: &bedrock.MessageStopEvent{StopReason: "end_turn"}}
	meta := bedrock.StreamEvent{Type: "metadata", Metadata: &bedrock.ConverseStreamMetadataEvent{Usage: bedrock.TokenUsage{InputTokens: 3, OutputTokens: 4, TotalTokens: 7}}}

	cases := []struct {
		name  string
		plan  chatPlan
		evs   []bedrock.StreamEvent
		nFast int // events the fast path must take
	}{
		{"plain", chatPlan{Model: "nova-lite"}, []bedrock.StreamEvent{start, text(0, "Hi"), text(0, ""), text(0, " <there> & \xff"), stop, meta}, 2},
		{"no messageStart", chatPlan{Model: "nova-lite"}, []bedrock.StreamEvent{text(0, "first"), text(0, "second"), stop, meta}, 1},
		{"reasoning and tools", chatPlan{Model: "m", IncludeUsage: true}, []bedrock.StreamEvent{start, reasoning, text(1, "a"), toolStart, toolDelta, text(1, "b"), stop, meta}, 2},
		{"json tool", chatPlan{Model: "m", JSONTool: "answer"}, []bedrock.StreamEvent{start, text(0, "held"), toolStart, toolDelta, stop, meta}, 0},
		{"json tool, no call", chatPlan{Model: "m", JSONTool: "answer"}, []bedrock.StreamEvent{start, text(0, "held"), text(0, " text"), stop, meta}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan1, plan2 := c.plan, c.plan
			slow := newChatStreamTranslator(&plan1, "chatcmpl-1", 7, "req")
			fast := newChatStreamTranslator(&plan2, "chatcmpl-1", 7, "req")
			var want, got bytes.Buffer
			wrec, grec := httptest.NewRecorder(), httptest.NewRecorder()
			ws, gs := sse.Start(wrec, "text/event-stream"), sse.Start(grec, "text/event-stream")
			nFast := 0
			for _, ev := range c.evs {
				for _, ch := range slow.event(ev) {
					ws.JSON("", &ch)
				}
				if s, ok := fast.textDelta(&ev); ok {
					nFast++
					writeTextChunk(gs, fast.id, fast.created, fast.plan.Model, s)
					continue
				}
				for _, ch := range fast.event(ev) {
					gs.JSON("", &ch)
				}
			}
			for _, ch := range slow.end() {
				ws.JSON("", &ch)
			}
			for _, ch := range fast.end() {
				gs.JSON("", &ch)
			}
			want.Write(wrec.Body.Bytes())
			got.Write(grec.Body.Bytes())
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("with textDelta:\n%s\nwith event only:\n%s", got.Bytes(), want.Bytes())
			}
			if nFast != c.nFast {
				t.Errorf("textDelta took %d events; want %d", nFast, c.nFast)
			}
		})
	}
}
