package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Usage configures usage and cost recording: every request's tokens and
// cost, aggregated per key, model and hour in the store.
type Usage struct {
	// Disabled turns recording off (the counters in /metrics stay).
	Disabled bool
	// FlushInterval is the longest a recorded request waits before it is
	// written (default 1s); BatchSize writes sooner once that many wait
	// (default 256).
	FlushInterval time.Duration
	BatchSize     int
}

func (d *decoder) usage(n *yaml.Node, u *Usage) {
	*u = Usage{FlushInterval: time.Second, BatchSize: 256}
	if n == nil {
		return
	}
	f := d.mapping(n, "usage", "enabled", "flush_interval", "batch_size")
	if v, ok := f["enabled"]; ok {
		if on, ok := d.boolean(v, "usage.enabled"); ok {
			u.Disabled = !on
		}
	}
	if v, ok := f["flush_interval"]; ok {
		if t, ok := d.duration(v, "usage.flush_interval"); ok {
			if t < 10*time.Millisecond || t > time.Hour {
				d.problem(v, "usage.flush_interval", "must be between 10ms and 1h")
			} else {
				u.FlushInterval = t
			}
		}
	}
	if v, ok := f["batch_size"]; ok {
		if b, ok := d.integer(v, "usage.batch_size", 1, 100000); ok {
			u.BatchSize = int(b)
		}
	}
}
