package reqbody

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	for _, c := range []struct {
		name, ct, body string
		limit          int64
		status         int
	}{
		{"json", "application/json", `{"a":1}`, 100, 0},
		{"no content type", "", `{"a":1}`, 100, 0},
		{"json utf-8 charset", "application/json; charset=UTF-8", `{}`, 100, 0},
		{"elasticsearch vendor type", "application/vnd.elasticsearch+json; compatible-with=8", `{}`, 100, 0},
		{"form", "application/x-www-form-urlencoded", `{}`, 100, 415},
		{"text", "text/plain", `{}`, 100, 415},
		{"latin-1 charset", "application/json; charset=iso-8859-1", `{}`, 100, 415},
		{"garbage content type", ";;;", `{}`, 100, 415},
		{"invalid utf-8", "application/json", "{\"a\":\"\xff\xfe\"}", 100, 400},
		{"overlong utf-8", "application/json", "{\"a\":\"\xc0\xaf\"}", 100, 400},
		{"too large", "application/json", strings.Repeat(" ", 200), 100, 413},
		{"gzip", "application/json; content-encoding=gzip", `{}`, 100, 415},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
			r.ContentLength = -1 // read, not refused on the header
			if ct, ce, ok := strings.Cut(c.ct, "; content-encoding="); ok {
				c.ct = ct
				r.Header.Set("Content-Encoding", ce)
			}
			if c.ct != "" {
				r.Header.Set("Content-Type", c.ct)
			}
			Guard(httptest.NewRecorder(), r, c.limit, 0)
			_, err := Read(r)
			switch {
			case c.status == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case c.status != 0 && (err == nil || err.Status != c.status):
				t.Fatalf("got %v, want status %d", err, c.status)
			case c.status == 415 && err.Param != "Content-Type" && err.Param != "Content-Encoding":
				t.Errorf("415 does not name Content-Type: %+v", err)
			}
		})
	}
}
