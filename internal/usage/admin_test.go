package usage

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/store"
)

type fakeQuerier struct {
	rows []store.UsageRow
	got  store.UsageFilter
}

func (q *fakeQuerier) Query(_ context.Context, f store.UsageFilter) ([]store.UsageRow, error) {
	q.got = f
	return q.rows, nil
}

func TestAdminUsage(t *testing.T) {
	h0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	q := &fakeQuerier{rows: []store.UsageRow{
		{Hour: h0, KeyID: "config:aa", Model: "nova", Requests: 2, InputTokens: 10, CostNanos: 1500},
		{Hour: h0, KeyID: "config:bb", Model: "nova", Requests: 1, InputTokens: 5, CostNanos: 500},
		{Hour: h0.Add(time.Hour), KeyID: "config:aa", Model: "claude", Requests: 1, OutputTokens: 7, CacheWriteTokens: 3, CostNanos: 1000},
		{Hour: h0.Add(24 * time.Hour), KeyID: "config:aa", Model: "nova", Requests: 1, UnpricedRequests: 1},
	}}
	h := AdminHandler(q)
	for _, c := range []struct {
		name, query, accept string
		status              int
		rows                int
		first               string // a member of the first row, as JSON, or CSV line
	}{
		{name: "default grouping", query: "", status: 200, rows: 4, first: `"hour":"2026-03-01T10:00:00Z"`},
		{name: "by model", query: "group_by=model", status: 200, rows: 2, first: `"model":"nova","requests":4,"input_tokens":15`},
		{name: "by day and key", query: "group_by=day,key", status: 200, rows: 3, first: `"day":"2026-03-01","key":"config:aa","requests":3`},
		{name: "one total", query: "group_by=", status: 200, rows: 1, first: `"requests":5,"input_tokens":15,"output_tokens":7`},
		{name: "csv by format", query: "group_by=model&format=csv", status: 200, rows: 2, first: `,,,,nova,4,15,0,0,0,0,0,0,0.000002,1`},
		{name: "csv by accept", query: "group_by=key", accept: "text/csv", status: 200, rows: 2, first: `,,config:aa,,,4,10,7,0,3,0,0,0,0.0000025,1`},
		{name: "filters pass on", query: "key=config:aa&model=nova&from=2026-03-01T10:30:00Z&to=2026-03-02T00:00:00%2B01:00", status: 200, rows: 4},
		{name: "bad from", query: "from=yesterday", status: 400, first: `"param":"from"`},
		{name: "to before from", query: "from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", status: 400, first: `"param":"to"`},
		{name: "bad group", query: "group_by=team", status: 400, first: `"param":"group_by"`},
		{name: "hour and day", query: "group_by=hour,day", status: 400, first: `hour or day`},
		{name: "bad format", query: "format=xml", status: 400, first: `"param":"format"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/admin/usage?"+c.query, nil)
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			body := w.Body.String()
			if w.Code != c.status {
				t.Fatalf("status %d: %s", w.Code, body)
			}
			if !strings.Contains(body, c.first) {
				t.Errorf("body lacks %s:\n%s", c.first, body)
			}
			if c.status != 200 {
				return
			}
			if strings.Contains(c.query, "csv") || c.accept != "" {
				recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
				if err != nil || len(recs) != c.rows+1 || recs[0][0] != "hour" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
					t.Errorf("CSV: %v %d records %q", err, len(recs), w.Header().Get("Content-Type"))
				}
				return
			}
			var out struct{ Data []json.RawMessage }
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out.Data) != c.rows {
				t.Errorf("JSON: %v, %d rows, want %d", err, len(out.Data), c.rows)
			}
		})
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/admin/usage?key=config:aa&model=nova&from=2026-03-01T10:30:00Z&to=2026-03-02T00:00:00%2B01:00", nil))
	want := store.UsageFilter{KeyID: "config:aa", Model: "nova", From: h0.Add(30 * time.Minute), To: time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)}
	if !q.got.From.Equal(want.From) || !q.got.To.Equal(want.To) || q.got.KeyID != want.KeyID || q.got.Model != want.Model {
		t.Errorf("filter = %+v, want %+v", q.got, want)
	}
}
