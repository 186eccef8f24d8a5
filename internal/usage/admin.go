package usage

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quarry-dev/quarry/internal/clip"
	"github.com/quarry-dev/quarry/internal/store"
)

// Querier reads the usage table: store.UsageStore.
type Querier interface {
	Query(ctx context.Context, f store.UsageFilter) ([]store.UsageRow, error)
}

// groupings are the dimensions /admin/usage may group by.
var groupings = []string{"hour", "day", "key", "model"}

// AdminHandler serves GET /admin/usage: the usage table filtered by key,
// model and time (from, to: RFC 3339; hours are the resolution), grouped
// by any of hour, day, key and model (group_by, comma-separated; default
// hour,key,model; empty: one total), as JSON or CSV (format=csv, or an
// Accept of text/csv). Guard it with auth.Admin.
func AdminHandler(q Querier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		f := store.UsageFilter{KeyID: v.Get("key"), Model: v.Get("model")}
		for _, p := range []struct {
			name string
			dst  *time.Time
		}{{"from", &f.From}, {"to", &f.To}} {
			if s := v.Get(p.name); s != "" {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					adminError(w, http.StatusBadRequest, p.name, fmt.Sprintf("'%s' must be an RFC 3339 time such as 2026-01-02T15:00:00Z", p.name))
					return
				}
				*p.dst = t
			}
		}
		if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
			adminError(w, http.StatusBadRequest, "to", "'to' must be after 'from'")
			return
		}
		group := []string{"hour", "key", "model"}
		if v.Has("group_by") {
			group = nil
			for _, g := range strings.Split(v.Get("group_by"), ",") {
				g = strings.TrimSpace(g)
				if g == "" {
					continue
				}
				if !slices.Contains(groupings, g) {
					adminError(w, http.StatusBadRequest, "group_by", fmt.Sprintf("'group_by' takes %s (comma-separated), not %q", strings.Join(groupings, ", "), clip.String(g, 40, "…")))
					return
				}
				if slices.Contains(group, g) {
					continue
				}
				group = append(group, g)
			}
			if slices.Contains(group, "hour") && slices.Contains(group, "day") {
				adminError(w, http.StatusBadRequest, "group_by", "'group_by' takes hour or day, not both")
				return
			}
		}
		format := v.Get("format")
		switch {
		case format == "" && strings.Contains(r.Header.Get("Accept"), "text/csv"):
			format = "csv"
		case format == "":
			format = "json"
		case format != "json" && format != "csv":
			adminError(w, http.StatusBadRequest, "format", "'format' is json or csv")
			return
		}
		rows, err := q.Query(r.Context(), f)
		if err != nil {
			adminError(w, http.StatusInternalServerError, "", "reading the usage table failed")
			return
		}
		out := Group(rows, group)
		if format == "csv" {
			writeCSV(w, out)
			return
		}
		var total Row
		if t := Group(rows, nil); len(t) == 1 {
			total = t[0]
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "group_by": group, "data": out, "total": total})
	})
}

// Row is one line of /admin/usage.
type Row struct {
	Hour             string  `json:"hour,omitempty"`
	Day              string  `json:"day,omitempty"`
	KeyID            string  `json:"key,omitempty"`
	KeyName          string  `json:"key_name,omitempty"`
	Model            string  `json:"model,omitempty"`
	Requests         int64   `json:"requests"`
	InputTokens      int64   `json:"input_tokens"`
	OutputTokens     int64   `json:"output_tokens"`
	CacheReadTokens  int64   `json:"cache_read_tokens"`
	CacheWriteTokens int64   `json:"cache_write_tokens"`
	ReasoningTokens  int64   `json:"reasoning_tokens"`
	Images           int64   `json:"images"`
	SearchUnits      int64   `json:"search_units"`
	CostUSD          float64 `json:"cost_usd"`
	UnpricedRequests int64   `json:"unpriced_requests"`
	costNanos        int64
}

// Group sums hourly rows by the given dimensions, in first-seen order
// (the store's is by hour).
func Group(rows []store.UsageRow, by []string) []Row {
	idx := map[[4]string]int{}
	var out []Row
	for _, r := range rows {
		var k [4]string
		var g Row
		for _, d := range by {
			switch d {
			case "hour":
				g.Hour = r.Hour.UTC().Format(time.RFC3339)
				k[0] = g.Hour
			case "day":
				g.Day = r.Hour.UTC().Format(time.DateOnly)
				k[0] = g.Day
			case "key":
				g.KeyID, g.KeyName = r.KeyID, r.KeyName
				k[1] = r.KeyID
			case "model":
				g.Model = r.Model
				k[2] = r.Model
			}
		}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, g)
		}
		out[i].add(r)
	}
	if out == nil {
		out = []Row{}
	}
	return out
}

// add adds an hourly row's counters to o.
func (o *Row) add(r store.UsageRow) {
	o.Requests += r.Requests
	o.InputTokens += r.InputTokens
	o.OutputTokens += r.OutputTokens
	o.CacheReadTokens += r.CacheReadTokens
	o.CacheWriteTokens += r.CacheWriteTokens
	o.ReasoningTokens += r.ReasoningTokens
	o.Images += r.Images
	o.SearchUnits += r.SearchUnits
	o.UnpricedRequests += r.UnpricedRequests
	o.costNanos += r.CostNanos
	o.CostUSD = float64(o.costNanos) / 1e9
}

var csvHeader = []string{"hour", "day", "key", "key_name", "model", "requests", "input_tokens", "output_tokens",
	"cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "images", "search_units", "cost_usd", "unpriced_requests"}

func writeCSV(w http.ResponseWriter, rows []Row) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, r := range rows {
		cw.Write([]string{r.Hour, r.Day, r.KeyID, r.KeyName, r.Model, i(r.Requests), i(r.InputTokens), i(r.OutputTokens),
			i(r.CacheReadTokens), i(r.CacheWriteTokens), i(r.ReasoningTokens), i(r.Images), i(r.SearchUnits),
			strconv.FormatFloat(r.CostUSD, 'f', -1, 64), i(r.UnpricedRequests)})
	}
	cw.Flush()
}

func adminError(w http.ResponseWriter, status int, param, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	e := map[string]any{"message": msg, "type": "invalid_request_error", "param": nil}
	if param != "" {
		e["param"] = param
	}
	if status >= 500 {
		e["type"] = "api_error"
	}
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}
