package usage

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/quarry-dev/quarry/internal/accesslog"
)

func TestCostHeaders(t *testing.T) {
	models := func(name string) (ModelInfo, bool) {
		if name == "nova" {
			return ModelInfo{ModelID: "amazon.nova-lite-v1:0", Region: "us-east-1"}, true
		}
		return ModelInfo{ModelID: "acme.unknown-v1:0"}, name == "acme"
	}
	sink := &memSink{}
	rec := NewRecorder(sink, RecorderOptions{})
	m := NewMeter(NewPricer(nil), models, rec)
	// 1000 input, 500 output on Nova Lite: 1000×0.06 + 500×0.24 per million.
	const want = "0.00018"
	for _, c := range []struct {
		name, model, ctype string
		usage              bool
		header, trailer    string
	}{
		{"plain answer", "nova", "application/json", true, want, ""},
		{"stream", "nova", "text/event-stream; charset=utf-8", true, "", want},
		{"no usage", "nova", "application/json", false, "", ""},
		{"unknown price", "acme", "application/json", true, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := accesslog.Middleware(slog.New(slog.DiscardHandler), m.CostHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				e := accesslog.From(r.Context())
				e.SetSurface("openai")
				e.SetModel(c.model)
				w.Header().Set("Content-Type", c.ctype)
				stream := c.trailer != "" || c.ctype != "application/json"
				if c.usage && !stream {
					e.AddUsage(accesslog.Usage{Input: 1000, Output: 500})
				}
				io.WriteString(w, "data: x\n\n")
				http.NewResponseController(w).Flush()
				if c.usage && stream {
					e.AddUsage(accesslog.Usage{Input: 1000, Output: 500})
				}
			})), m.Observe)
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if got := resp.Header.Get(CostHeader); got != c.header {
				t.Errorf("header %q, want %q", got, c.header)
			}
			if got := resp.Trailer.Get(CostHeader); got != c.trailer {
				t.Errorf("trailer %q, want %q", got, c.trailer)
			}
		})
	}
	rec.Close()
	rows := sink.rows()
	var priced, unpriced int64
	for _, r := range rows {
		priced += r.Requests - r.UnpricedRequests
		unpriced += r.UnpricedRequests
	}
	if priced != 2 || unpriced != 1 {
		t.Errorf("recorded %d priced and %d unpriced requests, want 2 and 1 (no usage: not recorded)", priced, unpriced)
	}
}
