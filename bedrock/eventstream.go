package bedrock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"sync/atomic"
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

// Frame limits of the event-stream spec (Smithy amazon-eventstream, also
// enforced by botocore). They bound what a corrupt or hostile length can make
// the reader allocate.
const (
	preludeLen     = 12
	minFrameLen    = 16
	maxPayloadLen  = 24 << 20
	maxHeadersLen  = 128 << 10
	maxFrameLength = minFrameLen + maxHeadersLen + maxPayloadLen
)

// eventReader decodes AWS event-stream frames from a response body, checking
// both CRCs.
//
// It decodes frames itself rather than through aws-sdk-go-v2's
// eventstream.Decoder: that decoder allocates some forty objects per frame
// (a crc hash, tee and limit readers, every header name and value), more than
// the whole per-event budget of a ConverseStream. This reader allocates
// nothing per frame: headers are parsed in place and the frame buffer is
// reused. The tests check it against eventstream.Decoder frame by frame.
//
// next is not safe for concurrent use; close may be called from any
// goroutine at any time (it unblocks a pending next).
type eventReader struct {
	body      io.ReadCloser
	requestID string
	// buf holds what has been read from body: buf[off:] is not decoded
	// yet; the frame readFrame returned last is buf[:off], so a payload
	// is only valid until the next call. One buffer serves as read buffer
	// and frame buffer (no bufio.Reader in front). It is small, inside
	// the reader, while the stream is slow; large, a pooled buffer, while
	// reads fill the buffer or a frame does not fit in small.
	buf   []byte
	off   int
	large *[largeBuf]byte // the pooled buffer buf is in, if any
	// full: the last read filled the buffer, so more may be waiting.
	full bool
	// awaited is the length of the frame at buf[0:], wholly buffered and
	// its prelude checked by await, that readFrame has not decoded yet
	// (0: none).
	awaited uint32
	small   [smallBuf]byte

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

// A slow stream (one event per network read, as every stream a person
// reads is) waits for its next frame in small, which fits the frames
// Bedrock sends for text and tool deltas (a few hundred bytes each), so an
// open stream holds no more than that between events: at a thousand open
// streams a 2 KiB buffer each was 2 MiB. A read that fills the buffer moves
// to a large one, taken from a pool, so that a fast stream is read in few
// large reads; so does a frame larger than small (or, larger than large
// too, to one of the frame's size). The large buffer goes back to the pool
// once the reader has caught up with the body, which a fast stream does at
// its end and a slow one after each event.
const (
	smallBuf = 512
	largeBuf = 16 << 10
)

var largeBufs = sync.Pool{New: func() any { return new([largeBuf]byte) }}

// newEventReader reads frames from body. requestID (the response's
// x-amzn-RequestId) is attached to in-stream errors.
func newEventReader(body io.ReadCloser, requestID string) *eventReader {
	r := &eventReader{body: body, requestID: requestID}
	r.buf = r.small[:0]
	return r
}

// rawFrame is one decoded frame; both slices alias the reader's buffer.
type rawFrame struct {
	headers []byte // encoded headers
	payload []byte
}

// readFrame decodes one frame and checks its CRCs. It returns io.EOF only
// when the body ends exactly at a frame boundary; a body ending inside a
// frame gives an error wrapping io.ErrUnexpectedEOF.
func (r *eventReader) readFrame() (rawFrame, error) {
	if r.awaited == 0 {
		if err := r.await(); err != nil {
			return rawFrame{}, err
		}
	}
	total, hlen := r.awaited, binary.BigEndian.Uint32(r.buf[4:8])
	r.awaited = 0
	frame := r.buf[:total]
	body := frame[preludeLen : total-4]
	crc := crc32.Update(crc32.ChecksumIEEE(frame[:preludeLen]), crc32.IEEETable, body)
	if crc != binary.BigEndian.Uint32(frame[total-4:]) {
		return rawFrame{}, errors.New("bedrock: event-stream frame: message checksum mismatch")
	}
	r.off = int(total)
	return rawFrame{headers: body[:hlen], payload: body[hlen:]}, nil
}

// await waits until the next frame is wholly buffered, its prelude
// checked, so that readFrame then decodes it at once. A stream's reader
// calls it before next: the wait for the network is then not under the
// frames of next and readFrame, whose locals are the decoding's, and a
// stream's handler goroutine waits shallow enough for the collector to
// halve a stack its setup grew (docs/benchmarks.md, "Open streams").
func (r *eventReader) await() error {
	if r.closed.Load() {
		return errStreamClosed
	}
	if r.awaited != 0 {
		return nil
	}
	if r.off > 0 {
		r.drop()
	}
	if err := r.fill(preludeLen); err != nil {
		return err
	}
	total, err := r.checkPrelude()
	if err != nil {
		return err
	}
	if err := r.fill(int(total)); err != nil {
		return err
	}
	r.awaited = total
	return nil
}

// checkPrelude checks the buffered prelude's CRC and lengths, before
// they size anything, and returns the frame's length.
func (r *eventReader) checkPrelude() (total uint32, err error) {
	prelude := r.buf[:preludeLen]
	total = binary.BigEndian.Uint32(prelude[0:4])
	hlen := binary.BigEndian.Uint32(prelude[4:8])
	if crc32.ChecksumIEEE(prelude[:8]) != binary.BigEndian.Uint32(prelude[8:12]) {
		return 0, errors.New("bedrock: event-stream frame: prelude checksum mismatch")
	}
	if total < minFrameLen || total > maxFrameLength || hlen > maxHeadersLen || hlen > total-minFrameLen {
		return 0, fmt.Errorf("bedrock: event-stream frame: invalid lengths (total %d, headers %d)", total, hlen)
	}
	return total, nil
}

// drop discards the frame readFrame returned last: what follows it moves
// to the front. A reader that has caught up with the body goes back to its
// small buffer to wait for the next frame; so does one that has decoded a
// frame larger than the large buffer (its buffer was the frame's size, so
// the read that completed it always filled it).
func (r *eventReader) drop() {
	rest := r.buf[r.off:]
	r.off = 0
	if len(rest) == 0 && (!r.full || cap(r.buf) > largeBuf) {
		r.release()
		return
	}
	r.buf = r.buf[:copy(r.buf, rest)]
}

// release gives the large buffer back; buf is then small and empty.
func (r *eventReader) release() {
	if r.large != nil {
		largeBufs.Put(r.large)
		r.large = nil
	}
	r.buf = r.small[:0]
}

// fill reads from the body until the buffer, which starts at the current
// frame, holds at least n bytes. On an error the stream is over, and the
// large buffer goes back to the pool.
func (r *eventReader) fill(n int) error {
	if cap(r.buf) < n {
		r.grow(n)
	}
	for len(r.buf) < n {
		free := r.buf[len(r.buf):cap(r.buf)]
		m, err := r.body.Read(free)
		r.buf = r.buf[:len(r.buf)+m]
		r.full = m == len(free)
		if len(r.buf) >= n {
			if r.full && cap(r.buf) < largeBuf {
				// Data arrives faster than it is decoded: read in
				// large chunks.
				r.grow(largeBuf)
			}
			return nil
		}
		if err != nil {
			err = r.readError(err, len(r.buf))
			r.release()
			return err
		}
	}
	return nil
}

// grow moves the buffer's contents to one of at least n bytes: the pooled
// large buffer, or for a frame larger than that, one of the frame's own.
func (r *eventReader) grow(n int) {
	var nb []byte
	if n <= largeBuf {
		p := largeBufs.Get().(*[largeBuf]byte)
		nb = p[:copy(p[:], r.buf)]
		r.large = p // buf was small: a large buffer is never grown to another
	} else {
		nb = make([]byte, len(r.buf), n)
		copy(nb, r.buf)
		if r.large != nil {
			largeBufs.Put(r.large)
			r.large = nil
		}
	}
	r.buf = nb
}

// readError classifies a read error after n bytes of the current frame.
func (r *eventReader) readError(err error, n int) error {
	switch {
	case r.closed.Load():
		return errStreamClosed
	case n == 0 && err == io.EOF:
		return io.EOF
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("bedrock: event stream ended inside a frame after %d bytes: %w", n, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("bedrock: reading event stream: %w", err)
}

// Header value types (Smithy amazon-eventstream).
const (
	hvTrue      = 0
	hvFalse     = 1
	hvByte      = 2
	hvShort     = 3
	hvInteger   = 4
	hvLong      = 5
	hvByteArray = 6
	hvString    = 7
	hvTimestamp = 8
	hvUUID      = 9
)

// nextHeader splits the first header off an encoded header block: its name,
// type and the value's raw bytes (for strings and byte arrays, without the
// length). It fails on a header that runs past the block or has an unknown
// type.
func nextHeader(hs []byte) (name []byte, typ byte, value, rest []byte, err error) {
	nl := int(hs[0])
	if len(hs) < 1+nl+1 {
		return nil, 0, nil, nil, errors.New("bedrock: event-stream frame: truncated header name")
	}
	name, typ = hs[1:1+nl], hs[1+nl]
	hs = hs[2+nl:]
	var vl int
	switch typ {
	case hvTrue, hvFalse:
		vl = 0
	case hvByte:
		vl = 1
	case hvShort:
		vl = 2
	case hvInteger:
		vl = 4
	case hvLong, hvTimestamp:
		vl = 8
	case hvUUID:
		vl = 16
	case hvByteArray, hvString:
		if len(hs) < 2 {
			return nil, 0, nil, nil, errors.New("bedrock: event-stream frame: truncated header value length")
		}
		vl = int(binary.BigEndian.Uint16(hs))
		hs = hs[2:]
	default:
		return nil, 0, nil, nil, fmt.Errorf("bedrock: event-stream frame: unknown header value type %d", typ)
	}
	if len(hs) < vl {
		return nil, 0, nil, nil, errors.New("bedrock: event-stream frame: truncated header value")
	}
	return name, typ, hs[:vl], hs[vl:], nil
}

// frameHeaders are the headers next needs, as views into the frame buffer
// (nil: absent or not a string).
type frameHeaders struct {
	messageType, eventType, exceptionType, errorCode, errorMessage []byte
}

func (f *frameHeaders) parse(hs []byte) error {
	for len(hs) > 0 {
		name, typ, value, rest, err := nextHeader(hs)
		if err != nil {
			return err
		}
		hs = rest
		if typ != hvString {
			continue
		}
		// string(name) in a comparison does not allocate. A repeated header
		// keeps its last value, as aws-sdk-go-v2's decoder does.
		switch string(name) {
		case hdrMessageType:
			f.messageType = value
		case hdrEventType:
			f.eventType = value
		case hdrExceptionType:
			f.exceptionType = value
		case hdrErrorCode:
			f.errorCode = value
		case hdrErrorMessage:
			f.errorMessage = value
		}
	}
	return nil
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
	f, err := r.readFrame()
	if err != nil {
		return "", nil, err
	}
	var h frameHeaders
	if err := h.parse(f.headers); err != nil {
		return "", nil, err
	}
	if h.messageType == nil {
		return "", nil, errors.New("bedrock: event-stream frame without :message-type header")
	}
	switch string(h.messageType) {
	case msgTypeEvent:
		if h.eventType == nil {
			return "", nil, errors.New("bedrock: event-stream event without :event-type header")
		}
		return internEventType(h.eventType), f.payload, nil
	case msgTypeException:
		if h.exceptionType == nil {
			return "", nil, errors.New("bedrock: event-stream exception without :exception-type header")
		}
		return "", nil, streamError(string(h.exceptionType), f.payload, r.requestID)
	case msgTypeError:
		code := string(h.errorCode)
		if code == "" {
			code = "InternalFailure"
		}
		return "", nil, &Error{Code: code, Message: string(h.errorMessage), InStream: true, RequestID: r.requestID, StatusCode: codeStatus[code]}
	default:
		return "", nil, fmt.Errorf("bedrock: event-stream frame with unknown :message-type %q", h.messageType)
	}
}

// internEventType returns the event type as a string without allocating for
// the event types Bedrock sends.
func internEventType(b []byte) string {
	switch string(b) {
	case "contentBlockDelta":
		return "contentBlockDelta"
	case "contentBlockStart":
		return "contentBlockStart"
	case "contentBlockStop":
		return "contentBlockStop"
	case "messageStart":
		return "messageStart"
	case "messageStop":
		return "messageStop"
	case "metadata":
		return "metadata"
	case "chunk":
		return "chunk"
	}
	return string(b)
}

// ready reports whether a whole frame is already buffered, so that next
// returns it without waiting for the network. Like next, it must not run
// concurrently with next.
func (r *eventReader) ready() bool {
	rest := r.buf[r.off:]
	return len(rest) >= preludeLen && len(rest) >= int(binary.BigEndian.Uint32(rest))
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
