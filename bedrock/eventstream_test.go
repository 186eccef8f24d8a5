package bedrock

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

const esVectorsFile = "../testdata/eventstream/vectors.json"

type esVector struct {
	Expect string `json:"expect"`
	Hex    string `json:"hex"`
}

func esLoadVectors(t testing.TB) map[string]esVector {
	t.Helper()
	data, err := os.ReadFile(esVectorsFile)
	if err != nil {
		t.Fatalf("reading vectors (testdata/eventstream at the repository root): %v", err)
	}
	var v map[string]esVector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v) == 0 {
		t.Fatal("no vectors")
	}
	return v
}

func esBytes(t testing.TB, v esVector) []byte {
	t.Helper()
	b, err := hex.DecodeString(v.Hex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// esFrame encodes one event-stream message; headers are name/value pairs.
func esFrame(t testing.TB, payload string, headers ...string) []byte {
	t.Helper()
	var hs eventstream.Headers
	for i := 0; i+1 < len(headers); i += 2 {
		hs.Set(headers[i], eventstream.StringValue(headers[i+1]))
	}
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: hs, Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func esEvent(t testing.TB, eventType, payload string) []byte {
	return esFrame(t, payload, ":event-type", eventType, ":content-type", "application/json", ":message-type", "event")
}

func esException(t testing.TB, exceptionType, payload string) []byte {
	return esFrame(t, payload, ":exception-type", exceptionType, ":content-type", "application/json", ":message-type", "exception")
}

func esReader(b []byte) *eventReader {
	return newEventReader(io.NopCloser(bytes.NewReader(b)), "req-1")
}

// esFrameEnds returns the offsets at which frames end, read from the
// total_length of each prelude (independently of the decoder).
func esFrameEnds(t testing.TB, b []byte) []int {
	t.Helper()
	var ends []int
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			t.Fatalf("trailing %d bytes", len(b)-off)
		}
		off += int(binary.BigEndian.Uint32(b[off:]))
		ends = append(ends, off)
	}
	return ends
}

type esEventRec struct{ typ, payload string }

// esReadAll reads events until an error; it returns the events and the error
// (io.EOF for a clean end).
func esReadAll(r *eventReader) ([]esEventRec, error) {
	var out []esEventRec
	for {
		et, p, err := r.next()
		if err != nil {
			return out, err
		}
		out = append(out, esEventRec{et, string(p)})
	}
}

// TestEventStreamVectors decodes every shared vector through eventReader and
// checks success or failure as the vector says.
func TestEventStreamVectors(t *testing.T) {
	vectors := esLoadVectors(t)
	names := make([]string, 0, len(vectors))
	for n := range vectors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := vectors[name]
		t.Run(name, func(t *testing.T) {
			raw := esBytes(t, v)
			r := esReader(raw)
			switch {
			case strings.HasPrefix(v.Expect, "failure"):
				if _, err := r.readFrame(); err == nil || errors.Is(err, io.EOF) {
					t.Fatalf("readFrame = %v, want a decoding error", err)
				}
			case strings.HasPrefix(v.Expect, "success (multi-frame"):
				evs, err := esReadAll(r)
				if err != io.EOF {
					t.Fatalf("after %d events: %v, want a clean io.EOF", len(evs), err)
				}
				if len(evs) != len(esFrameEnds(t, raw)) {
					t.Fatalf("%d events from %d frames", len(evs), len(esFrameEnds(t, raw)))
				}
				if evs[0].typ != "messageStart" || evs[len(evs)-1].typ != "metadata" {
					t.Errorf("events %v...%v, want messageStart...metadata", evs[0], evs[len(evs)-1])
				}
				for _, e := range evs {
					if !json.Valid([]byte(e.payload)) {
						t.Errorf("%s payload is not JSON: %q", e.typ, e.payload)
					}
				}
			case v.Expect == "success":
				// Codec vectors: the frame decodes; whole frame consumed.
				f, err := r.readFrame()
				if err != nil {
					t.Fatalf("readFrame: %v", err)
				}
				if _, err := r.readFrame(); err != io.EOF {
					t.Errorf("second readFrame = %v, want io.EOF", err)
				}
				var h frameHeaders
				if err := h.parse(f.headers); err != nil {
					t.Fatalf("headers: %v", err)
				}
				// None of them is a Bedrock event (no :message-type), which
				// next must refuse rather than guess.
				if h.messageType == nil {
					if _, _, err := esReader(raw).next(); err == nil || !strings.Contains(err.Error(), ":message-type") {
						t.Errorf("next = %v, want a missing :message-type error", err)
					}
				}
			default:
				t.Fatalf("unknown expectation %q", v.Expect)
			}
		})
	}
}

// TestEventStreamVectorPayloads pins a decoded payload of each codec vector.
func TestEventStreamVectorPayloads(t *testing.T) {
	vectors := esLoadVectors(t)
	for name, want := range map[string]string{
		"payload_no_headers":     "{'foo':'bar'}",
		"payload_one_str_header": "{'foo':'bar'}",
		"empty_message":          "",
		"all_headers":            "{'foo':'bar'}",
	} {
		f, err := esReader(esBytes(t, vectors[name])).readFrame()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(f.payload) != want {
			t.Errorf("%s payload %q, want %q", name, f.payload, want)
		}
	}
}

// esRealStreams are multi-frame bodies of real Bedrock streams: the two in
// the vectors file and the longest recorded tool-call stream.
func esRealStreams(t testing.TB) map[string][]byte {
	t.Helper()
	vectors := esLoadVectors(t)
	out := map[string][]byte{}
	for name, v := range vectors {
		if strings.HasPrefix(v.Expect, "success (multi-frame") {
			out[name] = esBytes(t, v)
		}
	}
	cas := cvLoadCassette(t, "test_converse_stream_with_content_tool_call.yaml")
	out["recording_tool_call"] = cas.Interactions[0].Response.Body
	return out
}

// randomChunks returns at most max bytes per Read, sizes drawn from rng.
type randomChunks struct {
	r   io.Reader
	rng *rand.Rand
	max int
}

func (c *randomChunks) Read(p []byte) (int, error) {
	n := 1 + c.rng.Intn(c.max)
	if n < len(p) {
		p = p[:n]
	}
	return c.r.Read(p)
}

// TestEventStreamChunkBoundaries feeds real streams in every kind of split:
// the events must be exactly those of the whole body.
func TestEventStreamChunkBoundaries(t *testing.T) {
	for name, raw := range esRealStreams(t) {
		want, err := esReadAll(esReader(raw))
		if err != io.EOF || len(want) < 5 {
			t.Fatalf("%s: whole body: %d events, %v", name, len(want), err)
		}
		readers := map[string]func() io.Reader{
			"one-byte":   func() io.Reader { return iotest.OneByteReader(bytes.NewReader(raw)) },
			"half":       func() io.Reader { return iotest.HalfReader(bytes.NewReader(raw)) },
			"data-err":   func() io.Reader { return iotest.DataErrReader(bytes.NewReader(raw)) },
			"random-7":   func() io.Reader { return &randomChunks{bytes.NewReader(raw), rand.New(rand.NewSource(1)), 7} },
			"random-300": func() io.Reader { return &randomChunks{bytes.NewReader(raw), rand.New(rand.NewSource(2)), 300} },
		}
		for rn, mk := range readers {
			got, err := esReadAll(newEventReader(io.NopCloser(mk()), ""))
			if err != io.EOF {
				t.Errorf("%s/%s: after %d events: %v", name, rn, len(got), err)
			}
			if len(got) != len(want) {
				t.Errorf("%s/%s: %d events, want %d", name, rn, len(got), len(want))
				continue
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("%s/%s: event %d = %v, want %v", name, rn, i, got[i], want[i])
				}
			}
		}
	}
}

// TestEventStreamTruncated cuts real streams at every byte: a cut at a frame
// boundary is a clean end after the frames before it; any other cut returns
// the complete frames and then an error wrapping io.ErrUnexpectedEOF.
func TestEventStreamTruncated(t *testing.T) {
	for name, raw := range esRealStreams(t) {
		ends := esFrameEnds(t, raw)
		for cut := 0; cut < len(raw); cut++ {
			// Every byte of the small streams; for the long one every byte
			// of its first and last frames and a sample in between (the
			// check is quadratic).
			if len(raw) > 4096 && cut > ends[1] && cut < ends[len(ends)-3] && cut%13 != 0 {
				continue
			}
			complete := sort.SearchInts(ends, cut+1) // frames ending at or before cut
			atBoundary := cut == 0 || (complete > 0 && ends[complete-1] == cut)
			evs, err := esReadAll(esReader(raw[:cut]))
			if len(evs) != complete {
				t.Fatalf("%s cut %d: %d events, want %d", name, cut, len(evs), complete)
			}
			if atBoundary {
				if err != io.EOF {
					t.Fatalf("%s cut %d (frame boundary): %v, want io.EOF", name, cut, err)
				}
				continue
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut %d: %v, want an error wrapping io.ErrUnexpectedEOF", name, cut, err)
			}
		}
	}
}

// TestEventStreamExceptions maps each in-stream exception of ConverseStream
// to its typed error.
func TestEventStreamExceptions(t *testing.T) {
	cases := []struct {
		typ      string
		payload  string
		sentinel *Error
		code     string
		status   int
	}{
		{"throttlingException", `{"message":"Too many tokens, please wait before trying again."}`, ErrThrottling, "ThrottlingException", 429},
		{"modelStreamErrorException", `{"message":"model failed","originalStatusCode":500,"originalMessage":"boom"}`, ErrModelStreamError, "ModelStreamErrorException", 424},
		{"validationException", `{"message":"bad input"}`, ErrValidation, "ValidationException", 400},
		{"internalServerException", `{"message":"internal"}`, ErrInternalServer, "InternalServerException", 500},
		{"serviceUnavailableException", `{"message":"unavailable"}`, ErrServiceUnavailable, "ServiceUnavailableException", 503},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			body := append(esEvent(t, "messageStart", `{"role":"assistant"}`), esException(t, tc.typ, tc.payload)...)
			r := esReader(body)
			if et, _, err := r.next(); err != nil || et != "messageStart" {
				t.Fatalf("first event %q, %v", et, err)
			}
			_, _, err := r.next()
			var be *Error
			if !errors.As(err, &be) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			var msg struct{ Message string }
			_ = json.Unmarshal([]byte(tc.payload), &msg)
			if be.Code != tc.code || !be.InStream || be.StatusCode != tc.status || be.RequestID != "req-1" || be.Message != msg.Message {
				t.Errorf("got %+v", be)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(%v, %v) is false", err, tc.sentinel)
			}
			if be.Retryable() {
				t.Error("in-stream errors must not be retryable")
			}
			if tc.typ == "modelStreamErrorException" && (be.OriginalStatusCode != 500 || be.OriginalMessage != "boom") {
				t.Errorf("original status/message not kept: %+v", be)
			}
		})
	}
}

// TestEventStreamMalformedFrames: frames that are valid event-stream but not
// valid Bedrock events are errors, never silently skipped.
func TestEventStreamMalformedFrames(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"no message-type", esFrame(t, `{}`, ":event-type", "messageStart"), ":message-type"},
		{"event without event-type", esFrame(t, `{}`, ":message-type", "event"), ":event-type"},
		{"exception without type", esFrame(t, `{}`, ":message-type", "exception"), ":exception-type"},
		{"unknown message-type", esFrame(t, `{}`, ":message-type", "initial-response"), "unknown :message-type"},
	}
	for _, tc := range cases {
		_, _, err := esReader(tc.frame).next()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %s", tc.name, err, tc.want)
		}
	}

	// An unmodeled error frame carries its code and message in headers.
	_, _, err := esReader(esFrame(t, "", ":message-type", "error", ":error-code", "InternalFailure", ":error-message", "oops")).next()
	var be *Error
	if !errors.As(err, &be) || be.Code != "InternalFailure" || be.Message != "oops" || !be.InStream || be.RequestID != "req-1" {
		t.Errorf("error frame: %v (%+v)", err, be)
	}

	// A corrupted message CRC in the middle of a stream is an error, not EOF.
	good := esEvent(t, "messageStart", `{"role":"assistant"}`)
	bad := esEvent(t, "contentBlockStop", `{"contentBlockIndex":0}`)
	bad[len(bad)-1] ^= 0xff
	evs, err := esReadAll(esReader(append(good, bad...)))
	if len(evs) != 1 || err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("corrupt CRC: %d events, %v", len(evs), err)
	}
}

// TestEventStreamBigPayload: the reused payload buffer grows for a large
// frame, and a later small frame is still decoded correctly.
func TestEventStreamBigPayload(t *testing.T) {
	big := `{"contentBlockIndex":0,"delta":{"text":"` + strings.Repeat("x", 200<<10) + `"}}`
	body := append(esEvent(t, "contentBlockDelta", big), esEvent(t, "contentBlockStop", `{"contentBlockIndex":0}`)...)
	evs, err := esReadAll(esReader(body))
	if err != io.EOF || len(evs) != 2 || evs[0].payload != big || evs[1].payload != `{"contentBlockIndex":0}` {
		t.Fatalf("%d events, %v", len(evs), err)
	}
}

// TestEventReaderClose: close is idempotent, closes the body at once, and
// next afterwards reports the stream closed.
func TestEventReaderClose(t *testing.T) {
	body := &esCountingCloser{Reader: bytes.NewReader(esEvent(t, "messageStart", `{"role":"assistant"}`))}
	r := newEventReader(body, "")
	for range 3 {
		if err := r.close(); err != nil {
			t.Fatal(err)
		}
	}
	if body.closes != 1 {
		t.Errorf("body closed %d times", body.closes)
	}
	if _, _, err := r.next(); !errors.Is(err, errStreamClosed) {
		t.Errorf("next after close: %v", err)
	}
}

type esCountingCloser struct {
	io.Reader
	closes int
}

func (c *esCountingCloser) Close() error { c.closes++; return nil }

// esHeaderStrings renders headers as "name=type:value" for comparison.
func esOurHeaders(t testing.TB, hs []byte) ([]string, error) {
	var out []string
	for len(hs) > 0 {
		name, typ, v, rest, err := nextHeader(hs)
		if err != nil {
			return nil, err
		}
		hs = rest
		var val string
		switch typ {
		case hvTrue:
			val = "true"
		case hvFalse:
			val = "false"
		case hvByte:
			val = strconv.Itoa(int(int8(v[0])))
		case hvShort:
			val = strconv.Itoa(int(int16(binary.BigEndian.Uint16(v))))
		case hvInteger:
			val = strconv.Itoa(int(int32(binary.BigEndian.Uint32(v))))
		case hvLong, hvTimestamp:
			val = strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10)
		default: // strings, byte arrays, uuids
			val = hex.EncodeToString(v)
		}
		out = append(out, string(name)+"="+val)
	}
	return out, nil
}

func esSDKHeaders(hs eventstream.Headers) []string {
	var out []string
	for _, h := range hs {
		var val string
		switch v := h.Value.(type) {
		case eventstream.BoolValue:
			val = strconv.FormatBool(bool(v))
		case eventstream.Int8Value:
			val = strconv.Itoa(int(v))
		case eventstream.Int16Value:
			val = strconv.Itoa(int(v))
		case eventstream.Int32Value:
			val = strconv.Itoa(int(v))
		case eventstream.Int64Value:
			val = strconv.FormatInt(int64(v), 10)
		case eventstream.TimestampValue:
			val = strconv.FormatInt(time.Time(v).UnixMilli(), 10)
		case eventstream.StringValue:
			val = hex.EncodeToString([]byte(v))
		case eventstream.BytesValue:
			val = hex.EncodeToString(v)
		case eventstream.UUIDValue:
			val = hex.EncodeToString(v[:])
		default:
			val = fmt.Sprintf("%T", v)
		}
		out = append(out, h.Name+"="+val)
	}
	return out
}

// esDifferential decodes data frame by frame with eventReader and with
// aws-sdk-go-v2's eventstream.Decoder (the reference) and reports the first
// disagreement: success vs failure, payload or headers.
func esDifferential(t testing.TB, data []byte) {
	ours := esReader(data)
	ref := bytes.NewReader(data)
	dec := eventstream.NewDecoder()
	for i := 0; ; i++ {
		f, ourErr := ours.readFrame()
		var ourHeaders []string
		if ourErr == nil {
			ourHeaders, ourErr = esOurHeaders(t, f.headers)
		}
		before := ref.Len()
		msg, refErr := dec.Decode(ref, nil)
		if refErr == io.EOF && ref.Len() != before {
			// The SDK decoder can report a frame it could not finish (a
			// body cut inside the payload, a header overrunning its block)
			// as a bare io.EOF, a clean end; it is a failure. Treating it
			// as one is the intended difference.
			refErr = io.ErrUnexpectedEOF
		}
		if (ourErr == nil) != (refErr == nil) {
			t.Fatalf("frame %d: eventReader error %v, eventstream.Decoder error %v", i, ourErr, refErr)
		}
		if ourErr != nil {
			if (ourErr == io.EOF) != (refErr == io.EOF) {
				t.Fatalf("frame %d: eventReader %v, eventstream.Decoder %v", i, ourErr, refErr)
			}
			return
		}
		if !bytes.Equal(f.payload, msg.Payload) {
			t.Fatalf("frame %d: payload %q, reference %q", i, f.payload, msg.Payload)
		}
		// The SDK keeps the last of repeated headers; compare the same way.
		want := esSDKHeaders(msg.Headers)
		got := esDedupLast(ourHeaders)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("frame %d: headers %v, reference %v", i, got, want)
		}
	}
}

// esDedupLast keeps, for each header name, its last value at the position of
// its first appearance (eventstream.Headers.Set semantics).
func esDedupLast(hs []string) []string {
	var out []string
	pos := map[string]int{}
	for _, h := range hs {
		name, _, _ := strings.Cut(h, "=")
		if i, ok := pos[name]; ok {
			out[i] = h
			continue
		}
		pos[name] = len(out)
		out = append(out, h)
	}
	return out
}

// TestEventReaderMatchesSDKDecoder checks the frame decoder against
// aws-sdk-go-v2's eventstream.Decoder on every vector, every real stream
// (whole and cut at many points) and frames with every header type.
func TestEventReaderMatchesSDKDecoder(t *testing.T) {
	for name, v := range esLoadVectors(t) {
		t.Run(name, func(t *testing.T) { esDifferential(t, esBytes(t, v)) })
	}
	for name, raw := range esRealStreams(t) {
		esDifferential(t, raw)
		for cut := 1; cut < len(raw); cut += 97 {
			esDifferential(t, raw[:cut])
		}
		_ = name
	}
	var hs eventstream.Headers
	hs.Set("bool true", eventstream.BoolValue(true))
	hs.Set("bool false", eventstream.BoolValue(false))
	hs.Set("byte", eventstream.Int8Value(-49))
	hs.Set("short", eventstream.Int16Value(-42))
	hs.Set("int", eventstream.Int32Value(-40000))
	hs.Set("long", eventstream.Int64Value(-42424242))
	hs.Set("bytes", eventstream.BytesValue("I'm a little teapot!"))
	hs.Set("string", eventstream.StringValue("héllo"))
	hs.Set("timestamp", eventstream.TimestampValue(time.UnixMilli(8675309)))
	hs.Set("uuid", eventstream.UUIDValue{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: hs, Payload: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	esDifferential(t, buf.Bytes())
}

// FuzzEventReader: arbitrary bytes never panic the reader, and whatever it
// decodes agrees with aws-sdk-go-v2's decoder.
func FuzzEventReader(f *testing.F) {
	for _, v := range esLoadVectors(f) {
		f.Add(esBytes(f, v))
	}
	f.Add(esEvent(f, "messageStart", `{"role":"assistant"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 4 && binary.BigEndian.Uint32(data) > maxFrameLength {
			// Beyond the spec's limits: we refuse, the SDK would allocate.
			return
		}
		esDifferential(t, data)
		r := esReader(data)
		for {
			if _, _, err := r.next(); err != nil {
				return
			}
		}
	})
}

// frameAtATime is a body that returns one frame per Read, as a slow stream
// does (one event per network read).
type frameAtATime struct{ frames [][]byte }

func (f *frameAtATime) Read(p []byte) (int, error) {
	if len(f.frames) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.frames[0])
	if f.frames[0] = f.frames[0][n:]; len(f.frames[0]) == 0 {
		f.frames = f.frames[1:]
	}
	return n, nil
}

// readSizes records the size of the buffer each Read of the body it wraps
// is offered: what the reader holds while it waits for the network.
type readSizes struct {
	io.Reader
	sizes []int
}

func (r *readSizes) Read(p []byte) (int, error) {
	r.sizes = append(r.sizes, len(p))
	return r.Reader.Read(p)
}

// TestEventReaderBufferSize: a slow stream (one small frame per read)
// waits for every frame in the small buffer, so it holds no large one
// between events; a body that fills the buffer is read in large reads; a
// frame larger than the small buffer takes a large one for that frame
// only; every large buffer is back in the pool at the end.
func TestEventReaderBufferSize(t *testing.T) {
	small := esEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcdefghijklmnopqrstuvwxyz"}`)
	mid := esEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"`+strings.Repeat("m", 2<<10)+`"}}`)
	big := esEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"`+strings.Repeat("x", 40<<10)+`"}}`)
	repeat := func(f []byte, n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = bytes.Clone(f)
		}
		return out
	}
	for _, tt := range []struct {
		name   string
		body   io.Reader
		events int
		// largest is the largest buffer a read may be offered; waits is
		// how many reads, counted from the last, must be offered at
		// most smallBuf bytes: the ones that waited for a new frame.
		largest, waits int
	}{
		{"slow: a frame per read", &frameAtATime{repeat(small, 100)}, 100, smallBuf, 101},
		{"fast: reads fill the buffer", bytes.NewReader(bytes.Repeat(small, 100)), 100, largeBuf, 0},
		{"a frame larger than the small buffer", &frameAtATime{append(repeat(small, 3), mid, small, small)}, 6, largeBuf, 3},
		{"a frame larger than the large one", &frameAtATime{append(repeat(small, 3), big, small)}, 5, len(big), 2},
		{"byte by byte", iotest.OneByteReader(bytes.NewReader(append(bytes.Repeat(small, 10), big...))), 11, len(big), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := &readSizes{Reader: tt.body}
			r := newEventReader(io.NopCloser(body), "req-1")
			evs, err := esReadAll(r)
			if err != io.EOF {
				t.Fatalf("err = %v after %d events", err, len(evs))
			}
			if len(evs) != tt.events {
				t.Fatalf("%d events, want %d", len(evs), tt.events)
			}
			for i, ev := range evs {
				if ev.typ != "contentBlockDelta" || !strings.HasPrefix(ev.payload, `{"contentBlockIndex":0`) {
					t.Fatalf("event %d: %s %.40s", i, ev.typ, ev.payload)
				}
			}
			if got := slices.Max(body.sizes); got > tt.largest || (tt.largest > smallBuf && got <= smallBuf) {
				t.Errorf("largest read buffer %d, want %d (reads offered %v)", got, tt.largest, body.sizes)
			}
			if tt.waits > 0 {
				for i, n := range body.sizes[len(body.sizes)-tt.waits:] {
					if n > smallBuf {
						t.Fatalf("read %d from the end waited with a %d-byte buffer, want at most %d (reads offered %v)", tt.waits-i, n, smallBuf, body.sizes)
					}
				}
			}
			if r.large != nil || cap(r.buf) != smallBuf {
				t.Errorf("at the end the reader holds a large buffer (%v) or a buffer of %d bytes, want the small one", r.large != nil, cap(r.buf))
			}
		})
	}
}
