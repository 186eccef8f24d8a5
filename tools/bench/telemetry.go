package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// startTelemetryGateway starts a second gateway like the first (logging at
// info, as it does), with
// telemetry on at 100% sampling, exporting over OTLP/HTTP to a sink in this
// process that reads and discards every export: the gateway pays for the
// spans, the metrics and their export, and no collector's CPU is counted.
func startTelemetryGateway(dir, bin, emuURL string) (*proc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// An empty body is an empty Export*ServiceResponse: all accepted.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(gatewayConfig, addr, "info", modelID, emuURL, claudeModelID) + fmt.Sprintf(`telemetry:
  enabled: true
  endpoint: http://%s
  protocol: http/protobuf
  sampling_ratio: 1
`, ln.Addr())
	path := filepath.Join(dir, "gateway-telemetry.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return start(dir, "gateway-telemetry", addr, "/health", nil, bin, "serve", "--config", path)
}
