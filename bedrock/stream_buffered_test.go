package bedrock

import (
	"context"
	"net/http"
	"testing"
)

// Buffered is true exactly while whole frames are waiting in memory: after
// a burst of three frames it is true twice, then false at the network
// pause, so a proxy flushing on !Buffered never holds an event back.
func TestStreamBuffered(t *testing.T) {
	gate := make(chan struct{})
	srv := stServer(t, func(w http.ResponseWriter, r *http.Request, flush func()) {
		for _, text := range []string{"a", "b", "c"} {
			w.Write(esEvent(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"`+text+`"}}`))
		}
		flush()
		<-gate // a pause on the network
		w.Write(esEvent(t, "messageStop", `{"stopReason":"end_turn"}`))
		flush()
	})
	c := mustNew(t, Config{Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "SECRET", Region: "us-east-1"})
	s, err := c.ConverseStream(context.Background(), "m", &ConverseRequest{Messages: []Message{UserText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []bool
	for i := 0; i < 3; i++ {
		if !s.Next() {
			t.Fatalf("Next %d: %v", i, s.Err())
		}
		got = append(got, s.Buffered())
	}
	if want := []bool{true, true, false}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("Buffered after each of the burst's events = %v, want %v", got, want)
	}
	close(gate)
	if !s.Next() || s.Current().MessageStop == nil {
		t.Fatalf("the event after the pause: %v", s.Err())
	}
	if s.Next() || s.Buffered() {
		t.Fatal("after the end, nothing is buffered")
	}
}

// Event names are matched case-insensitively, as aws-sdk-go-v2 does.
func TestDecodeStreamEventNameCase(t *testing.T) {
	ev, known, err := decodeStreamEvent("ContentBlockDelta", []byte(`{"contentBlockIndex":0,"delta":{"text":"x"}}`))
	if err != nil || !known || ev.ContentBlockDelta == nil || ev.ContentBlockDelta.Delta.Text != "x" || ev.Type != "contentBlockDelta" {
		t.Fatalf("ev=%+v known=%v err=%v", ev, known, err)
	}
	if _, known, _ := decodeStreamEvent("somethingNew", []byte(`{}`)); known {
		t.Fatal("an unknown event must be skipped")
	}
}
