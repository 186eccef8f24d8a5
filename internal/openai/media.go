package openai

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/clip"
)

// This file turns media references in requests into bytes or S3 locations:
// data: URIs are decoded, s3:// URIs pass through (Bedrock reads them), and
// http(s) URLs are fetched by the gateway itself, because Bedrock cannot
// fetch them. Fetching is the gateway making requests on a client's behalf,
// so it is fenced: a size limit, a timeout, a bounded number of redirects,
// and no connections to loopback, private, link-local or metadata addresses
// (checked on the resolved address at dial time, so DNS rebinding and
// redirects cannot get around it) unless the host is trusted.

// Defaults of MediaOptions.
const (
	defaultMediaMaxBytes     = 20 << 20
	defaultMediaTimeout      = 30 * time.Second
	defaultMediaMaxRedirects = 5
)

// mediaFetcher fetches http(s) media URLs within MediaOptions' limits. It is
// safe for concurrent use.
type mediaFetcher struct {
	client       *http.Client
	maxBytes     int64
	timeout      time.Duration
	maxRedirects int
	trusted      map[string]bool
}

// mediaError is a fetch that failed; Host is the URL's host (never the full
// URL, whose query may hold secrets) and Reason says why, fit for a client.
type mediaError struct {
	Host   string
	Reason string
}

func (e *mediaError) Error() string { return fmt.Sprintf("fetching from %s: %s", e.Host, e.Reason) }

// errForbiddenAddress is returned by the dialer for an address the gateway
// must not connect to.
var errForbiddenAddress = errors.New("the host resolves to a loopback, private, link-local or metadata address, which the gateway does not fetch from")

func newMediaFetcher(o MediaOptions) *mediaFetcher {
	f := &mediaFetcher{
		maxBytes:     o.MaxBytes,
		timeout:      o.Timeout,
		maxRedirects: o.MaxRedirects,
		trusted:      make(map[string]bool, len(o.TrustedHosts)),
	}
	if f.maxBytes <= 0 {
		f.maxBytes = defaultMediaMaxBytes
	}
	if f.timeout <= 0 {
		f.timeout = defaultMediaTimeout
	}
	if f.maxRedirects <= 0 {
		f.maxRedirects = defaultMediaMaxRedirects
	}
	for _, h := range o.TrustedHosts {
		f.trusted[strings.ToLower(strings.TrimSpace(h))] = true
	}
	if o.Client != nil {
		c := *o.Client
		f.client = &c
	} else {
		f.client = &http.Client{Transport: &http.Transport{
			// No proxy from the environment: the address check must apply to
			// the host actually dialed.
			Proxy:                 nil,
			DialContext:           f.dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: f.timeout,
		}}
	}
	f.client.CheckRedirect = f.checkRedirect
	return f
}

// isTrusted reports whether host (a URL's host, with or without port) may
// resolve to any address.
func (f *mediaFetcher) isTrusted(hostport string) bool {
	hostport = strings.ToLower(hostport)
	if f.trusted[hostport] {
		return true
	}
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return f.trusted[h] || f.trusted[strings.Trim(h, "[]")]
	}
	return f.trusted[strings.Trim(hostport, "[]")]
}

// dial connects to addr (host:port as in the URL, before DNS). Untrusted
// hosts go through a dialer whose Control refuses forbidden addresses: it
// runs on each resolved address just before connecting.
func (f *mediaFetcher) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !f.isTrusted(addr) {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || forbiddenAddr(ap.Addr()) {
				return errForbiddenAddress
			}
			return nil
		}
	}
	return d.DialContext(ctx, network, addr)
}

// blockedPrefixes are special-purpose ranges netip's predicates do not
// cover: "this network", shared address space (carrier NAT; Alibaba's
// metadata service lives there), IETF protocol assignments, benchmarking,
// reserved, and NAT64 (which can embed any IPv4 address).
var blockedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "2001:db8::/32", "fec0::/10",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// forbiddenAddr reports whether the gateway must not connect to a.
func forbiddenAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	// The metadata services' well-known addresses (link-local or private
	// already, listed for clarity).
	if a == netip.MustParseAddr("169.254.169.254") || a == netip.MustParseAddr("fd00:ec2::254") {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	for _, v4 := range embeddedIPv4(a) {
		if forbiddenAddr(v4) {
			return true
		}
	}
	return a.Is4() && a.As4() == [4]byte{255, 255, 255, 255}
}

// Prefixes of IPv6 forms that carry an IPv4 address (RFC 4291, 3056, 4380,
// 6052): a packet to them can end up at that IPv4 address.
var (
	ipv4Compatible = netip.MustParsePrefix("::/96")
	ipv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
)

// embeddedIPv4 returns the IPv4 addresses an IPv6 address embeds (none for
// an IPv4 one; ::ffff:a.b.c.d was unmapped already).
func embeddedIPv4(a netip.Addr) []netip.Addr {
	if !a.Is6() {
		return nil
	}
	b := a.As16()
	last := netip.AddrFrom4([4]byte(b[12:16]))
	switch {
	case ipv4Compatible.Contains(a), ipv4Translated.Contains(a):
		return []netip.Addr{last}
	case sixToFour.Contains(a):
		return []netip.Addr{netip.AddrFrom4([4]byte(b[2:6]))}
	case teredo.Contains(a):
		// The Teredo server, and the client's address stored inverted.
		client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		return []netip.Addr{netip.AddrFrom4([4]byte(b[4:8])), netip.AddrFrom4(client)}
	}
	return nil
}

// checkRedirect bounds redirects and keeps them on http(s); the target's
// address is checked again when it is dialed.
func (f *mediaFetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.maxRedirects {
		return &mediaError{Host: via[0].URL.Host, Reason: fmt.Sprintf("more than %d redirects", f.maxRedirects)}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return &mediaError{Host: via[0].URL.Host, Reason: "redirected to a URL that is not http(s)"}
	}
	return nil
}

// fetch downloads rawURL (http or https) and returns its bytes and MIME
// type (from Content-Type, else sniffed). Errors are *mediaError.
func (f *mediaFetcher) fetch(ctx context.Context, rawURL string) ([]byte, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", &mediaError{Host: "(invalid URL)", Reason: "not an absolute http(s) URL"}
	}
	host := u.Host
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", &mediaError{Host: host, Reason: "not a valid URL"}
	}
	req.Header.Set("User-Agent", "quarry-gateway (media fetch)")
	req.Header.Set("Accept", "image/*, audio/*, application/pdf, text/*, */*;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, "", fetchFailure(host, err, ctx)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, "", &mediaError{Host: host, Reason: fmt.Sprintf("the server answered HTTP %d", resp.StatusCode)}
	}
	if resp.ContentLength > f.maxBytes {
		return nil, "", &mediaError{Host: host, Reason: fmt.Sprintf("the file is larger than the gateway's limit of %d bytes", f.maxBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, "", fetchFailure(host, err, ctx)
	}
	if int64(len(data)) > f.maxBytes {
		return nil, "", &mediaError{Host: host, Reason: fmt.Sprintf("the file is larger than the gateway's limit of %d bytes", f.maxBytes)}
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "" || mt == "application/octet-stream" || mt == "binary/octet-stream" {
		mt, _, _ = mime.ParseMediaType(http.DetectContentType(data))
	}
	return data, mt, nil
}

// fetchFailure turns a transport error into a mediaError that says what
// happened without echoing addresses or the URL.
func fetchFailure(host string, err error, ctx context.Context) error {
	var me *mediaError
	switch {
	case errors.As(err, &me):
		return me
	case errors.Is(err, errForbiddenAddress):
		return &mediaError{Host: host, Reason: errForbiddenAddress.Error() + " (unless it is listed as a trusted host)"}
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return &mediaError{Host: host, Reason: "timed out"}
	case errors.Is(err, context.Canceled):
		return &mediaError{Host: host, Reason: "canceled"}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &mediaError{Host: host, Reason: "the host name could not be resolved"}
	}
	return &mediaError{Host: host, Reason: "the download failed"}
}

// dataURI is a decoded data: URI.
type dataURI struct {
	MIME string
	Data []byte
}

// parseDataURI decodes "data:[<mediatype>][;base64],<data>" (RFC 2397).
func parseDataURI(s string) (*dataURI, error) {
	rest, ok := cutPrefixFold(s, "data:")
	if !ok {
		return nil, errors.New("not a data: URI")
	}
	meta, payload, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, errors.New("the data: URI has no ',' before its data")
	}
	isBase64 := false
	if m, ok := cutSuffixFold(meta, ";base64"); ok {
		meta, isBase64 = m, true
	}
	mt := "text/plain"
	if meta != "" {
		parsed, _, err := mime.ParseMediaType(meta)
		if err != nil {
			return nil, fmt.Errorf("the data: URI's media type %q is not valid", clip.String(meta, 60, "..."))
		}
		mt = parsed
	}
	var data []byte
	if isBase64 {
		var err error
		data, err = decodeBase64Lenient(payload)
		if err != nil {
			return nil, errors.New("the data: URI's base64 data is not valid")
		}
	} else {
		p, err := url.PathUnescape(payload)
		if err != nil {
			return nil, errors.New("the data: URI's percent-encoded data is not valid")
		}
		data = []byte(p)
	}
	if len(data) == 0 {
		return nil, errors.New("the data: URI holds no data")
	}
	return &dataURI{MIME: mt, Data: data}, nil
}

// decodeBase64Lenient accepts standard and URL alphabets, padded or not, and
// ignores whitespace (clients wrap long base64 lines).
func decodeBase64Lenient(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if strings.ContainsAny(s, "-_") {
		s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	}
	s = strings.TrimRight(s, "=")
	return base64.RawStdEncoding.DecodeString(s)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// mediaImageFormats maps MIME types to Bedrock image formats.
var mediaImageFormats = map[string]string{
	"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/pjpeg": "jpeg",
	"image/gif": "gif", "image/webp": "webp",
}

// mediaDocFormats maps MIME types to Bedrock document formats.
var mediaDocFormats = map[string]string{
	"application/pdf":    "pdf",
	"text/csv":           "csv",
	"application/msword": "doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.ms-excel": "xls",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
	"text/html":       "html",
	"text/plain":      "txt",
	"text/markdown":   "md",
	"text/x-markdown": "md",
}

// mediaDocExtensions maps file extensions to Bedrock document formats.
var mediaDocExtensions = map[string]string{
	".pdf": "pdf", ".csv": "csv", ".doc": "doc", ".docx": "docx", ".xls": "xls", ".xlsx": "xlsx",
	".html": "html", ".htm": "html", ".txt": "txt", ".md": "md", ".markdown": "md",
}

// mediaImageExtensions maps file extensions to Bedrock image formats (s3:// URIs
// carry no MIME type).
var mediaImageExtensions = map[string]string{".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".gif": "gif", ".webp": "webp"}

// mediaAudioFormats are the audio formats Bedrock's AudioBlock accepts; OpenAI's
// input_audio formats (wav, mp3) are among them.
var mediaAudioFormats = map[string]bool{
	"mp3": true, "opus": true, "wav": true, "aac": true, "flac": true, "mp4": true, "ogg": true,
	"mkv": true, "mka": true, "x-aac": true, "m4a": true, "mpeg": true, "mpga": true, "pcm": true, "webm": true,
}

// imageFormatOf is the Bedrock format of an image of MIME type mt; when mt
// says nothing useful, the bytes are sniffed.
func imageFormatOf(mt string, data []byte) (string, bool) {
	if f, ok := mediaImageFormats[strings.ToLower(mt)]; ok {
		return f, true
	}
	if len(data) > 0 && (mt == "" || mt == "application/octet-stream" || mt == "binary/octet-stream") {
		sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(data))
		f, ok := mediaImageFormats[sniffed]
		return f, ok
	}
	return "", false
}

// documentFormatOf is the Bedrock format of a document, from its MIME type
// or else its file name's extension.
func documentFormatOf(mt, filename string) (string, bool) {
	if f, ok := mediaDocFormats[strings.ToLower(mt)]; ok {
		return f, true
	}
	f, ok := mediaDocExtensions[strings.ToLower(path.Ext(filename))]
	return f, ok
}

// documentName makes a Bedrock document name from a file name (see
// bedrock.DocumentName); the extension is dropped (the format says it).
func documentName(filename string, taken map[string]bool) string {
	return bedrock.DocumentName(strings.TrimSuffix(filename, path.Ext(filename)), taken)
}

// parseS3URI checks an s3://bucket/key URI.
func parseS3URI(s string) (key string, ok bool) {
	rest, ok := cutPrefixFold(s, "s3://")
	if !ok {
		return "", false
	}
	bucket, key, ok := strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return "", false
	}
	return key, true
}
