package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
)

// The emulator benchmark (issue 4): the emulator alone, in its own process,
// driven by raw pre-signed requests.

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
