package httpguard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// TLSOptions are a server's TLS settings: a certificate and key file, or
// Auto for a certificate generated into Dir.
type TLSOptions struct {
	CertFile, KeyFile string
	// Auto generates (once) a local certificate authority and a server
	// certificate it signs into Dir, and reuses them on later starts.
	Auto bool
	Dir  string
	// Hosts are the names and addresses the generated certificate is for,
	// besides localhost, 127.0.0.1 and ::1.
	Hosts []string
}

// Enabled reports whether TLS is configured.
func (o TLSOptions) Enabled() bool { return o.Auto || o.CertFile != "" || o.KeyFile != "" }

// TLS is a loaded server certificate.
type TLS struct {
	Config *tls.Config
	// CAFile is the file clients should trust (aws --ca-bundle): the
	// generated authority with Auto, the certificate file otherwise.
	CAFile string
}

// Names of the files Auto writes in its directory.
const (
	autoCA     = "ca.pem"
	autoCAKey  = "ca-key.pem"
	autoCert   = "cert.pem"
	autoKey    = "key.pem"
	leafRenew  = 30 * 24 * time.Hour
	leafLife   = 397 * 24 * time.Hour
	caLifetime = 10 * 365 * 24 * time.Hour
)

// Load returns the server's TLS configuration (nil when TLS is off).
func (o TLSOptions) Load(now time.Time) (*TLS, error) {
	if !o.Enabled() {
		return nil, nil
	}
	certFile, keyFile, caFile := o.CertFile, o.KeyFile, o.CertFile
	if o.Auto {
		if o.CertFile != "" || o.KeyFile != "" {
			return nil, errors.New("tls: give either a certificate and key, or auto, not both")
		}
		var err error
		if certFile, keyFile, caFile, err = AutoCert(o.Dir, o.Hosts, now); err != nil {
			return nil, err
		}
	} else if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("tls: a certificate needs its key: give both the certificate and the key file")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load the certificate: %w", err)
	}
	return &TLS{Config: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, CAFile: caFile}, nil
}

// AutoCert makes sure dir holds a local certificate authority (ca.pem,
// ca-key.pem) and a server certificate it signed (cert.pem, key.pem) valid
// for localhost, 127.0.0.1, ::1 and hosts, and returns their paths. Files
// from an earlier start are reused while they cover the hosts and are not
// about to expire, so clients keep trusting ca.pem across restarts. Keys
// are ECDSA P-256 and written 0600; dir is created 0700.
func AutoCert(dir string, hosts []string, now time.Time) (certFile, keyFile, caFile string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", "", fmt.Errorf("tls: create %s: %w", dir, err)
	}
	names := []string{"localhost", "127.0.0.1", "::1"}
	for _, h := range hosts {
		if h = normalize(h); h != "" && h != "*" && h[0] != '.' && !slices.Contains(names, h) {
			if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
				continue
			}
			names = append(names, h)
		}
	}
	certFile, keyFile, caFile = filepath.Join(dir, autoCert), filepath.Join(dir, autoKey), filepath.Join(dir, autoCA)
	ca, caKey, err := loadCA(caFile, filepath.Join(dir, autoCAKey), now)
	if err != nil {
		if ca, caKey, err = newCA(dir, now); err != nil {
			return "", "", "", err
		}
	}
	if leafCovers(certFile, keyFile, ca, names, now) {
		return certFile, keyFile, caFile, nil
	}
	if err := newLeaf(certFile, keyFile, ca, caKey, names, now); err != nil {
		return "", "", "", err
	}
	return certFile, keyFile, caFile, nil
}

func loadCA(certFile, keyFile string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := readCert(certFile)
	if err != nil {
		return nil, nil, err
	}
	if !cert.IsCA || now.Add(leafLife).After(cert.NotAfter) {
		return nil, nil, errors.New("tls: the generated authority expires soon")
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("tls: the authority's key does not match")
	}
	return cert, key, nil
}

func leafCovers(certFile, keyFile string, ca *x509.Certificate, names []string, now time.Time) bool {
	cert, err := readCert(certFile)
	if err != nil || now.Add(leafRenew).After(cert.NotAfter) {
		return false
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return false
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, n := range names {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: n, Roots: pool, CurrentTime: now}); err != nil {
			return false
		}
	}
	return true
}

func newCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: generate a key: %w", err)
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"deskplane"}, CommonName: "deskplane local CA " + host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: create the authority: %w", err)
	}
	if err := writeKey(filepath.Join(dir, autoCAKey), key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(dir, autoCA), "CERTIFICATE", der); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func newLeaf(certFile, keyFile string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, names []string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls: generate a key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"deskplane"}, CommonName: names[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLife),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("tls: create the certificate: %w", err)
	}
	if err := writeKey(keyFile, key); err != nil {
		return err
	}
	return writePEM(certFile, "CERTIFICATE", der)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("tls: %s holds no certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("tls: %s holds no key", path)
	}
	return x509.ParseECPrivateKey(blk.Bytes)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("tls: encode the key: %w", err)
	}
	return writePEM(path, "EC PRIVATE KEY", der)
}

// writePEM replaces path with one PEM block, mode 0600, through a
// temporary file so a crash never leaves half a file.
func writePEM(path, typ string, der []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	werr := pem.Encode(f, &pem.Block{Type: typ, Bytes: der})
	if err := f.Sync(); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("tls: write %s: %w", path, werr)
	}
	return nil
}
