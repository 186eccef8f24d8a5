package main

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestChatRegionAndProfile: --region sets the signing region and --profile
// the shared-config profile whose keys sign (over the environment's keys).
func TestChatRegionAndProfile(t *testing.T) {
	s := &chatServer{converse: func(w http.ResponseWriter) { io.WriteString(w, chatReplyJSON) }}
	url := newChatEnv(t, s)
	creds := "[dev]\naws_access_key_id = AKIDPROFILEDEV\naws_secret_access_key = profile-secret\n"
	if err := os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		wantKey   string
		wantScope string
	}{
		{"defaults", nil, "AKIDCHAT", "/us-east-1/bedrock/aws4_request"},
		{"--region", []string{"--region", "eu-west-2"}, "AKIDCHAT", "/eu-west-2/bedrock/aws4_request"},
		{"--profile", []string{"--profile", "dev"}, "AKIDPROFILEDEV", "/us-east-1/bedrock/aws4_request"},
		{"both", []string{"--profile", "dev", "--region", "ap-southeast-2"}, "AKIDPROFILEDEV", "/ap-southeast-2/bedrock/aws4_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"chat", "--model", "amazon.nova-micro-v1:0", "--endpoint-url", url}, tt.args...)
			code, out, errOut := runQuarry(append(args, "Hello")...)
			if code != 0 || out != "Hi! How can I help you\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			if !strings.Contains(s.auth, "Credential="+tt.wantKey+"/") || !strings.Contains(s.auth, tt.wantScope) {
				t.Errorf("Authorization = %q, want key %s and scope %s", s.auth, tt.wantKey, tt.wantScope)
			}
		})
	}
}

// TestChatFailuresOneLine: whatever fails (a profile that does not exist,
// no credentials anywhere, an endpoint that does not answer, a stream cut
// inside a frame), chat prints exactly one line and exits non-zero.
func TestChatFailuresOneLine(t *testing.T) {
	truncated := append(chatFrame(t, "event", "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Partial"}}`),
		chatFrame(t, "event", "messageStop", `{"stopReason":"end_turn"}`)[:20]...)
	tests := []struct {
		name     string
		setup    func(t *testing.T, url string) []string // extra args
		wantCode int
		wantOut  string
		want     []string // in the stderr line
	}{
		{"unknown --profile", func(t *testing.T, url string) []string {
			return []string{"--endpoint-url", url, "--profile", "nope"}
		}, 2, "", []string{"--profile:", `"nope"`}},
		{"no credentials anywhere", func(t *testing.T, url string) []string {
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_WEB_IDENTITY_TOKEN_FILE",
				"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
				t.Setenv(k, "")
			}
			return []string{"--endpoint-url", url}
		}, 1, "", []string{"no AWS credentials found", "looked in", "AWS_ACCESS_KEY_ID", "IMDSv2"}},
		{"endpoint not answering", func(t *testing.T, _ string) []string {
			return []string{"--endpoint-url", "http://127.0.0.1:1"}
		}, 1, "", []string{"127.0.0.1:1"}},
		{"stream cut inside a frame", func(t *testing.T, url string) []string {
			return []string{"--endpoint-url", url, "--stream"}
		}, 1, "Partial\n", []string{"ended inside a frame"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &chatServer{stream: truncated, converse: func(w http.ResponseWriter) { io.WriteString(w, chatReplyJSON) }}
			url := newChatEnv(t, s)
			args := append([]string{"chat", "--model", "amazon.nova-micro-v1:0"}, tt.setup(t, url)...)
			code, out, errOut := runQuarry(append(args, "Hello")...)
			if code != tt.wantCode || out != tt.wantOut {
				t.Errorf("exit %d, stdout %q; want exit %d, stdout %q (stderr %q)", code, out, tt.wantCode, tt.wantOut, errOut)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "quarry chat: ") || !strings.HasSuffix(errOut, "\n") {
				t.Errorf("stderr is not one line: %q", errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not mention %q", errOut, w)
				}
			}
			if strings.Contains(out+errOut, "chat-secret-key-never-printed") {
				t.Error("secret printed")
			}
		})
	}
}
