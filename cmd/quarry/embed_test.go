package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/emulator"
)

// countingEmulator is the emulator behind a handler that counts the texts
// each embedding call carried (Titan's inputText, Cohere's texts).
type countingEmulator struct {
	URL   string
	mu    sync.Mutex
	texts map[string]int
	calls int
}

func startCountingEmulator(t testing.TB, cfg emulator.Config) *countingEmulator {
	t.Helper()
	emu, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ce := &countingEmulator{texts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var b struct {
			InputText string   `json:"inputText"`
			Texts     []string `json:"texts"`
		}
		if strings.HasSuffix(r.URL.Path, "/invoke") && json.Unmarshal(body, &b) == nil {
			ce.mu.Lock()
			ce.calls++
			if b.InputText != "" {
				ce.texts[b.InputText]++
			}
			for _, s := range b.Texts {
				ce.texts[s]++
			}
			ce.mu.Unlock()
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ce.URL = srv.URL
	return ce
}

func setTestCredentials(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

// writeLines writes n lines, each a distinct text, and returns the path.
func writeLines(t testing.TB, n int) string {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "record %d: the quick brown fox jumps over lazy dog %d\n", i, i*7)
	}
	path := filepath.Join(t.TempDir(), "input.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readOutput reads an embed output file: ids in order, and the vectors'
// lengths.
func readOutput(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var rec struct {
			ID        json.RawMessage `json:"id"`
			Embedding []float64       `json:"embedding"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("output line %d: %v: %q", i+1, err, line)
		}
		if len(rec.Embedding) == 0 {
			t.Fatalf("output line %d has no embedding", i+1)
		}
		ids = append(ids, string(rec.ID))
	}
	return ids
}

// buildQuarry builds the binary once per test run (signals and a terminal
// need a process of its own).
var buildQuarry = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "quarry-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "quarry")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

func countLines(path string) int {
	data, _ := os.ReadFile(path)
	return bytes.Count(data, []byte("\n"))
}

// TestEmbedInterruptAndResume: 5,000 lines against the emulator; SIGINT
// part-way, then the same command again. Every line reaches the emulator
// exactly once and the output has every id, in order.
func TestEmbedInterruptAndResume(t *testing.T) {
	setTestCredentials(t)
	bin, err := buildQuarry()
	if err != nil {
		t.Fatal(err)
	}
	// A little latency per call, so that the interrupt lands mid-run.
	emu := startCountingEmulator(t, emulator.Config{Latency: emulator.Latency{FirstToken: 3 * time.Millisecond}})
	const n = 5000
	input := writeLines(t, n)
	out := input + ".embeddings.jsonl"
	args := []string{"embed", "--model", "amazon.titan-embed-text-v2:0", "--dimensions", "256", "--rpm", "-1", "--endpoint-url", emu.URL, input}

	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for countLines(out) < 1000 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no progress: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("interrupted run exited %d (%v); want 130: %s", code, err, stderr.String())
	}
	first := countLines(out)
	if first >= n {
		t.Fatalf("the run finished (%d lines) before the interrupt", first)
	}
	if !strings.Contains(stderr.String(), "interrupted after") {
		t.Errorf("stderr %q; want the interrupted line", stderr.String())
	}

	stderr.Reset()
	cmd = exec.Command(bin, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("resumed run: %v: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("resuming after %d of %d", first, n)) {
		t.Errorf("stderr %q; want the resume line", stderr.String())
	}
	ids := readOutput(t, out)
	if len(ids) != n {
		t.Fatalf("%d records written; want %d", len(ids), n)
	}
	for i, id := range ids {
		if id != fmt.Sprint(i+1) {
			t.Fatalf("record %d has id %s; want %d (order or ids lost)", i+1, id, i+1)
		}
	}
	emu.mu.Lock()
	defer emu.mu.Unlock()
	if len(emu.texts) != n || emu.calls != n {
		t.Errorf("the emulator saw %d distinct texts in %d calls; want %d in %d", len(emu.texts), emu.calls, n, n)
	}
	for text, c := range emu.texts {
		if c != 1 {
			t.Errorf("%q sent %d times", text, c)
		}
	}
	t.Logf("interrupted after %d records, resumed for %d", first, n-first)
}

// TestEmbedProgress: a bar redrawn in place on a pseudo-terminal (through
// util-linux script), plain progress lines on a pipe.
func TestEmbedProgress(t *testing.T) {
	setTestCredentials(t)
	bin, err := buildQuarry()
	if err != nil {
		t.Fatal(err)
	}
	emu := startCountingEmulator(t, emulator.Config{})
	input := writeLines(t, 300)

	t.Run("terminal", func(t *testing.T) {
		script, err := exec.LookPath("script")
		if err != nil {
			if os.Getenv("QUARRY_REQUIRE_PTY") == "1" {
				t.Fatal("script (util-linux) is required for the pty test")
			}
			t.Skip("install util-linux (script) to test the progress bar on a pseudo-terminal")
		}
		cmdline := fmt.Sprintf("%s embed --model amazon.titan-embed-text-v2:0 --rpm -1 --endpoint-url %s --out %s %s",
			bin, emu.URL, filepath.Join(t.TempDir(), "out.jsonl"), input)
		out, err := exec.Command(script, "-q", "-e", "-c", cmdline, "/dev/null").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		s := string(out)
		if !strings.Contains(s, "\r[") || !strings.Contains(s, "] 300/300 100%") || !strings.Contains(s, "#") {
			t.Errorf("no progress bar on the terminal: %q", s)
		}
		if strings.Contains(s, "records (10%)") {
			t.Errorf("plain progress lines on a terminal: %q", s)
		}
	})
	t.Run("pipe", func(t *testing.T) {
		cmd := exec.Command(bin, "embed", "--model", "amazon.titan-embed-text-v2:0", "--rpm", "-1", "--endpoint-url", emu.URL,
			"--out", filepath.Join(t.TempDir(), "out.jsonl"), input)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		s := string(out)
		if strings.Contains(s, "\r") {
			t.Errorf("carriage returns on a pipe: %q", s)
		}
		sc := bufio.NewScanner(strings.NewReader(s))
		lines := 0
		for sc.Scan() {
			if strings.Contains(sc.Text(), "records (") {
				lines++
			}
		}
		if lines != 10 {
			t.Errorf("%d progress lines; want one per tenth (10): %q", lines, s)
		}
	})
}

// TestEmbedFormats: JSONL ids (any JSON) and CSV columns are kept, with
// Cohere batching texts under its limit of 96 per call.
func TestEmbedFormats(t *testing.T) {
	setTestCredentials(t)
	emu := startCountingEmulator(t, emulator.Config{})
	dir := t.TempDir()
	var jsonl strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&jsonl, `{"id":"doc-%d","text":"text number %d"}`+"\n", i, i)
	}
	jsonl.WriteString(`{"id":{"k":1},"text":"object id"}` + "\n")
	jsonlPath := filepath.Join(dir, "in.jsonl")
	os.WriteFile(jsonlPath, []byte(jsonl.String()), 0o644)
	csvPath := filepath.Join(dir, "in.csv")
	os.WriteFile(csvPath, []byte("key,body\nk1,\"hello, world\"\nk2,second row\n"), 0o644)

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"embed", "--model", "cohere.embed-english-v3", "--input-type", "search_query",
		"--endpoint-url", emu.URL, jsonlPath}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	ids := readOutput(t, jsonlPath+".embeddings.jsonl")
	if len(ids) != 201 || ids[0] != `"doc-0"` || ids[199] != `"doc-199"` || ids[200] != `{"k":1}` {
		t.Errorf("ids %v…", ids[:3])
	}
	if emu.calls != 3 { // 96 + 96 + 9
		t.Errorf("%d Cohere calls for 201 texts; want 3", emu.calls)
	}

	code = run(context.Background(), []string{"embed", "--model", "amazon.titan-embed-text-v1", "--column", "body", "--id-column", "key",
		"--endpoint-url", emu.URL, "--out", "-", csvPath}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String()[strings.Index(stdout.String(), `{"id":"k1"`):], `{"id":"k1"`) || !strings.Contains(stdout.String(), `{"id":"k2"`) {
		t.Errorf("CSV output %.200s", stdout.String())
	}
	// Standard input in, standard output out; blank lines are skipped but
	// keep their numbers.
	embedStdin = strings.NewReader("first\n\nthird\n")
	t.Cleanup(func() { embedStdin = os.Stdin })
	stdout.Reset()
	if code := run(context.Background(), []string{"embed", "--model", "amazon.titan-embed-text-v2:0", "--endpoint-url", emu.URL, "-"}, &stdout, &stderr); code != 0 {
		t.Fatalf("stdin: exit %d: %s", code, stderr.String())
	}
	if lines := strings.Split(strings.TrimSpace(stdout.String()), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], `{"id":1,`) || !strings.HasPrefix(lines[1], `{"id":3,`) {
		t.Errorf("stdin output %.200q", stdout.String())
	}
	if emu.texts["hello, world"] != 1 {
		t.Errorf("the quoted CSV field did not reach Bedrock whole: %v", emu.texts["hello, world"])
	}
}

// TestEmbedBadInput: every mistake is one readable line and a non-zero exit.
func TestEmbedBadInput(t *testing.T) {
	setTestCredentials(t)
	emu := startCountingEmulator(t, emulator.Config{})
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	lines := file("a.txt", "one\ntwo\n")
	otherOut := file("other.jsonl", `{"id":7,"embedding":[1]}`+"\n")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no model", []string{lines}, 2, "--model is required"},
		{"no file", []string{"--model", "amazon.titan-embed-text-v2:0"}, 2, "one input FILE"},
		{"two files", []string{"--model", "amazon.titan-embed-text-v2:0", lines, lines}, 2, "one input FILE"},
		{"not an embedding model", []string{"--model", "amazon.nova-lite-v1:0", lines}, 2, "not an embedding model"},
		{"titan dimensions", []string{"--model", "amazon.titan-embed-text-v2:0", "--dimensions", "300", lines}, 2, "256, 512 or 1024"},
		{"titan input type", []string{"--model", "amazon.titan-embed-text-v2:0", "--input-type", "search_query", lines}, 2, "--input-type applies"},
		{"cohere input type", []string{"--model", "cohere.embed-english-v3", "--input-type", "poetry", lines}, 2, "search_document"},
		{"bad format", []string{"--model", "amazon.titan-embed-text-v2:0", "--format", "xml", lines}, 2, "--format"},
		{"bad concurrency", []string{"--model", "amazon.titan-embed-text-v2:0", "--concurrency", "0", lines}, 2, "--concurrency"},
		{"missing file", []string{"--model", "amazon.titan-embed-text-v2:0", filepath.Join(dir, "nope.txt")}, 1, "no such file"},
		{"empty file", []string{"--model", "amazon.titan-embed-text-v2:0", file("e.txt", "\n\n")}, 1, "holds no records"},
		{"jsonl not JSON", []string{"--model", "amazon.titan-embed-text-v2:0", file("b.jsonl", `{"text":"a"}`+"\n{oops\n")}, 1, "line 2: not a JSON object"},
		{"jsonl without text", []string{"--model", "amazon.titan-embed-text-v2:0", file("c.jsonl", `{"id":1,"body":"a"}`+"\n")}, 1, `line 1: no "text"`},
		{"csv without the column", []string{"--model", "amazon.titan-embed-text-v2:0", file("d.csv", "id,body\n1,x\n")}, 1, `no column "text"`},
		{"csv empty cell", []string{"--model", "amazon.titan-embed-text-v2:0", file("f.csv", "id,text\n1,x\n2,\n")}, 1, "line 3"},
		{"text too long for titan", []string{"--model", "amazon.titan-embed-text-v2:0", file("g.txt", strings.Repeat("a", 50001)+"\n")}, 1, "at most 50000"},
		{"output from another input", []string{"--model", "amazon.titan-embed-text-v2:0", "--out", otherOut, lines}, 1, "written for another input"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"embed", "--endpoint-url", emu.URL}, c.args...)
			code := run(context.Background(), args, &stdout, &stderr)
			msg := stderr.String()
			if code != c.code || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", code, msg, c.code, c.want)
			}
		})
	}
}
