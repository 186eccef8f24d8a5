package bedrock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// newRequest's signature must be exactly what aws-sdk-go-v2's signer with
// its default options computes from the request as sent (the same
// Authorization at the same X-Amz-Date), for every path shape, and the
// call's shared header map must stay untouched.
func TestNewRequestSignsLikeThePlainSigner(t *testing.T) {
	isolateAWSEnv(t)
	const arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0"
	invokeHeader, err := (&InvokeModelInput{Body: []byte(`{}`), ContentType: "application/json", Accept: "*/*",
		Trace: "ENABLED", GuardrailIdentifier: "gr-1", GuardrailVersion: "DRAFT"}).header(false)
	if err != nil {
		t.Fatal(err)
	}
	sharedHeader := http.Header{"Content-Type": {"application/json"}, "X-Amzn-Bedrock-Trace": {"ENABLED"}}
	tests := []struct {
		name     string
		endpoint string // appended to the default endpoint's host
		token    string
		cl       call
		wantURL  string
	}{
		{"model ID", "", "", call{modelID: "amazon.nova-lite-v1:0", action: "converse"},
			"/model/amazon.nova-lite-v1%3A0/converse"},
		{"ARN with session token", "", "tok/en+==", call{modelID: arn, action: "converse-stream"},
			"/model/" + escapeLabel(arn) + "/converse-stream"},
		{"no reserved bytes", "", "", call{modelID: "m", action: "converse"}, "/model/m/converse"},
		{"base path", "/proxy/v1", "", call{modelID: arn, action: "invoke", header: invokeHeader},
			"/proxy/v1/model/" + escapeLabel(arn) + "/invoke"},
		{"base path with reserved bytes", "/a:b@c/%2F", "", call{modelID: "amazon.nova-lite-v1:0", action: "converse"},
			"/a:b@c/%2F/model/amazon.nova-lite-v1%3A0/converse"},
		{"base path starting with //", "//x:y", "tok", call{modelID: arn, action: "converse"},
			"//x:y/model/" + escapeLabel(arn) + "/converse"},
		{"explicit path", "", "", call{path: "/guardrail/" + escapeLabel("gr 1/a") + "/version/" + escapeLabel("DRAFT") + "/apply"},
			"/guardrail/gr%201%2Fa/version/DRAFT/apply"},
		{"shared header map", "", "", call{modelID: "m", action: "converse", header: sharedHeader},
			"/model/m/converse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, Config{Region: "us-east-1", Endpoint: "https://bedrock-runtime.us-east-1.amazonaws.com" + tt.endpoint,
				AccessKeyID: "AKIDPATH", SecretAccessKey: "path/Secret", SessionToken: tt.token, UserAgent: "test/1"})
			body := []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
			tt.cl.op, tt.cl.body = "Op", body
			if tt.cl.header == nil {
				tt.cl.header = jsonHeader
			}
			before := tt.cl.header.Clone()
			for i := range 3 { // the second and third come from the path cache
				req, err := c.newRequest(context.Background(), &tt.cl, c.payloadHash(body))
				if err != nil {
					t.Fatal(err)
				}
				if req.URL.Opaque != "" || req.URL.RequestURI() != tt.wantURL ||
					req.URL.String() != "https://bedrock-runtime.us-east-1.amazonaws.com"+tt.wantURL {
					t.Fatalf("attempt %d: URL %q (opaque %q, request URI %q), want path %q",
						i, req.URL.String(), req.URL.Opaque, req.URL.RequestURI(), tt.wantURL)
				}
				checkPlainSignature(t, req, body, tt.token)
				if got := req.Header.Get("User-Agent"); got != "quarry-bedrock/"+Version+" test/1" {
					t.Errorf("User-Agent %q", got)
				}
			}
			if fmt.Sprint(tt.cl.header) != fmt.Sprint(before) {
				t.Errorf("the call's header map changed: %v, was %v", tt.cl.header, before)
			}
		})
	}
}

// checkPlainSignature re-signs a copy of req, as sent, with a default
// aws-sdk-go-v2 signer at req's X-Amz-Date and compares the Authorization.
func checkPlainSignature(t *testing.T, req *http.Request, body []byte, token string) {
	t.Helper()
	at, err := time.Parse("20060102T150405Z", req.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("X-Amz-Security-Token"); got != token {
		t.Fatalf("X-Amz-Security-Token %q, want %q", got, token)
	}
	ref := req.Clone(context.Background())
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		ref.Header.Del(k)
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: "AKIDPATH", SecretAccessKey: "path/Secret", SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, ref, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	if got, want := req.Header.Get("Authorization"), ref.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization\n%s\nwant (plain signer)\n%s", got, want)
	}
	if !strings.Contains(req.Header.Get("Authorization"), "content-length;content-type;host;x-amz-date") {
		t.Fatalf("signed headers changed: %s", req.Header.Get("Authorization"))
	}
}

// Requests built concurrently share the cached path and the immutable
// header values; each must still carry its own signature headers (run with
// -race).
func TestNewRequestConcurrent(t *testing.T) {
	isolateAWSEnv(t)
	c := mustNew(t, Config{Region: "us-east-1", AccessKeyID: "AKIDPATH", SecretAccessKey: "path/Secret"})
	body := []byte(`{}`)
	hash := c.payloadHash(body)
	var wg sync.WaitGroup
	reqs := make([]*http.Request, 8)
	errs := make([]error, len(reqs))
	for i := range reqs {
		wg.Go(func() {
			reqs[i], errs[i] = c.newRequest(context.Background(), &call{op: "Converse", modelID: "amazon.nova-lite-v1:0",
				action: "converse", body: body, header: jsonHeader}, hash)
		})
	}
	wg.Wait()
	for i, req := range reqs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		checkPlainSignature(t, req, body, "")
	}
	if n := c.npaths.Load(); n != 1 {
		t.Fatalf("%d cached paths, want 1", n)
	}
}

// The path cache is bounded: model IDs may come from a client's callers.
func TestRequestPathCacheBounded(t *testing.T) {
	isolateAWSEnv(t)
	c := mustNew(t, Config{Region: "us-east-1", APIKey: "k"})
	long := &call{modelID: strings.Repeat("m", maxCachedPathLen+1), action: "converse"}
	if rp, err := c.requestPath(long); err != nil || rp.raw != modelPath(long.modelID, "converse") {
		t.Fatalf("long model ID: %v", err)
	}
	if _, ok := c.paths.Load(pathKey{long.modelID, "converse", ""}); ok {
		t.Fatal("an over-long model ID was cached")
	}
	for i := range maxCachedPaths + 10 { // past the bound: computed, not cached
		cl := &call{modelID: fmt.Sprintf("model-%d:0", i), action: "converse"}
		rp, err := c.requestPath(cl)
		if err != nil {
			t.Fatal(err)
		}
		if want := modelPath(cl.modelID, "converse"); rp.raw != want {
			t.Fatalf("path %q, want %q", rp.raw, want)
		}
	}
	if n := c.npaths.Load(); n != maxCachedPaths {
		t.Fatalf("%d cached paths, want the bound %d", n, maxCachedPaths)
	}
	if _, err := c.requestPath(&call{path: "/bad%zz"}); err == nil || !strings.Contains(err.Error(), "bad request path") {
		t.Fatalf("bad escape: %v", err)
	}
}
