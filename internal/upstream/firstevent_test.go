package upstream

import (
	"context"
	"errors"
	"testing"
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
