package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SigV4 verification, written from the AWS Signature Version 4 specification
// (and the wire brief) rather than borrowed from an SDK signer, so that a bug
// in a client's signer cannot hide behind the same bug in the emulator.

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	signingService = "bedrock"
)

func errUnrecognizedClient() *apiError {
	return &apiError{Status: 403, Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Namespace: "com.amazon.coral.service"}
}

func errBadSignature() *apiError {
	return &apiError{Status: 403, Code: "InvalidSignatureException", Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", Namespace: "com.amazon.coral.service"}
}

func errMissingAuth() *apiError {
	return &apiError{Status: 403, Code: "MissingAuthenticationTokenException", Message: "Missing Authentication Token", Namespace: "com.amazon.coral.service"}
}

func errIncompleteSignature(msg string) *apiError {
	return &apiError{Status: 403, Code: "IncompleteSignatureException", Message: msg, Namespace: "com.amazon.coral.service"}
}

type verifier struct {
	creds    map[string]Credential
	bearer   map[string]bool // nil: any non-empty token
	skew     time.Duration
	keyMu    sync.Mutex
	keyCache map[string][]byte // signing keys by secret+scope, they change once a day
}

// maxKeyCache bounds keyCache: the date and region of a scope come from the
// request, so a client holding a valid key could otherwise grow it without
// end. Past the bound the cache starts again; a dropped key costs four HMACs.
const maxKeyCache = 256

func newVerifier(cfg Config) *verifier {
	v := &verifier{creds: make(map[string]Credential), skew: cfg.ClockSkew}
	for _, c := range cfg.Credentials {
		v.creds[c.AccessKeyID] = c
	}
	if len(cfg.BearerTokens) > 0 {
		v.bearer = make(map[string]bool)
		for _, t := range cfg.BearerTokens {
			v.bearer[t] = true
		}
	}
	return v
}

// verify authenticates r. rawPath is the path exactly as sent (still
// percent-encoded); body is the full request body.
func (v *verifier) verify(r *http.Request, rawPath string, body []byte, now time.Time) *apiError {
	sig, aerr := v.verifyHeaders(r, now)
	if aerr != nil || sig == nil {
		return aerr
	}
	return v.verifySignature(r, rawPath, body, sig)
}

// sigV4 is a SigV4 Authorization header whose key, scope and date checked.
type sigV4 struct {
	cred                           Credential
	signedHeaders, signature       string
	amzDate, date, region, service string
}

// verifyHeaders checks everything the headers alone can tell, so that a
// request with no or unknown credentials is refused before its body is
// read. It returns nil, nil for an accepted bearer token (nothing more to
// check), or the SigV4 parts whose signature verifySignature checks.
func (v *verifier) verifyHeaders(r *http.Request, now time.Time) (*sigV4, *apiError) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return nil, errMissingAuth()
	}
	if tok, ok := strings.CutPrefix(authz, "Bearer "); ok {
		tok = strings.TrimSpace(tok)
		if tok == "" || (v.bearer != nil && !v.bearer[tok]) {
			return nil, errUnrecognizedClient()
		}
		return nil, nil
	}
	rest, ok := strings.CutPrefix(authz, sigV4Algorithm+" ")
	if !ok {
		return nil, errIncompleteSignature("Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.")
	}
	var credential, signedHeaders, signature string
	for _, part := range strings.Split(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = val
		case "SignedHeaders":
			signedHeaders = val
		case "Signature":
			signature = val
		}
	}
	var missing []string
	if credential == "" {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if signature == "" {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if signedHeaders == "" {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if len(missing) > 0 {
		return nil, errIncompleteSignature(strings.Join(missing, " ") + " Authorization=" + authz)
	}
	// Credential=AKID/20250206/us-east-1/bedrock/aws4_request
	cparts := strings.Split(credential, "/")
	if len(cparts) != 5 || cparts[4] != "aws4_request" {
		return nil, errIncompleteSignature("Credential should be scoped to a valid region. ")
	}
	akid, date, region, service := cparts[0], cparts[1], cparts[2], cparts[3]
	cred, known := v.creds[akid]
	if !known {
		return nil, errUnrecognizedClient()
	}
	if service != signingService {
		return nil, errIncompleteSignature("Credential should be scoped to correct service: '" + signingService + "'. ")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return nil, errIncompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + authz)
	}
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return nil, errIncompleteSignature("Date must be in ISO-8601 'basic format'. Got '" + amzDate + "'. See http://en.wikipedia.org/wiki/ISO_8601")
	}
	if !strings.HasPrefix(amzDate, date) {
		return nil, errBadSignature()
	}
	if t.Before(now.Add(-v.skew)) {
		return nil, &apiError{Status: 403, Code: "InvalidSignatureException", Namespace: "com.amazon.coral.service",
			Message: "Signature expired: " + amzDate + " is now earlier than " + now.Add(-v.skew).UTC().Format(amzDateFormat) +
				" (" + now.UTC().Format(amzDateFormat) + " - " + skewText(v.skew) + ".)"}
	}
	if t.After(now.Add(v.skew)) {
		return nil, &apiError{Status: 403, Code: "InvalidSignatureException", Namespace: "com.amazon.coral.service",
			Message: "Signature not yet current: " + amzDate + " is still later than " + now.Add(v.skew).UTC().Format(amzDateFormat) +
				" (" + now.UTC().Format(amzDateFormat) + " + " + skewText(v.skew) + ".)"}
	}
	tok := r.Header.Get("X-Amz-Security-Token")
	if cred.SessionToken != "" || tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(cred.SessionToken)) != 1 {
			return nil, errUnrecognizedClient()
		}
	}

	return &sigV4{cred: cred, signedHeaders: signedHeaders, signature: signature,
		amzDate: amzDate, date: date, region: region, service: service}, nil
}

// verifySignature checks the signature of sig over the request and body.
func (v *verifier) verifySignature(r *http.Request, rawPath string, body []byte, sig *sigV4) *apiError {
	// The payload hash is the SHA-256 of the body; when the client also sent
	// x-amz-content-sha256 it must agree (UNSIGNED-PAYLOAD is accepted only
	// if the client chose it explicitly).
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		if h != "UNSIGNED-PAYLOAD" {
			return &apiError{Status: 400, Code: "XAmzContentSHA256Mismatch", Message: "The provided 'x-amz-content-sha256' header does not match what was computed.", Namespace: "com.amazon.coral.service"}
		}
		payloadHash = h
	}
	return v.checkSignature(r, rawPath, sig, payloadHash)
}

// checkSignature checks sig over the request with the payload hash given.
func (v *verifier) checkSignature(r *http.Request, rawPath string, sig *sigV4, payloadHash string) *apiError {
	canon := canonicalRequest(r, rawPath, sig.signedHeaders, payloadHash)
	creqHash := sha256.Sum256([]byte(canon))
	scope := sig.date + "/" + sig.region + "/" + sig.service + "/aws4_request"
	sts := sigV4Algorithm + "\n" + sig.amzDate + "\n" + scope + "\n" + hex.EncodeToString(creqHash[:])
	key := v.signingKey(sig.cred.SecretAccessKey, sig.date, sig.region, sig.service)
	want := hex.EncodeToString(hmacSHA256(key, []byte(sts)))
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig.signature)) != 1 {
		return errBadSignature()
	}
	return nil
}

// sigContext is what a verified SigV4 request leaves for checking the
// signatures of the event-stream frames that follow it.
type sigContext struct {
	secret, region, service string
	seed                    []byte // the request's signature
}

// authenticate checks the Authorization of a request whose body is an
// event stream (not read yet): hashOf turns the declared
// x-amz-content-sha256 into the payload hash the signature covers. A
// bearer token yields a nil sigContext.
func (v *verifier) authenticate(r *http.Request, rawPath string, now time.Time, hashOf func(declared string) (string, *apiError)) (*sigContext, *apiError) {
	sig, aerr := v.verifyHeaders(r, now)
	if aerr != nil || sig == nil {
		return nil, aerr
	}
	payloadHash, aerr := hashOf(r.Header.Get("X-Amz-Content-Sha256"))
	if aerr != nil {
		return nil, aerr
	}
	if aerr := v.checkSignature(r, rawPath, sig, payloadHash); aerr != nil {
		return nil, aerr
	}
	seed, _ := hex.DecodeString(sig.signature)
	return &sigContext{secret: sig.cred.SecretAccessKey, region: sig.region, service: sig.service, seed: seed}, nil
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return d.String()
}

func (v *verifier) signingKey(secret, date, region, service string) []byte {
	ck := secret + "\x00" + date + "\x00" + region + "\x00" + service
	v.keyMu.Lock()
	k, ok := v.keyCache[ck]
	v.keyMu.Unlock()
	if ok {
		return k
	}
	k = hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	k = hmacSHA256(k, []byte("aws4_request"))
	v.keyMu.Lock()
	if v.keyCache == nil || len(v.keyCache) >= maxKeyCache {
		v.keyCache = make(map[string][]byte)
	}
	v.keyCache[ck] = k
	v.keyMu.Unlock()
	return k
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

// canonicalRequest builds the SigV4 canonical request. The canonical URI is
// the raw request path URI-encoded once more (non-S3 services double-encode:
// "%3A" becomes "%253A"), never a decoded-and-reencoded path.
func canonicalRequest(r *http.Request, rawPath, signedHeaders, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	if rawPath == "" {
		rawPath = "/"
	}
	b.WriteString(uriEncode(rawPath, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, name := range strings.Split(signedHeaders, ";") {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signedHeaders)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalHeaderValue is the header's values, trimmed, inner runs of spaces
// collapsed, joined by commas. Go's server moves Host and Content-Length out
// of r.Header; they are read back from the request. Over HTTP/2 the AWS SDK
// for JavaScript signs the :authority pseudo-header instead of host.
func canonicalHeaderValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host", ":authority":
		vals = []string{r.Host}
	case "content-length":
		if r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			vals = v
		}
	case "transfer-encoding":
		vals = r.TransferEncoding
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

// canonicalQuery sorts the query parameters by name then value, each
// URI-encoded per SigV4 (the raw query is decoded first).
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		k, v = queryUnescape(k), queryUnescape(v)
		params = append(params, kv{uriEncode(k, true), uriEncode(v, true)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func queryUnescape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		if c == '+' {
			c = ' '
		}
		b = append(b, c)
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// uriEncode percent-encodes every byte except the unreserved characters
// A-Z a-z 0-9 - . _ ~ (and '/' unless encodeSlash), with upper-case hex.
func uriEncode(s string, encodeSlash bool) string {
	const hexu = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexu[c>>4])
		b.WriteByte(hexu[c&0xf])
	}
	return b.String()
}
