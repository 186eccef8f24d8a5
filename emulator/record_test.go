package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/quarry-dev/quarry/internal/cassette"
)

type exchange struct {
	path, body string
}

var recorded = []exchange{
	{"/model/amazon.nova-lite-v1%3A0/converse", `{"messages":[{"role":"user","content":[{"text":"Tell me about rivers"}]}],"inferenceConfig":{"temperature":0.5}}`},
	{"/model/us.amazon.nova-lite-v1%3A0/converse-stream", `{"messages":[{"role":"user","content":[{"text":"Tell me about lakes"}]}]}`},
	{"/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"Say hi"}]}`},
	{"/model/amazon.nova-micro-v1%3A0/invoke-with-response-stream", `{"messages":[{"role":"user","content":[{"text":"Tell me about seas"}]}]}`},
	{"/model/no.such-model/converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`},
}

type answer struct {
	status int
	ctype  string
	body   []byte
}

func postRaw(t *testing.T, base string, ex exchange) answer {
	t.Helper()
	resp, err := http.Post(base+ex.path, "application/json", strings.NewReader(ex.body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), b}
}

// TestRecordReplay records through a stand-in upstream (an emulator with
// other credentials behind an httptest server that checks each request is
// re-signed with them), then replays the directory with no upstream:
// byte-equal answers, streams and errors included.
func TestRecordReplay(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	upstreamEm, err := New(Config{Credentials: []Credential{{AccessKeyID: "AKIDREAL", SecretAccessKey: "realsecret", SessionToken: "realtoken"}}})
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		authz := r.Header.Get("Authorization")
		if !strings.Contains(authz, "Credential=AKIDREAL/") || !strings.Contains(authz, "/eu-west-1/bedrock/aws4_request") || r.Header.Get("X-Amz-Security-Token") != "realtoken" {
			t.Errorf("upstream got %s %q", r.URL.Path, authz)
		}
		upstreamEm.ServeHTTP(w, r) // verifies the signature itself
	}))
	defer upstream.Close()

	dir := t.TempDir()
	rec, err := NewServer(Config{NoAuth: true, Record: &RecordConfig{Dir: dir, Upstream: upstream.URL, Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDREAL", "realsecret", "realtoken")}})
	if err != nil {
		t.Fatal(err)
	}
	var live []answer
	for _, ex := range recorded {
		live = append(live, postRaw(t, rec.URL, ex))
	}
	// Shutdown waits for the handlers, which write a cassette once the
	// client has its answer.
	if err := rec.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if seen.Load() != int64(len(recorded)) {
		t.Fatalf("upstream saw %d requests, want %d", seen.Load(), len(recorded))
	}
	if live[0].status != 200 || live[4].status != 400 || live[1].ctype != "application/vnd.amazon.eventstream" {
		t.Fatalf("recorded answers: %d %d %s", live[0].status, live[4].status, live[1].ctype)
	}

	// The cassettes load with the project's reader and hold no secret.
	names, err := cassette.Names(dir)
	if err != nil || len(names) != len(recorded) {
		t.Fatalf("cassettes %v, %v", names, err)
	}
	for i, n := range names {
		raw, _ := os.ReadFile(filepath.Join(dir, n))
		for _, secret := range []string{"realsecret", "realtoken", "Signature="} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s contains %q", n, secret)
			}
		}
		c, err := cassette.Load(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Interactions[0].Response.Body, live[i].body) {
			t.Errorf("%s: recorded body differs from what the client got", n)
		}
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, names[1])); !bytes.Contains(raw, []byte("!!binary")) {
		t.Errorf("the stream is not stored as !!binary:\n%s", raw)
	}

	rp, err := NewServer(Config{NoAuth: true, Replay: &ReplayConfig{Dir: dir, IgnorePaths: []string{"inferenceConfig.temperature"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	for i, ex := range recorded {
		got := postRaw(t, rp.URL, ex)
		if got.status != live[i].status || got.ctype != live[i].ctype || !bytes.Equal(got.body, live[i].body) {
			t.Errorf("%s: replay %d %s %d bytes, recorded %d %s %d bytes", ex.path, got.status, got.ctype, len(got.body), live[i].status, live[i].ctype, len(live[i].body))
		}
	}
	// An ignored path may differ; JSON formatting may too.
	var v map[string]any
	json.Unmarshal([]byte(recorded[0].body), &v)
	v["inferenceConfig"] = map[string]any{"temperature": 0.9}
	b, _ := json.MarshalIndent(v, "", "  ")
	if got := postRaw(t, rp.URL, exchange{recorded[0].path, string(b)}); !bytes.Equal(got.body, live[0].body) {
		t.Errorf("ignored path: %d %s", got.status, got.body)
	}
	// A real client reads the replayed stream.
	client := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(rp.URL), HTTPClient: sdkHTTPClient,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("us.amazon.nova-lite-v1:0"), Messages: userText("Tell me about lakes")}); err != nil {
		t.Errorf("SDK on the replay: %v", err)
	}

	// No match: the documented 404, naming the closest recording.
	miss := postRaw(t, rp.URL, exchange{recorded[0].path, `{"messages":[{"role":"user","content":[{"text":"Tell me about deserts"}]}],"inferenceConfig":{"temperature":0.5}}`})
	if miss.status != 404 || !strings.Contains(string(miss.body), names[0]) || !strings.Contains(string(miss.body), "messages.0.content.0.text") {
		t.Errorf("no match: %d %s", miss.status, miss.body)
	}
	// Fallback generate answers it instead.
	fb, err := NewServer(Config{NoAuth: true, Replay: &ReplayConfig{Dir: dir, Fallback: "generate"}})
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if got := postRaw(t, fb.URL, exchange{recorded[0].path, `{"messages":[{"role":"user","content":[{"text":"Say hello"}]}]}`}); got.status != 200 || !strings.Contains(string(got.body), "Hello.") {
		t.Errorf("fallback: %d %s", got.status, got.body)
	}
}

func TestReplayConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Replay: &ReplayConfig{Dir: t.TempDir()}},
		{Replay: &ReplayConfig{Dir: "../testdata", Fallback: "maybe"}},
		{Record: &RecordConfig{Dir: t.TempDir(), Upstream: "ftp://x"}},
		{Record: &RecordConfig{Dir: t.TempDir(), Upstream: "https://x"}, Replay: &ReplayConfig{Dir: "x"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

// TestReplayProjectRecordings replays a recording of real Bedrock traffic
// from the project's testdata (pretty-printed request JSON matches the
// compact form a client sends).
func TestReplayProjectRecordings(t *testing.T) {
	const name = "test_converse_with_content.yaml"
	dir := t.TempDir() // alone: other recordings hold the same request
	raw, err := os.ReadFile(filepath.Join(cassette.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name), raw, 0o644)
	rp, err := NewServer(Config{NoAuth: true, Replay: &ReplayConfig{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	c, err := cassette.Load(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	json.Unmarshal([]byte(c.Interactions[0].Request.Body), &v)
	compact, _ := json.Marshal(v)
	got := postRaw(t, rp.URL, exchange{"/model/amazon.titan-text-lite-v1/converse", string(compact)})
	if got.status != c.Interactions[0].Response.Status || !bytes.Equal(got.body, c.Interactions[0].Response.Body) {
		t.Errorf("replayed %d %s", got.status, got.body)
	}
}
