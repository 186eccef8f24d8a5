package emulator

import (
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
)

// transport is one way of reaching the emulator: plain HTTP/1.1, h2c with
// prior knowledge, or TLS negotiating h2 or http/1.1.
type transport struct {
	name  string
	tls   bool
	proto int // HTTP major version the client must end up on
}

var transports = []transport{
	{"http1", false, 1},
	{"h2c", false, 2},
	{"tls-http1", true, 1},
	{"tls-h2", true, 2},
}

// protoCounter records the HTTP version of every response.
type protoCounter struct {
	next  http.RoundTripper
	wrong atomic.Int64
	want  int
}

func (p *protoCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(r)
	if err == nil && resp.ProtoMajor != p.want {
		p.wrong.Add(1)
	}
	return resp, err
}

// clientFor starts an emulator for tr and returns an HTTP client that
// reaches it only the way tr says.
func clientFor(t *testing.T, cfg Config, tr transport) (*Server, *http.Client, *protoCounter) {
	t.Helper()
	if tr.tls {
		cfg.TLS = &TLSConfig{Dir: t.TempDir()}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	base := &http.Transport{}
	var p http.Protocols
	switch {
	case tr.tls:
		base.TLSClientConfig = &tls.Config{RootCAs: srv.CertPool}
		p.SetHTTP1(tr.proto == 1)
		p.SetHTTP2(tr.proto == 2)
	case tr.proto == 2:
		p.SetUnencryptedHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	base.Protocols = &p
	pc := &protoCounter{next: bufferedBodyTransport{base}, want: tr.proto}
	t.Cleanup(base.CloseIdleConnections)
	return srv, &http.Client{Transport: pc}, pc
}

// TestTransportsSDK runs the same Go SDK calls, a fault and a bad signature
// over every transport and expects the same answers.
func TestTransportsSDK(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			srv, hc, pc := clientFor(t, Config{}, tr)
			if tr.tls {
				if _, err := os.Stat(srv.CAFile); err != nil {
					t.Fatalf("CA file: %v", err)
				}
			}
			client := bedrockruntime.New(bedrockruntime.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1, HTTPClient: hc,
				Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
			})
			ctx := ctxT(t)
			out, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("Say hello")})
			if err != nil {
				t.Fatal(err)
			}
			if got := replyText(t, out); got != "Hello." {
				t.Errorf("reply %q", got)
			}
			evs, err := streamEvents(t, client, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("Tell me about rivers")})
			if err != nil {
				t.Fatal(err)
			}
			if got := collapse(eventNames(evs)); got != "messageStart delta:text contentBlockStop messageStop metadata" {
				t.Errorf("events %s", got)
			}
			_, err = client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("[[quarry:throttle]] hi")})
			var te *types.ThrottlingException
			if !errors.As(err, &te) {
				t.Errorf("throttle marker: %v", err)
			}
			bad := bedrockruntime.New(bedrockruntime.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1, HTTPClient: hc,
				Credentials: credentials.NewStaticCredentialsProvider("test", "wrong", ""),
			})
			_, err = bad.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("hi")})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
				t.Errorf("bad signature: %v", err)
			}
			if n := pc.wrong.Load(); n != 0 {
				t.Errorf("%d responses on the wrong HTTP version", n)
			}
		})
	}
}
