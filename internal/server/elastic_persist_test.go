package server_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver, to give the test its own schema

	"github.com/quarry-dev/quarry/internal/config"
)

func endpointBody(task, provider, model, access, secret string) string {
	return fmt.Sprintf(`{"service":"amazonbedrock","service_settings":{"access_key":%q,"secret_key":%q,"region":"us-east-1",`+
		`"provider":%q,"model":%q}}`, access, secret, provider, model)
}

// createAndUse creates a completion and an embedding endpoint, prefixed.
func createAndUse(t *testing.T, g *esGateway, prefix string) {
	t.Helper()
	g.ok(t, "PUT", "/_inference/completion/"+prefix+"-compl", endpointBody("completion", "anthropic", "anthropic.claude-3-haiku-20240307-v1:0", "AK1", "SK1"))
	g.ok(t, "PUT", "/_inference/text_embedding/"+prefix+"-emb", endpointBody("text_embedding", "cohere", "cohere.embed-english-v3", "AK2", "SK2"))
	g.ok(t, "PUT", "/_inference/"+prefix+"-compl/_update", `{"task_settings":{"max_new_tokens":33}}`)
	useEndpoints(t, g, prefix)
}

// useEndpoints checks both endpoints are listed with their settings and
// answer inference.
func useEndpoints(t *testing.T, g *esGateway, prefix string) {
	t.Helper()
	ep := g.ok(t, "GET", "/_inference/completion/"+prefix+"-compl", "")["endpoints"].([]any)[0].(map[string]any)
	if ep["task_settings"].(map[string]any)["max_new_tokens"] != 33.0 {
		t.Errorf("completion endpoint %v", ep)
	}
	emb := g.ok(t, "GET", "/_inference/"+prefix+"-emb", "")["endpoints"].([]any)[0].(map[string]any)
	if ss := emb["service_settings"].(map[string]any); ss["dimensions"] != 1024.0 || ss["similarity"] != "dot_product" {
		t.Errorf("embedding endpoint %v", emb)
	}
	if c := g.ok(t, "POST", "/_inference/"+prefix+"-compl", `{"input":"hello"}`); c["completion"] == nil {
		t.Errorf("completion %v", c)
	}
	if e := g.ok(t, "POST", "/_inference/text_embedding/"+prefix+"-emb", `{"input":["a","b","c"]}`); len(e["text_embedding"].([]any)) != 3 {
		t.Errorf("embeddings %v", e)
	}
}

func TestElasticRestartSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	g := startES(t, dir, nil)
	createAndUse(t, g, "persist")
	g.Stop()
	g2 := startES(t, dir, nil) // same database, same key file
	useEndpoints(t, g2, "persist")
	if eps := g2.ok(t, "GET", "/_inference", "")["endpoints"].([]any); len(eps) != 2 {
		t.Errorf("after restart: %v", eps)
	}
}

// TestElasticRestartPostgres runs against QUARRY_TEST_POSTGRES_DSN, in a
// schema of its own (so it cannot disturb, or be disturbed by, other
// tests sharing the database). It skips without a DSN unless
// QUARRY_REQUIRE_POSTGRES=1 (CI), where it fails.
func TestElasticRestartPostgres(t *testing.T) {
	t.Parallel()
	dsn := postgresSchemaDSN(t, "quarry_elastic_")
	key := make([]byte, 32)
	rand.Read(key)
	pg := func(c *config.Config) {
		c.Store.PostgresDSN = config.Secret(dsn)
		c.Store.EncryptionKey = config.Secret(hex.EncodeToString(key))
	}
	dir := t.TempDir()
	g := startES(t, dir, pg)
	createAndUse(t, g, "pg")
	g.Stop()
	g2 := startES(t, dir, pg)
	useEndpoints(t, g2, "pg")
	// A second replica on the same store sees updates and deletes.
	g3 := startES(t, t.TempDir(), pg)
	g3.ok(t, "PUT", "/_inference/pg-compl/_update", `{"task_settings":{"max_new_tokens":34}}`)
	ep := g2.ok(t, "GET", "/_inference/pg-compl", "")["endpoints"].([]any)[0].(map[string]any)
	if ep["task_settings"].(map[string]any)["max_new_tokens"] != 34.0 {
		t.Errorf("replica's update not seen: %v", ep)
	}
	if _, err := os.Stat(filepath.Join(dir, "endpoints.db")); err == nil {
		t.Error("a SQLite database was created although PostgreSQL is configured")
	}
}

// TestElasticSecretsNeverLeak creates and updates endpoints with
// recognisable keys, restarts, and greps the database files, the logs and
// every response for the keys and for the store's encryption key.
func TestElasticSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	storeKey := make([]byte, 32)
	rand.Read(storeKey)
	withKey := func(c *config.Config) { c.Store.EncryptionKey = config.Secret(hex.EncodeToString(storeKey)) }
	const access, secret, secret2 = "AKIAQUARRYLEAKTEST01", "quarry-leak-test-secret-0123456789", "quarry-leak-test-rotated-9876543210"
	g := startES(t, dir, withKey)
	g.ok(t, "PUT", "/_inference/completion/leak", endpointBody("completion", "meta", "meta.llama3-8b-instruct-v1:0", access, secret))
	g.ok(t, "PUT", "/_inference/text_embedding/leak-emb", endpointBody("text_embedding", "amazontitan", "amazon.titan-embed-text-v1", access, secret))
	g.ok(t, "PUT", "/_inference/leak/_update", `{"service_settings":{"access_key":"`+access+`","secret_key":"`+secret2+`"}}`)
	g.ok(t, "POST", "/_inference/leak", `{"input":"hello"}`)
	g.do(t, "PUT", "/_inference/completion/leak", endpointBody("completion", "meta", "meta.llama3-8b-instruct-v1:0", access, secret))
	g.do(t, "PUT", "/_inference/completion/leak2", endpointBody("completion", "meta", "m", access, ""))
	g.ok(t, "GET", "/_inference", "")
	g.Stop()
	g2 := startES(t, dir, withKey)
	g2.ok(t, "GET", "/_inference/leak", "")
	g2.ok(t, "POST", "/_inference/leak", `{"input":"again"}`)
	g2.Stop()

	needles := []string{secret, secret2, hex.EncodeToString(storeKey), base64.StdEncoding.EncodeToString(storeKey)}
	files, _ := filepath.Glob(filepath.Join(dir, "endpoints.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range append(needles, access) {
			if strings.Contains(string(b), n) {
				t.Errorf("%s contains %q", filepath.Base(f), n)
			}
		}
	}
	if logs := g.Logs.String(); !strings.Contains(logs, "inference endpoint created") {
		t.Errorf("logs look empty:\n%s", logs)
	}
	for _, out := range []*esGateway{g, g2} {
		for _, n := range needles {
			if strings.Contains(out.Logs.String(), n) {
				t.Errorf("the logs contain %q", n)
			}
			for _, b := range out.bodies {
				if strings.Contains(string(b), n) || strings.Contains(string(b), access) {
					t.Errorf("a response contains a key: %s", b)
				}
			}
		}
	}
}

// TestElasticInFlightSurvivesUpdateAndDelete starts a slow stream, updates
// and then deletes its endpoint mid-stream; the stream finishes on the
// client it started with, while new requests see the change.
func TestElasticInFlightSurvivesUpdateAndDelete(t *testing.T) {
	t.Parallel()
	// Events 100ms apart: the stream lasts seconds, far longer than an
	// update and a delete need even on a loaded machine.
	emuCfg := filepath.Join(t.TempDir(), "emulator.yaml")
	if err := os.WriteFile(emuCfg, []byte("latency:\n  between_tokens: 100ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startES(t, "", func(c *config.Config) { c.Emulator.ConfigFile = emuCfg })
	g.ok(t, "PUT", "/_inference/completion/slow", endpointBody("completion", "anthropic", "anthropic.claude-3-haiku-20240307-v1:0", "AK", "SK"))
	const body = `{"input":"[[quarry:slow]] Tell me about Elastic please"}`
	_, ref := g.stream(t, "/_inference/completion/slow/_stream", body) // undisturbed, for comparison
	full := len(ref)

	resp := g.send(t, "POST", "/_inference/completion/slow/_stream", body)
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	readEvent := func() (sseEvent, error) {
		var ev sseEvent
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return ev, err
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				return ev, nil
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}
	first, err := readEvent()
	if err != nil || first.Event != "message" {
		t.Fatalf("first event %+v, %v", first, err)
	}
	// The rest of the stream is read as it arrives; ended closes at its end.
	var (
		n       = 1
		rest    error
		ended   = make(chan struct{})
		changed = make(chan struct{})
		after   int // events read after the update and delete returned
	)
	go func() {
		defer close(ended)
		for {
			ev, err := readEvent()
			if err == io.EOF {
				return
			}
			if err != nil {
				rest = err
				return
			}
			if ev.Event != "message" {
				rest = fmt.Errorf("stream broke after the update/delete: %+v", ev)
				return
			}
			n++
			select {
			case <-changed:
				after++
			default:
			}
		}
	}()
	g.ok(t, "PUT", "/_inference/slow/_update", `{"service_settings":{"access_key":"AK2","secret_key":"SK2","rate_limit":{"requests_per_minute":1}},"task_settings":{"max_new_tokens":5}}`)
	g.ok(t, "DELETE", "/_inference/slow", "")
	close(changed)
	st, b := g.do(t, "POST", "/_inference/slow", `{"input":"x"}`)
	esError(t, st, b, 404, "resource_not_found_exception", "Inference endpoint not found [slow]")

	<-ended
	if rest != nil {
		t.Fatal(rest)
	}
	if after == 0 {
		t.Errorf("update and delete waited for the stream: it sent nothing after they returned")
	}
	if n != full || n < 3 {
		t.Errorf("the disturbed stream sent %d events, the same request undisturbed %d", n, full)
	}
}

// The crash test's child: a gateway on the store in QUARRY_ES_CRASH_DIR
// that prints its URL and serves until it is killed.
const crashDirEnv = "QUARRY_ES_CRASH_DIR"

func TestElasticCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return // run directly: nothing to do
	}
	g := startES(t, dir, nil)
	fmt.Printf("URL %s\n", g.URL)
	select {}
}

// TestElasticCrash kills a gateway with SIGKILL while clients create
// endpoints through the API; after a restart every acknowledged endpoint
// is present and usable, and no endpoint is half there.
func TestElasticCrash(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestElasticCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	var base string
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			base = u
			break
		}
	}
	if base == "" {
		t.Fatal("the child gateway did not start")
	}
	go io.Copy(io.Discard, out)

	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("crash-%d-%d", w, i)
				task, body := "completion", endpointBody("completion", "mistral", "mistral.mistral-7b-instruct-v0:2", "AK"+id, "SK"+id)
				if i%3 == 0 {
					task, body = "text_embedding", endpointBody("text_embedding", "amazontitan", "amazon.titan-embed-text-v2:0", "AK"+id, "SK"+id)
				}
				resp, err := sendQuiet(ctx, "PUT", base+"/_inference/"+task+"/"+id, body)
				if err != nil {
					return // killed
				}
				if resp == 200 {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once a fair number were acknowledged, with writes in flight.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	cancel()
	wg.Wait()
	if len(acked) < 10 {
		t.Fatalf("only %d endpoints acknowledged before the kill", len(acked))
	}

	g := startES(t, dir, nil)
	listed := map[string]bool{}
	for _, e := range g.ok(t, "GET", "/_inference", "")["endpoints"].([]any) {
		listed[e.(map[string]any)["inference_id"].(string)] = true
	}
	for _, id := range acked {
		if !listed[id] {
			t.Errorf("acknowledged endpoint %s lost in the crash", id)
		}
	}
	// Everything listed (acknowledged or caught mid-write) is whole and
	// usable.
	for id := range listed {
		body := `{"input":"after the crash"}`
		if st, b := g.do(t, "POST", "/_inference/"+id, body); st != 200 {
			t.Errorf("%s after restart: %d %s", id, st, b)
		}
	}
	t.Logf("%d acknowledged, %d present after SIGKILL and restart", len(acked), len(listed))
}

// sendQuiet sends a request and returns its status, or an error when the
// server is gone.
func sendQuiet(ctx context.Context, method, url, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// postgresSchemaDSN returns QUARRY_TEST_POSTGRES_DSN with its search_path
// set to a fresh schema (prefix plus a random suffix), so that a test
// cannot disturb, or be disturbed by, others sharing the database; the
// schema is dropped when the test ends. It skips without a DSN unless
// QUARRY_REQUIRE_POSTGRES=1 (CI), where it fails.
func postgresSchemaDSN(t *testing.T, prefix string) string {
	t.Helper()
	dsn := os.Getenv("QUARRY_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("QUARRY_REQUIRE_POSTGRES") == "1" {
			t.Fatal("QUARRY_REQUIRE_POSTGRES=1 but QUARRY_TEST_POSTGRES_DSN is not set")
		}
		t.Skip("QUARRY_TEST_POSTGRES_DSN not set: skipping this PostgreSQL test")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := prefix + strings.ToLower(rand.Text()[:10])
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatal(err)
	}
	// The drop needs the connection: close it only after (a deferred
	// Close in the test would run first, and the schema would stay).
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
