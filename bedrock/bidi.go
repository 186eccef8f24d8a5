package bedrock

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// streamingEventsPayload is the SigV4 payload hash of a request whose body
// is a signed event stream.
const streamingEventsPayload = "STREAMING-AWS4-HMAC-SHA256-EVENTS"

// BidiStream is one InvokeModelWithBidirectionalStream session (Amazon Nova
// Sonic speech-to-speech): model events go out with Send, model events come
// back through Next and Current, both over one HTTP/2 request. Send and
// Next may run on different goroutines; Send is safe for concurrent use.
//
// The session holds a concurrency slot of the client's limits until it ends
// (Next returns false) or Close is called.
type BidiStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	held   slot // the limiter's admission, given back when the session ends
	pw     *io.PipeWriter

	sendMu  sync.Mutex
	enc     *eventstream.Encoder
	signer  *v4.StreamSigner // nil with an API key: frames go unsigned
	inner   bytes.Buffer
	sendErr error

	respc   chan bidiResponse // the response, once it arrives
	rmu     sync.Mutex        // guards r and ended between Next and end
	ended   bool
	r       *eventReader
	meta    ResponseMetadata
	cur     []byte
	err     error
	done    bool
	release sync.Once
	stop    func() bool // stops the context watch
	closed  atomic.Bool // Close was called
	c       *Client
}

type bidiResponse struct {
	resp *http.Response
	err  error
}

// InvokeModelWithBidirectionalStream opens a bidirectional session with
// modelID (e.g. "amazon.nova-sonic-v1:0"). It returns once the request is
// on its way; an HTTP error (bad model, credentials) is reported by Next
// and Err, and by Send once it is known. Cancelling ctx or calling Close
// abandons the session.
func (c *Client) InvokeModelWithBidirectionalStream(ctx context.Context, modelID string, opts ...CallOption) (*BidiStream, error) {
	const op = "InvokeModelWithBidirectionalStream"
	if err := checkModelCall(op, modelID, false); err != nil {
		return nil, err
	}
	o := callOptionsOf(opts)
	held, err := c.limiter.take(ctx, o.queueTimeout)
	if err != nil {
		return nil, &OpError{op, err}
	}
	if err := c.limiter.wait(ctx, o.queueTimeout); err != nil {
		held.release()
		return nil, &OpError{op, err}
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &BidiStream{ctx: ctx, cancel: cancel, enc: eventstream.NewEncoder(), respc: make(chan bidiResponse, 1), c: c, held: held}
	cl := &call{op: op, modelID: modelID, action: "invoke-with-bidirectional-stream", header: http.Header{
		"Content-Type":         {"application/vnd.amazon.eventstream"},
		"X-Amz-Content-Sha256": {streamingEventsPayload},
	}}
	payloadHash := ""
	if c.signer != nil {
		payloadHash = streamingEventsPayload
	}
	req, err := c.newRequest(ctx, cl, payloadHash)
	if err != nil {
		s.end()
		return nil, &OpError{op, err}
	}
	if c.signer != nil {
		creds, err := c.auth.retrieve(ctx)
		if err != nil {
			s.end()
			return nil, &OpError{op, err}
		}
		seed, err := requestSignature(req.Header.Get("Authorization"))
		if err != nil {
			s.end()
			return nil, &OpError{op, err}
		}
		s.signer = v4.NewStreamSigner(creds, "bedrock", c.region, seed)
	}
	pr, pw := io.Pipe()
	s.pw = pw
	req.Body, req.GetBody, req.ContentLength = pr, nil, -1
	// Cancelling ctx ends the session at once, also a Next blocked reading.
	s.stop = context.AfterFunc(ctx, s.end)
	go func() {
		resp, err := c.httpc.Do(req)
		s.rmu.Lock()
		defer s.rmu.Unlock()
		if s.ended && resp != nil {
			resp.Body.Close()
			return
		}
		s.respc <- bidiResponse{resp, err} // buffered: never blocks
	}()
	return s, nil
}

// requestSignature is the Signature of a SigV4 Authorization header: the
// seed that the first frame's signature chains from.
func requestSignature(authz string) ([]byte, error) {
	_, sig, ok := strings.Cut(authz, "Signature=")
	if !ok {
		return nil, errors.New("bedrock: signed request has no Signature")
	}
	return hex.DecodeString(strings.TrimSpace(sig))
}

// Send sends one model event, a JSON object such as Nova Sonic's
// {"event":{"sessionStart":{...}}}.
func (s *BidiStream) Send(event []byte) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.sendErr != nil {
		return s.sendErr
	}
	part, _ := json.Marshal(struct {
		Bytes []byte `json:"bytes"`
	}{event})
	s.inner.Reset()
	err := s.enc.Encode(&s.inner, eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":message-type", Value: eventstream.StringValue("event")},
			{Name: ":event-type", Value: eventstream.StringValue("chunk")},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		},
		Payload: part,
	})
	if err == nil {
		err = s.writeFrame(s.inner.Bytes())
	}
	if err != nil {
		s.sendErr = &OpError{"InvokeModelWithBidirectionalStream", fmt.Errorf("sending: %w", err)}
		return s.sendErr
	}
	return nil
}

// SendJSON marshals v and sends it as one model event.
func (s *BidiStream) SendJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return &OpError{"InvokeModelWithBidirectionalStream", err}
	}
	return s.Send(b)
}

// writeFrame writes an encoded frame, wrapped in a signed frame (:date,
// :chunk-signature) when the request is signed. An empty frame is the
// signed end of input.
func (s *BidiStream) writeFrame(frame []byte) error {
	if s.signer == nil {
		if len(frame) == 0 {
			return nil
		}
		_, err := s.pw.Write(frame)
		return err
	}
	now := time.Now().UTC()
	msg := eventstream.Message{Payload: frame}
	msg.Headers.Set(":date", eventstream.TimestampValue(now))
	var hb bytes.Buffer
	if err := eventstream.EncodeHeaders(&hb, msg.Headers); err != nil {
		return err
	}
	sig, err := s.signer.GetSignature(s.ctx, hb.Bytes(), frame, now)
	if err != nil {
		return err
	}
	msg.Headers.Set(":chunk-signature", eventstream.BytesValue(sig))
	var out bytes.Buffer
	if err := s.enc.Encode(&out, msg); err != nil {
		return err
	}
	_, err = s.pw.Write(out.Bytes())
	return err
}

// CloseSend ends the input (the signed empty frame, then the end of the
// request body); the model's remaining output still arrives through Next.
func (s *BidiStream) CloseSend() error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.sendErr != nil {
		return nil
	}
	err := s.writeFrame(nil)
	s.sendErr = errors.New("bedrock: InvokeModelWithBidirectionalStream: input already closed")
	if cerr := s.pw.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.ErrClosedPipe) {
		// The model already ended the session (after sessionEnd) and the
		// transport stopped reading the input: nothing is lost.
		return nil
	}
	return err
}

// Next advances to the next model event. It returns false at the end of
// the session, on an error (see Err) and after Close.
func (s *BidiStream) Next() bool {
	s.cur = nil
	if s.done || s.closed.Load() {
		return false
	}
	if s.r == nil {
		var br bidiResponse
		select {
		case br = <-s.respc:
		case <-s.ctx.Done():
			s.finish(s.ctx.Err())
			return false
		}
		if br.err != nil {
			s.finish(&transportError{br.err})
			return false
		}
		if br.resp.StatusCode < 200 || br.resp.StatusCode >= 300 {
			body, _ := io.ReadAll(io.LimitReader(br.resp.Body, 1<<20))
			br.resp.Body.Close()
			s.finish(parseError(br.resp, body))
			return false
		}
		s.meta = metadataOf(br.resp)
		s.rmu.Lock()
		if s.ended {
			s.rmu.Unlock()
			br.resp.Body.Close()
			s.finish(errStreamClosed)
			return false
		}
		s.r = newEventReader(br.resp.Body, s.meta.RequestID)
		s.rmu.Unlock()
	}
	for {
		et, payload, err := s.r.next()
		if err != nil {
			s.finish(err)
			return false
		}
		if et != "chunk" {
			continue // unknown event types are skipped, as the SDKs do
		}
		var ch struct {
			Bytes []byte `json:"bytes"`
		}
		if err := json.Unmarshal(payload, &ch); err != nil {
			s.finish(fmt.Errorf("decoding chunk (request id %s): %w", s.meta.RequestID, err))
			return false
		}
		s.cur = ch.Bytes
		return true
	}
}

// Current is the current model event's JSON (the chunk's bytes, decoded);
// the slice is the caller's to keep. DecodeSonicEvent types a Nova Sonic one.
func (s *BidiStream) Current() []byte { return s.cur }

// Err is the error that ended the session: nil at a clean end or after
// Close, a *Error (InStream set for an exception frame) from Bedrock, the
// context's error when it was cancelled, else an *OpError.
func (s *BidiStream) Err() error { return s.err }

// RequestID is Bedrock's x-amzn-RequestId, once the response has started.
func (s *BidiStream) RequestID() string { return s.meta.RequestID }

// Close abandons the session at once: the request is cancelled, which
// Bedrock sees as the stream closing. It is idempotent.
func (s *BidiStream) Close() error {
	// End first: a Send blocked writing (the model stopped reading input)
	// holds sendMu until the pipe closes.
	s.closed.Store(true)
	s.end()
	s.sendMu.Lock()
	if s.sendErr == nil {
		s.sendErr = errStreamClosed
	}
	s.sendMu.Unlock()
	return nil
}

func (s *BidiStream) finish(err error) {
	s.done = true
	if errors.Is(err, errStreamClosed) && !s.closed.Load() && s.ctx.Err() != nil {
		err = s.ctx.Err() // the caller's cancellation closed the stream
	}
	s.err = streamEndError(s.ctx, "InvokeModelWithBidirectionalStream", err)
	s.end() // before sendMu, which a blocked Send holds until the pipe closes
	s.sendMu.Lock()
	if s.sendErr == nil && s.err != nil {
		s.sendErr = s.err
	}
	s.sendMu.Unlock()
}

// end releases everything the session holds: the request, the
// connection's stream and the concurrency slot.
func (s *BidiStream) end() {
	s.release.Do(func() {
		if s.stop != nil {
			s.stop()
		}
		s.cancel()
		if s.pw != nil {
			s.pw.CloseWithError(errStreamClosed)
		}
		s.rmu.Lock()
		s.ended = true
		r := s.r
		s.rmu.Unlock()
		if r != nil {
			r.close()
		} else {
			select { // a response that arrived but was never read
			case br := <-s.respc:
				if br.resp != nil {
					br.resp.Body.Close()
				}
			default:
			}
		}
		s.held.release()
	})
}
