package console

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
)

// Record is one finished model request as the live view shows it: what
// the access log knows, never a prompt or an answer.
type Record struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Key        string    `json:"key,omitempty"` // the key's name, once keys have names
	Surface    string    `json:"surface"`
	Model      string    `json:"model"`
	Target     string    `json:"target,omitempty"` // the Bedrock model ID
	Status     int       `json:"status"`
	Error      string    `json:"error,omitempty"`
	Input      int       `json:"input_tokens"`
	Output     int       `json:"output_tokens"`
	CacheRead  int       `json:"cache_read_tokens"`
	LatencyMS  float64   `json:"latency_ms"`
	TTFTMS     float64   `json:"ttft_ms,omitempty"`
	UpstreamID string    `json:"upstream_request_id,omitempty"`
	CostUSD    *float64  `json:"cost_usd,omitempty"` // when the gateway prices requests
}

// Live keeps the most recent records and fans new ones out to the
// console's live streams.
type Live struct {
	mu   sync.Mutex
	ring []Record
	next int
	full bool
	subs map[chan Record]struct{}
	// stop closes when the gateway shuts down: live streams never end on
	// their own, and must not hold the graceful shutdown up.
	stop     chan struct{}
	stopOnce sync.Once
}

// NewLive keeps the last n records (default 200).
func NewLive(n int) *Live {
	if n <= 0 {
		n = 200
	}
	return &Live{ring: make([]Record, n), subs: map[chan Record]struct{}{}, stop: make(chan struct{})}
}

// Stop ends every live stream (the gateway is shutting down).
func (l *Live) Stop() { l.stopOnce.Do(func() { close(l.stop) }) }

// Add keeps rec and sends it to every subscriber; a subscriber too slow to
// take it misses it rather than slow the gateway down.
func (l *Live) Add(rec Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = rec
	l.next = (l.next + 1) % len(l.ring)
	if l.next == 0 {
		l.full = true
	}
	for c := range l.subs {
		select {
		case c <- rec:
		default:
		}
	}
}

// Recent returns the kept records, oldest first.
func (l *Live) Recent() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]Record(nil), l.ring[:l.next]...)
	}
	return append(append([]Record(nil), l.ring[l.next:]...), l.ring[:l.next]...)
}

// subscribe returns the records so far and a channel of the next ones.
func (l *Live) subscribe() ([]Record, chan Record, func()) {
	c := make(chan Record, 64)
	recent := l.Recent()
	l.mu.Lock()
	l.subs[c] = struct{}{}
	l.mu.Unlock()
	return recent, c, func() {
		l.mu.Lock()
		delete(l.subs, c)
		l.mu.Unlock()
	}
}

// Observer returns the accesslog hook that feeds live and stats: every
// request a surface served for a model (the console's own calls, health
// and metrics have none). target maps a model name to its Bedrock target.
func Observer(live *Live, stats *Stats, target func(model string) string, cost func(s *accesslog.Snapshot) (float64, bool)) func(r *http.Request, status int, d time.Duration, s accesslog.Snapshot) {
	return func(r *http.Request, status int, d time.Duration, s accesslog.Snapshot) {
		if s.Model == "" || strings.HasPrefix(r.URL.Path, "/ui/") {
			return
		}
		rec := Record{
			ID: s.ID, Time: time.Now().Add(-d), Method: r.Method, Path: r.URL.Path,
			Surface: s.Surface, Model: s.Model, Target: target(s.Model), Status: status, Error: s.ErrorKind,
			Input: s.InputTokens, Output: s.OutputTokens, CacheRead: s.CacheReadTokens,
			LatencyMS: ms(d), TTFTMS: ms(s.FirstToken), UpstreamID: s.UpstreamRequestID,
			Key: s.KeyName,
		}
		if rec.Key == "" {
			rec.Key = s.KeyID // a config key has an ID only
		}
		if s.BedrockModel != "" {
			rec.Target = s.BedrockModel // the target of a group that served
		}
		if cost != nil {
			if usd, ok := cost(&s); ok {
				rec.CostUSD = &usd
			}
		}
		live.Add(rec)
		stats.Observe(s.Model, status, d, s.FirstToken)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// live streams the records as server-sent events: the recent ones first,
// then each new one; a comment every 15 s keeps proxies from closing it.
func (h *Handler) live(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	recent, c, done := h.opts.Live.subscribe()
	defer done()
	send := func(rec Record) bool {
		b, _ := json.Marshal(rec)
		if _, err := w.Write(append(append([]byte("event: request\ndata: "), b...), '\n', '\n')); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for _, rec := range recent {
		if !send(rec) {
			return
		}
	}
	w.Write([]byte(": ready\n\n"))
	rc.Flush()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.opts.Live.stop:
			return
		case rec := <-c:
			if !send(rec) {
				return
			}
		case <-tick.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
