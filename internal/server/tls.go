package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrTLSConfig reports unusable TLS files.
var ErrTLSConfig = errors.New("invalid TLS config")

// certReloadEvery is how often the serving certificate files are checked
// for a change (cert-manager and similar rotate them in place).
const certReloadEvery = 10 * time.Second

// TLSConfig returns a server TLS config serving certFile and keyFile
// (reloaded when they change on disk) and, when clientCAFile is set,
// verifying client certificates against it. Client certificates are
// optional at the TLS layer (bearer tokens work too); authentication
// decides.
func TLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	kp := &keyPair{cert: certFile, key: keyFile}
	if err := kp.load(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: kp.get,
	}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: client CA: %w", ErrTLSConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: client CA %s: no PEM certificate found", ErrTLSConfig, clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// keyPair serves a certificate and reloads it when its files change.
type keyPair struct {
	cert, key string
	mu        sync.Mutex
	current   *tls.Certificate
	modCert   time.Time
	modKey    time.Time
	checked   time.Time
}

func (k *keyPair) load() error {
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		return fmt.Errorf("%w: serving certificate %s and key %s: %w", ErrTLSConfig, k.cert, k.key, err)
	}
	k.current = &c
	k.modCert, k.modKey = modTime(k.cert), modTime(k.key)
	k.checked = time.Now()
	return nil
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if time.Since(k.checked) >= certReloadEvery {
		k.checked = time.Now()
		if !modTime(k.cert).Equal(k.modCert) || !modTime(k.key).Equal(k.modKey) {
			old := k.current
			if err := k.load(); err != nil {
				k.current = old // keep serving the previous pair
			}
		}
	}
	return k.current, nil
}

// Fingerprint returns the SHA-256 fingerprint of a DER certificate as
// colon-separated hex, as `openssl x509 -fingerprint -sha256` prints it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// Generated certificate files, under the data directory.
const (
	GeneratedCertFile = "tls/serving.crt"
	GeneratedKeyFile  = "tls/serving.key"
)

// GenerateCert writes a self-signed serving certificate for development
// into dataDir (GeneratedCertFile, GeneratedKeyFile), valid for localhost,
// the loopback addresses and hosts, or keeps the existing one when it
// covers them and is valid for at least another week. It returns the file
// paths and the certificate's SHA-256 fingerprint.
func GenerateCert(dataDir string, hosts []string, now time.Time) (certFile, keyFile, fingerprint string, err error) {
	certFile, keyFile = filepath.Join(dataDir, GeneratedCertFile), filepath.Join(dataDir, GeneratedKeyFile)
	hosts = append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	if fp, ok := reusableCert(certFile, keyFile, hosts, now); ok {
		return certFile, keyFile, fp, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubedelta development", Organization: []string{"kubedelta"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that clients can trust it directly as their CA
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", "", err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return "", "", "", err
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", "", err
	}
	if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", "", err
	}
	return certFile, keyFile, Fingerprint(der), nil
}

// reusableCert reports whether the files hold a key pair valid for another
// week that covers hosts.
func reusableCert(certFile, keyFile string, hosts []string, now time.Time) (string, bool) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || len(pair.Certificate) == 0 {
		return "", false
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || now.Add(7*24*time.Hour).After(c.NotAfter) || now.Before(c.NotBefore) {
		return "", false
	}
	for _, h := range hosts {
		if h != "" && c.VerifyHostname(h) != nil {
			return "", false
		}
	}
	return Fingerprint(c.Raw), true
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
