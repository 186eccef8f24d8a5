package openai

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestForbiddenAddr classifies addresses only; nothing is dialled. The
// refusal end to end is proven with loopback targets (chat_malformed_test,
// shaping_e2e_test), so that even a regression could not send a packet off
// the machine; the cloud metadata addresses are checked here, built from
// their octets.
func TestForbiddenAddr(t *testing.T) {
	ec2Metadata := netip.AddrFrom4([4]byte{169, 254, 169, 254}).String()
	ecsCredentials := netip.AddrFrom4([4]byte{169, 254, 170, 2}).String()
	for _, c := range []struct {
		addr      string
		forbidden bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true},
		{"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true}, {"fd00::1", true},
		{ec2Metadata, true}, {ecsCredentials, true}, {"fd00:ec2::254", true}, {"fe80::1", true},
		{"100.100.100.200", true}, // Alibaba's metadata service (shared address space)
		{"0.0.0.0", true}, {"::", true}, {"224.0.0.1", true}, {"ff02::1", true}, {"255.255.255.255", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true}, {"64:ff9b::a00:1", true},
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"2606:4700:4700::1111", false}, {"93.184.216.34", false},
		// IPv6 forms embedding a forbidden IPv4 address.
		{"::127.0.0.1", true}, {"::a9fe:a9fe", true}, {"::10.0.0.1", true}, // IPv4-compatible ::/96
		{"::ffff:0:a9fe:a9fe", true}, {"::ffff:0:7f00:1", true}, // IPv4-translated (SIIT)
		{"2002:7f00:1::", true}, {"2002:a9fe:a9fe::1", true}, {"2002:c0a8:101::", true}, // 6to4
		{"64:ff9b::7f00:1", true}, {"64:ff9b:1::a9fe:a9fe", true}, // NAT64
		{"2001:0:7f00:1::", true},            // Teredo, server 127.0.0.1
		{"2001:0:808:808::5601:5efe", true},  // Teredo, client ~(56.01.5e.fe) = 169.254.161.1
		{"2001:0:808:808::f7f7:f7f7", false}, // Teredo, public server and client 8.8.8.8
		{"2002:808:808::1", false},           // 6to4 of a public address
		{"::ffff:8.8.8.8", false}, {"::8.8.8.8", false},
	} {
		if got := forbiddenAddr(netip.MustParseAddr(c.addr)); got != c.forbidden {
			t.Errorf("forbiddenAddr(%s) = %v; want %v", c.addr, got, c.forbidden)
		}
	}
}

func TestMediaFetcher(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n0000000000")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/typed":
			w.Header().Set("Content-Type", "image/jpeg; charset=binary")
			w.Write([]byte("jpegbytes"))
		case "/sniffed":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(png)
		case "/big":
			w.Write(make([]byte, 2048))
		case "/slow":
			time.Sleep(300 * time.Millisecond)
			w.Write(png)
		case "/missing":
			http.NotFound(w, r)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/to-ftp":
			http.Redirect(w, r, "ftp://example.com/x", http.StatusFound)
		default:
			w.Write(png)
		}
	}))
	defer srv.Close()
	hostport := strings.TrimPrefix(srv.URL, "http://")
	port := hostport[strings.LastIndexByte(hostport, ':')+1:]
	trusted := newMediaFetcher(MediaOptions{TrustedHosts: []string{hostport}, MaxBytes: 1024, Timeout: 150 * time.Millisecond, MaxRedirects: 3})
	untrusted := newMediaFetcher(MediaOptions{MaxBytes: 1024})
	ctx := context.Background()

	for _, c := range []struct {
		name   string
		f      *mediaFetcher
		url    string
		mime   string // on success
		reason string // a fragment of the mediaError reason
	}{
		{"content type", trusted, srv.URL + "/typed", "image/jpeg", ""},
		{"sniffed", trusted, srv.URL + "/sniffed", "image/png", ""},
		{"too large", trusted, srv.URL + "/big", "", "larger than"},
		{"timeout", trusted, srv.URL + "/slow", "", "timed out"},
		{"not found", trusted, srv.URL + "/missing", "", "HTTP 404"},
		{"redirect loop", trusted, srv.URL + "/loop", "", "more than 3 redirects"},
		{"redirect off http", trusted, srv.URL + "/to-ftp", "", "not http(s)"},
		{"loopback refused", untrusted, srv.URL + "/x.png", "", "loopback"},
		// The check is on the resolved address, so a name that resolves to
		// loopback (as a rebinding DNS name would) is refused as well.
		{"name resolving to loopback", untrusted, "http://localhost:" + port + "/x.png", "", "loopback"},
		{"not http", untrusted, "file:///etc/passwd", "", "http(s)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, mt, err := c.f.fetch(ctx, c.url)
			if c.reason == "" {
				if err != nil || mt != c.mime || len(data) == 0 {
					t.Fatalf("fetch = %q, %v; want %s", mt, err, c.mime)
				}
				return
			}
			var me *mediaError
			if !errors.As(err, &me) || !strings.Contains(me.Reason, c.reason) {
				t.Fatalf("err = %v; want a mediaError with %q", err, c.reason)
			}
			if strings.ContainsAny(me.Host, "/?") {
				t.Errorf("the error names more than the host: %v", me)
			}
		})
	}

	// A trusted host redirecting to a name that is not trusted: the target
	// is checked again when it is dialed.
	redir := httptest.NewServer(http.RedirectHandler("http://localhost:"+port+"/x.png", http.StatusFound))
	defer redir.Close()
	f := newMediaFetcher(MediaOptions{TrustedHosts: []string{strings.TrimPrefix(redir.URL, "http://")}})
	_, _, err := f.fetch(ctx, redir.URL)
	var me *mediaError
	if !errors.As(err, &me) || !strings.Contains(me.Reason, "loopback") {
		t.Fatalf("redirect to an untrusted loopback name: err = %v; want it refused", err)
	}
}
