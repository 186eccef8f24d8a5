package bedrock

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The SDK's own warnings (here the IMDS client's "falling back to IMDSv1",
// from an instance metadata service without IMDSv2) go to Config.Logger as
// structured records, not as raw lines on stderr.
func TestSDKWarningsGoToLogger(t *testing.T) {
	isolateAWSEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/latest/api/token": // no IMDSv2
			w.WriteHeader(http.StatusForbidden)
		case "/latest/meta-data/iam/security-credentials/":
			io.WriteString(w, "instance-role")
		case "/latest/meta-data/iam/security-credentials/instance-role":
			json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": time.Now().UTC().Format(time.RFC3339),
				"AccessKeyId": "ASIAIMDSV1", "SecretAccessKey": "imdsSecret", "Token": "imdsToken",
				"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)

	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if key, _ := keyUsed(t, Config{Region: "us-east-1", Logger: log}); key != "ASIAIMDSV1" {
		t.Fatalf("Bedrock saw key %q, want the IMDSv1 one", key)
	}
	var rec struct{ Level, Msg, Component string }
	line, _, _ := strings.Cut(buf.String(), "\n")
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("no structured record: %q", buf.String())
	}
	if rec.Level != "WARN" || !strings.HasPrefix(rec.Msg, "falling back to IMDSv1") || rec.Component != "aws-sdk" {
		t.Errorf("record = %+v, want a WARN falling back to IMDSv1 with component aws-sdk", rec)
	}
}
