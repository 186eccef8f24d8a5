package bedrock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// This file widens the cross-check of eventReader against aws-sdk-go-v2's
// eventstream.Decoder (TestEventReaderMatchesSDKDecoder): every event-stream
// body in the shared recordings, not just one; both decoders fed through the
// same arbitrary read splits; and, besides frames and headers, what next
// makes of each frame (event, typed exception, error) compared with what the
// SDK's headers say.

// esRecordedStreams returns every 200 event-stream response body in the
// shared recordings (ConverseStream and InvokeModelWithResponseStream),
// keyed "file#interaction".
func esRecordedStreams(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(cvRecordingsDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in %s: %v", cvRecordingsDir, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		cas := cvLoadCassette(t, filepath.Base(f))
		for i := range cas.Interactions {
			in := &cas.Interactions[i]
			if in.Response.Status == 200 && strings.HasPrefix(in.Response.Headers.Get("Content-Type"), "application/vnd.amazon.eventstream") {
				out[fmt.Sprintf("%s#%d", filepath.Base(f), i)] = in.Response.Body
			}
		}
	}
	// 11 ConverseStream and 17 InvokeModelWithResponseStream cassettes, some
	// with two turns: fewer means the filter above broke.
	if len(out) < 28 {
		t.Fatalf("only %d recorded event streams found", len(out))
	}
	return out
}

// esCountingReader counts the bytes read through it, so that a decoder's
// "clean" io.EOF after consuming part of a frame can be told apart.
type esCountingReader struct {
	r io.Reader
	n int
}

func (c *esCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// esSplits are the read patterns both decoders are fed through.
func esSplits(seed int64) map[string]func(io.Reader) io.Reader {
	return map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one-byte": iotest.OneByteReader,
		"data-err": iotest.DataErrReader,
		"random-5": func(r io.Reader) io.Reader { return &randomChunks{r, rand.New(rand.NewSource(seed)), 5} },
		"random-97": func(r io.Reader) io.Reader {
			return &randomChunks{r, rand.New(rand.NewSource(seed + 1)), 97}
		},
	}
}

// esSDKEvent is what a frame decoded by the SDK means to a Bedrock client:
// kind "event" (type and payload), "exception" (the code, including an
// error frame's :error-code) or "bad" (a malformed frame).
type esSDKEvent struct {
	kind, eventType, code string
	payload               []byte
}

func esSDKString(hs eventstream.Headers, name string) (string, bool) {
	v, ok := hs.Get(name).(eventstream.StringValue)
	return string(v), ok
}

// esSDKMeaning reads a frame the way the generated bedrockruntime client
// does, from the SDK decoder's headers.
func esSDKMeaning(m eventstream.Message) esSDKEvent {
	bad := esSDKEvent{kind: "bad"}
	mt, ok := esSDKString(m.Headers, ":message-type")
	if !ok {
		return bad
	}
	switch mt {
	case "event":
		et, ok := esSDKString(m.Headers, ":event-type")
		if !ok {
			return bad
		}
		return esSDKEvent{kind: "event", eventType: et, payload: m.Payload}
	case "exception":
		et, ok := esSDKString(m.Headers, ":exception-type")
		if !ok {
			return bad
		}
		if et != "" {
			// lowerCamel on the wire, the modeled name in errors.
			et = strings.ToUpper(et[:1]) + et[1:]
		}
		return esSDKEvent{kind: "exception", code: et}
	case "error":
		code, _ := esSDKString(m.Headers, ":error-code")
		if code == "" {
			code = "InternalFailure"
		}
		return esSDKEvent{kind: "exception", code: code}
	}
	return bad
}

// esMixedRepeatedHeader reports whether a frame's encoded headers repeat a
// name with values of different types; see esCrossCheck.
func esMixedRepeatedHeader(raw []byte) bool {
	types := map[string]byte{}
	for hs := raw; len(hs) > 0; {
		name, typ, _, rest, err := nextHeader(hs)
		if err != nil {
			return false
		}
		if t, ok := types[string(name)]; ok && t != typ {
			return true
		}
		types[string(name)] = typ
		hs = rest
	}
	return false
}

// esCrossCheck decodes data with eventReader (readFrame, and next on a second
// reader in lockstep) and with eventstream.Decoder, each through split, and
// fails at the first disagreement: success or failure, clean end or not,
// payload, headers, or the meaning of the frame.
func esCrossCheck(t testing.TB, data []byte, split func(io.Reader) io.Reader) {
	t.Helper()
	frames := newEventReader(io.NopCloser(split(bytes.NewReader(data))), "rid")
	events := newEventReader(io.NopCloser(split(bytes.NewReader(data))), "rid")
	ref := &esCountingReader{r: split(bytes.NewReader(data))}
	dec := eventstream.NewDecoder()
	for i := 0; ; i++ {
		f, ourErr := frames.readFrame()
		var ourHeaders []string
		var rawHeaders []byte
		if ourErr == nil {
			rawHeaders = append([]byte(nil), f.headers...)
			ourHeaders, ourErr = esOurHeaders(t, f.headers)
		}
		before := ref.n
		msg, refErr := dec.Decode(ref, nil)
		if refErr == io.EOF && ref.n != before {
			// The SDK reports a frame cut short as a bare io.EOF (see
			// esDifferential); it is a failure.
			refErr = io.ErrUnexpectedEOF
		}
		et, payload, nextErr := events.next()
		if (ourErr == nil) != (refErr == nil) {
			t.Fatalf("frame %d: eventReader error %v, eventstream.Decoder error %v", i, ourErr, refErr)
		}
		if ourErr != nil {
			if (ourErr == io.EOF) != (refErr == io.EOF) {
				t.Fatalf("frame %d: eventReader %v, eventstream.Decoder %v", i, ourErr, refErr)
			}
			if (nextErr == io.EOF) != (ourErr == io.EOF) || nextErr == nil {
				t.Fatalf("frame %d: next returned %v where readFrame returned %v", i, nextErr, ourErr)
			}
			return
		}
		if !bytes.Equal(f.payload, msg.Payload) {
			t.Fatalf("frame %d: payload %q, reference %q", i, f.payload, msg.Payload)
		}
		if got, want := strings.Join(esDedupLast(ourHeaders), "|"), strings.Join(esSDKHeaders(msg.Headers), "|"); got != want {
			t.Fatalf("frame %d: headers %v, reference %v", i, got, want)
		}

		// What the frame means. A header repeated with values of different
		// types is read differently (the SDK keeps the last copy whatever its
		// type, eventReader the last string copy); Bedrock never repeats a
		// header, so such frames are only checked for agreement on bytes.
		if esMixedRepeatedHeader(rawHeaders) {
			if nextErr != nil {
				return
			}
			continue
		}
		want := esSDKMeaning(msg)
		var be *Error
		switch want.kind {
		case "bad":
			if nextErr == nil || errors.As(nextErr, &be) {
				t.Fatalf("frame %d: next = %q, %v; the SDK's headers make it malformed", i, et, nextErr)
			}
			return
		case "exception":
			if !errors.As(nextErr, &be) || be.Code != want.code || !be.InStream || be.RequestID != "rid" {
				t.Fatalf("frame %d: next error %v, want an in-stream *Error with code %q", i, nextErr, want.code)
			}
			return
		default:
			if nextErr != nil || et != want.eventType || !bytes.Equal(payload, want.payload) {
				t.Fatalf("frame %d: next = %q %q %v, want event %q %q", i, et, payload, nextErr, want.eventType, want.payload)
			}
		}
	}
}

// TestEventReaderMatchesSDKOnRecordings runs the cross-check over every
// recorded Bedrock stream in every read split, and over cuts of it: next to
// each of the first frame boundaries, and at random points.
func TestEventReaderMatchesSDKOnRecordings(t *testing.T) {
	streams := esRecordedStreams(t)
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	rng := rand.New(rand.NewSource(42))
	for i, name := range names {
		raw := streams[name]
		t.Run(name, func(t *testing.T) {
			for _, sn := range []string{"whole", "one-byte", "data-err", "random-5", "random-97"} {
				esCrossCheck(t, raw, esSplits(int64(i))[sn])
			}
			ends := esFrameEnds(t, raw)
			cuts := []int{1, preludeLen - 1, preludeLen, preludeLen + 1}
			for _, e := range ends[:min(len(ends), 6)] {
				cuts = append(cuts, e-4, e-1, e, e+1)
			}
			for range 24 {
				cuts = append(cuts, 1+rng.Intn(len(raw)-1))
			}
			split := esSplits(int64(i))["random-97"]
			for _, cut := range cuts {
				if cut > 0 && cut < len(raw) {
					esCrossCheck(t, raw[:cut], split)
				}
			}
		})
	}
}

// TestEventReaderMatchesSDKOnVectors runs the semantic cross-check over
// every shared vector and over frames of every kind a stream may carry.
func TestEventReaderMatchesSDKOnVectors(t *testing.T) {
	inputs := map[string][]byte{}
	for name, v := range esLoadVectors(t) {
		inputs["vector "+name] = esBytes(t, v)
	}
	inputs["exception"] = esException(t, "throttlingException", `{"message":"slow down"}`)
	inputs["error frame"] = esFrame(t, "", ":message-type", "error", ":error-code", "InternalFailure", ":error-message", "oops")
	inputs["error frame without code"] = esFrame(t, "", ":message-type", "error")
	inputs["no message-type"] = esFrame(t, `{}`, ":event-type", "messageStart")
	inputs["event without event-type"] = esFrame(t, `{}`, ":message-type", "event")
	inputs["exception without type"] = esFrame(t, `{}`, ":message-type", "exception")
	inputs["unknown message-type"] = esFrame(t, `{}`, ":message-type", "initial-response")
	inputs["unknown event then event"] = append(esEvent(t, "futureEvent", `{"x":1}`), esEvent(t, "messageStop", `{"stopReason":"end_turn"}`)...)
	inputs["empty payload"] = esEvent(t, "contentBlockStop", "")
	// Hand-built header blocks (eventstream.Headers.Set cannot repeat a
	// name or mistype one).
	mt := esStrHeader(":message-type", "event")
	inputs["repeated event-type"] = esRawFrame(esCat(mt, esStrHeader(":event-type", "futureEvent"), esStrHeader(":event-type", "messageStop")), `{"stopReason":"end_turn"}`)
	inputs["repeated message-type"] = esRawFrame(esCat(esStrHeader(":message-type", "exception"), esStrHeader(":event-type", "messageStart"), mt), `{}`)
	inputs["message-type not a string"] = esRawFrame(esCat(esInt32Header(":message-type", 1), esStrHeader(":event-type", "messageStart")), `{}`)
	inputs["event-type not a string"] = esRawFrame(esCat(mt, esInt32Header(":event-type", 7)), `{}`)
	inputs["exception-type empty"] = esRawFrame(esCat(esStrHeader(":message-type", "exception"), esStrHeader(":exception-type", "")), `{"message":"x"}`)
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			for sn, split := range esSplits(7) {
				t.Run(sn, func(t *testing.T) { esCrossCheck(t, data, split) })
			}
		})
	}
}

// FuzzEventReaderSplits: arbitrary bytes, read in arbitrary splits, decode
// the same with eventReader and with the SDK, down to what each frame means.
func FuzzEventReaderSplits(f *testing.F) {
	for _, v := range esLoadVectors(f) {
		f.Add(esBytes(f, v), int64(1))
	}
	f.Add(esException(f, "modelStreamErrorException", `{"message":"m","originalStatusCode":500}`), int64(2))
	f.Add(append(esEvent(f, "messageStart", `{"role":"assistant"}`), esEvent(f, "futureEvent", `{}`)...), int64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed int64) {
		if len(data) >= 4 && binary.BigEndian.Uint32(data) > maxFrameLength {
			return // beyond the spec's limits: we refuse, the SDK would allocate
		}
		esCrossCheck(t, data, func(r io.Reader) io.Reader {
			return &randomChunks{r, rand.New(rand.NewSource(seed)), 1 + int(uint64(seed)%64)}
		})
	})
}

// esRawFrame frames an encoded header block and a payload, CRCs included.
func esRawFrame(headers []byte, payload string) []byte {
	total := minFrameLen + len(headers) + len(payload)
	b := binary.BigEndian.AppendUint32(nil, uint32(total))
	b = binary.BigEndian.AppendUint32(b, uint32(len(headers)))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	b = append(append(b, headers...), payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func esStrHeader(name, value string) []byte {
	b := append([]byte{byte(len(name))}, name...)
	b = append(b, hvString)
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}

func esInt32Header(name string, v int32) []byte {
	b := append([]byte{byte(len(name))}, name...)
	return binary.BigEndian.AppendUint32(append(b, hvInteger), uint32(v))
}

func esCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
