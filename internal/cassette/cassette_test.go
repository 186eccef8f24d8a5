package cassette

import (
	"bytes"
	"strings"
	"testing"
)

func TestLoadEveryRecording(t *testing.T) {
	dir := "../" + Dir // this package is two levels below the root
	names, err := Names(dir)
	if err != nil {
		t.Fatal(err)
	}
	streams := 0
	for _, n := range names {
		c, err := Load(dir + "/" + n)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range c.Interactions {
			if in.Request.Method != "POST" || !strings.Contains(in.Request.URI, "/model/") || in.Response.Status == 0 {
				t.Errorf("%s: incomplete interaction %+v", n, in.Request)
			}
			if in.Response.Headers.Get("Content-Type") == "application/vnd.amazon.eventstream" {
				streams++
				// Binary bodies arrive decoded: an event-stream frame starts
				// with its 4-byte length, never with base64 text.
				if len(in.Response.Body) < 16 || bytes.HasPrefix(in.Response.Body, []byte("AAA")) {
					t.Errorf("%s: stream body not decoded", n)
				}
			}
		}
	}
	if len(names) < 40 || streams < 20 {
		t.Errorf("read %d cassettes with %d streams; the shared recordings have more", len(names), streams)
	}
}
