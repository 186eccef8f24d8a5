package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
)

// withAPIKey configures the one accepted client key "sekret-key-1".
func withAPIKey(t testing.TB) func(*config.Config) {
	k, err := config.Parse("k.yaml", []byte("server:\n  api_keys: [sekret-key-1]\n"), &config.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) { c.Server.APIKeys = k.Server.APIKeys }
}

// rawExchange sends head (and then body, slowly if trickle > 0) on a fresh
// connection and reads the response, failing on a hang.
func rawExchange(t *testing.T, url, head, body string, trickle time.Duration) (*http.Response, []byte, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := 0; i < len(body); i++ {
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
			time.Sleep(trickle)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, b, time.Since(start)
}

// TestSlowBodies: a body that never arrives, or trickles in, gets a 408
// in the surface's error format once server.body_read_timeout passes; an
// unauthenticated request is refused at once whatever its body does.
func TestSlowBodies(t *testing.T) {
	const timeout = 300 * time.Millisecond
	key := withAPIKey(t)
	g := startGateway(t, quickstart, func(c *config.Config) { key(c); c.Server.BodyReadTimeout = timeout })
	chat := `{"model":"nova-lite","messages":[{"role":"user","content":"Hello there"}]}`
	for _, c := range []struct {
		name, path, auth, body, sent string
		trickle                      time.Duration
		status                       int
		format                       string // openai or elastic
	}{
		{"chat body never sent", "/v1/chat/completions", "sekret-key-1", chat, "", 0, 408, "openai"},
		{"chat body half sent", "/v1/chat/completions", "sekret-key-1", chat, chat[:20], 0, 408, "openai"},
		{"chat body trickled", "/v1/chat/completions", "sekret-key-1", chat, chat, 50 * time.Millisecond, 408, "openai"},
		{"embeddings body never sent", "/v1/embeddings", "sekret-key-1", `{"model":"titan-embed","input":"x"}`, "", 0, 408, "openai"},
		{"inference body never sent", "/_inference/text_embedding/e1", "sekret-key-1", `{"service":"amazonbedrock"}`, "", 0, 408, "elastic"},
		{"no key: refused before the body", "/v1/chat/completions", "", chat, "", 0, 401, "openai"},
		{"wrong key: refused before the body", "/_inference/text_embedding/e1", "nope", `{"input":"x"}`, "", 0, 401, "elastic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			method := "POST"
			if strings.HasPrefix(c.path, "/_inference") {
				method = "PUT"
			}
			head := method + " " + c.path + " HTTP/1.1\r\nHost: quarry\r\nContent-Type: application/json\r\n" +
				"Content-Length: " + strconv.Itoa(len(c.body)) + "\r\n"
			if c.auth != "" {
				head += "Authorization: Bearer " + c.auth + "\r\n"
			}
			head += "\r\n"
			resp, body, took := rawExchange(t, g.URL, head, c.sent, c.trickle)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, c.status)
			}
			if c.status == 401 && took > timeout {
				t.Errorf("the 401 took %v: the gateway waited for the body", took)
			}
			if c.status == 408 && took < timeout/2 {
				t.Errorf("408 after %v, before the timeout of %v", took, timeout)
			}
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			switch c.format {
			case "openai":
				if e, _ := v["error"].(map[string]any); e == nil || e["message"] == "" || e["type"] == nil {
					t.Errorf("not an OpenAI error: %s", body)
				}
			case "elastic":
				if e, _ := v["error"].(map[string]any); (e == nil || e["type"] == nil) && c.status != 401 {
					t.Errorf("not an Elasticsearch error: %s", body)
				}
			}
		})
	}
}

// TestBodyDeadlineLiftedForStreams: the body deadline must not outlive the
// body: a stream that lasts longer than it runs to the end.
func TestBodyDeadlineLiftedForStreams(t *testing.T) {
	g := startGateway(t, quickstart, func(c *config.Config) { c.Server.BodyReadTimeout = 100 * time.Millisecond })
	body := `{"model":"nova-lite","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"[[quarry:slow]] tell me a story"}]}`
	start := time.Now()
	resp, err := http.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("the stream took %v; the test needs one longer than the body deadline", took)
	}
	if !strings.Contains(string(b), "data: [DONE]") {
		t.Errorf("stream did not finish: %s", b)
	}
}
