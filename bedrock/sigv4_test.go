package bedrock

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// This file holds an independent SigV4 verifier written from the AWS
// Signature Version 4 specification (not from aws-sdk-go-v2's signer), so
// that the client's signatures are checked by a second implementation. It is
// itself proven by known-answer cases of the AWS SigV4 test suite.

// sigv4Request is what the verifier needs from a request, as received.
type sigv4Request struct {
	method   string
	rawPath  string // exactly as on the wire (already percent-encoded once)
	rawQuery string
	header   func(name string) []string // values of a lower-case header name
	body     []byte
}

// sigv4URIEncode encodes every byte but the unreserved set (and '/' when
// keepSlash), upper-case hex, as the spec's UriEncode.
func sigv4URIEncode(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// sigv4CanonicalRequest builds the canonical request. For services other
// than S3 the canonical URI is the URI-encoding of the path as sent, which
// is already encoded: "%3A" on the wire becomes "%253A" here (double
// encoding). singleEncode skips that step, to show it matters.
func sigv4CanonicalRequest(r sigv4Request, signed []string, singleEncode bool) string {
	uri := r.rawPath
	if uri == "" {
		uri = "/"
	}
	if !singleEncode {
		uri = sigv4URIEncode(uri, true)
	}
	var query []string
	if r.rawQuery != "" {
		for _, kv := range strings.Split(r.rawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			query = append(query, sigv4URIEncode(k, false)+"="+sigv4URIEncode(v, false))
		}
		sort.Strings(query)
	}
	var headers strings.Builder
	for _, h := range signed {
		vals := r.header(h)
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		headers.WriteString(h + ":" + strings.Join(vals, ",") + "\n")
	}
	sum := sha256.Sum256(r.body)
	return strings.Join([]string{r.method, uri, strings.Join(query, "&"), headers.String(),
		strings.Join(signed, ";"), hex.EncodeToString(sum[:])}, "\n")
}

func sigv4HMAC(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sigv4StringToSign(amzDate, scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// sigv4Signature runs the HMAC key-derivation chain over the string to sign.
func sigv4Signature(secret, date, region, service, stringToSign string) string {
	k := sigv4HMAC([]byte("AWS4"+secret), date)
	k = sigv4HMAC(k, region)
	k = sigv4HMAC(k, service)
	k = sigv4HMAC(k, "aws4_request")
	return hex.EncodeToString(sigv4HMAC(k, stringToSign))
}

// sigv4Authz parses "AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex".
type sigv4Authz struct {
	keyID, date, region, service string
	signed                       []string
	signature                    string
}

func parseSigv4Authz(s string) (sigv4Authz, error) {
	var a sigv4Authz
	rest, ok := strings.CutPrefix(s, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, fmt.Errorf("not a SigV4 Authorization: %q", s)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, fmt.Errorf("bad credential scope %q", v)
			}
			a.keyID, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signed = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.keyID == "" || len(a.signed) == 0 || a.signature == "" {
		return a, fmt.Errorf("incomplete Authorization %q", s)
	}
	return a, nil
}

// verifySigV4 checks a request received by a test server the way Bedrock
// would: scope, freshness, required signed headers, and the signature over
// the double-encoded raw path.
func verifySigV4(r *http.Request, body []byte, secrets map[string]string, region string) error {
	a, err := parseSigv4Authz(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	secret, ok := secrets[a.keyID]
	if !ok {
		return fmt.Errorf("unknown access key %q", a.keyID)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || a.date != amzDate[:8] {
		return fmt.Errorf("bad X-Amz-Date %q for scope date %q", amzDate, a.date)
	}
	if d := time.Since(t); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("X-Amz-Date %s is %v off", amzDate, d)
	}
	if a.region != region || a.service != "bedrock" {
		return fmt.Errorf("scope %s/%s, want %s/bedrock", a.region, a.service, region)
	}
	if !slices.IsSorted(a.signed) {
		return fmt.Errorf("SignedHeaders not sorted: %v", a.signed)
	}
	required := []string{"host", "x-amz-date"}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		required = append(required, "x-amz-security-token")
	}
	if r.Header.Get("Content-Type") != "" {
		required = append(required, "content-type")
	}
	for _, h := range required {
		if !slices.Contains(a.signed, h) {
			return fmt.Errorf("header %s is not signed (SignedHeaders=%v)", h, a.signed)
		}
	}
	rawPath, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	req := sigv4Request{method: r.Method, rawPath: rawPath, rawQuery: rawQuery, body: body,
		header: func(name string) []string {
			switch name {
			case "host":
				return []string{r.Host}
			case "content-length":
				return []string{fmt.Sprint(r.ContentLength)}
			}
			return slices.Clone(r.Header.Values(name))
		}}
	creq := sigv4CanonicalRequest(req, a.signed, false)
	scope := strings.Join([]string{a.date, a.region, a.service, "aws4_request"}, "/")
	want := sigv4Signature(secret, a.date, a.region, a.service, sigv4StringToSign(amzDate, scope, creq))
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return fmt.Errorf("signature mismatch: canonical request was\n%s", creq)
	}
	return nil
}

// TestSigV4VerifierKnownAnswers proves the verifier against the AWS SigV4
// test suite, so that agreement with the client means something.
func TestSigV4VerifierKnownAnswers(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	tests := []struct {
		name, method, rawPath, amzDate, service string
		headers                                 map[string]string
		signed                                  []string
		wantCanonical, wantSTSHash, wantSig     string
	}{
		{
			// aws4_testsuite post-vanilla.
			name: "post-vanilla", method: "POST", rawPath: "/", amzDate: "20150830T123600Z", service: "service",
			headers: map[string]string{"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
			signed:  []string{"host", "x-amz-date"},
			wantCanonical: "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			wantSTSHash: "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
			wantSig:     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
		},
		{
			// botocore tests/unit/auth/aws4_testsuite/get-utf8: the path is
			// sent encoded once and canonicalized encoded twice.
			name: "get-utf8 (double encoding)", method: "GET", rawPath: "/%E1%88%B4", amzDate: "20110909T233600Z", service: "host",
			headers: map[string]string{"host": "host.foo.com", "date": "Mon, 09 Sep 2011 23:36:00 GMT"},
			signed:  []string{"date", "host"},
			wantCanonical: "GET\n/%25E1%2588%25B4\n\ndate:Mon, 09 Sep 2011 23:36:00 GMT\nhost:host.foo.com\n\ndate;host\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			wantSTSHash: "", // the suite's .sts carries the hash; checked through the signature
			wantSig:     "57b1eb3df3b16a8479c0097b66c0b261cfd65b829419a3f2c3d05319722490b8",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sigv4Request{method: tt.method, rawPath: tt.rawPath,
				header: func(n string) []string { return []string{tt.headers[n]} }}
			creq := sigv4CanonicalRequest(r, tt.signed, false)
			if creq != tt.wantCanonical {
				t.Fatalf("canonical request:\n%s\nwant:\n%s", creq, tt.wantCanonical)
			}
			date := tt.amzDate[:8]
			sts := sigv4StringToSign(tt.amzDate, date+"/us-east-1/"+tt.service+"/aws4_request", creq)
			if tt.wantSTSHash != "" && !strings.HasSuffix(sts, "\n"+tt.wantSTSHash) {
				t.Fatalf("string to sign:\n%s\nwant hash %s", sts, tt.wantSTSHash)
			}
			if got := sigv4Signature(secret, date, "us-east-1", tt.service, sts); got != tt.wantSig {
				t.Fatalf("signature %s, want %s", got, tt.wantSig)
			}
		})
	}
}

// TestSigV4ClientAcceptedByVerifier sends real client calls for several
// model-ID forms and checks each with the independent verifier, plus the
// exact path on the wire.
func TestSigV4ClientAcceptedByVerifier(t *testing.T) {
	isolateAWSEnv(t)
	secrets := map[string]string{"AKIDSIGV4": "sigv4/Secret+Key", "ASIASIGV4": "tempSecret"}
	fb := newFakeBedrock(t, nil)
	keys := Config{AccessKeyID: "AKIDSIGV4", SecretAccessKey: "sigv4/Secret+Key"}
	tests := []struct {
		name, modelID, wantURI string
		cfg                    Config
		invoke                 bool // through InvokeModel (imported models have no Converse)
	}{
		{"foundation model", "amazon.nova-lite-v1:0", "/model/amazon.nova-lite-v1%3A0/converse",
			Config{AccessKeyID: "AKIDSIGV4", SecretAccessKey: "sigv4/Secret+Key"}, false},
		{"cross-region profile with session token", "us.amazon.nova-lite-v1:0", "/model/us.amazon.nova-lite-v1%3A0/converse",
			Config{AccessKeyID: "ASIASIGV4", SecretAccessKey: "tempSecret", SessionToken: "tok/en+=="}, false},
		{"inference-profile ARN", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
			Config{AccessKeyID: "AKIDSIGV4", SecretAccessKey: "sigv4/Secret+Key"}, false},
		{"application-inference-profile ARN in eu-west-1", "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/x1y2z3",
			"/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Aapplication-inference-profile%2Fx1y2z3/converse",
			Config{AccessKeyID: "AKIDSIGV4", SecretAccessKey: "sigv4/Secret+Key", Region: "eu-west-1"}, false},
		{"endpoint with base path", "amazon.nova-lite-v1:0", "/proxy/model/amazon.nova-lite-v1%3A0/converse",
			Config{AccessKeyID: "AKIDSIGV4", SecretAccessKey: "sigv4/Secret+Key", Endpoint: "/proxy"}, false},
		{"eu. profile", "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse", keys, false},
		{"apac. profile", "apac.amazon.nova-lite-v1:0", "/model/apac.amazon.nova-lite-v1%3A0/converse", keys, false},
		{"global. profile", "global.anthropic.claude-sonnet-4-20250514-v1:0", "/model/global.anthropic.claude-sonnet-4-20250514-v1%3A0/converse", keys, false},
		{"foundation-model ARN", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Famazon.nova-pro-v1%3A0/converse", keys, false},
		{"provisioned-model ARN", "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123xyz",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aprovisioned-model%2Fabc123xyz/converse", keys, false},
		{"custom-model ARN", "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-text-express-v1:0:8k/ly16hhi765j4",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Acustom-model%2Famazon.titan-text-express-v1%3A0%3A8k%2Fly16hhi765j4/converse", keys, false},
		{"imported-model ARN (InvokeModel)", "arn:aws:bedrock:us-east-1:123456789012:imported-model/abcd1234efgh",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aimported-model%2Fabcd1234efgh/invoke", keys, true},
		{"inference-profile ARN (InvokeModel)", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke", keys, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Endpoint = fb.URL + tt.cfg.Endpoint
			c := mustNew(t, tt.cfg)
			if tt.invoke {
				if _, err := c.InvokeModel(context.Background(), tt.modelID, &InvokeModelInput{Body: []byte(`{"prompt":"hi"}`)}); err != nil {
					t.Fatal(err)
				}
			} else if err := converseCall(context.Background(), c, tt.modelID); err != nil {
				t.Fatal(err)
			}
			seen := fb.last(t)
			if seen.RequestURI != tt.wantURI {
				t.Fatalf("RequestURI = %q, want %q", seen.RequestURI, tt.wantURI)
			}
			r := seenToRequest(seen)
			if err := verifySigV4(r, seen.Body, secrets, c.Region()); err != nil {
				t.Fatalf("verifier rejected the client's signature: %v", err)
			}
			// The same request fails once anything signed changes, and with a
			// single-encoded canonical URI whenever the ID had reserved bytes:
			// the verifier is not vacuous.
			tampered := append([]byte(nil), seen.Body...)
			tampered[0] = ' '
			if verifySigV4(r, tampered, secrets, c.Region()) == nil {
				t.Fatal("verifier accepted a tampered body")
			}
			a, _ := parseSigv4Authz(seen.Header.Get("Authorization"))
			rawPath, _, _ := strings.Cut(seen.RequestURI, "?")
			single := sigv4CanonicalRequest(sigv4Request{method: "POST", rawPath: rawPath, body: seen.Body,
				header: func(n string) []string {
					if n == "host" {
						return []string{seen.Host}
					}
					if n == "content-length" {
						return []string{fmt.Sprint(seen.Length)}
					}
					return slices.Clone(seen.Header.Values(n))
				}}, a.signed, true)
			scope := a.date + "/" + a.region + "/bedrock/aws4_request"
			singleSig := sigv4Signature(secrets[a.keyID], a.date, a.region, "bedrock",
				sigv4StringToSign(seen.Header.Get("X-Amz-Date"), scope, single))
			if strings.Contains(rawPath, "%") && singleSig == a.signature {
				t.Fatal("signature matches a single-encoded canonical URI; SigV4 for bedrock double-encodes")
			}
		})
	}
}

// seenToRequest rebuilds enough of an *http.Request from a recorded one for
// the verifier.
func seenToRequest(s seenRequest) *http.Request {
	return &http.Request{Method: s.Method, RequestURI: s.RequestURI, Host: s.Host, Header: s.Header, ContentLength: s.Length}
}

// rotatingCreds hands out a new access key on every Retrieve, with an expiry
// inside the refresh window so that the client's cache asks every time.
type rotatingCreds struct{ n atomic.Int64 }

func (p *rotatingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	n := p.n.Add(1)
	return aws.Credentials{AccessKeyID: fmt.Sprintf("AKIDTRY%d", n), SecretAccessKey: "rotSecret",
		CanExpire: true, Expires: time.Now().Add(time.Minute)}, nil
}

// TestSigV4RetrySignedAfresh checks that every attempt is rebuilt and signed
// anew (current credentials, its own X-Amz-Date), never replayed.
func TestSigV4RetrySignedAfresh(t *testing.T) {
	isolateAWSEnv(t)
	fb := newFakeBedrock(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n < 3 {
			w.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
			w.WriteHeader(429)
			io.WriteString(w, `{"message":"Too many requests, please wait before trying again."}`)
			return
		}
		io.WriteString(w, "{}")
	})
	c := mustNew(t, Config{Endpoint: fb.URL, CredentialsProvider: &rotatingCreds{},
		Retry: RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}})
	if err := converseCall(context.Background(), c, "m"); err != nil {
		t.Fatal(err)
	}
	seen := fb.requests()
	if len(seen) != 3 {
		t.Fatalf("attempts = %d, want 3", len(seen))
	}
	secrets := map[string]string{"AKIDTRY1": "rotSecret", "AKIDTRY2": "rotSecret", "AKIDTRY3": "rotSecret"}
	for i, s := range seen {
		if err := verifySigV4(seenToRequest(s), s.Body, secrets, "us-east-1"); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		if k := accessKeyOf(s.Header.Get("Authorization")); k != fmt.Sprintf("AKIDTRY%d", i+1) {
			t.Fatalf("attempt %d signed with %s: not re-signed", i+1, k)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	c, err := New(context.Background(), Config{AccessKeyID: "AKIDBENCH", SecretAccessKey: "s", Region: "us-east-1",
		Endpoint: "https://bedrock-runtime.us-east-1.amazonaws.com"})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"hello"}]}]}`)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	cl := &call{op: "Converse", path: modelPath("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0", "converse"),
		body: body, header: jsonHeader}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.newRequest(ctx, cl, hash); err != nil {
			b.Fatal(err)
		}
	}
}
