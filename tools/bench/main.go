// Command bench measures Quarry's emulator and gateway on this machine and
// prints markdown tables (docs/benchmarks.md). It is a developer tool, not
// part of the quarry binary. From the repository root:
//
//	go run ./tools/bench                      # both benchmarks
//	go run ./tools/bench -mode emulator       # issue 4: emulator throughput
//	go run ./tools/bench -mode gateway        # issue 5: gateway overhead
//	go run ./tools/bench -mode streams        # issue 20: open slow streams (not in "all")
//	go run ./tools/bench -mode store          # issue 14: Responses store off and on, alternated (not in "all")
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
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
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
	// streams mode
	streams   []int
	upstreams []string
	clients   []string
	surfaces  []string
	settle    time.Duration
	memLimit  int64 // bytes; 0: no cgroup
	promptKiB int   // pad each stream's prompt to about this size; 0: none
	// telemetry adds rows for a second gateway with OpenTelemetry on.
	telemetry bool
	// store mode: how many off/on pairs per cell
	pairs int
}

func main() {
	if v := os.Getenv(proxyEnv); v != "" {
		listen, target, _ := strings.Cut(v, " ")
		fmt.Fprintln(os.Stderr, "bench proxy:", runProxy(listen, target))
		os.Exit(1)
	}
	var o options
	var conc, emuConc, streams, upstreams, clients, surfaces, memLimit string
	flag.StringVar(&o.mode, "mode", "all", "all (emulator and gateway), emulator, gateway, streams or store")
	flag.IntVar(&o.pairs, "pairs", 10, "store mode: alternated store-off and store-on runs per cell")
	flag.StringVar(&streams, "streams", "100,1000,5000", "streams mode: numbers of open streams (comma-separated)")
	flag.StringVar(&upstreams, "upstreams", "plain-h1,tls-h1,tls-h2", "streams mode: how the gateway reaches the emulator")
	flag.StringVar(&clients, "clients", "h1,h2c", "streams mode: how the load generator reaches the gateway (h1, h2c)")
	flag.StringVar(&surfaces, "surfaces", "chat", "streams mode: API surfaces to stream on (chat, messages, claude: Messages to a Claude model, responses)")
	flag.StringVar(&memLimit, "memory-limit", "", "streams mode: run the gateway in a memory cgroup with this limit (e.g. 64MiB; root only), as a container would")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "streams mode: wait once every stream is open, before sampling")
	flag.IntVar(&o.promptKiB, "prompt-kib", 0, "streams mode: pad each stream's prompt to about this many KiB, as a coding agent's context (0: the short benchmark prompt)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per table row")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before each row")
	flag.StringVar(&conc, "conc", "1,8,64", "gateway mode: concurrency levels (comma-separated)")
	flag.StringVar(&emuConc, "emu-conns", "16,64", "emulator mode: keep-alive connections (comma-separated)")
	flag.BoolVar(&o.pin, "pin", true, "emulator mode: pin the emulator to CPU 0 and the load generator to CPU 1 (taskset)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, configs, logs)")
	flag.BoolVar(&o.telemetry, "telemetry", false, "gateway mode: also measure a gateway with telemetry on (sampling 100%, OTLP/HTTP to a discarding sink in this process)")
	flag.Parse()
	var err error
	if o.conc, err = intList(conc); err == nil {
		o.emuConc, err = intList(emuConc)
	}
	if err == nil {
		o.streams, err = intList(streams)
	}
	if err == nil && memLimit != "" {
		o.memLimit, err = parseMiB(memLimit)
	}
	o.upstreams, o.clients, o.surfaces = strings.Split(upstreams, ","), strings.Split(clients, ","), strings.Split(surfaces, ",")
	if err != nil || !slices.Contains([]string{"all", "emulator", "gateway", "streams", "store"}, o.mode) || o.pairs < 1 || o.duration <= 0 || o.settle <= 0 || o.promptKiB < 0 {
		fmt.Fprintln(os.Stderr, "bench: bad flags (see -h)")
		os.Exit(2)
	}
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if (o.mode == "all" || o.mode == "emulator") && o.pin && canPin() && os.Getenv(childEnv) == "" {
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
	// Built as the Dockerfile builds the release: static (no libc mapped
	// into the process, ~1.3 MiB of RSS), without symbol tables.
	fmt.Fprintln(os.Stderr, "bench: CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' ./cmd/quarry")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/quarry")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building ./cmd/quarry (run from the repository root): %w", err)
	}
	printMachine()
	if o.mode == "streams" {
		return streamsBench(o, dir, bin)
	}
	if o.mode == "store" {
		return storeBench(o, dir, bin)
	}
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

// parseMiB reads a size in MiB ("64MiB" or "64").
func parseMiB(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSuffix(s, "MiB"), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want MiB, e.g. 64MiB", s)
	}
	return n << 20, nil
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
func (p *proc) rssKiB() int64 { return p.statusKiB("VmRSS:") }

// statusKiB is a field of the process's /proc/PID/status in KiB (VmRSS:,
// RssFile:), -1 if it cannot be read.
func (p *proc) statusKiB(field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, field) {
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
