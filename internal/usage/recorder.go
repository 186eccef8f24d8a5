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
	// Queue is the channel's capacity (16 × BatchSize): a request blocks
	// only when the writer is that far behind.
	Queue  int
	Logger *slog.Logger
}

// Recorder aggregates records per key, model and hour and writes them to
// a Sink from one goroutine, so that a request only pays a channel send.
// Close writes what is left: nothing recorded before Close is lost on a
// graceful shutdown.
type Recorder struct {
	sink  Sink
	opts  RecorderOptions
	ch    chan Record
	done  chan struct{}
	close sync.Once

	mu      sync.RWMutex // guards closed against Record's send
	closed  bool
	pmu     sync.Mutex
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
	if opts.Queue <= 0 {
		opts.Queue = 16 * opts.BatchSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{sink: sink, opts: opts, ch: make(chan Record, opts.Queue), done: make(chan struct{}),
		pending: map[aggKey]*store.UsageRow{}}
	go r.run()
	return r
}

// Record queues rec. After Close it is dropped (and logged): the server
// closes the recorder only once no request is in flight.
func (r *Recorder) Record(rec Record) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.opts.Logger.Warn("usage recorded after the recorder closed: dropped", "model", rec.Model)
		return
	}
	r.ch <- rec
}

func (r *Recorder) run() {
	defer close(r.done)
	t := time.NewTicker(r.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case rec, ok := <-r.ch:
			if !ok {
				r.flush()
				return
			}
			if r.add(rec) >= r.opts.BatchSize {
				r.flush()
			}
		case <-t.C:
			r.flush()
		}
	}
}

// add merges rec into pending and returns how many records wait.
func (r *Recorder) add(rec Record) int {
	k := aggKey{rec.Time.UTC().Truncate(time.Hour).Unix(), rec.KeyID, rec.Model}
	r.pmu.Lock()
	defer r.pmu.Unlock()
	row := r.pending[k]
	if row == nil {
		row = &store.UsageRow{Hour: time.Unix(k.hour, 0).UTC(), KeyID: rec.KeyID, Model: rec.Model}
		r.pending[k] = row
	}
	mergeRows(row, recordRow(&rec))
	r.queued++
	return r.queued
}

// recordRow is rec as a row of one request.
func recordRow(rec *Record) *store.UsageRow {
	u := &rec.Usage
	row := &store.UsageRow{KeyName: rec.KeyName, Requests: 1, InputTokens: int64(u.Input), OutputTokens: int64(u.Output),
		CacheReadTokens: int64(u.CacheRead), CacheWriteTokens: int64(u.CacheWrite), ReasoningTokens: int64(u.Reasoning),
		Images: int64(u.Images), SearchUnits: int64(u.SearchUnits), CostNanos: rec.CostNanos}
	if !rec.Priced {
		row.UnpricedRequests = 1
	}
	return row
}

// flush writes pending. On failure the rows go back to pending, to be
// retried with the next flush (they only aggregate meanwhile).
func (r *Recorder) flush() {
	r.pmu.Lock()
	if len(r.pending) == 0 {
		r.pmu.Unlock()
		return
	}
	r.writing, r.pending, r.queued = r.pending, map[aggKey]*store.UsageRow{}, 0
	rows := make([]store.UsageRow, 0, len(r.writing))
	for _, row := range r.writing {
		rows = append(rows, *row)
	}
	r.pmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := r.sink.Add(ctx, rows)
	cancel()
	r.pmu.Lock()
	defer r.pmu.Unlock()
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
		close(r.ch)
		r.mu.Unlock()
		<-r.done
		r.pmu.Lock()
		defer r.pmu.Unlock()
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
	r.pmu.Lock()
	for _, m := range []map[aggKey]*store.UsageRow{r.pending, r.writing} {
		for k, row := range m {
			if k.key == keyID && k.hour >= from {
				nanos += row.CostNanos
			}
		}
	}
	r.pmu.Unlock()
	return usd + float64(nanos)/1e9, nil
}
