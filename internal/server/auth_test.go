package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/server"
)

// testCA is a CA that issues client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client issues a client certificate (as the API server's webhook
// kubeconfig carries one).
func (ca *testCA) client(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSAndAuth serves HTTPS with a generated certificate, bearer tokens
// and client certificates, and checks who gets in where.
func TestTLSAndAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	dir := t.TempDir()
	certFile, keyFile, fp, err := server.GenerateCert(dir, []string{"kubedelta.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(fp) != 95 {
		t.Errorf("fingerprint %q: want 32 colon-separated bytes", fp)
	}
	// A second call keeps the certificate.
	if _, _, fp2, err := server.GenerateCert(dir, []string{"kubedelta.example"}, time.Now()); err != nil || fp2 != fp {
		t.Errorf("GenerateCert regenerated a valid certificate (%v)", err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	ca := newCA(t, "webhook-ca")
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.pem, 0o600)
	const token = "0123456789abcdef0123456789abcdef"
	tokenFile := filepath.Join(dir, "tokens")
	os.WriteFile(tokenFile, []byte("# kubedelta tokens\n\nsecond-token-not-used-0000000000\n"+token+"\n"), 0o600)

	tlsCfg, err := server.TLSConfig(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := server.NewAuth(tokenFile, true)
	if err != nil {
		t.Fatal(err)
	}
	if auth.Tokens() != 2 {
		t.Errorf("%d tokens loaded, want 2", auth.Tokens())
	}
	servingPEM, _ := os.ReadFile(certFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(servingPEM)
	clientWith := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, ServerName: "localhost"}}}
	}
	ts := startServer(t, filepath.Join(dir, "store"), serverConfig{opts: server.Options{Auth: auth}, tls: tlsCfg, client: clientWith()})
	lines := auditLines(t)
	body := eventList(lines[:20])

	type req struct {
		name   string
		client *http.Client
		method string
		path   string
		token  string
		code   int
	}
	other := newCA(t, "someone-else")
	for _, c := range []req{
		{"healthz without credentials", ts.client, "GET", server.PathHealth, "", 200},
		{"readyz without credentials", ts.client, "GET", server.PathReady, "", 200},
		{"stats without credentials", ts.client, "GET", server.PathStats, "", 401},
		{"metrics without credentials", ts.client, "GET", server.PathMetrics, "", 401},
		{"webhook without credentials", ts.client, "POST", server.PathAudit, "", 401},
		{"wrong token", ts.client, "GET", server.PathStats, "0123456789abcdef0123456789abcdee", 401},
		{"token", ts.client, "GET", server.PathStats, token, 200},
		{"webhook with token", ts.client, "POST", server.PathAudit, token, 200},
		{"webhook with client certificate", clientWith(ca.client(t, "kube-apiserver")), "POST", server.PathAudit, "", 200},
		{"alerts with client certificate", clientWith(ca.client(t, "kube-apiserver")), "GET", server.PathAlerts, "", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest(c.method, ts.base+c.path, bytes.NewReader(body))
			if c.token != "" {
				r.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := c.client.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.code, b)
			}
			if c.code == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a WWW-Authenticate: Bearer challenge")
			}
		})
	}
	t.Run("client certificate of another CA", func(t *testing.T) {
		// Either the handshake fails or the certificate is not sent (it
		// matches none of the server's acceptable CAs): never a 200.
		resp, err := clientWith(other.client(t, "mallory")).Get(ts.base + server.PathStats)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("status %d with a certificate of an unknown CA, want 401", resp.StatusCode)
			}
		}
	})
	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		resp, err := http.Get("http://" + strings.TrimPrefix(ts.base, "https://") + server.PathHealth)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatal("plain HTTP served")
			}
		}
	})
	t.Run("acknowledgement names the principal", func(t *testing.T) {
		for _, b := range batches(lines, 400) {
			r, _ := http.NewRequest("POST", ts.base+server.PathAudit, bytes.NewReader(b))
			r.Header.Set("Authorization", "Bearer "+token)
			resp, err := ts.client.Do(r)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("batch: %v %v", resp, err)
			}
			resp.Body.Close()
		}
		ts.waitProcessedAuth(token)
		var list server.AlertList
		getAuth(t, ts, server.PathAlerts+"?limit=1&acked=true", token, &list)
		if len(list.Alerts) == 0 {
			t.Fatal("no alert raised by the example data")
		}
		r, _ := http.NewRequest("POST", ts.base+server.PathAlerts+"/"+list.Alerts[0].ID+"/ack", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		resp, err := ts.client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		var ack server.AckResponse
		json.NewDecoder(resp.Body).Decode(&ack)
		resp.Body.Close()
		if resp.StatusCode != 200 || ack.AckedBy != "token:2" {
			t.Fatalf("ack: %d %+v, want 200 by token:2 (the second token of the file)", resp.StatusCode, ack)
		}
		var after server.AlertList
		getAuth(t, ts, server.PathAlerts+"?limit=0", token, &after)
		for _, a := range after.Alerts {
			if a.ID == ack.ID {
				t.Error("an acknowledged alert is listed without acked=true")
			}
		}
	})
	st := ts.statsAuth(token)
	if n := st.Requests.Refused["unauthenticated"]; n < 4 || n > 5 {
		t.Errorf("refused unauthenticated %d, want 4 (5 when the unknown CA's certificate got to the handler)", n)
	}
	if strings.Contains(ts.logs.String(), token) {
		t.Error("a token was logged")
	}
}

func getAuth(t *testing.T, ts *testServer, path, token string, v any) {
	t.Helper()
	r, _ := http.NewRequest("GET", ts.base+path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := ts.client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func (ts *testServer) statsAuth(token string) server.Stats {
	var st server.Stats
	getAuth(ts.t.(*testing.T), ts, server.PathStats, token, &st)
	return st
}

func (ts *testServer) waitProcessedAuth(token string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st := ts.statsAuth(token)
		if st.WAL.PendingRecords == 0 && st.Audit.Accepted == st.Audit.Processed+st.Audit.Duplicates+st.Audit.Skipped {
			time.Sleep(200 * time.Millisecond) // a snapshot writes the counts
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.t.Fatal("not processed")
}

func TestNewAuthErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":       "# only a comment\n\n",
		"short token": "abc\n",
		"two on line": "0123456789abcdef0123 456789abcdef0123456789\n",
	} {
		f := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(f, []byte(content), 0o600)
		if _, err := server.NewAuth(f, false); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("%s: the error quotes the token: %v", name, err)
		}
	}
	if _, err := server.NewAuth(filepath.Join(dir, "missing"), false); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := server.NewAuth("", false); err == nil {
		t.Error("no tokens and no client certificates: no error")
	}
}
