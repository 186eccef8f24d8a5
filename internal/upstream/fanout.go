package upstream

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
)

// RetryPaid runs call, and runs it again while Bedrock throttles it, but
// only once paid says another call of the same client request has
// succeeded: a request fanned out into several calls (embeddings) must not
// throw away results it already paid for because a later call was
// throttled. Waits grow from 1 s to 10 s and stop at ctx's deadline; a
// request that has paid for nothing yet gets the throttling error at once
// (a 429 its client may retry). Every surface that fans out uses it.
func RetryPaid(ctx context.Context, paid *atomic.Bool, call func(context.Context) error) error {
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		err := call(ctx)
		if err == nil {
			paid.Store(true)
			return nil
		}
		if !errors.Is(err, bedrock.ErrThrottling) || !paid.Load() {
			return err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}
