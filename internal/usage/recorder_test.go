package usage

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/store"
)

// memSink is a Sink in memory; fail makes the next writes fail.
type memSink struct {
	mu     sync.Mutex
	writes [][]store.UsageRow
	fail   bool
}

func (s *memSink) Add(_ context.Context, rows []store.UsageRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("database down")
	}
	s.writes = append(s.writes, rows)
	return nil
}

func (s *memSink) Spend(_ context.Context, key string, _ time.Time) (float64, error) {
	var n int64
	for _, r := range s.rows() {
		if r.KeyID == key {
			n += r.CostNanos
		}
	}
	return float64(n) / 1e9, nil
}

func (s *memSink) rows() []store.UsageRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []store.UsageRow
	for _, w := range s.writes {
		all = append(all, w...)
	}
	return all
}

func (s *memSink) requests() (n int64) {
	for _, r := range s.rows() {
		n += r.Requests
	}
	return n
}

// slowSink is a memSink whose writes wait for release.
type slowSink struct {
	memSink
	release chan struct{}
}

func (s *slowSink) Add(ctx context.Context, rows []store.UsageRow) error {
	<-s.release
	return s.memSink.Add(ctx, rows)
}

func (s *memSink) writeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.writes)
}

func rec(key string, at time.Time, cost int64) Record {
	return Record{Time: at, KeyID: key, Model: "nova", Usage: accesslog.Usage{Input: 10, Output: 2}, CostNanos: cost, Priced: true}
}

func TestRecorderBatching(t *testing.T) {
	t.Run("flush on time", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sink := &memSink{}
			r := NewRecorder(sink, RecorderOptions{FlushInterval: time.Second, BatchSize: 100})
			defer r.Close()
			r.Record(rec("k", time.Now(), 5))
			r.Record(rec("k", time.Now(), 5))
			time.Sleep(999 * time.Millisecond)
			synctest.Wait()
			if n := sink.requests(); n != 0 {
				t.Fatalf("written before the interval: %d", n)
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
			rows := sink.rows()
			if len(rows) != 1 || rows[0].Requests != 2 || rows[0].InputTokens != 20 || rows[0].CostNanos != 10 {
				t.Fatalf("after the interval: %+v (want one aggregated row)", rows)
			}
		})
	})
	t.Run("flush on size", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sink := &memSink{}
			r := NewRecorder(sink, RecorderOptions{FlushInterval: time.Hour, BatchSize: 3})
			defer r.Close()
			for range 3 {
				r.Record(rec("k", time.Now(), 1))
			}
			synctest.Wait()
			if n := sink.requests(); n != 3 {
				t.Fatalf("%d requests written after a full batch, want 3", n)
			}
		})
	})
	t.Run("flush on close, rows per key and hour", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sink := &memSink{}
			r := NewRecorder(sink, RecorderOptions{FlushInterval: time.Hour, BatchSize: 1000})
			now := time.Now()
			for i := range 500 {
				r.Record(rec([]string{"a", "b"}[i%2], now.Add(time.Duration(i%3)*time.Hour), 1))
			}
			r.Close()
			r.Close() // idempotent
			r.Record(rec("late", now, 1))
			if n := sink.requests(); n != 500 {
				t.Fatalf("%d requests written at close, want 500", n)
			}
			if n := len(sink.rows()); n != 6 {
				t.Errorf("%d rows, want 6 (2 keys × 3 hours)", n)
			}
		})
	})
	t.Run("a slow store holds no request", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			sink := &slowSink{release: release}
			r := NewRecorder(sink, RecorderOptions{FlushInterval: time.Hour, BatchSize: 3})
			// Far more records than batches while the first write hangs:
			// they aggregate into the row that waits, and each Record
			// returns at once.
			for range 10_000 {
				r.Record(rec("k", time.Now(), 1))
			}
			synctest.Wait()
			close(release)
			r.Close()
			if n := sink.requests(); n != 10_000 {
				t.Fatalf("%d requests written, want 10000", n)
			}
			// The batch that hung, and the rest as one row if the writer
			// took the first batch before all came in.
			if w := sink.writeCount(); w < 1 || w > 2 {
				t.Errorf("%d writes, want 1 or 2", w)
			}
		})
	})
	t.Run("failed write retried, spend counts what waits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sink := &memSink{fail: true}
			r := NewRecorder(sink, RecorderOptions{FlushInterval: time.Second, BatchSize: 100})
			defer r.Close()
			r.Record(rec("k", time.Now(), 1000))
			time.Sleep(time.Second)
			synctest.Wait()
			r.Record(rec("k", time.Now(), 500))
			synctest.Wait()
			if usd, _ := r.Spend(context.Background(), "k", time.Now().Add(-time.Hour)); usd != 1500e-9 {
				t.Errorf("Spend with nothing written = %v, want 1.5e-06", usd)
			}
			sink.mu.Lock()
			sink.fail = false
			sink.mu.Unlock()
			time.Sleep(time.Second)
			synctest.Wait()
			if n := sink.requests(); n != 2 {
				t.Fatalf("%d requests written after the store came back, want 2", n)
			}
			if usd, _ := r.Spend(context.Background(), "k", time.Now().Add(-time.Hour)); usd != 1500e-9 {
				t.Errorf("Spend = %v, want 1.5e-06 (counted once)", usd)
			}
		})
	})
}

// BenchmarkRecorderRecord is what a request pays to record its usage,
// from every core at once, the store keeping up.
func BenchmarkRecorderRecord(b *testing.B) {
	r := NewRecorder(&memSink{}, RecorderOptions{})
	defer r.Close()
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Record(rec("k", now, 1))
		}
	})
}
