package bedrock

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestReserve: Reserve takes a batch's rate tokens up front, spaced at the
// limit's pace, or none at all when they would not come in time; unused
// ones go back.
func TestReserve(t *testing.T) {
	for _, c := range []struct {
		name     string
		rpm, n   int
		deadline time.Duration
		ok       bool
		took     time.Duration // virtual time for n calls, roughly
	}{
		{"within the burst", 600, 10, time.Second, true, 0},
		{"spread over seconds", 60, 4, 10 * time.Second, true, 3 * time.Second},
		{"more than the deadline allows", 60, 20, 5 * time.Second, false, 0},
		{"more than a minute's quota, long deadline", 120, 150, 2 * time.Minute, true, 74 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cl := &Client{limiter: newLimiter(c.rpm, -1, nil)}
				ctx, cancel := context.WithTimeout(context.Background(), c.deadline)
				defer cancel()
				start := time.Now()
				rctx, release, err := cl.Reserve(ctx, c.n)
				if (err == nil) != c.ok {
					t.Fatalf("Reserve: %v, want ok %v", err, c.ok)
				}
				if !c.ok {
					var le *LimitError
					if !errors.Is(err, ErrLimited) || !errors.As(err, &le) || le.Limit != "RequestsPerMinute" {
						t.Errorf("error %v is not ErrLimited naming RequestsPerMinute", err)
					}
					// Nothing was taken: the burst is still there.
					if !cl.limiter.rate.Allow() {
						t.Error("a refused reservation kept tokens")
					}
					return
				}
				for i := range c.n {
					if err := cl.waitRate(rctx, 0, true); err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
				}
				took := time.Since(start)
				if took < c.took-time.Second || took > c.took+time.Second {
					t.Errorf("%d calls took %v, want about %v", c.n, took, c.took)
				}
				release()
			})
		})
	}
	t.Run("unused tokens go back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cl := &Client{limiter: newLimiter(60, -1, nil)}
			_, release, err := cl.Reserve(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if cl.limiter.rate.Allow() {
				t.Fatal("the reserved token is still free")
			}
			release()
			if !cl.limiter.rate.Allow() {
				t.Error("release did not give the unused token back")
			}
		})
	})
}
