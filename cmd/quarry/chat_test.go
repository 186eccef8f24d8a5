package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// chatFrame encodes one event-stream frame as Bedrock sends it.
func chatFrame(t *testing.T, kind, name, payload string) []byte {
	t.Helper()
	var hs eventstream.Headers
	if kind == "exception" {
		hs.Set(":exception-type", eventstream.StringValue(name))
	} else {
		hs.Set(":event-type", eventstream.StringValue(name))
	}
	hs.Set(":content-type", eventstream.StringValue("application/json"))
	hs.Set(":message-type", eventstream.StringValue(kind))
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: hs, Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chatServer plays Bedrock's Converse and ConverseStream. It records the
// last request body and path.
type chatServer struct {
	mu       sync.Mutex
	path     string
	body     map[string]any
	auth     string
	converse func(w http.ResponseWriter)
	stream   []byte
}

func (s *chatServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.path, s.auth = r.URL.EscapedPath(), r.Header.Get("Authorization")
	s.body = nil
	json.Unmarshal(b, &s.body)
	s.mu.Unlock()
	w.Header().Set("X-Amzn-RequestId", "rid-chat")
	if strings.HasSuffix(r.URL.Path, "/converse-stream") {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Write(s.stream)
		return
	}
	s.converse(w)
}

func newChatEnv(t *testing.T, s *chatServer) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCHAT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "chat-secret-key-never-printed")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

func runQuarry(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const chatReplyJSON = `{"output":{"message":{"role":"assistant","content":[{"text":"Hi! How can I help you"}]}},` +
	`"stopReason":"max_tokens","usage":{"inputTokens":8,"outputTokens":10,"totalTokens":18},"metrics":{"latencyMs":811}}`

func TestChatPlain(t *testing.T) {
	s := &chatServer{converse: func(w http.ResponseWriter) { io.WriteString(w, chatReplyJSON) }}
	url := newChatEnv(t, s)
	// Flags both before and after the prompt.
	code, out, errOut := runQuarry("chat", "--model", "us.amazon.nova-micro-v1:0", "--endpoint-url", url,
		"--system", "Be terse.", "Say", "hi", "--max-tokens", "10", "--temperature", "0")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if out != "Hi! How can I help you\n" {
		t.Errorf("stdout = %q", out)
	}
	if s.path != "/model/us.amazon.nova-micro-v1%3A0/converse" {
		t.Errorf("path = %q", s.path)
	}
	want := map[string]any{
		"messages":        []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": "Say hi"}}}},
		"system":          []any{map[string]any{"text": "Be terse."}},
		"inferenceConfig": map[string]any{"maxTokens": 10.0, "temperature": 0.0},
	}
	if got, _ := json.Marshal(s.body); string(got) != mustJSON(want) {
		t.Errorf("request body = %s\nwant %s", got, mustJSON(want))
	}
	if !strings.Contains(s.auth, "Credential=AKIDCHAT/") {
		t.Errorf("Authorization = %q, want SigV4 with the env keys", s.auth)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestChatPromptFromStdin(t *testing.T) {
	s := &chatServer{converse: func(w http.ResponseWriter) { io.WriteString(w, chatReplyJSON) }}
	url := newChatEnv(t, s)
	old := chatStdin
	chatStdin = strings.NewReader("What is\na haiku?\n")
	defer func() { chatStdin = old }()
	code, out, errOut := runQuarry("chat", "--endpoint-url", url, "--model", "amazon.titan-text-lite-v1", "-")
	if code != 0 || out != "Hi! How can I help you\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	msgs := s.body["messages"].([]any)
	if text := msgs[0].(map[string]any)["content"].([]any)[0].(map[string]any)["text"]; text != "What is\na haiku?" {
		t.Errorf("prompt = %q", text)
	}
	if _, ok := s.body["inferenceConfig"]; ok {
		t.Error("inferenceConfig sent without --max-tokens/--temperature")
	}
}

// flushRecorder counts flushes, standing in for a buffered stdout.
type flushRecorder struct {
	bytes.Buffer
	writes, flushes int
}

func (f *flushRecorder) Write(p []byte) (int, error) { f.writes++; return f.Buffer.Write(p) }
func (f *flushRecorder) WriteString(s string) (int, error) {
	f.writes++
	return f.Buffer.WriteString(s)
}
func (f *flushRecorder) Flush() error { f.flushes++; return nil }

func TestChatStream(t *testing.T) {
	var body []byte
	for _, f := range []struct{ kind, name, payload string }{
		{"event", "messageStart", `{"p":"abc","role":"assistant"}`},
		{"event", "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hi!"},"p":"ab"}`},
		{"event", "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":" How can"},"p":"abcd"}`},
		{"event", "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":" I help you"},"p":"a"}`},
		{"event", "contentBlockStop", `{"contentBlockIndex":0,"p":"abcde"}`},
		{"event", "messageStop", `{"p":"abc","stopReason":"max_tokens"}`},
		{"event", "metadata", `{"metrics":{"latencyMs":608},"p":"ab","usage":{"inputTokens":8,"outputTokens":10,"totalTokens":18}}`},
	} {
		body = append(body, chatFrame(t, f.kind, f.name, f.payload)...)
	}
	s := &chatServer{stream: body}
	url := newChatEnv(t, s)
	var out flushRecorder
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"chat", "--stream", "--model", "amazon.titan-text-lite-v1", "--endpoint-url", url, "Hello"}, &out, &errOut)
	if code != 0 || errOut.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if out.String() != "Hi! How can I help you\n" {
		t.Errorf("stdout = %q", out.String())
	}
	if out.flushes < 3 || out.writes < 3 {
		t.Errorf("%d writes, %d flushes: want one per delta", out.writes, out.flushes)
	}
	if s.path != "/model/amazon.titan-text-lite-v1/converse-stream" {
		t.Errorf("path = %q", s.path)
	}
}

func TestChatErrors(t *testing.T) {
	streamThrottled := append(
		chatFrame(t, "event", "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Partial"}}`),
		chatFrame(t, "exception", "throttlingException", `{"message":"Too many tokens, please wait before trying again."}`)...)
	tests := []struct {
		name       string
		status     int
		errType    string
		message    string
		stream     bool
		wantOut    string
		wantStderr string
	}{
		{"validation", 400, "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
			"The provided model identifier is invalid.", false, "",
			"quarry chat: ValidationException: The provided model identifier is invalid.\n"},
		{"access denied, stream", 403, "AccessDeniedException", "You don't have access to the model\nwith the specified model ID.", true, "",
			"quarry chat: AccessDeniedException: You don't have access to the model with the specified model ID.\n"},
		{"in-stream exception", 0, "", "", true, "Partial\n",
			"quarry chat: ThrottlingException: Too many tokens, please wait before trying again.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &chatServer{stream: streamThrottled, converse: func(w http.ResponseWriter) {}}
			if tt.status != 0 {
				s.converse = nil
			}
			url := newChatEnv(t, s)
			if tt.status != 0 {
				handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Amzn-ErrorType", tt.errType)
					w.Header().Set("X-Amzn-RequestId", "rid-err")
					w.WriteHeader(tt.status)
					json.NewEncoder(w).Encode(map[string]string{"message": tt.message})
				})
				srv := httptest.NewServer(handler)
				defer srv.Close()
				url = srv.URL
			}
			args := []string{"chat", "--model", "does-not-exist", "--endpoint-url", url}
			if tt.stream {
				args = append(args, "--stream")
			}
			code, out, errOut := runQuarry(append(args, "Hello")...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if out != tt.wantOut || errOut != tt.wantStderr {
				t.Errorf("stdout %q, stderr %q\nwant stdout %q, stderr %q", out, errOut, tt.wantOut, tt.wantStderr)
			}
			if strings.Contains(out+errOut, "chat-secret-key-never-printed") {
				t.Error("secret printed")
			}
		})
	}
}

func TestChatUsage(t *testing.T) {
	s := &chatServer{converse: func(w http.ResponseWriter) { t.Error("request sent for bad usage") }}
	url := newChatEnv(t, s)
	tests := []struct {
		args []string
		want string // in the single stderr line
	}{
		{[]string{"Hello"}, "--model is required"},
		{[]string{"--model", "m"}, "a PROMPT is required"},
		{[]string{"--model", "m", "--temperature", "1.5", "Hi"}, "--temperature must be between 0 and 1 (got 1.5)"},
		{[]string{"--model", "m", "--temperature", "-0.1", "Hi"}, "--temperature must be between 0 and 1"},
		{[]string{"--model", "m", "--temperature", "NaN", "Hi"}, "--temperature must be between 0 and 1"},
		{[]string{"--model", "m", "--max-tokens", "0", "Hi"}, "--max-tokens must be at least 1 (got 0)"},
		{[]string{"--model", "m", "--max-tokens", "ten", "Hi"}, "max-tokens"},
		{[]string{"--model", "m", "--bogus", "Hi"}, "flag provided but not defined: -bogus"},
		{[]string{"--model", "m", "Hi", "-", "there"}, `"-"`},
		{[]string{"--model", "m", "--endpoint-url", "ftp://x", "Hi"}, "--endpoint-url:"},
		{[]string{"--model", "m", "--region", "Not A Region", "--endpoint-url", url, "Hi"}, "--region:"},
	}
	for _, tt := range tests {
		code, out, errOut := runQuarry(append([]string{"chat"}, tt.args...)...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "quarry chat: ") || !strings.Contains(errOut, tt.want) {
			t.Errorf("chat %q: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", tt.args, code, out, errOut, tt.want)
		}
	}
	if code, _, errOut := runQuarry("chat", "-h"); code != 0 || !strings.Contains(errOut, "usage: quarry chat") {
		t.Errorf("-h: exit %d, stderr %q", code, errOut)
	}
}
