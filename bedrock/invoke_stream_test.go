package bedrock

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// invFrame encodes one event-stream frame with the headers Bedrock sends.
func invFrame(t *testing.T, kind, name string, payload []byte) []byte {
	t.Helper()
	var hs eventstream.Headers
	switch kind {
	case "event":
		hs.Set(":event-type", eventstream.StringValue(name))
	case "exception":
		hs.Set(":exception-type", eventstream.StringValue(name))
	}
	hs.Set(":content-type", eventstream.StringValue("application/json"))
	hs.Set(":message-type", eventstream.StringValue(kind))
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: hs, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// invChunk is a chunk event carrying model JSON, padded like Bedrock's.
func invChunk(t *testing.T, modelJSON string) []byte {
	p, _ := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString([]byte(modelJSON)), "p": "abcdefgh"})
	return invFrame(t, "event", "chunk", p)
}

// invStreamServer answers every request with body as an event stream.
func invStreamServer(t *testing.T, body []byte) *Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Header().Set("X-Amzn-Bedrock-Content-Type", "application/json")
		w.Header().Set("X-Amzn-RequestId", "rid-stream")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return newInvClient(t, srv)
}

const (
	invTitanChunk1 = `{"outputText":"Hello","index":0,"totalOutputTextTokenCount":1,"completionReason":null,"inputTextTokenCount":5}`
	invTitanChunk2 = `{"outputText":" world","index":0,"totalOutputTextTokenCount":2,"completionReason":"FINISH","inputTextTokenCount":5,"amazon-bedrock-invocationMetrics":{"inputTokenCount":5,"outputTokenCount":2,"invocationLatency":120,"firstByteLatency":40}}`
)

func TestInvokeStreamExceptions(t *testing.T) {
	tests := []struct {
		name     string
		exType   string
		payload  string
		sentinel error
		want     Error
	}{
		{"model timeout", "modelTimeoutException", `{"message":"Model has timed out in processing the request."}`, ErrModelTimeout,
			Error{Code: CodeModelTimeout, Message: "Model has timed out in processing the request.", StatusCode: 408}},
		{"throttling", "throttlingException", `{"message":"Too many tokens, please wait before trying again."}`, ErrThrottling,
			Error{Code: CodeThrottling, Message: "Too many tokens, please wait before trying again.", StatusCode: 429}},
		{"model stream error", "modelStreamErrorException", `{"message":"boom","originalStatusCode":500,"originalMessage":"upstream"}`, ErrModelStreamError,
			Error{Code: CodeModelStreamError, Message: "boom", StatusCode: 424, OriginalStatusCode: 500, OriginalMessage: "upstream"}},
		{"internal", "internalServerException", `{"message":"oops"}`, ErrInternalServer,
			Error{Code: CodeInternalServer, Message: "oops", StatusCode: 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := append(invChunk(t, invTitanChunk1), invFrame(t, "exception", tt.exType, []byte(tt.payload))...)
			c := invStreamServer(t, body)
			st, err := c.InvokeModelWithResponseStream(context.Background(), "amazon.titan-text-lite-v1", &InvokeModelInput{Body: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if !st.Next() || string(st.Current()) != invTitanChunk1 {
				t.Fatalf("first chunk %q, err %v", st.Current(), st.Err())
			}
			if st.Next() {
				t.Fatalf("Next after the exception = true (%q)", st.Current())
			}
			err = st.Err()
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Err = %v (%T), want *Error", err, err)
			}
			want := tt.want
			want.InStream, want.RequestID = true, "rid-stream"
			if *e != want {
				t.Errorf("Err = %+v\nwant %+v", *e, want)
			}
			if !errors.Is(err, tt.sentinel) || e.Retryable() {
				t.Errorf("errors.Is(%v) = false or retryable", tt.sentinel)
			}
			if st.Next() {
				t.Error("Next after the end = true")
			}
		})
	}
}

// TestInvokeStreamRecordedThenError appends an exception to a real Titan
// stream (the recording of the "handles stream error" case): the recorded
// chunk is delivered, then the exception ends the stream.
func TestInvokeStreamRecordedThenError(t *testing.T) {
	cas := loadInvCassette(t, "test_invoke_model_with_response_stream_handles_stream_error.yaml")
	body := append(cas.Interactions[0].Response.Body,
		invFrame(t, "exception", "modelStreamErrorException", []byte(`{"message":"stream broke","originalStatusCode":500}`))...)
	c := invStreamServer(t, body)
	st, err := c.InvokeModelWithResponseStream(context.Background(), "amazon.titan-text-lite-v1", &InvokeModelInput{Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var chunks int
	for st.Next() {
		chunks++
		ch, err := DecodeTitanTextStreamChunk(st.Current())
		if err != nil || ch.OutputText != " comment\nHello! I am a computer program designed" {
			t.Errorf("chunk %+v, %v", ch, err)
		}
	}
	if chunks != 1 {
		t.Errorf("%d chunks, want 1", chunks)
	}
	if !errors.Is(st.Err(), ErrModelStreamError) {
		t.Errorf("Err = %v, want ModelStreamErrorException", st.Err())
	}
	// The metrics of the chunk that did arrive stay available.
	if m := st.InvocationMetrics(); m == nil || m.InvocationLatency != 637*time.Millisecond || m.FirstByteLatency != 636*time.Millisecond {
		t.Errorf("metrics = %+v", m)
	}
}

func TestInvokeStreamEdgeCases(t *testing.T) {
	full := append(invChunk(t, invTitanChunk1), invChunk(t, invTitanChunk2)...)
	tests := []struct {
		name       string
		body       []byte
		wantChunks []string
		wantErr    func(error) bool
	}{
		{"clean end", full, []string{invTitanChunk1, invTitanChunk2}, nil},
		{"unknown event skipped",
			append(append(invChunk(t, invTitanChunk1), invFrame(t, "event", "futureEvent", []byte(`{}`))...), invChunk(t, invTitanChunk2)...),
			[]string{invTitanChunk1, invTitanChunk2}, nil},
		{"truncated inside a frame", full[:len(full)-7], []string{invTitanChunk1},
			func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"chunk payload not JSON", invFrame(t, "event", "chunk", []byte(`not json`)), nil,
			func(err error) bool { return err != nil && !errors.As(err, new(*Error)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := invStreamServer(t, tt.body)
			st, err := c.InvokeModelWithResponseStream(context.Background(), "amazon.titan-text-lite-v1", &InvokeModelInput{Body: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var got []string
			for st.Next() {
				got = append(got, string(st.Current()))
			}
			if len(got) != len(tt.wantChunks) {
				t.Fatalf("chunks = %q, want %q", got, tt.wantChunks)
			}
			for i := range got {
				if got[i] != tt.wantChunks[i] {
					t.Errorf("chunk %d = %q, want %q", i, got[i], tt.wantChunks[i])
				}
			}
			if tt.wantErr == nil {
				if st.Err() != nil {
					t.Errorf("Err = %v", st.Err())
				}
				m := st.InvocationMetrics()
				if m == nil || *m != (InvocationMetrics{InputTokenCount: 5, OutputTokenCount: 2, InvocationLatency: 120 * time.Millisecond, FirstByteLatency: 40 * time.Millisecond}) {
					t.Errorf("metrics = %+v", m)
				}
			} else if !tt.wantErr(st.Err()) {
				t.Errorf("Err = %v", st.Err())
			}
		})
	}
}

// TestInvokeStreamCloseUnblocks closes a stream whose server has gone
// quiet: a blocked Next must return false at once, with no error.
func TestInvokeStreamCloseUnblocks(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Write(invChunk(t, invTitanChunk1))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newInvClient(t, srv)
	st, err := c.InvokeModelWithResponseStream(context.Background(), "amazon.titan-text-lite-v1", &InvokeModelInput{Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Next() {
		t.Fatalf("no first chunk: %v", st.Err())
	}
	done := make(chan bool)
	go func() { done <- st.Next() }()
	time.Sleep(50 * time.Millisecond)
	st.Close()
	select {
	case more := <-done:
		if more || st.Err() != nil {
			t.Errorf("after Close: Next = %v, Err = %v", more, st.Err())
		}
	case <-time.After(time.Minute): // only a failing test waits this long
		t.Fatal("Next still blocked after Close")
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestInvokeStreamHTTPError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/")
		w.Header().Set("X-Amzn-RequestId", "rid-403")
		w.WriteHeader(403)
		io.WriteString(w, `{"message":"You don't have access to the model with the specified model ID."}`)
	}))
	defer srv.Close()
	c := newInvClient(t, srv)
	_, err := c.InvokeModelWithResponseStream(context.Background(), "anthropic.claude-v2", &InvokeModelInput{Body: []byte(`{}`)})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeAccessDenied || e.StatusCode != 403 || e.RequestID != "rid-403" || e.InStream {
		t.Errorf("err = %v", err)
	}
}

// TestInvokeStreamReleasesSlotAtEnd: a stream read to its end gives its
// concurrency slot back even if the caller forgets Close.
func TestInvokeStreamReleasesSlotAtEnd(t *testing.T) {
	body := invChunk(t, invTitanChunk2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	c, err := New(context.Background(), Config{Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "SECRET", Region: "us-east-1", MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		// A leaked slot would block the next call until this deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := c.InvokeModelWithResponseStream(ctx, "amazon.titan-text-lite-v1", &InvokeModelInput{Body: []byte(`{}`)})
		if err != nil {
			cancel()
			t.Fatalf("call %d: %v", i, err)
		}
		for st.Next() {
		}
		if st.Err() != nil {
			t.Errorf("call %d: %v", i, st.Err())
		}
		cancel()
	}
}

func TestInvokeStreamContextCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(invChunk(t, invTitanChunk1))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := newInvClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := c.InvokeModelWithResponseStream(ctx, "amazon.titan-text-lite-v1", &InvokeModelInput{Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Next() {
		t.Fatal(st.Err())
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	if st.Next() {
		t.Fatal("Next = true after cancel")
	}
	if !errors.Is(st.Err(), context.Canceled) {
		t.Errorf("Err = %v, want context.Canceled", st.Err())
	}
}
