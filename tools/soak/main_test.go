package main

import (
	"strings"
	"testing"
	"time"
)

// TestJudge: flat metrics pass, steady growth fails naming the metric, and
// any 5xx or transport error fails.
func TestJudge(t *testing.T) {
	flat := func(i int) sample {
		return sample{at: time.Duration(i) * 10 * time.Second, rssKiB: 40000 + int64(i%3)*2000, goroutines: 60 + int64(i%5), fds: 40}
	}
	for _, c := range []struct {
		name   string
		make   func(i int) sample
		n      int
		c5xx   int64
		errSub string // "" for success
	}{
		{"flat", flat, 60, 0, ""},
		{"goroutines leak", func(i int) sample { s := flat(i); s.goroutines += int64(i) * 10; return s }, 60, 0, "goroutines grows"},
		{"rss leak", func(i int) sample { s := flat(i); s.rssKiB += int64(i) * 8000; return s }, 60, 0, "rss_kib grows"},
		// 2 MiB a minute: within the allowance over ten minutes, as the
		// first soak's metrics-series leak was, but caught by the slope.
		{"slow rss leak", func(i int) sample { s := flat(i); s.rssKiB += int64(i) * 2048 / 6; return s }, 60, 0, "rss_kib grows"},
		{"fd leak", func(i int) sample { s := flat(i); s.fds += int64(i) * 3; return s }, 60, 0, "fds grows"},
		{"a 5xx", flat, 60, 1, "5xx"},
		{"too short", flat, 2, 0, "too few samples"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s []sample
			for i := range c.n {
				s = append(s, c.make(i))
			}
			var cn counters
			cn.status5xx.Store(c.c5xx)
			err := judge(s, &cn, "x")
			if (err == nil) != (c.errSub == "") || (err != nil && !strings.Contains(err.Error(), c.errSub)) {
				t.Errorf("judge = %v, want %q", err, c.errSub)
			}
		})
	}
}
