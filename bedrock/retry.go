package bedrock

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// RetryPolicy controls retries of throttling, server (5xx) and connection
// errors. Validation and other client errors are never retried, nor is a
// stream once its response has started.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts. 0: 3 (the AWS SDKs'
	// standard mode); 1: no retries.
	MaxAttempts int
	// BaseDelay is the backoff before the first retry; each retry doubles
	// it. The actual sleep is drawn uniformly from [0, delay) ("full
	// jitter"). 0: 500ms.
	BaseDelay time.Duration
	// MaxDelay caps a single backoff. 0: 20s (the AWS SDKs' cap).
	MaxDelay time.Duration
}

func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 0:
		return &ConfigError{"Retry.MaxAttempts", "must be 0 (default) or positive"}
	case p.BaseDelay < 0:
		return &ConfigError{"Retry.BaseDelay", "must not be negative"}
	case p.MaxDelay < 0:
		return &ConfigError{"Retry.MaxDelay", "must not be negative"}
	}
	return nil
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 3
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = 20 * time.Second
	}
	return p
}

// backoff is the jittered delay before retry number n (1-based).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryable reports whether an attempt's failure may be retried.
func retryable(err error) bool {
	if be, ok := errors.AsType[*Error](err); ok {
		return be.Retryable()
	}
	_, ok := errors.AsType[*transportError](err)
	return ok
}
