package console

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	now := time.Unix(1_800_000_000, 0).Truncate(time.Minute).Add(30 * time.Second)
	s := NewStats(func() time.Time { return now })
	for i := 1; i <= 100; i++ {
		s.Observe("m", 200, time.Duration(i)*time.Millisecond, time.Duration(i)*time.Millisecond/2)
	}
	s.Observe("m", 503, 5*time.Second, 0)
	s.Observe("m", 429, time.Millisecond, 0)
	s.Observe("m", 400, time.Millisecond, 0) // a client error is not the gateway's

	for _, tc := range []struct {
		name                   string
		after                  time.Duration
		requests               int
		rpm, errRate, p50, p95 float64
	}{
		{"now", 0, 103, 103, 2.0 / 103, 50, 96},
		{"a minute later: half of the previous minute counts", time.Minute, 103, 103.0 / 2, 2.0 / 103, 50, 96},
		{"14 minutes later: still in the window", 14 * time.Minute, 103, 0, 2.0 / 103, 50, 96},
		{"15 minutes later: gone", 15 * time.Minute, 0, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = now.Add(tc.after)
			defer func() { now = now.Add(-tc.after) }()
			sum := s.Summary("m")
			if sum.Requests != tc.requests || sum.RPM != tc.rpm || sum.ErrorRate != tc.errRate {
				t.Fatalf("requests %d rpm %v error rate %v, want %d %v %v", sum.Requests, sum.RPM, sum.ErrorRate, tc.requests, tc.rpm, tc.errRate)
			}
			if len(sum.Series) != windowMinutes {
				t.Fatalf("%d points, want %d", len(sum.Series), windowMinutes)
			}
			if tc.requests == 0 {
				if sum.P50 != nil {
					t.Fatalf("p50 %v with no requests", *sum.P50)
				}
				return
			}
			if *sum.P50 != tc.p50 || *sum.P95 != tc.p95 {
				t.Fatalf("p50 %v p95 %v, want %v %v", *sum.P50, *sum.P95, tc.p50, tc.p95)
			}
			if *sum.TTFT50 != 25 {
				t.Fatalf("TTFT p50 %v, want 25", *sum.TTFT50)
			}
		})
	}
	// A model never called has an empty window.
	if sum := s.Summary("other"); sum.Requests != 0 || len(sum.Series) != windowMinutes {
		t.Fatalf("unknown model: %+v", sum)
	}
}

func TestLiveKeepsTheLastRecords(t *testing.T) {
	l := NewLive(3)
	for i := range 5 {
		l.Add(Record{ID: string(rune('a' + i))})
	}
	var ids []string
	for _, r := range l.Recent() {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ""); got != "cde" {
		t.Fatalf("recent %q, want cde", got)
	}
}

type stubTransport struct{ calls atomic.Int64 }

func (s *stubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.calls.Add(1)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

func TestCaptureHidesCredentialsAndCountsInFlight(t *testing.T) {
	c := NewCapture(&stubTransport{})
	ctx, cp := withCapture(t.Context())
	body := `{"messages":[]}`
	req, _ := http.NewRequestWithContext(ctx, "POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.amazon.nova-lite-v1%3A0/converse", strings.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA.../Signature=abc")
	req.Header.Set("X-Amz-Security-Token", "token")
	req.Header.Set("X-Amz-Date", "20260101T000000Z")
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.InFlight("us.amazon.nova-lite-v1:0"); n != 1 {
		t.Fatalf("in flight %d before the body is read, want 1", n)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := c.InFlight("us.amazon.nova-lite-v1:0"); n != 0 {
		t.Fatalf("in flight %d after, want 0", n)
	}
	got := cp.list()
	if len(got) != 1 || got[0].Body != body || got[0].Headers["X-Amz-Date"] == "" || got[0].Headers["Content-Length"] != "15" {
		t.Fatalf("captured %+v", got)
	}
	for _, h := range []string{"Authorization", "X-Amz-Security-Token"} {
		if _, ok := got[0].Headers[h]; ok {
			t.Errorf("captured request shows %s", h)
		}
	}
	// Without a capture slot nothing is kept.
	req2, _ := http.NewRequest("POST", "https://x/model/m/converse", strings.NewReader(body))
	if _, err := c.RoundTrip(req2); err != nil {
		t.Fatal(err)
	}
}

// TestAssetsSize keeps the console small: every embedded file, gzipped,
// under 300 KB together.
func TestAssetsSize(t *testing.T) {
	const limit = 300 << 10
	total := 0
	err := fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(staticFS, path)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		total += buf.Len()
		t.Logf("%-40s %7d bytes, %6d gzipped", path, len(b), buf.Len())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("total %d bytes gzipped", total)
	if total == 0 || total > limit {
		t.Fatalf("embedded assets are %d bytes gzipped, want under %d", total, limit)
	}
}

func TestRedact(t *testing.T) {
	v := map[string]any{"service_settings": map[string]any{"access_key": "AKIA", "region": "r", "nested": []any{map[string]any{"secret_key": "s"}}}}
	redact(v)
	ss := v["service_settings"].(map[string]any)
	if ss["access_key"] != "set" || ss["region"] != "r" || ss["nested"].([]any)[0].(map[string]any)["secret_key"] != "set" {
		t.Fatalf("redacted: %v", v)
	}
}
