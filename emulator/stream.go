package emulator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// padAlphabet is what real Bedrock pads event payloads with (the "p" member):
// a prefix of this string of varying length, presumably to hide token lengths.
const padAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// errClientGone reports that a stream's client went away.
var errClientGone = errors.New("emulator: client went away")

// eventWriter writes an application/vnd.amazon.eventstream response frame by
// frame, flushing each one, as Bedrock does over HTTP/1.1 chunked encoding.
type eventWriter struct {
	c     *call
	rc    *http.ResponseController
	enc   *eventstream.Encoder
	buf   bytes.Buffer
	frame []byte // reused by encode
	rng   *rand.Rand
	fault string // an in-stream fault to inject (throttle-stream, model-stream-error, reset, truncate)
	after int    // inject the fault before event number after
	n     int    // events written
	gap   time.Duration
	total int // events the stream will have, when known (truncate targets the last)
}

// startStream sends the 200 response headers of a stream.
func (c *call) startStream(seed uint64, extra map[string]string) *eventWriter {
	h := c.w.Header()
	h["Content-Type"] = []string{"application/vnd.amazon.eventstream"}
	h["x-amzn-RequestId"] = []string{c.id}
	for k, v := range extra {
		h[k] = []string{v}
	}
	c.w.WriteHeader(http.StatusOK)
	c.e.streams.Add(1)
	ew := &eventWriter{c: c, rc: http.NewResponseController(c.w), enc: eventstream.NewEncoder(),
		rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
	if err := ew.rc.Flush(); err != nil {
		c.e.disconnects.Add(1)
	}
	return ew
}

// arm sets the stream up for a call's fault: throttle-stream,
// model-stream-error and reset hit after streamFaultAfter events, truncate
// cuts the last frame; other faults never reach a stream.
func (ew *eventWriter) arm(kind string) {
	switch kind {
	case faultThrottleStream, faultModelStreamError, faultReset, faultStall, faultBadCRC:
		ew.fault, ew.after = kind, streamFaultAfter
	case faultTruncate:
		ew.fault = faultTruncate
	}
}

// pad returns a padding string like real Bedrock's.
func (ew *eventWriter) pad() string {
	return padAlphabet[:1+ew.rng.IntN(len(padAlphabet)-1)]
}

// event writes one event frame. Payload must be a JSON object whose members
// are sorted, with the "p" padding member at its sorted position (the
// payload builders at the end of this file write it so).
func (ew *eventWriter) event(eventType string, payload []byte) error {
	if ew.fault != "" && ew.n == ew.after {
		if err := ew.injectFault(); err != nil {
			return err
		}
	}
	last := ew.total > 0 && ew.n == ew.total-1
	if ew.n > 0 && ew.gap > 0 && !ew.c.wait(ew.gap) {
		return errClientGone
	}
	ew.n++
	msg := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(eventType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: payload,
	}
	if last && ew.fault == faultTruncate {
		return ew.writeTruncated(msg)
	}
	return ew.write(msg)
}

// exception writes a modeled exception frame (:message-type exception with a
// lowerCamel :exception-type, as botocore requires).
func (ew *eventWriter) exception(exceptionType string, payload []byte) error {
	msg := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":exception-type", Value: eventstream.StringValue(exceptionType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
		},
		Payload: payload,
	}
	return ew.write(msg)
}

func (ew *eventWriter) write(msg eventstream.Message) error {
	b, err := ew.encode(msg)
	if err != nil {
		return err
	}
	return ew.send(b)
}

// encode frames msg. Messages whose headers are all strings (every frame the
// emulator sends) are framed here, byte for byte as eventstream.Encoder
// frames them but without its per-frame allocations (a CRC hash, header and
// payload buffers), into a buffer reused across frames; anything else goes
// through eventstream.Encoder. The result is valid until the next call.
func (ew *eventWriter) encode(msg eventstream.Message) ([]byte, error) {
	hlen := 0
	for _, h := range msg.Headers {
		sv, ok := h.Value.(eventstream.StringValue)
		if !ok || len(h.Name) > 255 || len(sv) > 1<<15-1 {
			ew.buf.Reset()
			if err := ew.enc.Encode(&ew.buf, msg); err != nil {
				return nil, err
			}
			return ew.buf.Bytes(), nil
		}
		hlen += 1 + len(h.Name) + 1 + 2 + len(sv)
	}
	total := 12 + hlen + len(msg.Payload) + 4
	b := ew.frame[:0]
	b = binary.BigEndian.AppendUint32(b, uint32(total))
	b = binary.BigEndian.AppendUint32(b, uint32(hlen))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[:8]))
	for _, h := range msg.Headers {
		sv := h.Value.(eventstream.StringValue)
		b = append(b, byte(len(h.Name)))
		b = append(b, h.Name...)
		b = append(b, 7) // string
		b = binary.BigEndian.AppendUint16(b, uint16(len(sv)))
		b = append(b, sv...)
	}
	b = append(b, msg.Payload...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	ew.frame = b
	return b, nil
}

func (ew *eventWriter) send(b []byte) error {
	if _, err := ew.c.w.Write(b); err != nil {
		ew.c.e.disconnects.Add(1)
		return errClientGone
	}
	if err := ew.rc.Flush(); err != nil {
		ew.c.e.disconnects.Add(1)
		return errClientGone
	}
	return nil
}

// writeTruncated sends only the first half of msg's frame and ends the
// response: the HTTP body completes cleanly but the event stream does not.
func (ew *eventWriter) writeTruncated(msg eventstream.Message) error {
	b, err := ew.encode(msg)
	if err != nil {
		return err
	}
	if err := ew.send(b[:len(b)/2]); err != nil {
		return err
	}
	return errStreamFaulted
}

// errStreamFaulted stops a stream after an injected in-stream fault.
var errStreamFaulted = errors.New("emulator: stream fault injected")

// injectFault writes the configured in-stream fault and stops the stream.
// The other faults fail the call before its stream starts (httpFault), and
// truncate hits the last frame instead (event).
func (ew *eventWriter) injectFault() error {
	switch ew.fault {
	case faultThrottleStream:
		ew.exception("throttlingException", errThrottled().body())
	case faultModelStreamError:
		b := mustJSON(map[string]any{
			"message":            "The model encountered an error while streaming the response.",
			"originalMessage":    "Internal model error",
			"originalStatusCode": 500,
		})
		ew.exception("modelStreamErrorException", b)
	case faultReset:
		resetConn(ew.c.w)
	case faultStall:
		// The stream stays open and silent until the client gives up.
		<-ew.c.r.Context().Done()
		ew.c.e.disconnects.Add(1)
		return errClientGone
	case faultBadCRC:
		b, err := ew.encode(eventstream.Message{Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue("contentBlockDelta")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		}, Payload: []byte(`{"contentBlockIndex":0,"delta":{"text":"x"}}`)})
		if err != nil {
			return err
		}
		b[len(b)-1] ^= 0xff // the message CRC no longer matches
		ew.send(b)
	default:
		return nil
	}
	return errStreamFaulted
}

// The payload builders below produce compact JSON with members in
// lexicographic order and the "p" padding member at its sorted place, as
// real Bedrock serializes event payloads.

func (ew *eventWriter) messageStart() error {
	b := make([]byte, 0, 96)
	b = append(b, `{"p":`...)
	b = appendJSONString(b, ew.pad())
	b = append(b, `,"role":"assistant"}`...)
	return ew.event("messageStart", b)
}

func appendIndex(b []byte, idx int) []byte {
	b = append(b, `{"contentBlockIndex":`...)
	return appendInt(b, idx)
}

func (ew *eventWriter) textDelta(idx int, text string) error {
	b := appendIndex(make([]byte, 0, 128+len(text)), idx)
	b = append(b, `,"delta":{"text":`...)
	b = appendJSONString(b, text)
	b = append(b, `},"p":`...)
	b = appendJSONString(b, ew.pad())
	return ew.event("contentBlockDelta", append(b, '}'))
}

func (ew *eventWriter) reasoningDelta(idx int, field, value string) error {
	b := appendIndex(make([]byte, 0, 128+len(value)), idx)
	b = append(b, `,"delta":{"reasoningContent":{"`...)
	b = append(b, field...)
	b = append(b, `":`...)
	b = appendJSONString(b, value)
	b = append(b, `}},"p":`...)
	b = appendJSONString(b, ew.pad())
	return ew.event("contentBlockDelta", append(b, '}'))
}

func (ew *eventWriter) toolUseStart(idx int, name, id string) error {
	b := appendIndex(make([]byte, 0, 160), idx)
	b = append(b, `,"p":`...)
	b = appendJSONString(b, ew.pad())
	b = append(b, `,"start":{"toolUse":{"name":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"toolUseId":`...)
	b = appendJSONString(b, id)
	return ew.event("contentBlockStart", append(b, `}}}`...))
}

func (ew *eventWriter) toolUseDelta(idx int, input string) error {
	b := appendIndex(make([]byte, 0, 128+len(input)), idx)
	b = append(b, `,"delta":{"toolUse":{"input":`...)
	b = appendJSONString(b, input)
	b = append(b, `}},"p":`...)
	b = appendJSONString(b, ew.pad())
	return ew.event("contentBlockDelta", append(b, '}'))
}

func (ew *eventWriter) blockStop(idx int) error {
	b := appendIndex(make([]byte, 0, 96), idx)
	b = append(b, `,"p":`...)
	b = appendJSONString(b, ew.pad())
	return ew.event("contentBlockStop", append(b, '}'))
}

func (ew *eventWriter) messageStop(stopReason string, additional []byte) error {
	b := make([]byte, 0, 128)
	b = append(b, '{')
	if len(additional) > 0 {
		b = append(b, `"additionalModelResponseFields":`...)
		b = append(b, additional...)
		b = append(b, ',')
	}
	b = append(b, `"p":`...)
	b = appendJSONString(b, ew.pad())
	b = append(b, `,"stopReason":`...)
	b = appendJSONString(b, stopReason)
	return ew.event("messageStop", append(b, '}'))
}

// metadata is the last event: usage and metrics (and trace when asked).
func (ew *eventWriter) metadata(latencyMs int, u *usage, trace []byte) error {
	b := make([]byte, 0, 256)
	b = append(b, `{"metrics":{"latencyMs":`...)
	b = appendInt(b, latencyMs)
	b = append(b, `},"p":`...)
	b = appendJSONString(b, ew.pad())
	if len(trace) > 0 {
		b = append(b, `,"trace":`...)
		b = append(b, trace...)
	}
	b = append(b, `,"usage":`...)
	b = u.appendJSON(b)
	return ew.event("metadata", append(b, '}'))
}

// chunk is InvokeModelWithResponseStream's event: the model-native JSON
// chunk, base64 encoded in "bytes".
func (ew *eventWriter) chunk(native []byte) error {
	b := make([]byte, 0, 32+len(native)*4/3+64)
	b = append(b, `{"bytes":"`...)
	b = appendBase64(b, native)
	b = append(b, `","p":`...)
	b = appendJSONString(b, ew.pad())
	return ew.event("chunk", append(b, '}'))
}
