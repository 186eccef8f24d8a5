package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SignatureLifetime is how long AWS accepts a SigV4-signed request after the
// time in its X-Amz-Date header.
const SignatureLifetime = 15 * time.Minute

// SignedRequest is a fully authorized Bedrock request that was built but not
// sent (BAML's b.request): send it as is, with any HTTP client, before it
// expires. It carries the credentials' signature (never the secret key),
// and, with temporary credentials, the session token: treat it as a secret.
type SignedRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	// SignedAt is the signing time (zero for API-key requests, which carry a
	// bearer token and do not expire on their own).
	SignedAt time.Time `json:"signed_at,omitzero"`
	// ExpiresAt is when AWS stops accepting the signature: SignedAt plus
	// SignatureLifetime, or earlier if the credentials expire first.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// SignConverse builds and authorizes exactly the request Converse would send
// for req, without sending it.
func (c *Client) SignConverse(ctx context.Context, modelID string, req *ConverseRequest) (*SignedRequest, error) {
	return c.signConverse(ctx, "Converse", modelID, "converse", req)
}

// SignConverseStream is SignConverse for ConverseStream.
func (c *Client) SignConverseStream(ctx context.Context, modelID string, req *ConverseRequest) (*SignedRequest, error) {
	return c.signConverse(ctx, "ConverseStream", modelID, "converse-stream", req)
}

// signConverse refuses what op itself would refuse (a nil request, an empty
// model ID), then builds and authorizes the request.
func (c *Client) signConverse(ctx context.Context, op, modelID, action string, req *ConverseRequest) (*SignedRequest, error) {
	if err := checkModelCall(op, modelID, req == nil); err != nil {
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, &OpError{op, fmt.Errorf("encoding request: %w", err)}
	}
	cl := &call{op: op, modelID: modelID, action: action, body: body, header: jsonHeader}
	hr, err := c.newRequest(ctx, cl, c.payloadHash(body))
	if err != nil {
		return nil, &OpError{op, err}
	}
	// hr's body reads back body itself, so body is what the request carries.
	sr := &SignedRequest{Method: hr.Method, URL: hr.URL.String(), Headers: make(map[string]string, len(hr.Header)+1), Body: string(body)}
	for k, v := range hr.Header {
		sr.Headers[k] = strings.Join(v, ",")
	}
	sr.Headers["Content-Length"] = strconv.Itoa(len(body))
	if c.signer != nil {
		t, err := time.Parse("20060102T150405Z", hr.Header.Get("X-Amz-Date"))
		if err == nil {
			sr.SignedAt = t
			sr.ExpiresAt = t.Add(SignatureLifetime)
		}
		if creds, err := c.auth.retrieve(ctx); err == nil && creds.CanExpire && creds.Expires.Before(sr.ExpiresAt) {
			sr.ExpiresAt = creds.Expires
		}
	}
	return sr, nil
}

// Note says, in one sentence, how long the request stays valid.
func (r *SignedRequest) Note() string {
	if r.SignedAt.IsZero() {
		return "Authorized with a Bedrock API key (bearer token): valid for as long as the key is."
	}
	return fmt.Sprintf("Signed with SigV4 at %s; AWS accepts it until %s (%s after signing, or when the credentials expire).",
		r.SignedAt.UTC().Format(time.RFC3339), r.ExpiresAt.UTC().Format(time.RFC3339), r.ExpiresAt.Sub(r.SignedAt).Round(time.Second))
}

// Curl renders the request as a curl command line (POSIX shell quoting).
// curl computes Content-Length itself, to the same value.
func (r *SignedRequest) Curl() string {
	names := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		if k != "Content-Length" && k != "Host" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "curl -sS -X %s %s", r.Method, shellQuote(r.URL))
	for _, k := range names {
		fmt.Fprintf(&b, " \\\n  -H %s", shellQuote(k+": "+r.Headers[k]))
	}
	fmt.Fprintf(&b, " \\\n  --data-raw %s", shellQuote(r.Body))
	return b.String()
}

// Send sends the request with client (http.DefaultClient if nil). It is for
// tests and tools; Client's own methods are the normal way to call Bedrock.
func (r *SignedRequest) Send(ctx context.Context, client *http.Client) (*http.Response, error) {
	if client == nil {
		client = http.DefaultClient
	}
	hr, err := http.NewRequestWithContext(ctx, r.Method, r.URL, strings.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	for k, v := range r.Headers {
		if k != "Content-Length" {
			hr.Header.Set(k, v)
		}
	}
	return client.Do(hr)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
