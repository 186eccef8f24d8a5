package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSConfig serves the emulator over HTTPS (HTTP/2 and HTTP/1.1) from a
// certificate it makes itself: a throwaway CA, written to CAFile so that
// AWS_CA_BUNDLE, NODE_EXTRA_CA_CERTS or REQUESTS_CA_BUNDLE can trust it, and
// a server certificate it signs for localhost, 127.0.0.1 and ::1.
type TLSConfig struct {
	// Dir is where ca.pem, cert.pem and key.pem are written (key.pem owner
	// only). Empty: a new temporary directory, removed when the Server closes.
	Dir string `yaml:"dir"`
	// Hosts are extra DNS names or IP addresses the certificate covers.
	Hosts []string `yaml:"hosts"`
}

// serverCert is what newServerCert made.
type serverCert struct {
	cert    tls.Certificate
	pool    *x509.CertPool // trusts the CA
	caFile  string
	tempDir string // to remove on close; empty when Dir was given
}

// newServerCert makes a CA and a server certificate signed by it and writes
// them as PEM files.
func newServerCert(cfg *TLSConfig) (*serverCert, error) {
	dir, temp := cfg.Dir, ""
	if dir == "" {
		d, err := os.MkdirTemp("", "quarry-emulator-tls-")
		if err != nil {
			return nil, fmt.Errorf("emulator tls: %w", err)
		}
		dir, temp = d, d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("emulator tls: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("emulator tls: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Quarry emulator CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("emulator tls: %w", err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("emulator tls: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range cfg.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("emulator tls: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("emulator tls: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	sc := &serverCert{caFile: filepath.Join(dir, "ca.pem"), tempDir: temp, pool: x509.NewCertPool()}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"ca.pem", caPEM, 0o644}, {"cert.pem", append(certPEM, caPEM...), 0o644}, {"key.pem", keyPEM, 0o600}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("emulator tls: %w", err)
		}
	}
	sc.pool.AddCert(caCert)
	sc.cert, err = tls.X509KeyPair(append(certPEM, caPEM...), keyPEM)
	if err != nil {
		return nil, fmt.Errorf("emulator tls: %w", err)
	}
	return sc, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
