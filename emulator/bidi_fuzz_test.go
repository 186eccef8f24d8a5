package emulator

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// FuzzBidiFrames: the InvokeModelWithBidirectionalStream input reader takes
// any bytes, signed or not, without panic or endless loop: each call
// returns an event, the end of input, an *apiError or a read error, and a
// signed session never accepts a frame without its chunk signature.
func FuzzBidiFrames(f *testing.F) {
	var frame bytes.Buffer
	enc := eventstream.NewEncoder()
	enc.Encode(&frame, eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":message-type", Value: eventstream.StringValue("event")},
			{Name: ":event-type", Value: eventstream.StringValue("chunk")},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		},
		Payload: []byte(`{"bytes":"eyJldmVudCI6eyJzZXNzaW9uU3RhcnQiOnt9fX0="}`),
	})
	f.Add(frame.Bytes(), false)
	f.Add(frame.Bytes(), true)
	f.Add(append(frame.Bytes(), frame.Bytes()...), false)
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, data []byte, signed bool) {
		br := &bidiReader{body: bytes.NewReader(data), dec: eventstream.NewDecoder(), v: &verifier{}}
		if signed {
			br.sig = &sigContext{secret: "test", region: "us-east-1", service: "bedrock", seed: make([]byte, 32)}
		}
		for i := 0; ; i++ {
			if i > len(data) { // every event consumes input
				t.Fatalf("more events than input bytes: %d", i)
			}
			b, err := br.next()
			if err != nil {
				return // the end, a refused frame or a read error
			}
			if signed {
				t.Fatalf("a signed session accepted an unsigned frame: %q", b)
			}
		}
	})
}
