package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
)

// progress reports how far a long command is: a bar redrawn in place on a
// terminal, else a plain line at every tenth of the way (logs, CI).
// add and finish are called from one goroutine.
type progress struct {
	w            io.Writer
	tty          bool
	total, done  int
	resumed      int // done when the run started: not counted in the rate
	start, drawn time.Time
	tenth        int // plain mode: the last tenth reported
}

func newProgress(w io.Writer, total, done int) *progress {
	f, ok := w.(*os.File)
	p := &progress{w: w, tty: ok && isatty.IsTerminal(f.Fd()), total: total, done: done, resumed: done, start: time.Now()}
	p.tenth = p.done * 10 / max(p.total, 1)
	if done > 0 {
		fmt.Fprintf(w, "quarry embed: resuming after %d of %d records\n", done, total)
	}
	if p.tty {
		p.draw()
	}
	return p
}

func (p *progress) add(n int) {
	p.done += n
	now := time.Now()
	if p.tty {
		if now.Sub(p.drawn) >= 100*time.Millisecond {
			p.draw()
		}
		return
	}
	if t := p.done * 10 / max(p.total, 1); t > p.tenth {
		p.tenth = t
		fmt.Fprintf(p.w, "quarry embed: %d/%d records (%d%%), %.0f/s\n", p.done, p.total, p.done*100/max(p.total, 1), p.rate())
	}
}

func (p *progress) rate() float64 {
	s := time.Since(p.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.done-p.resumed) / s
}

// draw redraws the bar: [#####-----] done/total pct rate.
func (p *progress) draw() {
	p.drawn = time.Now()
	const width = 30
	filled := p.done * width / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %3d%% %.0f/s ", strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		p.done, p.total, p.done*100/max(p.total, 1), p.rate())
}

func (p *progress) finish() {
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
