// Command bench measures Quarry's emulator and gateway on this machine and
// prints markdown tables (docs/benchmarks.md). It is a developer tool, not
// part of the quarry binary. From the repository root:
//
//	go run ./tools/bench                      # both benchmarks
//	go run ./tools/bench -mode emulator       # issue 4: emulator throughput
//	go run ./tools/bench -mode gateway        # issue 5: gateway overhead
//
// It builds ./cmd/quarry once, starts `quarry emulate` (and, for the gateway
// benchmark, `quarry serve` with a generated config whose model points at
// that emulator through endpoint_url) as separate processes on loopback
// ports, drives them for a fixed duration per cell, and stops them. All
// traffic stays on 127.0.0.1.
//
// Emulator mode: the emulator runs with GOMAXPROCS=1 pinned to CPU 0 (when
// taskset exists and there are at least two CPUs) and the load generator
// re-executes itself pinned to CPU 1, so that the two do not share a core.
// The load generator is wrk-like: one goroutine per keep-alive connection,
// each writing a pre-built request and parsing the response with
// http.ReadResponse (no net/http Transport), so that it is not the
// bottleneck. It measures unsigned requests (--no-auth) and SigV4-signed ones
// (a request signed once by bedrock.Client and replayed; the emulator
// verifies the signature every time).
//
// Gateway mode: load generator, gateway and emulator share the machine
// (no pinning, default GOMAXPROCS). The same workload goes (a) straight to
// the emulator as a SigV4-signed Converse/ConverseStream request made by
// bedrock.Client (what a Go client of Bedrock does), and (b) to the gateway
// as an OpenAI chat completion made with net/http and decoded with
// encoding/json (what an OpenAI client does), the gateway then signing its
// own request to the emulator. Added latency is gateway minus direct.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
)

const (
	modelID  = "amazon.nova-lite-v1:0"
	prompt   = "Explain how solar panels convert sunlight into electricity"
	maxToks  = 200
	childEnv = "QUARRY_BENCH_PINNED"
	proxyEnv = "QUARRY_BENCH_PROXY" // "listen-address target-URL": run as the floor proxy
)

type options struct {
	mode     string
	duration time.Duration
	warmup   time.Duration
	conc     []int
	emuConc  []int
	pin      bool
	keep     bool
}

func main() {
	if v := os.Getenv(proxyEnv); v != "" {
		listen, target, _ := strings.Cut(v, " ")
		fmt.Fprintln(os.Stderr, "bench proxy:", runProxy(listen, target))
		os.Exit(1)
	}
	var o options
	var conc, emuConc string
	flag.StringVar(&o.mode, "mode", "all", "all, emulator or gateway")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per table row")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before each row")
	flag.StringVar(&conc, "conc", "1,8,64", "gateway mode: concurrency levels (comma-separated)")
	flag.StringVar(&emuConc, "emu-conns", "16,64", "emulator mode: keep-alive connections (comma-separated)")
	flag.BoolVar(&o.pin, "pin", true, "emulator mode: pin the emulator to CPU 0 and the load generator to CPU 1 (taskset)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, configs, logs)")
	flag.Parse()
	var err error
	if o.conc, err = intList(conc); err == nil {
		o.emuConc, err = intList(emuConc)
	}
	if err != nil || (o.mode != "all" && o.mode != "emulator" && o.mode != "gateway") || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "bench: bad flags (see -h)")
		os.Exit(2)
	}
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if o.mode != "gateway" && o.pin && canPin() && os.Getenv(childEnv) == "" {
		// Re-execute on CPU 1; the emulator gets CPU 0.
		self, err := os.Executable()
		if err == nil {
			args := append([]string{"taskset", "-c", "1", self}, os.Args[1:]...)
			tp, _ := exec.LookPath("taskset")
			err = syscall.Exec(tp, args, append(os.Environ(), childEnv+"=1"))
		}
		fmt.Fprintln(os.Stderr, "bench: could not pin the load generator:", err)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func canPin() bool {
	_, err := exec.LookPath("taskset")
	return err == nil && runtime.NumCPU() >= 2
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "quarry-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "bench: files in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := filepath.Join(dir, "quarry")
	fmt.Fprintln(os.Stderr, "bench: go build ./cmd/quarry")
	build := exec.Command("go", "build", "-o", bin, "./cmd/quarry")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building ./cmd/quarry (run from the repository root): %w", err)
	}
	printMachine()
	if o.mode != "gateway" {
		if err := emulatorBench(o, dir, bin); err != nil {
			return err
		}
	}
	if o.mode != "emulator" {
		if err := gatewayBench(o, dir, bin); err != nil {
			return err
		}
	}
	return nil
}

func printMachine() {
	cpu := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(l[strings.Index(l, ":")+1:])
				break
			}
		}
	}
	n := 0
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n = strings.Count(string(data), "\nprocessor") + strings.Count(string(data[:min(len(data), 9)]), "processor")
	}
	load1 := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load1 = ", load average before the run: " + strings.Join(strings.Fields(string(data))[:3], " ")
	}
	fmt.Printf("Machine: %d CPUs (%s), %s %s/%s%s\n\n", n, cpu, runtime.Version(), runtime.GOOS, runtime.GOARCH, load1)
}

// ---- processes ----

type proc struct {
	cmd *exec.Cmd
	url string
	log string
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs argv (with extra env), logging to dir/name.log, and waits until
// addr answers path with 2xx-4xx.
func start(dir, name, addr, path string, env []string, argv ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	lf.Close()
	p := &proc{cmd: cmd, url: "http://" + addr, log: logPath}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return p, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	out, _ := os.ReadFile(logPath)
	return nil, fmt.Errorf("%s did not start on %s:\n%s", name, addr, out)
}

func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// rssKiB is the process's resident set size (VmRSS) in KiB.
func (p *proc) rssKiB() int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return -1
}

// cpuTime is the process's user+system CPU time so far.
func (p *proc) cpuTime() time.Duration { return cpuOf(p.cmd.Process.Pid) }

// cpuOf is a process's user+system CPU time so far (from /proc/PID/stat, in
// clock ticks of 10 ms on Linux), -1 if it cannot be read.
func cpuOf(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// ---- results ----

type result struct {
	n, errs   int
	elapsed   time.Duration
	lat, ttft []time.Duration
	events    int
	firstErr  error
}

func (r *result) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d)-1) * p)
	return d[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/1e6) }

// worker is one closed-loop client: it returns one request's latency and
// time to first token (0 when not streaming), the number of events, or an
// error.
type worker func(ctx context.Context) (lat, ttft time.Duration, events int, err error)

// load runs conc workers for warmup+duration and records the requests that
// started after the warm-up and finished before the end.
func load(conc int, warmup, duration time.Duration, newWorker func() worker) *result {
	var mu sync.Mutex
	total := &result{}
	ctx, cancel := context.WithTimeout(context.Background(), warmup+duration+30*time.Second)
	defer cancel()
	t0 := time.Now()
	measureFrom, measureTo := t0.Add(warmup), t0.Add(warmup+duration)
	var wg sync.WaitGroup
	for range conc {
		w := newWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := result{lat: make([]time.Duration, 0, 1<<14)}
			for {
				start := time.Now()
				if start.After(measureTo) {
					break
				}
				lat, ttft, ev, err := w(ctx)
				end := start.Add(lat)
				if start.Before(measureFrom) || end.After(measureTo) {
					if err != nil && !start.Before(measureFrom) {
						r.errs++
					}
					continue
				}
				if err != nil {
					r.errs++
					if r.firstErr == nil {
						r.firstErr = err
					}
					time.Sleep(time.Millisecond)
					continue
				}
				r.n++
				r.events += ev
				r.lat = append(r.lat, lat)
				if ttft > 0 {
					r.ttft = append(r.ttft, ttft)
				}
			}
			mu.Lock()
			total.n += r.n
			total.errs += r.errs
			total.events += r.events
			total.lat = append(total.lat, r.lat...)
			total.ttft = append(total.ttft, r.ttft...)
			if total.firstErr == nil {
				total.firstErr = r.firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.elapsed = duration
	return total
}

// ---- emulator benchmark (issue 4) ----

func emulatorBench(o options, dir, bin string) error {
	pinned := os.Getenv(childEnv) != ""
	var layout string
	if pinned {
		layout = "emulator: own process, GOMAXPROCS=1, pinned to CPU 0; load generator: own process pinned to CPU 1"
	} else {
		layout = "emulator: own process, GOMAXPROCS=1 (not pinned); load generator: own process"
	}
	fmt.Printf("### Emulator throughput (%s)\n\n", layout)
	fmt.Println("| Workload | Auth | Connections | Requests/s | Events/s | p50 ms | p99 ms | Emulator CPU µs/request | Emulator CPU busy | Errors |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, auth := range []bool{false, true} {
		addr, err := freePort()
		if err != nil {
			return err
		}
		argv := []string{bin, "emulate", "--addr", addr}
		if !auth {
			argv = append(argv, "--no-auth")
		}
		if pinned {
			argv = append([]string{"taskset", "-c", "0"}, argv...)
		}
		name := "emulator-noauth"
		if auth {
			name = "emulator-sigv4"
		}
		p, err := start(dir, name, addr, "/", []string{"GOMAXPROCS=1"}, argv...)
		if err != nil {
			return err
		}
		for _, stream := range []bool{false, true} {
			raw, err := rawRequest(p.url, auth, stream)
			if err != nil {
				p.stop()
				return err
			}
			for _, c := range o.emuConc {
				// Warm up separately so that the emulator's CPU time covers
				// exactly the measured interval (approximately: the
				// in-flight requests at both ends are a rounding error).
				load(c, 0, o.warmup, func() worker { return rawWorker(addr, raw, stream) })
				cpu0 := p.cpuTime()
				r := load(c, 0, o.duration, func() worker { return rawWorker(addr, raw, stream) })
				cpu := p.cpuTime() - cpu0
				wl, ev := "Converse", "–"
				if stream {
					wl = "ConverseStream"
					ev = fmt.Sprintf("%.0f", float64(r.events)/r.elapsed.Seconds())
				}
				an := "none (--no-auth)"
				if auth {
					an = "SigV4 verified"
				}
				fmt.Printf("| %s | %s | %d | %.0f | %s | %s | %s | %.1f | %.0f%% | %d |\n", wl, an, c, r.rps(), ev, ms(pct(r.lat, 0.5)), ms(pct(r.lat, 0.99)),
					float64(cpu)/1e3/float64(max(r.n, 1)), 100*cpu.Seconds()/o.duration.Seconds(), r.errs)
				if r.firstErr != nil {
					fmt.Fprintln(os.Stderr, "bench: first error:", r.firstErr)
				}
			}
		}
		p.stop()
	}
	fmt.Println()
	return nil
}

// rawRequest is the HTTP/1.1 request bytes for a Converse(Stream) call to
// the emulator: unsigned, or signed once by bedrock.Client.
func rawRequest(base string, signed, stream bool) ([]byte, error) {
	c, err := bedrock.New(context.Background(), bedrock.Config{Region: "us-east-1", Endpoint: base,
		AccessKeyID: "test", SecretAccessKey: "test"})
	if err != nil {
		return nil, err
	}
	req := converseRequest()
	var sr *bedrock.SignedRequest
	if stream {
		sr, err = c.SignConverseStream(context.Background(), modelID, req)
	} else {
		sr, err = c.SignConverse(context.Background(), modelID, req)
	}
	if err != nil {
		return nil, err
	}
	u, err := http.NewRequest(sr.Method, sr.URL, nil)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", sr.Method, u.URL.RequestURI(), u.URL.Host)
	for k, v := range sr.Headers {
		if !signed && (k == "Authorization" || strings.HasPrefix(k, "X-Amz-")) {
			continue
		}
		if k == "Host" {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	fmt.Fprintf(&b, "\r\n%s", sr.Body)
	return b.Bytes(), nil
}

func converseRequest() *bedrock.ConverseRequest {
	n := maxToks
	return &bedrock.ConverseRequest{
		Messages:        []bedrock.Message{{Role: bedrock.RoleUser, Content: []bedrock.ContentBlock{{Text: prompt}}}},
		InferenceConfig: &bedrock.InferenceConfig{MaxTokens: &n},
	}
}

// rawWorker sends raw on one keep-alive connection and parses each response
// with http.ReadResponse; for streams it counts event-stream frames.
func rawWorker(addr string, raw []byte, stream bool) worker {
	var conn net.Conn
	var br *bufio.Reader
	buf := make([]byte, 32<<10)
	return func(ctx context.Context) (time.Duration, time.Duration, int, error) {
		start := time.Now()
		if conn == nil {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return time.Since(start), 0, 0, err
			}
			conn, br = c, bufio.NewReaderSize(c, 32<<10)
		}
		fail := func(err error) (time.Duration, time.Duration, int, error) {
			conn.Close()
			conn = nil
			return time.Since(start), 0, 0, err
		}
		if _, err := conn.Write(raw); err != nil {
			return fail(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return fail(err)
		}
		events, ttft := 0, time.Duration(0)
		if stream {
			// Walk frames by their length prefixes.
			var pre [4]byte
			for {
				if _, err := io.ReadFull(resp.Body, pre[:]); err != nil {
					if err == io.EOF {
						break
					}
					return fail(err)
				}
				if events == 0 {
					ttft = time.Since(start)
				}
				n := int(pre[0])<<24 | int(pre[1])<<16 | int(pre[2])<<8 | int(pre[3])
				if n < 16 || n-4 > len(buf) {
					return fail(fmt.Errorf("bad frame length %d", n))
				}
				if _, err := io.ReadFull(resp.Body, buf[:n-4]); err != nil {
					return fail(err)
				}
				events++
			}
		} else if _, err := io.CopyBuffer(io.Discard, resp.Body, buf); err != nil {
			return fail(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fail(fmt.Errorf("status %d", resp.StatusCode))
		}
		return time.Since(start), ttft, events, nil
	}
}

// ---- gateway benchmark (issue 5) ----

const gatewayConfig = `version: v1
server:
  address: %s
  log_level: info
models:
  - name: bench
    from: bedrock:%s
    params:
      aws_region: us-east-1
      aws_access_key_id: test
      aws_secret_access_key: test
      endpoint_url: %s
      max_concurrent_invocations: 10000
      requests_per_min_limit: 10000000
`

func gatewayBench(o options, dir, bin string) error {
	emuAddr, err := freePort()
	if err != nil {
		return err
	}
	emu, err := start(dir, "gw-emulator", emuAddr, "/", nil, bin, "emulate", "--addr", emuAddr)
	if err != nil {
		return err
	}
	defer emu.stop()
	gwAddr, err := freePort()
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, gatewayConfig, gwAddr, modelID, emu.url), 0o600); err != nil {
		return err
	}
	gw, err := start(dir, "gateway", gwAddr, "/health", nil, bin, "serve", "--config", cfgPath)
	if err != nil {
		return err
	}
	defer gw.stop()

	// The floor: a pass-through reverse proxy in its own process, between
	// bedrock.Client and the emulator. It does nothing a gateway must do
	// (no parsing, translation, signing or logging), so what it adds is
	// what one extra net/http process hop costs on this machine.
	pxAddr, err := freePort()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	px, err := start(dir, "proxy", pxAddr, "/", []string{proxyEnv + "=" + pxAddr + " " + emu.url}, self)
	if err != nil {
		return err
	}
	defer px.stop()

	newDirect := func(endpoint string) (*bedrock.Client, error) {
		return bedrock.New(context.Background(), bedrock.Config{Region: "us-east-1", Endpoint: endpoint,
			AccessKeyID: "test", SecretAccessKey: "test", RequestsPerMinute: -1, MaxConcurrent: -1})
	}
	direct, err := newDirect(emu.url)
	if err != nil {
		return err
	}
	viaProxy, err := newDirect(px.url)
	if err != nil {
		return err
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
	defer httpc.CloseIdleConnections()

	// Warm the gateway up, then take its memory baseline.
	load(8, 0, o.warmup, func() worker { return gatewayWorker(httpc, gw.url, false) })
	rss0, heap0 := gw.rssKiB(), heapInuse(httpc, gw.url)
	served := 0

	fmt.Println("### Gateway overhead (load generator, gateway and emulator on this machine, no pinning)")
	fmt.Println()
	fmt.Println("| Mode | Concurrency | Path | Requests/s | p50 ms | p99 ms | TTFT p50 ms | TTFT p99 ms | Added p50 ms | Added p99 ms | Throughput vs direct | CPU µs/request: load generator | emulator | proxy or gateway | all three | Errors |")
	fmt.Println("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, stream := range []bool{false, true} {
		mode := "non-streaming"
		if stream {
			mode = "streaming"
		}
		for _, c := range o.conc {
			type path struct {
				name   string
				middle *proc
				worker func() worker
			}
			paths := []path{
				{"direct (bedrock.Client → emulator)", nil, func() worker { return directWorker(direct, stream) }},
				{"floor: pass-through proxy (bedrock.Client → httputil.ReverseProxy → emulator)", px, func() worker { return directWorker(viaProxy, stream) }},
				{"gateway (OpenAI → quarry serve → emulator)", gw, func() worker { return gatewayWorker(httpc, gw.url, stream) }},
				{"gateway (Anthropic Messages → quarry serve → emulator)", gw, func() worker { return surfaceWorker(httpc, gw.url, stream, messagesSurface) }},
			}
			var d *result
			for _, p := range paths {
				load(c, 0, o.warmup, p.worker)
				self0, emu0 := cpuOf(os.Getpid()), emu.cpuTime()
				var mid0 time.Duration
				if p.middle != nil {
					mid0 = p.middle.cpuTime()
				}
				r := load(c, 0, o.duration, p.worker)
				perReq := func(d time.Duration) float64 { return float64(d) / 1e3 / float64(max(r.n, 1)) }
				selfCPU, emuCPU := perReq(cpuOf(os.Getpid())-self0), perReq(emu.cpuTime()-emu0)
				midCPU, midCol := 0.0, "–"
				if p.middle != nil {
					midCPU = perReq(p.middle.cpuTime() - mid0)
					midCol = fmt.Sprintf("%.0f", midCPU)
				}
				if p.middle == gw {
					served += r.n
				}
				l50, l99 := pct(r.lat, 0.5), pct(r.lat, 0.99)
				tt50, tt99 := "–", "–"
				if stream {
					tt50, tt99 = ms(pct(r.ttft, 0.5)), ms(pct(r.ttft, 0.99))
				}
				added, ratio := "| | |", "|"
				if d == nil {
					d = r
				} else {
					// In streaming mode "added" is measured on the time to
					// first token.
					a50, a99 := l50-pct(d.lat, 0.5), l99-pct(d.lat, 0.99)
					if stream {
						a50, a99 = pct(r.ttft, 0.5)-pct(d.ttft, 0.5), pct(r.ttft, 0.99)-pct(d.ttft, 0.99)
					}
					added = fmt.Sprintf("| %s | %s", ms(a50), ms(a99))
					ratio = fmt.Sprintf("| %.2f", r.rps()/d.rps())
				}
				fmt.Printf("| %s | %d | %s | %.0f | %s | %s | %s | %s %s %s | %.0f | %.0f | %s | %.0f | %d |\n",
					mode, c, p.name, r.rps(), ms(l50), ms(l99), tt50, tt99, added, ratio, selfCPU, emuCPU, midCol, selfCPU+emuCPU+midCPU, r.errs)
				if r.firstErr != nil {
					fmt.Fprintln(os.Stderr, "bench: first error:", r.firstErr)
				}
			}
		}
	}
	rss1, heap1 := gw.rssKiB(), heapInuse(httpc, gw.url)
	// A soak at the highest concurrency, both modes, then a last sample:
	// growth between the second and third samples is what a leak would show
	// once every pool and buffer has reached its working size.
	soaked := 0
	for _, stream := range []bool{false, true} {
		r := load(o.conc[len(o.conc)-1], 0, o.duration, func() worker { return gatewayWorker(httpc, gw.url, stream) })
		soaked += r.n
	}
	time.Sleep(200 * time.Millisecond)
	rss2, heap2 := gw.rssKiB(), heapInuse(httpc, gw.url)
	fmt.Println()
	fmt.Println("Gateway memory: (1) after a warm-up, (2) after the runs above, (3) after a further soak at the highest concurrency (both modes):")
	fmt.Println()
	fmt.Println("| | (1) | (2) | (3) | Requests (1)→(2) | Requests (2)→(3) | Growth per request (1)→(2) | Growth per request (2)→(3) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	perReq := func(a, b int64, unit int64, n int) string {
		if n == 0 || a < 0 || b < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f bytes", float64((b-a)*unit)/float64(n))
	}
	fmt.Printf("| RSS (VmRSS) | %d KiB | %d KiB | %d KiB | %d | %d | %s | %s |\n", rss0, rss1, rss2, served, soaked,
		perReq(rss0, rss1, 1024, served), perReq(rss1, rss2, 1024, soaked))
	if heap0 >= 0 && heap1 >= 0 && heap2 >= 0 {
		fmt.Printf("| Go heap live after the last GC (/metrics go_gc_heap_live_bytes) | %d KiB | %d KiB | %d KiB | %d | %d | %s | %s |\n", heap0/1024, heap1/1024, heap2/1024, served, soaked,
			perReq(heap0, heap1, 1, served), perReq(heap1, heap2, 1, soaked))
	}
	fmt.Println()
	return nil
}

// runProxy serves a plain httputil.ReverseProxy to target: the floor row of
// the gateway benchmark. Streams are flushed as they arrive (the response is
// chunked, so ReverseProxy flushes every write).
func runProxy(listen, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}
	// The request body is read into memory before it is forwarded: handing
	// the server's body straight to the transport lets net/http's write
	// loop still hold it when the handler returns and the server closes
	// it, which cut about one stream in a thousand short in this set-up
	// (the bug class of the official SDK flake, see emulator/sdk tests).
	return http.ListenAndServe(listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	}))
}

// heapInuse reads go_gc_heap_live_bytes (the heap live after the last
// collection; heap-in-use swings with GOGC) from the gateway's /metrics
// (-1 if it is not there).
func heapInuse(c *http.Client, base string) int64 {
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "go_gc_heap_live_bytes ") {
			f, err := strconv.ParseFloat(strings.TrimPrefix(l, "go_gc_heap_live_bytes "), 64)
			if err == nil {
				return int64(f)
			}
		}
	}
	return -1
}

func directWorker(c *bedrock.Client, stream bool) worker {
	req := converseRequest()
	return func(ctx context.Context) (time.Duration, time.Duration, int, error) {
		start := time.Now()
		if !stream {
			resp, err := c.Converse(ctx, modelID, req)
			if err == nil && len(resp.Output.Message.Content) == 0 {
				err = errors.New("empty reply")
			}
			return time.Since(start), 0, 0, err
		}
		s, err := c.ConverseStream(ctx, modelID, req)
		if err != nil {
			return time.Since(start), 0, 0, err
		}
		defer s.Close()
		var ttft time.Duration
		n := 0
		for s.Next() {
			ev := s.Current()
			if ttft == 0 && ev.ContentBlockDelta != nil && ev.ContentBlockDelta.Delta.Text != "" {
				ttft = time.Since(start)
			}
			n++
		}
		return time.Since(start), ttft, n, s.Err()
	}
}

var (
	chatBody       = fmt.Sprintf(`{"model":"bench","messages":[{"role":"user","content":%q}],"max_tokens":%d}`, prompt, maxToks)
	chatStreamBody = fmt.Sprintf(`{"model":"bench","messages":[{"role":"user","content":%q}],"max_tokens":%d,"stream":true}`, prompt, maxToks)
)

type chatCompletion struct {
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

func gatewayWorker(c *http.Client, base string, stream bool) worker {
	return surfaceWorker(c, base, stream, openAISurface)
}

// surfaceWorker sends the workload to an API surface of the gateway.
func surfaceWorker(c *http.Client, base string, stream bool, sf surface) worker {
	url := base + sf.path
	body := chatBody
	if stream {
		body = chatStreamBody
	}
	return func(ctx context.Context) (time.Duration, time.Duration, int, error) {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			return 0, 0, 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return time.Since(start), 0, 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return time.Since(start), 0, 0, fmt.Errorf("status %d: %s", resp.StatusCode, msg)
		}
		if !stream {
			return time.Since(start), 0, 0, sf.check(resp.Body)
		}
		// SSE: count data lines; the first carrying text is the first token.
		br := bufio.NewReaderSize(resp.Body, 8<<10)
		var ttft time.Duration
		n := 0
		done := false
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 6 && bytes.HasPrefix(line, []byte("data: ")) {
				if sf.done(line[6:]) {
					done = true
				} else {
					n++
					if ttft == 0 && sf.token(line[6:]) {
						ttft = time.Since(start)
					}
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				if err == io.EOF {
					break
				}
				return time.Since(start), 0, 0, err
			}
		}
		if !done {
			return time.Since(start), 0, 0, errors.New("stream ended without its last event")
		}
		return time.Since(start), ttft, n, nil
	}
}
