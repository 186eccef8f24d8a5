package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The streams benchmark (issue 20): N concurrent slow streams held open
// through the gateway, and what holding them costs the gateway process.
//
// The emulator runs in its own process (so that its memory and goroutines
// are not counted), with a latency config that makes every stream slow:
// streamGap between events and up to streamTokens tokens (the emulator's
// reply to the benchmark prompt: about 40 events, 20 s), like a long answer.
// For each upstream set-up (plain HTTP/1.1, TLS with HTTP/1.1 forced, TLS
// negotiating HTTP/2) a fresh gateway is started; for each N and each API
// surface (-surfaces: OpenAI chat completions, Anthropic Messages, OpenAI
// Responses with store off), the load generator opens N streams (in
// batches, so that the ramp does not look like a flood), waits until every
// one has its first event, lets
// the gateway settle, and samples its VmRSS and RssFile (/proc/PID/status),
// the Go heap live after the last GC, the goroutine stacks and the
// goroutine count (its /metrics: go_gc_heap_live_bytes,
// go_memstats_stack_inuse_bytes, go_goroutines). Then it closes the streams and
// waits for the gateway to drop back before the next N.
//
// The gateway runs from a copy of the binary made past the page cache, so
// that it shares no executable pages with the emulator and starts cold, as
// a gateway in a fresh container does. With -memory-limit it runs in a
// memory cgroup of that size (what a container's limit is), and the rows
// add the cgroup's usage, its peak and the OOM kills.

const (
	streamGap    = 500 * time.Millisecond
	streamTokens = 200
)

const streamsEmulatorConfig = `latency: {first_token: 50ms, between_tokens: %s}
`

// upstreamSetup is how the gateway reaches the emulator.
type upstreamSetup struct {
	name      string
	tls       bool
	http1Only bool
}

var upstreamSetups = map[string]upstreamSetup{
	"plain-h1": {"plain HTTP/1.1", false, true},
	"tls-h1":   {"TLS, HTTP/1.1 forced", true, true},
	"tls-h2":   {"TLS, HTTP/2", true, false},
}

// streamSurfaces are the surfaces -surfaces names, each streaming the same
// workload (responses with store off: a stored response would add the
// store's work to the stream's).
var streamSurfaces = map[string]struct {
	label string
	s     surface
}{
	"chat":      {"chat completions", openAISurface},
	"messages":  {"Messages", messagesSurface},
	"claude":    {"Messages, Claude (native)", messagesClaudeSurface},
	"responses": {"Responses", responsesSurface(false)},
}

// streamSurface is the surface -surfaces names, its prompt padded to
// about kib KiB (0: as it is) with text before the benchmark prompt.
func streamSurface(name string, kib int) surface {
	s := streamSurfaces[name].s
	if kib > 0 {
		pad := strings.Repeat("All work and no play makes Jack a dull boy. ", kib<<10/44)
		s.streamBody = strings.Replace(cmp.Or(s.streamBody, chatStreamBody), prompt, pad+prompt, 1)
	}
	return s
}

func streamsBench(o options, dir, bin string) error {
	fmt.Printf("### Open streams (events %v apart; gateway and emulator in separate processes)\n\n", streamGap)
	if o.promptKiB > 0 {
		fmt.Printf("Each stream's prompt is padded to about %d KiB.\n\n", o.promptKiB)
	}
	head, rule := "| Surface | Clients | Upstream | Streams | Gateway RSS MiB | of which file-backed MiB | RSS above idle, KiB/stream | Go heap live MiB | Heap KiB/stream | Goroutine stacks MiB | Goroutines | Goroutines/stream above idle | Open time s | Errors |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	if o.memLimit > 0 {
		fmt.Printf("The gateway runs in a memory cgroup limited to %d MiB.\n\n", o.memLimit>>20)
		head, rule = head+" cgroup usage MiB | cgroup peak MiB | OOM kills |", rule+"---:|---:|---:|"
	}
	fmt.Println(head)
	fmt.Println(rule)
	for _, name := range o.surfaces {
		if _, ok := streamSurfaces[name]; !ok {
			return fmt.Errorf("unknown surface %q (chat, messages, claude, responses)", name)
		}
	}
	for _, client := range o.clients {
		if client != "h1" && client != "h2c" {
			return fmt.Errorf("unknown client protocol %q (h1, h2c)", client)
		}
		for _, key := range o.upstreams {
			setup, ok := upstreamSetups[key]
			if !ok {
				return fmt.Errorf("unknown upstream %q (plain-h1, tls-h1, tls-h2)", key)
			}
			if err := streamsRows(o, dir, bin, client, setup); err != nil {
				return err
			}
		}
	}
	fmt.Println()
	return nil
}

// streamsRows starts an emulator and a gateway for one upstream set-up and
// measures every N.
func streamsRows(o options, dir, bin, client string, setup upstreamSetup) error {
	tag := strings.NewReplacer(" ", "", ",", "-", "/", "").Replace(setup.name)
	emuCfg := filepath.Join(dir, "streams-emulator.yaml")
	if err := os.WriteFile(emuCfg, fmt.Appendf(nil, streamsEmulatorConfig, streamGap), 0o600); err != nil {
		return err
	}
	emuAddr, err := freePort()
	if err != nil {
		return err
	}
	args := []string{bin, "emulate", "--addr", emuAddr, "--config", emuCfg}
	var gwEnv []string
	emuURL := "http://" + emuAddr
	if setup.tls {
		tlsDir := filepath.Join(dir, "tls-"+tag)
		args = append(args, "--tls-dir", tlsDir)
		emuURL = "https://" + emuAddr
		gwEnv = append(gwEnv, "AWS_CA_BUNDLE="+filepath.Join(tlsDir, "ca.pem"))
	}
	emu, err := startAt(dir, "streams-emulator-"+tag, emuURL, "/", nil, args...)
	if err != nil {
		return err
	}
	defer emu.stop()
	// log_level warn: a thousand stream lines a second would be the
	// gateway's main work.
	keys := fmt.Sprintf("  upstream_http2: %v\n", !setup.http1Only)
	gwName := "streams-gateway-" + client + "-" + tag
	gwAddr, argv, err := gatewayArgs(dir, bin, gwName, emuURL, "warn", keys)
	if err != nil {
		return err
	}
	// The gateway runs from a copy of its own, as in production, where
	// no other process maps its executable (here the emulator would).
	argv[0] = filepath.Join(dir, gwName+".bin")
	if err := coldCopy(bin, argv[0]); err != nil {
		return err
	}
	var cg *memCgroup
	if o.memLimit > 0 {
		if cg, err = newMemCgroup(fmt.Sprintf("quarry-bench-%d-%s-%s", os.Getpid(), client, tag), o.memLimit); err != nil {
			return err
		}
		defer cg.remove()
		argv = cg.wrap(argv)
	}
	gw, err := start(dir, gwName, gwAddr, "/health", gwEnv, argv...)
	if err != nil {
		return err
	}
	defer gw.stop()
	// h1: one HTTP/1.1 connection per stream, as most SDKs; h2c: HTTP/2
	// with prior knowledge, as a proxy in front of the gateway would.
	tr := &http.Transport{MaxIdleConns: 0, MaxIdleConnsPerHost: 1 << 16, IdleConnTimeout: time.Minute}
	if client == "h2c" {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	httpc := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	// One stream on each surface, read to its end, warms the gateway up
	// and says how long the streams last; the idle figures follow.
	var life time.Duration
	for _, name := range o.surfaces {
		w0 := time.Now()
		_, events, err := oneStream(context.Background(), httpc, gw.url, streamSurface(name, o.promptKiB), make(chan struct{}, 1))
		if err != nil {
			return fmt.Errorf("warm-up stream (%s): %w", name, err)
		}
		if d := time.Since(w0); life == 0 || d < life {
			life = d
		}
		fmt.Fprintf(os.Stderr, "bench: %s, clients %s, %s: a stream has %d events and lasts %v\n", setup.name, client, name, events, time.Since(w0).Round(100*time.Millisecond))
	}
	time.Sleep(time.Second)
	r := streamsRun{o: o, httpc: httpc, tr: tr, gw: gw, cg: cg, client: client, setup: setup, idleRSS: gw.rssKiB(),
		idleGoroutines: gatewayMetrics(httpc, gw.url).goroutines, life: life}
	for _, n := range o.streams {
		for _, name := range o.surfaces {
			if err := r.row(name, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// coldCopy copies the executable bin to dst bypassing the page cache
// (dd's O_DIRECT): the gateway started from it shares no executable pages
// with another process, and reads them afresh, charged to its own cgroup
// under -memory-limit, as in a container just started (a binary already
// cached is charged to whoever read it first).
func coldCopy(bin, dst string) error {
	out, err := exec.Command("dd", "if="+bin, "of="+dst, "bs=1M", "oflag=direct").CombinedOutput()
	if err != nil {
		return fmt.Errorf("cold copy of the binary: %v: %s", err, out)
	}
	return os.Chmod(dst, 0o755)
}

// streamsRun is one gateway's rows: its clients, upstream set-up, idle RSS
// and how long the shortest warm-up stream lasted.
type streamsRun struct {
	o       options
	httpc   *http.Client
	tr      *http.Transport
	gw      *proc
	cg      *memCgroup // nil without -memory-limit
	client  string
	setup   upstreamSetup
	idleRSS int64
	// idleGoroutines are the gateway's own (its pacer, usage writer,
	// listeners) and the warm-up's connections'.
	idleGoroutines int64
	life           time.Duration
}

// row holds n streams on surface name and prints what they cost.
func (r streamsRun) row(name string, n int) error {
	o, gw := r.o, r.gw
	var rss, rssFile, cgUsage int64
	var m gwMetrics
	t0 := time.Now()
	var opened time.Duration
	err := holdStreams(r.httpc, gw.url, streamSurface(name, o.promptKiB), n, o.settle, func() {
		opened = time.Since(t0) - o.settle
		rss, rssFile, m = gw.rssKiB(), gw.statusKiB("RssFile:"), gatewayMetrics(r.httpc, gw.url)
		if r.cg != nil {
			cgUsage = r.cg.usage()
		}
	})
	if life := r.life; opened+o.settle > life {
		fmt.Fprintf(os.Stderr, "bench: %d streams took %v to open and settle, longer than a stream lasts (%v): the first had ended when sampled\n", n, (opened + o.settle).Round(100*time.Millisecond), life.Round(100*time.Millisecond))
	}
	errs := 0
	var se *streamsError
	if errors.As(err, &se) {
		errs = se.failed
		fmt.Fprintln(os.Stderr, "bench: first stream error:", se.first)
	} else if err != nil {
		return err
	}
	per := func(v, base float64) string { return fmt.Sprintf("%.1f", (v-base)/float64(n)) }
	fmt.Printf("| %s | %s | %s | %d | %.1f | %.1f | %s | %.1f | %.1f | %.1f | %d | %.2f | %.1f | %d |", streamSurfaces[name].label, r.client, r.setup.name, n,
		float64(rss)/1024, float64(rssFile)/1024, per(float64(rss), float64(r.idleRSS)), float64(m.heapLive)/(1<<20), float64(m.heapLive)/1024/float64(n),
		float64(m.stacks)/(1<<20), m.goroutines, float64(m.goroutines-r.idleGoroutines)/float64(n), opened.Seconds(), errs)
	if r.cg != nil {
		// The peak is the cgroup's since the gateway started: this row's
		// or an earlier one's.
		fmt.Printf(" %.1f | %.1f | %d |", float64(cgUsage)/(1<<20), float64(r.cg.peak())/(1<<20), r.cg.oomKills())
	}
	fmt.Println()
	// Let the closed streams drain from the gateway before the next row.
	r.tr.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	return nil
}

// startAt is start for a server at url, http:// or https:// (start polls
// with plain HTTP, which Go's TLS listener answers with a 400: ready).
func startAt(dir, name, url, path string, env []string, argv ...string) (*proc, error) {
	addr := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	p, err := start(dir, name, addr, path, env, argv...)
	if p != nil {
		p.url = url
	}
	return p, err
}

type gwMetrics struct {
	heapLive   int64
	stacks     int64
	goroutines int64
}

// gatewayMetrics reads go_gc_heap_live_bytes, go_memstats_stack_inuse_bytes
// and go_goroutines from the gateway's /metrics (-1 when absent).
func gatewayMetrics(c *http.Client, base string) gwMetrics {
	m := gwMetrics{-1, -1, -1}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_gc_heap_live_bytes":
			m.heapLive = int64(f)
		case "go_memstats_stack_inuse_bytes":
			m.stacks = int64(f)
		case "go_goroutines":
			m.goroutines = int64(f)
		}
	}
	return m
}

type streamsError struct {
	failed int
	first  error
}

func (e *streamsError) Error() string { return fmt.Sprintf("%d streams failed: %v", e.failed, e.first) }

// holdStreams opens n streams on surface sf through the gateway, 100 at a time,
// waits until each has had its first event, waits settle, calls sample,
// and then closes them all.
func holdStreams(c *http.Client, base string, sf surface, n int, settle time.Duration, sample func()) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		wg      sync.WaitGroup
		failed  atomic.Int64
		firstMu sync.Mutex
		first   error
	)
	fail := func(err error) {
		failed.Add(1)
		firstMu.Lock()
		if first == nil {
			first = err
		}
		firstMu.Unlock()
	}
	started := make(chan struct{}, n)
	const batch = 100
	for i := 0; i < n; i++ {
		if i > 0 && i%batch == 0 {
			time.Sleep(50 * time.Millisecond)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			signalled, _, err := oneStream(ctx, c, base, sf, started)
			if err != nil && ctx.Err() == nil {
				fail(err)
			}
			if !signalled {
				started <- struct{}{}
			}
		}()
	}
	for range n {
		select {
		case <-started:
		case <-time.After(2 * time.Minute):
			return fmt.Errorf("streams did not all start within 2 minutes")
		}
	}
	time.Sleep(settle)
	sample()
	cancel()
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return &streamsError{int(f), first}
	}
	return nil
}

// oneStream sends a stream on surface sf and reports on started when its
// first data line arrives (signalled); then it reads until the end (or
// until ctx ends), counting the data lines.
func oneStream(ctx context.Context, c *http.Client, base string, sf surface, started chan<- struct{}) (signalled bool, events int, err error) {
	body := cmp.Or(sf.streamBody, chatStreamBody)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+sf.path, strings.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return false, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, 0, fmt.Errorf("status %d: %s", resp.StatusCode, msg)
	}
	br := bufio.NewReaderSize(resp.Body, 4<<10)
	for {
		line, err := br.ReadSlice('\n')
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			events++
			if !signalled {
				signalled = true
				started <- struct{}{}
			}
			if sf.done(data) {
				return signalled, events, nil
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if errors.Is(err, io.EOF) {
			return signalled, events, errors.New("stream ended without its last event")
		}
		if err != nil {
			return signalled, events, err
		}
	}
}
