package config

import (
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits says where the gateway keeps the state of its limits (per-model
// requests_per_min_limit, tokens_per_min_limit, max_concurrent_invocations
// and per-key limits). Without a RedisURL every replica limits on its own,
// as one process.
type Limits struct {
	// RedisURL (redis:// or rediss://, usually a secret reference) makes
	// every replica draw from the same limits in Redis.
	RedisURL Secret
	// Replicas is how many gateway replicas share the limits: while Redis
	// cannot be reached each one allows limit/Replicas. Default 1.
	Replicas int
	// Timeout bounds each Redis round trip; past it the request is decided
	// by the local share. Default 100ms.
	Timeout time.Duration
	// Lease is how long a concurrency slot lives without renewal: the slots
	// of a replica that died come back after it. Default 30s.
	Lease time.Duration
	// Prefix starts every Redis key (default "quarry:limits:"), so that
	// several fleets can share one Redis.
	Prefix string
}

// Limits defaults.
const (
	DefaultLimitsTimeout = 100 * time.Millisecond
	DefaultLimitsLease   = 30 * time.Second
	DefaultLimitsPrefix  = "quarry:limits:"
)

func (d *decoder) limits(n *yaml.Node, l *Limits) {
	l.Replicas, l.Timeout, l.Lease, l.Prefix = 1, DefaultLimitsTimeout, DefaultLimitsLease, DefaultLimitsPrefix
	if n == nil {
		return
	}
	f := d.mapping(n, "limits", "redis_url", "replicas", "timeout", "lease", "prefix")
	if v, ok := f["redis_url"]; ok {
		u := d.secret(v, "limits.redis_url")
		// Never quote the value: it may hold a password.
		if pu, err := url.Parse(u.Reveal()); err != nil || (pu.Scheme != "redis" && pu.Scheme != "rediss") || pu.Host == "" {
			d.problem(v, "limits.redis_url", "must be a Redis URL (redis://host:port/db or rediss://…)")
		}
		l.RedisURL = u
	}
	if v, ok := f["replicas"]; ok {
		r, _ := d.integer(v, "limits.replicas", 1, 10000)
		l.Replicas = max(1, int(r))
	}
	if v, ok := f["timeout"]; ok {
		if t, ok := d.duration(v, "limits.timeout"); ok {
			if t <= 0 || t > 10*time.Second {
				d.problem(v, "limits.timeout", "must be between 1ms and 10s")
			} else {
				l.Timeout = t
			}
		}
	}
	if v, ok := f["lease"]; ok {
		if t, ok := d.duration(v, "limits.lease"); ok {
			if t < time.Second || t > time.Hour {
				d.problem(v, "limits.lease", "must be between 1s and 1h")
			} else {
				l.Lease = t
			}
		}
	}
	if v, ok := f["prefix"]; ok {
		if p, ok := d.str(v, "limits.prefix"); ok {
			if strings.TrimSpace(p) == "" {
				d.problem(v, "limits.prefix", "must not be empty (leave it out for the default "+DefaultLimitsPrefix+")")
			} else {
				l.Prefix = p
			}
		}
	}
}
