package upstream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestFirstEventTimer(t *testing.T) {
	// Fires: the stream is cancelled and the failure reads as a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	ft := StartFirstEventTimer(time.Millisecond, cancel)
	<-ctx.Done()
	if !ft.Stop() {
		t.Error("Stop after firing must report it fired")
	}
	if err := ft.Err(context.Canceled); !errors.Is(err, context.DeadlineExceeded) || Classify(err).Status != 504 {
		t.Errorf("Err = %v, want a 504 timeout", err)
	}

	// Stopped in time: nothing is cancelled and errors pass through.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	ft = StartFirstEventTimer(time.Hour, cancel)
	if ft.Stop() || ctx.Err() != nil {
		t.Error("a timer stopped in time must not fire")
	}
	other := errors.New("upstream said no")
	if err := ft.Err(other); err != other {
		t.Errorf("Err = %v, want the error unchanged", err)
	}

	// d <= 0: no bound at all.
	if ft := StartFirstEventTimer(0, func() { t.Error("cancelled without a timeout") }); ft.Stop() {
		t.Error("a zero timeout fired")
	}
}

func TestStreamTimerIdle(t *testing.T) {
	for _, c := range []struct {
		name        string
		first, idle time.Duration
		gaps        []time.Duration // between events, after the first
		fires       bool
		msg         string
	}{
		{"events within the idle bound", time.Hour, 200 * time.Millisecond, []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}, false, ""},
		{"a stall after the first event", time.Hour, 50 * time.Millisecond, []time.Duration{10 * time.Millisecond, 300 * time.Millisecond}, true, "no stream event"},
		{"no first-event bound, a stall", 0, 50 * time.Millisecond, []time.Duration{300 * time.Millisecond}, true, "no stream event"},
		{"no idle bound", time.Hour, 0, []time.Duration{200 * time.Millisecond}, false, ""},
	} {
		// synctest: the gaps are virtual time, the test takes none.
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				st := StartStreamTimer(c.first, c.idle, cancel)
				defer st.Stop()
				st.Event()
				for _, g := range c.gaps {
					time.Sleep(g)
					st.Event()
				}
				if fired := st.Stop(); fired != c.fires || (ctx.Err() != nil) != c.fires {
					t.Fatalf("fired %v, ctx %v; want fired %v", fired, ctx.Err(), c.fires)
				}
				if c.fires {
					err := st.Err(context.Canceled)
					if Classify(err).Status != 504 || !strings.Contains(err.Error(), c.msg) {
						t.Errorf("Err = %v, want a 504 saying %q", err, c.msg)
					}
				}
			})
		})
	}
}
