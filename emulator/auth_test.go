package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
)

const converseBody = `{"messages":[{"role":"user","content":[{"text":"hello there"}]}]}`

// signed builds a request signed by the SDK's signer (the emulator's
// verifier is independent of it).
func signed(t *testing.T, url, body string, creds aws.Credentials, at time.Time, extra map[string]string) *http.Request {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return req
}

func do(t *testing.T, req *http.Request) (int, string, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m struct{ Message string }
	json.Unmarshal(b, &m)
	code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-Errortype"), ":")
	return resp.StatusCode, code, m.Message
}

func TestSigV4(t *testing.T) {
	srv, err := NewServer(Config{Credentials: []Credential{
		{AccessKeyID: "test", SecretAccessKey: "test"},
		{AccessKeyID: "ASIATEMP", SecretAccessKey: "tempsecret", SessionToken: "session-token-1"},
	}, BearerTokens: []string{"ABSKgood"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := srv.URL + "/model/us.amazon.nova-lite-v1%3A0/converse"
	good := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	now := time.Now()
	const sigMsg = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

	type result struct {
		status    int
		code, msg string
	}
	cases := []struct {
		name string
		req  func() *http.Request
		want result
	}{
		{"valid", func() *http.Request { return signed(t, url, converseBody, good, now, nil) }, result{200, "", ""}},
		{"changed header", func() *http.Request {
			r := signed(t, url, converseBody, good, now, nil)
			r.Header.Set("Content-Type", "application/x-json")
			return r
		}, result{403, "InvalidSignatureException", sigMsg}},
		{"changed body byte", func() *http.Request {
			r := signed(t, url, converseBody, good, now, nil)
			b := []byte(converseBody)
			b[len(b)-10] = 'X'
			r.Body = io.NopCloser(bytes.NewReader(b))
			return r
		}, result{403, "InvalidSignatureException", sigMsg}},
		{"changed path character", func() *http.Request {
			r := signed(t, url, converseBody, good, now, nil)
			r2, _ := http.NewRequest("POST", strings.Replace(url, "nova-lite", "nova-pro", 1), strings.NewReader(converseBody))
			r2.Header = r.Header
			return r2
		}, result{403, "InvalidSignatureException", sigMsg}},
		{"wrong secret", func() *http.Request {
			return signed(t, url, converseBody, aws.Credentials{AccessKeyID: "test", SecretAccessKey: "nope"}, now, nil)
		}, result{403, "InvalidSignatureException", sigMsg}},
		{"unknown key", func() *http.Request {
			return signed(t, url, converseBody, aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: "test"}, now, nil)
		}, result{403, "UnrecognizedClientException", "The security token included in the request is invalid."}},
		{"expired date", func() *http.Request { return signed(t, url, converseBody, good, now.Add(-10*time.Minute), nil) }, result{403, "InvalidSignatureException", ""}},
		{"future date", func() *http.Request { return signed(t, url, converseBody, good, now.Add(10*time.Minute), nil) }, result{403, "InvalidSignatureException", ""}},
		{"session token valid", func() *http.Request {
			return signed(t, url, converseBody, aws.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "tempsecret", SessionToken: "session-token-1"}, now, nil)
		}, result{200, "", ""}},
		{"session token missing", func() *http.Request {
			return signed(t, url, converseBody, aws.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "tempsecret"}, now, nil)
		}, result{403, "UnrecognizedClientException", "The security token included in the request is invalid."}},
		{"session token wrong", func() *http.Request {
			return signed(t, url, converseBody, aws.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "tempsecret", SessionToken: "other"}, now, nil)
		}, result{403, "UnrecognizedClientException", "The security token included in the request is invalid."}},
		{"bearer accepted", func() *http.Request {
			r, _ := http.NewRequest("POST", url, strings.NewReader(converseBody))
			r.Header.Set("Authorization", "Bearer ABSKgood")
			return r
		}, result{200, "", ""}},
		{"bearer rejected", func() *http.Request {
			r, _ := http.NewRequest("POST", url, strings.NewReader(converseBody))
			r.Header.Set("Authorization", "Bearer ABSKbad")
			return r
		}, result{403, "UnrecognizedClientException", "The security token included in the request is invalid."}},
		{"missing auth", func() *http.Request {
			r, _ := http.NewRequest("POST", url, strings.NewReader(converseBody))
			return r
		}, result{403, "MissingAuthenticationTokenException", "Missing Authentication Token"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg := do(t, tc.req())
			if status != tc.want.status || code != tc.want.code || (tc.want.msg != "" && msg != tc.want.msg) {
				t.Errorf("got %d %s %q, want %+v", status, code, msg, tc.want)
			}
			if tc.name == "expired date" && !strings.HasPrefix(msg, "Signature expired: ") {
				t.Errorf("message %q", msg)
			}
		})
	}

	// The official SDK's signatures verify, including the double-encoded
	// ARN path.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	client := bedrockruntime.New(bedrockruntime.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("ASIATEMP", "tempsecret", "session-token-1"), HTTPClient: sdkHTTPClient})
	_, err = client.Converse(ctxT(t), &bedrockruntime.ConverseInput{
		ModelId:  aws.String("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0"),
		Messages: userText("hello there"),
	})
	if err != nil {
		t.Errorf("SDK with session token and ARN model: %v", err)
	}
}

func TestCanonicalURIDoubleEncodes(t *testing.T) {
	if got := uriEncode("/model/us.amazon.nova-lite-v1%3A0/converse", false); got != "/model/us.amazon.nova-lite-v1%253A0/converse" {
		t.Errorf("got %s", got)
	}
}

func TestNoAuthAcceptsUnsigned(t *testing.T) {
	srv, _ := NewServer(Config{NoAuth: true})
	defer srv.Close()
	r, _ := http.NewRequest("POST", srv.URL+"/model/amazon.nova-lite-v1:0/converse", strings.NewReader(converseBody))
	if status, _, _ := do(t, r); status != 200 {
		t.Errorf("status %d", status)
	}
}

// The signing-key cache is keyed by request-controlled scope parts (date,
// region), so it must stay bounded, and a key computed after the cache
// starts again must still be the right one.
func TestSigningKeyCacheBounded(t *testing.T) {
	v := newVerifier(Config{})
	want := v.signingKey("secret", "20261124", "us-east-1", "bedrock")
	for i := range 3 * maxKeyCache {
		v.signingKey("secret", "20261124", fmt.Sprintf("region-%d", i), "bedrock")
		if n := len(v.keyCache); n > maxKeyCache {
			t.Fatalf("after %d regions the cache holds %d keys, more than %d", i+1, n, maxKeyCache)
		}
	}
	if got := v.signingKey("secret", "20261124", "us-east-1", "bedrock"); !bytes.Equal(got, want) {
		t.Fatalf("signing key after the cache restarted = %x, want %x", got, want)
	}
}
