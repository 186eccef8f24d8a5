// Command soak runs the quick start under N minutes of mixed load and fails
// if the gateway leaks: it samples resident memory, goroutines, open file
// descriptors and error counts every interval, and judges whether any grows
// without bound. It is a developer tool, not part of the quarry binary.
// From the repository root:
//
//	go run ./tools/soak                          # 10 minutes, 10 s samples
//	go run ./tools/soak -duration 1m -workers 4  # a short check
//
// The gateway runs in this process (server.New on the quick-start config,
// its endpoint store in a temporary directory, on a loopback port), so that
// goroutines can be counted; RSS and descriptors are this process's
// (/proc/self), the load generator's share being constant. The load mixes
// chat completions (plain and streamed), streams the client abandons half
// way, embeddings (Titan and Cohere batches), image generation, model
// listings, /_inference endpoints created, used and deleted, and malformed
// requests that must get a 4xx. Any transport error or 5xx fails the run,
// as does growth: after a warm-up, a metric whose last samples exceed the
// highest of the first samples by more than its allowance.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/server"
)

func main() {
	duration := flag.Duration("duration", 10*time.Minute, "how long to run the load")
	interval := flag.Duration("interval", 10*time.Second, "sampling interval")
	workers := flag.Int("workers", 8, "concurrent clients")
	cfgPath := flag.String("config", "examples/quickstart.yaml", "gateway config (the quick start)")
	flag.Parse()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if err := run(*cfgPath, *duration, *interval, *workers, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// counters are what the load saw.
type counters struct {
	requests, transport, status5xx, unexpected atomic.Int64
}

// sample is one reading.
type sample struct {
	at                        time.Duration
	rssKiB, goroutines, fds   int64
	requests, errors, status5 int64
}

func run(cfgPath string, duration, interval time.Duration, workers int, out io.Writer) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "quarry-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg.Store.Path = filepath.Join(dir, "endpoints.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := server.New(ctx, cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	var c counters
	l := &load{base: base, c: &c, client: &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers * 2, IdleConnTimeout: 30 * time.Second}}}
	lctx, stop := context.WithTimeout(ctx, duration)
	defer stop()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { l.worker(lctx, uint64(i)) })
	}

	start := time.Now()
	var samples []sample
	fmt.Fprintf(out, "soak: %d workers for %v against %s, a sample every %v\n", workers, duration, base, interval)
	fmt.Fprintf(out, "%8s %10s %10s %6s %10s %8s %6s\n", "time", "rss_kib", "goroutines", "fds", "requests", "errors", "5xx")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	take := func() {
		s := sample{at: time.Since(start).Round(time.Second), rssKiB: rssKiB(), goroutines: int64(runtime.NumGoroutine()), fds: openFDs(),
			requests: c.requests.Load(), errors: c.transport.Load() + c.unexpected.Load(), status5: c.status5xx.Load()}
		samples = append(samples, s)
		fmt.Fprintf(out, "%8v %10d %10d %6d %10d %8d %6d\n", s.at, s.rssKiB, s.goroutines, s.fds, s.requests, s.errors, s.status5)
	}
loop:
	for {
		select {
		case <-tick.C:
			take()
		case <-lctx.Done():
			break loop
		}
	}
	wg.Wait()
	l.client.CloseIdleConnections()
	take()
	cancel()
	if err := <-served; err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return judge(samples, &c, l.firstError())
}

// allowance is how far a metric may rise above its early peak: room for
// caches and pools that fill once, not for a leak that keeps growing.
var allowance = map[string]struct {
	abs  int64
	frac float64
}{
	"rss_kib":    {abs: 64 << 10, frac: 0.5},
	"goroutines": {abs: 64, frac: 0.5},
	"fds":        {abs: 32, frac: 0.5},
}

// maxRSSSlope bounds how fast RSS may keep rising after the warm-up, in
// KiB a minute.
const maxRSSSlope = 1024

// slope is the least-squares slope of get over ss, per minute.
func slope(ss []sample, get func(sample) int64) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, s := range ss {
		x, y := s.at.Minutes(), float64(get(s))
		n, sx, sy, sxx, sxy = n+1, sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if d := n*sxx - sx*sx; d != 0 {
		return (n*sxy - sx*sy) / d
	}
	return 0
}

// judge fails the run on any transport error, 5xx or unexpected answer,
// and on a metric whose last third of samples (after a warm-up of the
// first one) rises above the first third's peak by more than its
// allowance.
func judge(samples []sample, c *counters, firstErr string) error {
	var problems []string
	if n := c.transport.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d transport errors (first: %s)", n, firstErr))
	}
	if n := c.status5xx.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d 5xx answers (first: %s)", n, firstErr))
	}
	if n := c.unexpected.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d unexpected answers (first: %s)", n, firstErr))
	}
	if len(samples) >= 4 {
		body := samples[1:]
		third := max(1, len(body)/3)
		early, late := body[:third], body[len(body)-third:]
		for _, m := range []struct {
			name string
			get  func(sample) int64
		}{
			{"rss_kib", func(s sample) int64 { return s.rssKiB }},
			{"goroutines", func(s sample) int64 { return s.goroutines }},
			{"fds", func(s sample) int64 { return s.fds }},
		} {
			var peak, lateMin int64 = 0, 1 << 62
			for _, s := range early {
				peak = max(peak, m.get(s))
			}
			for _, s := range late {
				lateMin = min(lateMin, m.get(s))
			}
			a := allowance[m.name]
			if limit := peak + max(a.abs, int64(float64(peak)*a.frac)); lateMin > limit {
				problems = append(problems, fmt.Sprintf("%s grows: early peak %d, late minimum %d (allowed up to %d)", m.name, peak, lateMin, limit))
			}
		}
		// A slow leak stays within the allowance over ten minutes (the
		// first soak's RSS rose 2 MiB a minute and passed): past the first
		// third, RSS must also not keep rising.
		if k := slope(body[third:], func(s sample) int64 { return s.rssKiB }); k > maxRSSSlope {
			problems = append(problems, fmt.Sprintf("rss_kib grows %.0f KiB a minute after the warm-up (allowed %d)", k, maxRSSSlope))
		}
	} else {
		problems = append(problems, "too few samples to judge growth: run longer than 4 intervals")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Printf("soak: ok: %d requests, no transport errors, no 5xx, nothing grows\n", c.requests.Load())
	return nil
}

// load is the mixed workload.
type load struct {
	base     string
	c        *counters
	client   *http.Client
	errMu    sync.Mutex
	firstErr string
}

func (l *load) recordErr(kind *atomic.Int64, msg string) {
	kind.Add(1)
	l.errMu.Lock()
	if l.firstErr == "" {
		l.firstErr = msg
	}
	l.errMu.Unlock()
}

func (l *load) firstError() string {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.firstErr
}

// do sends a request and checks its status is want (0: any 2xx); body is
// read to the end unless abandon, which reads one line and hangs up.
func (l *load) do(ctx context.Context, method, path, body string, want int, abandon bool) {
	l.c.requests.Add(1)
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		l.recordErr(&l.c.unexpected, err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.recordErr(&l.c.transport, method+" "+path+": "+err.Error())
		}
		return
	}
	defer resp.Body.Close()
	if abandon {
		bufio.NewReader(resp.Body).ReadString('\n')
		return
	}
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil && ctx.Err() == nil:
		l.recordErr(&l.c.transport, method+" "+path+": reading: "+err.Error())
	case resp.StatusCode >= 500:
		l.recordErr(&l.c.status5xx, fmt.Sprintf("%s %s: %d %.200s", method, path, resp.StatusCode, b))
	case want == 0 && resp.StatusCode/100 != 2, want != 0 && resp.StatusCode != want:
		l.recordErr(&l.c.unexpected, fmt.Sprintf("%s %s: %d %.200s", method, path, resp.StatusCode, b))
	}
}

func (l *load) worker(ctx context.Context, id uint64) {
	rng := rand.New(rand.NewPCG(id, 0x50a4))
	models := []string{"nova-lite", "claude-sonnet", "nova-micro"}
	for n := 0; ctx.Err() == nil; n++ {
		model := models[rng.IntN(len(models))]
		msg := `"messages":[{"role":"user","content":"soak ` + strconv.Itoa(n) + ` tell me about rivers"}]`
		switch k := rng.IntN(100); {
		case k < 30:
			l.do(ctx, "POST", "/v1/chat/completions", `{"model":"`+model+`","max_tokens":64,`+msg+`}`, 0, false)
		case k < 50:
			l.do(ctx, "POST", "/v1/chat/completions", `{"model":"`+model+`","stream":true,"max_tokens":64,`+msg+`}`, 0, false)
		case k < 55:
			l.do(ctx, "POST", "/v1/chat/completions", `{"model":"`+model+`","stream":true,"max_tokens":400,`+msg+`}`, 0, true)
		case k < 70:
			in := make([]string, 1+rng.IntN(8))
			for i := range in {
				in[i] = `"passage ` + strconv.Itoa(n*10+i) + `"`
			}
			emb := []string{"titan-embed", "cohere-embed"}[rng.IntN(2)]
			l.do(ctx, "POST", "/v1/embeddings", `{"model":"`+emb+`","input":[`+strings.Join(in, ",")+`]}`, 0, false)
		case k < 73:
			l.do(ctx, "POST", "/v1/images/generations", `{"model":"nova-canvas","prompt":"a lighthouse","size":"512x512"}`, 0, false)
		case k < 78:
			l.do(ctx, "GET", "/v1/models", "", 0, false)
		case k < 88:
			ep := fmt.Sprintf("soak-%d-%d", id, n)
			l.do(ctx, "PUT", "/_inference/text_embedding/"+ep, `{"service":"amazonbedrock","service_settings":{"access_key":"AKIASOAKEXAMPLE",`+
				`"secret_key":"soak-secret","region":"us-east-1","provider":"amazontitan","model":"amazon.titan-embed-text-v2:0"}}`, 0, false)
			l.do(ctx, "POST", "/_inference/text_embedding/"+ep, `{"input":["a","b"]}`, 0, false)
			l.do(ctx, "DELETE", "/_inference/"+ep, "", 0, false)
		default:
			bad := []struct{ path, body string }{
				{"/v1/chat/completions", `{"model":`},
				{"/v1/chat/completions", `{"model":"nova-lite","messages":"hi"}`},
				{"/v1/embeddings", `{"model":"titan-embed","input":[]}`},
				{"/v1/images/generations", `{"model":"nova-canvas","prompt":""}`},
				{"/_inference/text_embedding/none", `{"input":"x"}`},
			}[rng.IntN(5)]
			l.doBad(ctx, bad.path, bad.body)
		}
	}
}

// doBad sends a malformed request: any 4xx is right.
func (l *load) doBad(ctx context.Context, path, body string) {
	l.c.requests.Add(1)
	req, _ := http.NewRequestWithContext(ctx, "POST", l.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.recordErr(&l.c.transport, path+": "+err.Error())
		}
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		l.recordErr(&l.c.status5xx, fmt.Sprintf("%s: %d %.200s", path, resp.StatusCode, b))
	} else if resp.StatusCode/100 != 4 {
		l.recordErr(&l.c.unexpected, fmt.Sprintf("malformed %s: %d, want a 4xx", path, resp.StatusCode))
	}
}

// rssKiB is this process's resident set (Linux), or 0.
func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// openFDs counts this process's open descriptors (Linux), or 0.
func openFDs() int64 {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return int64(len(ents))
}
