package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
)

// The gateway benchmark (issue 5): the same workload direct, through a
// pass-through proxy (the floor) and through quarry serve on each surface.

const gatewayConfig = `version: v1
server:
  address: %s
  log_level: %s
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
  - name: bench-claude
    from: bedrock:%[5]s
    params:
      aws_region: us-east-1
      aws_access_key_id: test
      aws_secret_access_key: test
      endpoint_url: %[4]s
      max_concurrent_invocations: 10000
      requests_per_min_limit: 10000000
`

// claudeModelID is bench-claude's model: the Messages surface serves a
// Claude model natively (InvokeModel, Anthropic's own events), which is
// what Claude Code and the Anthropic SDKs reach.
const claudeModelID = "us.anthropic.claude-sonnet-4-20250514-v1:0"

// startGateway runs quarry serve (logging to dir/name.log) with
// gatewayConfig pointing at the emulator at emuURL; serverKeys are extra
// lines of its server section (indented two spaces).
func startGateway(dir, bin, name, emuURL, logLevel, serverKeys string, env []string) (*proc, error) {
	addr, argv, err := gatewayArgs(dir, bin, name, emuURL, logLevel, serverKeys)
	if err != nil {
		return nil, err
	}
	return start(dir, name, addr, "/health", env, argv...)
}

// gatewayArgs writes the config startGateway runs with and returns the
// gateway's address and command line.
func gatewayArgs(dir, bin, name, emuURL, logLevel, serverKeys string) (addr string, argv []string, err error) {
	if addr, err = freePort(); err != nil {
		return "", nil, err
	}
	cfg := strings.Replace(fmt.Sprintf(gatewayConfig, addr, logLevel, modelID, emuURL, claudeModelID), "models:\n", serverKeys+"models:\n", 1)
	cfgPath := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return "", nil, err
	}
	return addr, []string{bin, "serve", "--config", cfgPath}, nil
}

// startPair runs an emulator and a gateway in front of it (gatewayConfig),
// named prefix-emulator and prefix-gateway; stop stops both.
func startPair(dir, bin, prefix string) (emu, gw *proc, stop func(), err error) {
	emuAddr, err := freePort()
	if err != nil {
		return nil, nil, nil, err
	}
	if emu, err = start(dir, prefix+"-emulator", emuAddr, "/", nil, bin, "emulate", "--addr", emuAddr); err != nil {
		return nil, nil, nil, err
	}
	if gw, err = startGateway(dir, bin, prefix+"-gateway", emu.url, "info", "", nil); err != nil {
		emu.stop()
		return nil, nil, nil, err
	}
	return emu, gw, func() { gw.stop(); emu.stop() }, nil
}

func gatewayBench(o options, dir, bin string) error {
	emu, gw, stop, err := startPair(dir, bin, "gw")
	if err != nil {
		return err
	}
	defer stop()
	// With -telemetry, the same gateway with OpenTelemetry on, every trace
	// sampled, exporting over OTLP/HTTP to a sink that discards (telemetry.go).
	var gwTel *proc
	if o.telemetry {
		if gwTel, err = startTelemetryGateway(dir, bin, emu.url); err != nil {
			return err
		}
		defer gwTel.stop()
	}

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
				{"gateway (OpenAI Responses, store off → quarry serve → emulator)", gw, func() worker { return surfaceWorker(httpc, gw.url, stream, responsesSurface(false)) }},
				{"gateway (OpenAI Responses, store on → quarry serve → emulator)", gw, func() worker { return surfaceWorker(httpc, gw.url, stream, responsesSurface(true)) }},
			}
			if gwTel != nil {
				paths = append(paths, path{"gateway, telemetry on (OpenAI → quarry serve → emulator)", gwTel, func() worker { return gatewayWorker(httpc, gwTel.url, stream) }})
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
func heapInuse(c *http.Client, base string) int64 { return gatewayMetrics(c, base).heapLive }

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
	if sf.body != "" {
		body = sf.body
		if stream {
			body = sf.streamBody
		}
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
