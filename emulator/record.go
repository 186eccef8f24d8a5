package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"go.yaml.in/yaml/v3"
)

// RecordConfig makes the emulator a recording proxy: every request is
// forwarded to Upstream (real Bedrock), re-signed with real credentials,
// and the exchange is written to Dir as a VCR cassette in the form of the
// project's recordings (testdata/bedrock-recordings): event-stream bodies
// as !!binary base64, Authorization and session tokens scrubbed.
type RecordConfig struct {
	// Dir receives one cassette file per exchange.
	Dir string `yaml:"dir"`
	// Upstream is the Bedrock Runtime base URL, e.g.
	// https://bedrock-runtime.us-east-1.amazonaws.com.
	Upstream string `yaml:"upstream"`
	// Region signs the forwarded requests; default: the Upstream host's
	// region, else the default chain's.
	Region string `yaml:"region"`
	// Credentials sign the forwarded requests; nil: the AWS default
	// credential chain (environment, shared files and SSO, web identity,
	// ECS, EC2).
	Credentials aws.CredentialsProvider `yaml:"-"`
	// HTTPClient reaches Upstream; nil: a client with no overall timeout.
	HTTPClient *http.Client `yaml:"-"`
}

// recorder forwards and records.
type recorder struct {
	cfg      RecordConfig
	upstream *url.URL
	creds    aws.CredentialsProvider
	region   string
	signer   *v4.Signer
	httpc    *http.Client
	seq      atomic.Int64
	mu       sync.Mutex // serialises file writes
}

var regionInHost = regexp.MustCompile(`^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.`)

func newRecorder(cfg RecordConfig) (*recorder, error) {
	if cfg.Dir == "" || cfg.Upstream == "" {
		return nil, fmt.Errorf("record: dir and upstream are required")
	}
	u, err := url.Parse(strings.TrimRight(cfg.Upstream, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("record: upstream %q is not an http(s) URL", cfg.Upstream)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	r := &recorder{cfg: cfg, upstream: u, creds: cfg.Credentials, region: cfg.Region, httpc: cfg.HTTPClient,
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })}
	if r.region == "" {
		if m := regionInHost.FindStringSubmatch(u.Hostname()); m != nil {
			r.region = m[1]
		}
	}
	if r.creds == nil || r.region == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ac, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("record: loading AWS configuration: %w", err)
		}
		if r.creds == nil {
			r.creds = ac.Credentials
		}
		if r.region == "" {
			r.region = ac.Region
		}
	}
	if r.region == "" {
		return nil, fmt.Errorf("record: no region: set it, or use an upstream named bedrock-runtime.REGION.amazonaws.com")
	}
	if r.httpc == nil {
		r.httpc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	// Continue numbering after the cassettes already there.
	if names, _ := filepath.Glob(filepath.Join(cfg.Dir, "*.yaml")); len(names) > 0 {
		r.seq.Store(int64(len(names)))
	}
	return r, nil
}

// forwardedHeaders are the request headers that reach Upstream (and are
// signed there); everything else is the client's own business.
var forwardedHeaders = []string{"Content-Type", "Accept", "X-Amzn-Bedrock-Accept", "X-Amzn-Bedrock-Trace",
	"X-Amzn-Bedrock-Guardrailidentifier", "X-Amzn-Bedrock-Guardrailversion", "X-Amzn-Bedrock-Performanceconfig-Latency",
	"X-Amzn-Bedrock-Service-Tier", "X-Amzn-Bedrock-Request-Metadata"}

// serve forwards c to Upstream, streams the answer back and records it.
func (rec *recorder) serve(c *call, path string) {
	ctx := c.r.Context()
	target := *rec.upstream
	target.RawPath = strings.TrimRight(rec.upstream.EscapedPath(), "/") + path
	p, err := url.PathUnescape(target.RawPath)
	if err != nil {
		c.fail(validationError("The request path is not valid: %v", err))
		return
	}
	target.Path = p
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(c.body))
	if err != nil {
		c.fail(errInternal())
		return
	}
	for _, k := range forwardedHeaders {
		if v := c.r.Header.Values(k); len(v) > 0 {
			req.Header[k] = v
		}
	}
	req.Header.Set("User-Agent", "quarry-emulator-recorder")
	creds, err := rec.creds.Retrieve(ctx)
	if err != nil {
		c.e.log.Warn("record: credentials", "err", err)
		c.fail(&apiError{Status: 500, Code: "InternalServerException", Message: "The recorder could not get AWS credentials: " + err.Error()})
		return
	}
	sum := sha256.Sum256(c.body)
	// The signer is handed the canonical URI (the path escaped once more,
	// as SigV4 wants for Bedrock) in Opaque, then the wire form is restored.
	wire := req.URL.EscapedPath()
	req.URL.Opaque = "//" + req.URL.Host + uriEncode(wire, false)
	err = rec.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingService, rec.region, time.Now())
	req.URL.Opaque = ""
	if err != nil {
		c.fail(errInternal())
		return
	}
	resp, err := rec.httpc.Do(req)
	if err != nil {
		c.e.log.Warn("record: upstream", "err", err)
		c.fail(&apiError{Status: 502, Code: "InternalServerException", Message: "The recorder could not reach the upstream: " + err.Error()})
		return
	}
	defer resp.Body.Close()
	h := c.w.Header()
	for k, v := range resp.Header {
		if k == "Content-Length" && resp.Header.Get("Content-Type") == "application/vnd.amazon.eventstream" {
			continue
		}
		h[k] = v
	}
	c.w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(c.w)
	var body bytes.Buffer
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			body.Write(buf[:n])
			if _, werr := c.w.Write(buf[:n]); werr != nil {
				c.e.disconnects.Add(1)
				return
			}
			rc.Flush()
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			c.e.log.Warn("record: upstream body", "err", rerr)
			return
		}
	}
	if err := rec.write(c, req, resp, body.Bytes()); err != nil {
		c.e.log.Warn("record: writing cassette", "err", err)
	}
}

// scrubbed request headers: their values never reach a cassette.
var scrubbedHeaders = map[string]bool{"Authorization": true, "X-Amz-Security-Token": true}

// write saves one exchange as a cassette file.
func (rec *recorder) write(c *call, req *http.Request, resp *http.Response, body []byte) error {
	n := rec.seq.Add(1)
	name := fmt.Sprintf("%04d-%s-%s.yaml", n, c.op, fileSafe(modelOfPath(req.URL.EscapedPath())))
	doc := &yaml.Node{Kind: yaml.MappingNode}
	inter := &yaml.Node{Kind: yaml.MappingNode}
	reqN := &yaml.Node{Kind: yaml.MappingNode}
	addKV(reqN, "body", bodyNode(c.body))
	addKV(reqN, "headers", headersNode(req.Header, true))
	addKV(reqN, "method", scalar(http.MethodPost))
	addKV(reqN, "uri", scalar(req.URL.String()))
	respN := &yaml.Node{Kind: yaml.MappingNode}
	bodyN := &yaml.Node{Kind: yaml.MappingNode}
	addKV(bodyN, "string", bodyNode(body))
	addKV(respN, "body", bodyN)
	addKV(respN, "headers", headersNode(resp.Header, false))
	status := &yaml.Node{Kind: yaml.MappingNode}
	addKV(status, "code", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(resp.StatusCode)})
	addKV(status, "message", scalar(http.StatusText(resp.StatusCode)))
	addKV(respN, "status", status)
	addKV(inter, "request", reqN)
	addKV(inter, "response", respN)
	addKV(doc, "interactions", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{inter}})
	addKV(doc, "version", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"})
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return os.WriteFile(filepath.Join(rec.cfg.Dir, name), out, 0o644)
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func addKV(m *yaml.Node, k string, v *yaml.Node) { m.Content = append(m.Content, scalar(k), v) }

// bodyNode is a body as text when it is valid UTF-8 without control bytes
// (JSON), else as !!binary base64 (event streams), as vcrpy writes them.
func bodyNode(b []byte) *yaml.Node {
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' && r != '\r' }) {
		return scalar(string(b))
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!binary", Value: encodeBase64Lines(b)}
}

func encodeBase64Lines(b []byte) string {
	s := string(appendBase64(nil, b))
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76])
		out.WriteByte('\n')
		s = s[76:]
	}
	out.WriteString(s)
	return out.String()
}

func headersNode(h http.Header, scrub bool) *yaml.Node {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range keys {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range h[k] {
			if scrub && scrubbedHeaders[http.CanonicalHeaderKey(k)] {
				v = "REDACTED"
			}
			seq.Content = append(seq.Content, scalar(v))
		}
		addKV(m, k, seq)
	}
	return m
}

// modelOfPath is the decoded model ID (or guardrail ID) of a request path
// (which may have a base path before /model/).
func modelOfPath(path string) string {
	for _, p := range []string{"/model/", "/guardrail/"} {
		if i := strings.Index(path, p); i >= 0 {
			_, ids := route(http.MethodPost, path[i:])
			return ids[0]
		}
	}
	return ""
}

var unsafeFile = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileSafe(s string) string { return strings.Trim(unsafeFile.ReplaceAllString(s, "_"), "_") }
