package bedrock

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Event-stream header names and message types (Smithy amazon-eventstream).
const (
	hdrMessageType   = ":message-type"
	hdrEventType     = ":event-type"
	hdrExceptionType = ":exception-type"
	hdrErrorCode     = ":error-code"
	hdrErrorMessage  = ":error-message"

	msgTypeEvent     = "event"
	msgTypeException = "exception"
	msgTypeError     = "error"
)

// errStreamClosed is returned by next after close.
var errStreamClosed = errors.New("bedrock: event stream closed")

// eventReader decodes AWS event-stream frames from a response body with
// aws-sdk-go-v2's eventstream.Decoder (both CRCs checked).
//
// It is not safe for concurrent next calls; close may be called from any
// goroutine at any time (it unblocks a pending next).
type eventReader struct {
	body      io.ReadCloser
	requestID string
	dec       *eventstream.Decoder
	// src counts the bytes each Decode consumes, so that an EOF inside a
	// frame (which the SDK decoder can report as a bare io.EOF, e.g. when the
	// body ends in the middle of a payload) is told apart from an EOF at a
	// frame boundary.
	src countingReader
	// payload is reused across frames: Decode appends into payload[:0].
	payload []byte

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

// initialPayloadBuf fits every frame Bedrock sends for text and tool deltas
// (a few hundred bytes) without growing.
const initialPayloadBuf = 4 << 10

// newEventReader reads frames from body. requestID (the response's
// x-amzn-RequestId) is attached to in-stream errors.
func newEventReader(body io.ReadCloser, requestID string) *eventReader {
	r := &eventReader{
		body:      body,
		requestID: requestID,
		dec:       eventstream.NewDecoder(),
		payload:   make([]byte, 0, initialPayloadBuf),
	}
	// bufio makes the decoder's many small reads cheap and makes arbitrary
	// chunk boundaries in the body irrelevant.
	r.src.r = bufio.NewReaderSize(body, 16<<10)
	return r
}

// countingReader counts bytes read and remembers whether the source ended.
type countingReader struct {
	r   io.Reader
	n   int64
	eof bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// readFrame decodes one raw frame. It returns io.EOF only when the body ends
// exactly at a frame boundary; a body ending inside a frame gives an error
// wrapping io.ErrUnexpectedEOF. The message payload aliases r.payload.
func (r *eventReader) readFrame() (eventstream.Message, error) {
	if r.closed.Load() {
		return eventstream.Message{}, errStreamClosed
	}
	r.src.n, r.src.eof = 0, false
	msg, err := r.dec.Decode(&r.src, r.payload[:0])
	if err != nil {
		if r.closed.Load() {
			return eventstream.Message{}, errStreamClosed
		}
		if r.src.n == 0 && errors.Is(err, io.EOF) {
			return eventstream.Message{}, io.EOF
		}
		if r.src.eof || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return eventstream.Message{}, fmt.Errorf("bedrock: event stream ended inside a frame after %d bytes: %w", r.src.n, io.ErrUnexpectedEOF)
		}
		return eventstream.Message{}, fmt.Errorf("bedrock: decoding event-stream frame: %w", err)
	}
	// Keep the (possibly grown) buffer for the next frame.
	if cap(msg.Payload) > cap(r.payload) {
		r.payload = msg.Payload[:0]
	}
	return msg, nil
}

// next returns the next event's :event-type and payload. The payload is only
// valid until the next call to next (its buffer is reused).
//
// An exception frame (:message-type exception) returns a *Error with
// InStream=true; an error frame (:error-code/:error-message) returns a *Error
// too. It returns io.EOF only at a clean frame boundary; a truncated final
// frame returns an error wrapping io.ErrUnexpectedEOF (never silently
// dropped); a frame without :message-type is an error.
func (r *eventReader) next() (eventType string, payload []byte, err error) {
	msg, err := r.readFrame()
	if err != nil {
		return "", nil, err
	}
	mt, ok := stringHeader(msg.Headers, hdrMessageType)
	if !ok {
		return "", nil, errors.New("bedrock: event-stream frame without :message-type header")
	}
	switch mt {
	case msgTypeEvent:
		et, ok := stringHeader(msg.Headers, hdrEventType)
		if !ok {
			return "", nil, errors.New("bedrock: event-stream event without :event-type header")
		}
		return et, msg.Payload, nil
	case msgTypeException:
		xt, ok := stringHeader(msg.Headers, hdrExceptionType)
		if !ok {
			return "", nil, errors.New("bedrock: event-stream exception without :exception-type header")
		}
		return "", nil, streamError(xt, msg.Payload, r.requestID)
	case msgTypeError:
		code, _ := stringHeader(msg.Headers, hdrErrorCode)
		text, _ := stringHeader(msg.Headers, hdrErrorMessage)
		if code == "" {
			code = "InternalFailure"
		}
		return "", nil, &Error{Code: code, Message: text, InStream: true, RequestID: r.requestID, StatusCode: codeStatus[code]}
	default:
		return "", nil, fmt.Errorf("bedrock: event-stream frame with unknown :message-type %q", mt)
	}
}

// close closes the body at once, releasing the connection (and, through
// releasingBody, the limiter slot). It is idempotent.
func (r *eventReader) close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.closeErr = r.body.Close()
	})
	return r.closeErr
}

// stringHeader returns a string-typed header's value.
func stringHeader(hs eventstream.Headers, name string) (string, bool) {
	for i := range hs {
		if hs[i].Name == name {
			if v, ok := hs[i].Value.(eventstream.StringValue); ok {
				return string(v), true
			}
			return "", false
		}
	}
	return "", false
}
