package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// env is the running cluster: etcd, kube-apiserver, kube-controller-manager
// (for ClusterRole aggregation) and `kubedelta serve` as the audit webhook.
type env struct {
	dir       string // everything the run writes: certs, configs, logs, data
	kubedelta string // the kubedelta binary
	apiURL    string // https://127.0.0.1:port
	serveURL  string // http://127.0.0.1:port of kubedelta serve

	adminKubeconfig string // system:masters
	userKubeconfig  string // eve, in group e2e-users only
	auditLog        string // the API server's own audit log (same policy)

	admin kubernetes.Interface
	user  kubernetes.Interface

	procs   []*proc
	timings []string // "what: duration", printed at the end
}

// proc is a started process and its log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Binaries and knobs, from the environment (run.sh sets them).
type config struct {
	etcd, apiserver, controllerManager, kubedelta, kubectl string
	keep                                                   bool // KUBEDELTA_E2E_KEEP=1: leave the work dir
}

func configFromEnv() (config, error) {
	c := config{
		etcd:              envOr("ETCD", "/usr/bin/etcd"),
		apiserver:         os.Getenv("KUBE_APISERVER"),
		controllerManager: os.Getenv("KUBE_CONTROLLER_MANAGER"),
		kubedelta:         os.Getenv("KUBEDELTA"),
		kubectl:           envOr("KUBECTL", "kubectl"),
		keep:              os.Getenv("KUBEDELTA_E2E_KEEP") == "1",
	}
	var missing []string
	for _, b := range []struct{ name, path string }{
		{"ETCD (etcd-server's /usr/bin/etcd)", c.etcd},
		{"KUBE_APISERVER", c.apiserver},
		{"KUBE_CONTROLLER_MANAGER", c.controllerManager},
	} {
		if b.path == "" {
			missing = append(missing, b.name+" is not set")
			continue
		}
		if _, err := os.Stat(b.path); err != nil {
			missing = append(missing, b.name+": "+err.Error())
		}
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("e2e prerequisites missing (run test/e2e/run.sh): %s", strings.Join(missing, "; "))
	}
	return c, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// timed runs fn and records how long it took.
func (e *env) timed(what string, fn func() error) error {
	start := time.Now()
	err := fn()
	e.timings = append(e.timings, fmt.Sprintf("%s: %s", what, time.Since(start).Round(time.Millisecond)))
	return err
}

// start brings the whole environment up. On error, stop still cleans up
// what started.
func (e *env) start(ctx context.Context, c config) error {
	if err := e.timed("build kubedelta", func() error { return e.buildKubedelta(ctx, c) }); err != nil {
		return err
	}
	if err := e.writeCerts(); err != nil {
		return err
	}
	etcdURL, err := e.startEtcd(ctx, c)
	if err != nil {
		return err
	}
	if err := e.timed("kubedelta serve ready", func() error { return e.startServe(ctx) }); err != nil {
		return err
	}
	if err := e.timed("kube-apiserver ready", func() error { return e.startAPIServer(ctx, c, etcdURL) }); err != nil {
		return err
	}
	if err := e.timed("kube-controller-manager started", func() error { return e.startControllerManager(ctx, c) }); err != nil {
		return err
	}
	return nil
}

func (e *env) buildKubedelta(ctx context.Context, c config) error {
	if c.kubedelta != "" {
		e.kubedelta = c.kubedelta
		return nil
	}
	e.kubedelta = filepath.Join(e.dir, "kubedelta")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", e.kubedelta, "./cmd/kubedelta")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building kubedelta: %w\n%s", err, out)
	}
	return nil
}

// freePort returns a port nothing listens on at the moment.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run starts a process whose output goes to a log file in e.dir.
func (e *env) run(name, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(e.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	e.procs = append(e.procs, p)
	return p, nil
}

// waitReady polls check until it succeeds, the process exits, or the
// timeout passes; the error carries the end of the process's log.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready\n%s", p.name, p.err, tail(p.log, 40))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v\n%s", p.name, timeout, last, tail(p.log, 40))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop ends the processes, newest first (SIGTERM, then SIGKILL after 10 s).
func (e *env) stop() {
	for i := len(e.procs) - 1; i >= 0; i-- {
		p := e.procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- " + path + " (last lines)\n" + strings.Join(lines, "\n")
}

func (e *env) startEtcd(ctx context.Context, c config) (string, error) {
	client, err := freePort()
	if err != nil {
		return "", err
	}
	peer, err := freePort()
	if err != nil {
		return "", err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", client)
	p, err := e.run("etcd", c.etcd,
		"--name", "e2e",
		"--data-dir", filepath.Join(e.dir, "etcd"),
		"--listen-client-urls", url, "--advertise-client-urls", url,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-cluster", fmt.Sprintf("e2e=http://127.0.0.1:%d", peer),
		"--log-level", "warn")
	if err != nil {
		return "", err
	}
	err = e.timed("etcd ready", func() error {
		return p.waitReady(ctx, 30*time.Second, func() error { return httpOK(http.DefaultClient, url+"/health", "") })
	})
	return url, err
}

func (e *env) startServe(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	e.serveURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	p, err := e.run("kubedelta-serve", e.kubedelta, "serve",
		"--data-dir", filepath.Join(e.dir, "kubedelta-data"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--insecure", "--log-level", "debug")
	if err != nil {
		return err
	}
	return p.waitReady(ctx, 60*time.Second, func() error { return httpOK(http.DefaultClient, e.serveURL+"/healthz", "") })
}

// tokens for the static token file.
type token struct{ admin, user string }

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (e *env) startAPIServer(ctx context.Context, c config, etcdURL string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	e.apiURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	tok := token{admin: newToken(), user: newToken()}
	files := map[string]string{
		"tokens.csv": fmt.Sprintf("%s,admin,uid-admin,\"system:masters\"\n%s,eve,uid-eve,\"e2e-users\"\n", tok.admin, tok.user),
		"audit-policy.yaml": `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: None
  users: ["system:apiserver"]
- level: Metadata
`,
		"audit-webhook.kubeconfig": fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubedelta
  cluster:
    server: %s/audit/webhook
users:
- name: kube-apiserver
contexts:
- name: webhook
  context: {cluster: kubedelta, user: kube-apiserver}
current-context: webhook
`, e.serveURL),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(e.dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	e.auditLog = filepath.Join(e.dir, "audit.log")
	p, err := e.run("kube-apiserver", c.apiserver,
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", fmt.Sprint(port),
		// The kubernetes Service's endpoint cannot be a loopback address.
		"--endpoint-reconciler-type", "none",
		"--cert-dir", filepath.Join(e.dir, "apiserver-certs"),
		"--tls-cert-file", filepath.Join(e.dir, "serving.crt"), "--tls-private-key-file", filepath.Join(e.dir, "serving.key"),
		"--token-auth-file", filepath.Join(e.dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", filepath.Join(e.dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(e.dir, "sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--audit-policy-file", filepath.Join(e.dir, "audit-policy.yaml"),
		"--audit-webhook-config-file", filepath.Join(e.dir, "audit-webhook.kubeconfig"),
		"--audit-webhook-batch-max-wait", "1s",
		"--audit-log-path", e.auditLog,
	)
	if err != nil {
		return err
	}
	e.adminKubeconfig = filepath.Join(e.dir, "admin.kubeconfig")
	e.userKubeconfig = filepath.Join(e.dir, "eve.kubeconfig")
	if err := e.writeKubeconfig(e.adminKubeconfig, "admin", tok.admin); err != nil {
		return err
	}
	if err := e.writeKubeconfig(e.userKubeconfig, "eve", tok.user); err != nil {
		return err
	}
	if e.admin, err = clientFor(e.adminKubeconfig); err != nil {
		return err
	}
	if e.user, err = clientFor(e.userKubeconfig); err != nil {
		return err
	}
	hc, err := e.httpClient()
	if err != nil {
		return err
	}
	// /readyz includes the RBAC bootstrap policy post-start hook.
	return p.waitReady(ctx, 3*time.Minute, func() error { return httpOK(hc, e.apiURL+"/readyz", tok.admin) })
}

func (e *env) startControllerManager(ctx context.Context, c config) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	p, err := e.run("kube-controller-manager", c.controllerManager,
		"--kubeconfig", e.adminKubeconfig,
		"--authentication-kubeconfig", e.adminKubeconfig,
		"--authorization-kubeconfig", e.adminKubeconfig,
		"--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(port),
		"--cert-dir", filepath.Join(e.dir, "kcm-certs"),
		"--leader-elect=false",
		// Only what the tests need: ClusterRole aggregation (admin, edit,
		// view and our own aggregated role) and default service accounts.
		"--controllers", "clusterrole-aggregation-controller,serviceaccount-controller",
	)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the controller manager's self-signed health endpoint on loopback
	return p.waitReady(ctx, 2*time.Minute, func() error { return httpOK(hc, fmt.Sprintf("https://127.0.0.1:%d/healthz", port), "") })
}

func (e *env) writeKubeconfig(path, user, tok string) error {
	return os.WriteFile(path, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: %s}
current-context: e2e
`, e.apiURL, filepath.Join(e.dir, "ca.crt"), user, tok, user), 0o600)
}

func clientFor(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	return kubernetes.NewForConfig(cfg)
}

func (e *env) httpClient() (*http.Client, error) {
	ca, err := os.ReadFile(filepath.Join(e.dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

func httpOK(c *http.Client, url, bearer string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(b.String()))
	}
	return nil
}

// writeCerts writes a CA, the API server's serving certificate (127.0.0.1,
// localhost) signed by it, and the service account signing key pair.
func (e *env) writeCerts() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubedelta-e2e-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	writes := []struct {
		name, typ string
		der       []byte
		key       *ecdsa.PrivateKey
	}{
		{name: "ca.crt", typ: "CERTIFICATE", der: caDER},
		{name: "serving.crt", typ: "CERTIFICATE", der: srvDER},
		{name: "serving.key", key: srvKey},
		{name: "sa.key", key: saKey},
		{name: "sa.pub", typ: "PUBLIC KEY", der: saPub},
	}
	for _, w := range writes {
		typ, der := w.typ, w.der
		if w.key != nil {
			if der, err = x509.MarshalECPrivateKey(w.key); err != nil {
				return err
			}
			typ = "EC PRIVATE KEY"
		}
		if err := os.WriteFile(filepath.Join(e.dir, w.name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// errSkip marks a run without KUBEDELTA_E2E=1.
var errSkip = errors.New("end-to-end tests skipped: set KUBEDELTA_E2E=1 (test/e2e/run.sh does)")
