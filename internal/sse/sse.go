// Package sse writes Server-Sent Events for the gateway's streaming
// surfaces (OpenAI chat completions, Elasticsearch _stream), flushing each
// event as soon as it is written so a client sees every Bedrock event as
// soon as the gateway has it (as httputil.ReverseProxy does for
// text/event-stream).
package sse

import (
	"encoding/json"
	"net/http"
)

// Writer writes the events of one response. After the first write error
// (the client is gone) every method returns that error and writes nothing.
type Writer struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
	err error
	// Hold defers flushing while the caller knows the next event is already
	// in hand (bedrock.ConverseStream.Buffered): an event is written at once
	// and flushed with the next, so nothing waits and a burst costs one
	// flush. Clear it before the last event.
	Hold bool
}

// Start sends the 200 status and the stream's headers, with contentType
// (such as "text/event-stream"), and flushes them. Nothing may compress or
// buffer the stream: no Content-Encoding is set, and X-Accel-Buffering tells
// nginx-style proxies to pass it through. Headers already set on w (such as
// Connection) go out too.
func Start(w http.ResponseWriter, contentType string) *Writer {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	s := &Writer{w: w, rc: http.NewResponseController(w)}
	s.flush()
	return s
}

// Event writes one event: "event: <name>\n" (left out when name is empty),
// then "data: <data>\n\n". data must not contain a newline.
func (s *Writer) Event(name string, data []byte) error {
	return s.End(append(s.Begin(name), data...))
}

// JSON writes v, encoded as encoding/json does, as the data of an event.
func (s *Writer) JSON(name string, v any) error {
	if s.err != nil {
		return s.err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Event(name, b)
}

// Begin starts an event built in place, with no allocation: append its data
// to the returned slice and pass the result to End.
func (s *Writer) Begin(name string) []byte {
	b := s.buf[:0]
	if name != "" {
		b = append(append(append(b, "event: "...), name...), '\n')
	}
	return append(b, "data: "...)
}

// End finishes the event b (from Begin) and writes it.
func (s *Writer) End(b []byte) error {
	s.buf = append(b, "\n\n"...)
	if s.err != nil {
		return s.err
	}
	if _, err := s.w.Write(s.buf); err != nil {
		s.err = err
		return err
	}
	if s.Hold {
		return nil
	}
	if cap(s.buf) > keepBuf {
		// The stream now waits for its next event, for seconds in a slow
		// one, and a typical event (a text delta) is small: let the
		// buffer of a large one (a Responses stream's response.created
		// carries the whole response) go rather than hold it over the
		// wait.
		s.buf = nil
	}
	return s.flush()
}

// keepBuf is the largest event buffer a Writer keeps between events.
const keepBuf = 512

func (s *Writer) flush() error {
	if err := s.rc.Flush(); err != nil && s.err == nil {
		s.err = err
	}
	return s.err
}
