package usage

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/store"
)

// Sink is where the recorder writes: store.UsageStore.
type Sink interface {
	Add(ctx context.Context, rows []store.UsageRow) error
	Spend(ctx context.Context, keyID string, since time.Time) (float64, error)
}

// Record is one finished request's usage.
type Record struct {
	Time           time.Time
	KeyID, KeyName string
	Model          string
	Usage          accesslog.Usage
	CostNanos      int64
	Priced         bool // false: no price is known for the model
}

// RecorderOptions tune the batching; zero values take the defaults.
type RecorderOptions struct {
	// FlushInterval is the longest a record waits to be written (1s).
	FlushInterval time.Duration
	// BatchSize writes as soon as that many records wait (256).
	BatchSize int
	Logger    *slog.Logger
}

// Recorder aggregates records per key, model and hour and writes them to
// a Sink from one goroutine. A request adds its record to the aggregate
// under a lock: what waits is one row per key, model and hour however
// many requests it sums, so nothing needs to queue (a queue of records
// was a 576 KB buffer the collector scanned on every cycle, and woke the
// writer for each request). Close writes what is left: nothing recorded
// before Close is lost on a graceful shutdown.
type Recorder struct {
	sink  Sink
	opts  RecorderOptions
	due   chan struct{} // a batch is full; capacity 1
	stop  chan struct{}
	done  chan struct{}
	close sync.Once

	mu      sync.Mutex
	closed  bool
	pending map[aggKey]*store.UsageRow // aggregated, not yet written
	queued  int                        // records in pending
	writing map[aggKey]*store.UsageRow // being written
}

type aggKey struct {
	hour       int64
	key, model string
}

// NewRecorder starts a recorder writing to sink.
func NewRecorder(sink Sink, opts RecorderOptions) *Recorder {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{sink: sink, opts: opts, due: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{}), pending: map[aggKey]*store.UsageRow{}}
	go r.run()
	return r
}

// Record adds rec to what waits to be written. After Close it is dropped
// (and logged): the server closes the recorder only once no request is in
// flight.
func (r *Recorder) Record(rec Record) {
	k := aggKey{rec.Time.UTC().Truncate(time.Hour).Unix(), rec.KeyID, rec.Model}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.opts.Logger.Warn("usage recorded after the recorder closed: dropped", "model", rec.Model)
		return
	}
	row := r.pending[k]
	if row == nil {
		row = &store.UsageRow{Hour: time.Unix(k.hour, 0).UTC(), KeyID: rec.KeyID, Model: rec.Model}
		r.pending[k] = row
	}
	addRecord(row, &rec)
	r.queued++
	full := r.queued == r.opts.BatchSize
	r.mu.Unlock()
	if full {
		select {
		case r.due <- struct{}{}:
		default: // the writer is already told
		}
	}
}

func (r *Recorder) run() {
	defer close(r.done)
	t := time.NewTicker(r.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			r.flush()
			return
		case <-r.due:
			r.flush()
		case <-t.C:
			r.flush()
		}
	}
}

// addRecord adds one request, rec, to row.
func addRecord(row *store.UsageRow, rec *Record) {
	u := &rec.Usage
	row.KeyName = rec.KeyName
	row.Requests++
	row.InputTokens += int64(u.Input)
	row.OutputTokens += int64(u.Output)
	row.CacheReadTokens += int64(u.CacheRead)
	row.CacheWriteTokens += int64(u.CacheWrite)
	row.ReasoningTokens += int64(u.Reasoning)
	row.Images += int64(u.Images)
	row.SearchUnits += int64(u.SearchUnits)
	row.CostNanos += rec.CostNanos
	if !rec.Priced {
		row.UnpricedRequests++
	}
}

// flush writes pending. On failure the rows go back to pending, to be
// retried with the next flush (they only aggregate meanwhile).
func (r *Recorder) flush() {
	r.mu.Lock()
	if len(r.pending) == 0 {
		r.mu.Unlock()
		return
	}
	r.writing, r.pending, r.queued = r.pending, map[aggKey]*store.UsageRow{}, 0
	rows := make([]store.UsageRow, 0, len(r.writing))
	for _, row := range r.writing {
		rows = append(rows, *row)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := r.sink.Add(ctx, rows)
	cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.opts.Logger.Error("writing usage failed; retrying with the next flush", "rows", len(rows), "error", err)
		for k, w := range r.writing {
			if p := r.pending[k]; p != nil {
				mergeRows(w, p)
			}
			r.pending[k] = w
		}
	}
	r.writing = nil
}

func mergeRows(dst, src *store.UsageRow) {
	dst.Requests += src.Requests
	dst.InputTokens += src.InputTokens
	dst.OutputTokens += src.OutputTokens
	dst.CacheReadTokens += src.CacheReadTokens
	dst.CacheWriteTokens += src.CacheWriteTokens
	dst.ReasoningTokens += src.ReasoningTokens
	dst.Images += src.Images
	dst.SearchUnits += src.SearchUnits
	dst.CostNanos += src.CostNanos
	dst.UnpricedRequests += src.UnpricedRequests
	dst.KeyName = src.KeyName
}

// Close stops accepting records, writes what waits and returns once it is
// written (or the write failed, which is logged with what was lost).
func (r *Recorder) Close() {
	r.close.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.stop)
		<-r.done
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := len(r.pending); n > 0 {
			r.opts.Logger.Error("usage not written at shutdown", "rows", n)
		}
	})
}

// Spend is keyID's spend in USD since since (see store.UsageStore.Spend),
// including what is recorded but not written yet.
func (r *Recorder) Spend(ctx context.Context, keyID string, since time.Time) (float64, error) {
	usd, err := r.sink.Spend(ctx, keyID, since)
	if err != nil {
		return 0, err
	}
	from := since.UTC().Truncate(time.Hour).Unix()
	var nanos int64
	r.mu.Lock()
	for _, m := range []map[aggKey]*store.UsageRow{r.pending, r.writing} {
		for k, row := range m {
			if k.key == keyID && k.hour >= from {
				nanos += row.CostNanos
			}
		}
	}
	r.mu.Unlock()
	return usd + float64(nanos)/1e9, nil
}
