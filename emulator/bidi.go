package emulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// InvokeModelWithBidirectionalStream: the request body is an event stream of
// "chunk" events ({"bytes": base64 of a model event}), each wrapped, when
// the request is SigV4-signed, in an outer frame carrying :date and
// :chunk-signature (the signature chains from the request's own, as in
// AWS's event-stream signing); an empty signed frame ends the input. The
// response is an event stream of "chunk" events the same shape, or
// exception frames.

// streamingPayload is the x-amz-content-sha256 of a signed event-stream body.
const streamingPayload = "STREAMING-AWS4-HMAC-SHA256-EVENTS"

// errInputEnded is the end of a bidirectional input stream (the client's
// empty signed frame, or EOF).
var errInputEnded = errors.New("emulator: input stream ended")

// bidiReader reads the model events of a bidirectional request body,
// checking each frame's chunk signature.
type bidiReader struct {
	body    io.Reader
	dec     *eventstream.Decoder
	buf     []byte
	sig     *sigContext // nil: unsigned (bearer token or NoAuth)
	prevSig []byte
	v       *verifier
	ended   bool
}

// next returns the next model event's bytes, errInputEnded at the end of
// input, an *apiError for a bad frame, or the read error.
func (br *bidiReader) next() ([]byte, error) {
	if br.ended {
		return nil, errInputEnded
	}
	msg, err := br.dec.Decode(br.body, br.buf[:0])
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errInputEnded
		}
		if isFrameError(err) {
			return nil, validationError("The input event stream is malformed: %v", err)
		}
		return nil, err
	}
	if msg.Headers.Get(":chunk-signature") != nil {
		payload, uerr := br.unwrap(&msg)
		if uerr != nil {
			return nil, uerr
		}
		if len(payload) == 0 {
			br.ended = true
			return nil, errInputEnded
		}
		inner, err := eventstream.NewDecoder().Decode(bytes.NewReader(payload), nil)
		if err != nil {
			return nil, validationError("The signed input frame does not hold an event-stream message: %v", err)
		}
		msg = inner
	} else if br.sig != nil {
		return nil, &apiError{Status: 403, Code: "InvalidSignatureException", Message: "The input event is not signed: :chunk-signature is missing."}
	}
	b, aerr := chunkBytes(&msg)
	if aerr != nil {
		return nil, aerr
	}
	return b, nil
}

// isFrameError reports decoding errors that are the client's fault (bad
// checksums or lengths) rather than the connection's.
func isFrameError(err error) bool {
	var ce eventstream.ChecksumError
	var le eventstream.LengthError
	return errors.As(err, &ce) || errors.As(err, &le)
}

// unwrap checks a signed outer frame and returns its payload.
func (br *bidiReader) unwrap(msg *eventstream.Message) ([]byte, *apiError) {
	if br.sig == nil {
		return msg.Payload, nil
	}
	dv, ok := msg.Headers.Get(":date").(eventstream.TimestampValue)
	sv, ok2 := msg.Headers.Get(":chunk-signature").(eventstream.BytesValue)
	if !ok || !ok2 {
		return nil, &apiError{Status: 403, Code: "InvalidSignatureException", Message: "The input event's :date or :chunk-signature header is missing or of the wrong type."}
	}
	date := time.Time(dv).UTC()
	var hb bytes.Buffer
	eventstream.EncodeHeaders(&hb, eventstream.Headers{{Name: ":date", Value: dv}})
	hh := sha256.Sum256(hb.Bytes())
	ph := sha256.Sum256(msg.Payload)
	day := date.Format("20060102")
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + date.Format(amzDateFormat) + "\n" +
		day + "/" + br.sig.region + "/" + br.sig.service + "/aws4_request\n" +
		hex.EncodeToString(br.prevSig) + "\n" + hex.EncodeToString(hh[:]) + "\n" + hex.EncodeToString(ph[:])
	want := hmacSHA256(br.v.signingKey(br.sig.secret, day, br.sig.region, br.sig.service), []byte(sts))
	if !hmac.Equal(want, sv) {
		return nil, &apiError{Status: 403, Code: "InvalidSignatureException", Message: "The request signature we calculated does not match the signature you provided for an input event."}
	}
	br.prevSig = want
	return msg.Payload, nil
}

// chunkBytes returns the model event of a "chunk" input frame; other event
// types are refused.
func chunkBytes(msg *eventstream.Message) ([]byte, *apiError) {
	et, _ := msg.Headers.Get(":event-type").(eventstream.StringValue)
	if et != "chunk" {
		return nil, validationError("The input event type %q is not supported. Send chunk events.", string(et))
	}
	var part struct {
		Bytes []byte `json:"bytes"`
	}
	if err := json.Unmarshal(msg.Payload, &part); err != nil || len(part.Bytes) == 0 {
		return nil, validationError("The chunk event's bytes member is missing or not base64.")
	}
	return part.Bytes, nil
}

// bidiWriter writes the response's chunk events.
type bidiWriter struct {
	ew  *eventWriter
	buf []byte
}

// send writes one model event (a JSON object) as a chunk event.
func (bw *bidiWriter) send(event []byte) error {
	b := append(bw.buf[:0], `{"bytes":"`...)
	b = appendBase64(b, event)
	b = append(b, `"}`...)
	bw.buf = b
	return bw.ew.event("chunk", b)
}

// fail writes an exception frame for err.
func (bw *bidiWriter) fail(err *apiError) error {
	code := err.Code
	if code != "" {
		code = string(code[0]+('a'-'A')) + code[1:]
	}
	return bw.ew.exception(code, err.body())
}

// serveBidi handles InvokeModelWithBidirectionalStream: authenticate the
// headers, check the model, then run a Nova Sonic session over the body.
func (e *Emulator) serveBidi(c *call, modelID, path string) {
	if c.r.ProtoMajor == 1 {
		// An error answered before the input is read must not wait for the
		// input to end (the server drains a request body before replying),
		// and the connection cannot serve another request after it anyway.
		c.w.Header().Set("Connection", "close")
	}
	var sig *sigContext
	if !e.cfg.NoAuth {
		var aerr *apiError
		sig, aerr = e.auth.authenticate(c.r, path, time.Now(), func(declared string) (string, *apiError) {
			if declared == "" {
				return streamingPayload, nil
			}
			return declared, nil
		})
		if aerr != nil {
			c.fail(aerr)
			return
		}
	}
	m := e.lookupModel(c, modelID)
	if m == nil {
		return
	}
	if m.Kind != kindSpeech {
		c.fail(validationError("The model %s does not support bidirectional streaming. Try again with a speech model such as amazon.nova-sonic-v1:0.", m.ID))
		return
	}
	// HTTP/1.1 needs full duplex to read the body while responding; HTTP/2
	// has it already (the error then says so, and is harmless).
	rc := http.NewResponseController(c.w)
	if c.r.ProtoMajor == 1 {
		if err := rc.EnableFullDuplex(); err != nil {
			c.fail(&apiError{Status: 500, Code: "InternalServerException", Message: fmt.Sprintf("full duplex: %v", err)})
			return
		}
	}
	br := &bidiReader{body: c.r.Body, dec: eventstream.NewDecoder(), buf: make([]byte, 0, 16<<10), sig: sig, v: e.auth}
	if sig != nil {
		br.prevSig = sig.seed
	}
	ew := c.startStream(streamSeed(e.cfg.Seed, []byte(modelID)), nil)
	s := newSonicSession(e, c, m, &bidiWriter{ew: ew})
	s.run(br)
}

// decodeBase64 accepts standard base64 with or without padding.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
