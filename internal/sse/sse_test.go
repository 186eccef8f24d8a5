package sse

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// flushRecorder counts flushes and can fail writes.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushes int
	fail    bool
}

func (f *flushRecorder) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

func (f *flushRecorder) Write(p []byte) (int, error) {
	if f.fail {
		return 0, errors.New("client gone")
	}
	return f.ResponseRecorder.Write(p)
}

func TestWriter(t *testing.T) {
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	rec.Header().Set("Content-Length", "12")
	rec.Header().Set("Connection", "keep-alive")
	s := Start(rec, "text/event-stream; charset=utf-8")
	if rec.Code != http.StatusOK || rec.flushes != 1 {
		t.Fatalf("start: status %d, %d flushes", rec.Code, rec.flushes)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
		"X-Accel-Buffering": "no", "Content-Length": "", "Connection": "keep-alive"} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	steps := []struct {
		name    string
		write   func() error
		want    string // the body so far
		flushes int
	}{
		{"data only", func() error { return s.Event("", []byte(`{"a":1}`)) }, "data: {\"a\":1}\n\n", 2},
		{"named", func() error { return s.Event("message", []byte(`x`)) }, "event: message\ndata: x\n\n", 3},
		{"json", func() error { return s.JSON("error", map[string]int{"status": 400}) }, "event: error\ndata: {\"status\":400}\n\n", 4},
		{"held", func() error { s.Hold = true; return s.End(append(s.Begin(""), "built"...)) }, "data: built\n\n", 4},
		{"released", func() error { s.Hold = false; return s.Event("", []byte("[DONE]")) }, "data: [DONE]\n\n", 5},
	}
	body := ""
	for _, st := range steps {
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		body += st.want
		if got := rec.Body.String(); got != body || rec.flushes != st.flushes {
			t.Fatalf("%s: body %q (%d flushes), want %q (%d)", st.name, got, rec.flushes, body, st.flushes)
		}
	}

	// The first write error sticks; nothing more is written.
	rec.fail = true
	if err := s.Event("", []byte("lost")); err == nil {
		t.Fatal("write to a gone client succeeded")
	}
	rec.fail = false
	if err := s.JSON("", 1); err == nil || rec.Body.String() != body {
		t.Fatalf("after an error: %v, body %q", err, rec.Body.String())
	}
}

// The writer reuses its buffer: a steady stream of events allocates nothing.
func TestWriterAllocs(t *testing.T) {
	rec := httptest.NewRecorder()
	s := Start(rec, "text/event-stream")
	data := []byte(`{"delta":"hello"}`)
	allocs := testing.AllocsPerRun(100, func() {
		rec.Body.Reset()
		s.Event("message", data)
	})
	if allocs != 0 {
		t.Errorf("Event allocates %.1f times per event", allocs)
	}
}

// Between events the writer keeps a small event's buffer, and lets a
// large one's go: a slow stream waits for seconds between events.
func TestWriterLetsGoOfLargeBuffers(t *testing.T) {
	rec := httptest.NewRecorder()
	s := Start(rec, "text/event-stream")
	s.Event("", []byte(`{"delta":"hello"}`))
	if s.buf == nil {
		t.Fatal("a small event's buffer was dropped")
	}
	large := bytes.Repeat([]byte("x"), 2*keepBuf)
	s.Hold = true
	s.Event("", large)
	if cap(s.buf) <= keepBuf {
		t.Fatal("a held event's buffer was dropped before the flush")
	}
	s.Hold = false
	s.Event("", large)
	if s.buf != nil {
		t.Errorf("kept a %d-byte buffer over the wait", cap(s.buf))
	}
	if want := 2*(len("data: ")+len(large)+2) + len("data: {\"delta\":\"hello\"}\n\n"); rec.Body.Len() != want {
		t.Errorf("wrote %d bytes, want %d", rec.Body.Len(), want)
	}
}
