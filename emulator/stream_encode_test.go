package emulator

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// TestEncodeMatchesSDKEncoder checks that eventWriter.encode frames messages
// byte for byte as aws-sdk-go-v2's eventstream.Encoder does, including with
// its buffer reused across frames of different sizes and for the non-string
// header fallback.
func TestEncodeMatchesSDKEncoder(t *testing.T) {
	ew := &eventWriter{enc: eventstream.NewEncoder()}
	str := func(n, v string) eventstream.Header {
		return eventstream.Header{Name: n, Value: eventstream.StringValue(v)}
	}
	msgs := []eventstream.Message{
		{Headers: eventstream.Headers{str(":event-type", "contentBlockDelta"), str(":content-type", "application/json"), str(":message-type", "event")},
			Payload: []byte(`{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcdefghij"}`)},
		{Headers: eventstream.Headers{str(":event-type", "messageStart"), str(":content-type", "application/json"), str(":message-type", "event")},
			Payload: []byte(`{"p":"a","role":"assistant"}`)},
		{Headers: eventstream.Headers{str(":exception-type", "throttlingException"), str(":content-type", "application/json"), str(":message-type", "exception")},
			Payload: []byte(`{"message":"` + strings.Repeat("x", 5000) + `"}`)},
		{Headers: eventstream.Headers{str(":event-type", "chunk"), str(":message-type", "event")}},
		{Headers: eventstream.Headers{str(":event-type", "chunk"), {Name: "n", Value: eventstream.Int32Value(7)}}, Payload: []byte(`{}`)},
	}
	for i, m := range msgs {
		var want bytes.Buffer
		if err := eventstream.NewEncoder().Encode(&want, m); err != nil {
			t.Fatal(err)
		}
		got, err := ew.encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("message %d: frame differs\n got %x\nwant %x", i, got, want.Bytes())
		}
	}
}
