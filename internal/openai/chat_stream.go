package openai

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/quarry-dev/quarry/internal/jsonstring"
)

// sseWriter writes Server-Sent Events and flushes each one at once, so that
// a client sees every Bedrock event as soon as the gateway has it (as
// httputil.ReverseProxy does for text/event-stream).
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
	err error // the first write error: the client is gone
	// hold defers flushing while the caller knows the next event is already
	// in hand (bedrock.ConverseStream.Buffered): it is written at once and
	// flushed with it, so nothing waits and a burst costs one flush.
	hold bool
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

// start sends the status and headers. Nothing may compress or buffer the
// stream: no Content-Encoding is set, and X-Accel-Buffering tells nginx-style
// proxies to pass it through.
func (s *sseWriter) start() {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
	s.w.WriteHeader(http.StatusOK)
	s.flush()
}

// data writes one "data: <json>" event.
func (s *sseWriter) data(v any) error {
	if s.err != nil {
		return s.err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.buf = append(append(append(s.buf[:0], "data: "...), b...), "\n\n"...)
	return s.write()
}

// textChunk writes the "data: <json>" event of a chat.completion.chunk whose
// only choice has index 0 and a delta of just content text, with a null
// finish_reason and no usage or bedrock member: the chunk of almost every
// event of a stream. The bytes are those data would write for that chunk
// (appendTextChunk; a test checks them against encoding/json), without the
// chunk's allocations or reflection.
func (s *sseWriter) textChunk(id string, created int64, model, text string) error {
	if s.err != nil {
		return s.err
	}
	s.buf = append(appendTextChunk(append(s.buf[:0], "data: "...), id, created, model, text), "\n\n"...)
	return s.write()
}

// appendTextChunk appends what json.Marshal writes for
//
//	chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
//		Choices: []chunkChoice{{Delta: chunkDelta{Content: &text}}}}
func appendTextChunk(b []byte, id string, created int64, model, text string) []byte {
	b = append(b, `{"id":`...)
	b = jsonstring.Append(b, id, true)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = jsonstring.Append(b, model, true)
	b = append(b, `,"choices":[{"index":0,"delta":{"content":`...)
	b = jsonstring.Append(b, text, true)
	return append(b, `},"finish_reason":null,"logprobs":null}]}`...)
}

// done writes the terminating "data: [DONE]".
func (s *sseWriter) done() error {
	if s.err != nil {
		return s.err
	}
	s.buf = append(s.buf[:0], "data: [DONE]\n\n"...)
	return s.write()
}

func (s *sseWriter) write() error {
	if _, err := s.w.Write(s.buf); err != nil {
		s.err = err
		return err
	}
	if s.hold {
		return nil
	}
	return s.flush()
}

func (s *sseWriter) flush() error {
	if err := s.rc.Flush(); err != nil && s.err == nil {
		s.err = err
	}
	return s.err
}
