package servecmd

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/server"
	"github.com/kubedelta/kubedelta/internal/sink"
	"github.com/kubedelta/kubedelta/internal/store"
)

// ConfigAPIVersion and ConfigKind identify a server config file.
const (
	ConfigAPIVersion = "kubedelta.io/v1alpha1"
	ConfigKind       = "ServerConfig"
)

// ErrConfig wraps every server configuration error.
var ErrConfig = errors.New("invalid server config")

// Config is the server configuration: a versioned YAML file (apiVersion
// kubedelta.io/v1alpha1, kind ServerConfig) decoded strictly, then
// overridden by flags. docs/server.md documents every field.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`

	// DataDir holds the store (DataDir/store) and a generated certificate.
	DataDir string `json:"dataDir"`
	// Listen is host:port.
	Listen string `json:"listen"`
	// Insecure serves plain HTTP without authentication, on a loopback
	// address only.
	Insecure bool `json:"insecure,omitempty"`

	TLS        TLSConfig        `json:"tls,omitzero"`
	Auth       AuthConfig       `json:"auth,omitzero"`
	Inventory  InventoryConfig  `json:"inventory,omitzero"`
	Detection  DetectionConfig  `json:"detection,omitzero"`
	Sinks      []SinkConfig     `json:"sinks,omitempty"`
	Storage    StorageConfig    `json:"storage,omitzero"`
	Processing ProcessingConfig `json:"processing,omitzero"`
	Limits     LimitsConfig     `json:"limits,omitzero"`
	Log        LogConfig        `json:"log,omitzero"`

	// path is the file the config was read from, for error messages.
	path string
}

// TLSConfig: the serving certificate and client certificate verification.
type TLSConfig struct {
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// Generate writes a self-signed development certificate into DataDir.
	Generate bool `json:"generate,omitempty"`
	// Hosts are extra names and addresses of the generated certificate.
	Hosts []string `json:"hosts,omitempty"`
	// ClientCAFile verifies client certificates, which then authenticate.
	ClientCAFile string `json:"clientCAFile,omitempty"`
}

// AuthConfig: bearer tokens.
type AuthConfig struct {
	// TokenFile holds one token per line.
	TokenFile string `json:"tokenFile,omitempty"`
}

// InventoryConfig: where the cluster inventory comes from.
type InventoryConfig struct {
	// Cluster are files or directories of Kubernetes objects.
	Cluster []string `json:"cluster,omitempty"`
	// Kubeconfig watches a live cluster through this kubeconfig.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// InCluster watches the cluster kubedelta runs in, with its service
	// account.
	InCluster bool `json:"inCluster,omitempty"`
}

// DetectionConfig: detection tuning.
type DetectionConfig struct {
	// ConfigFile is a kubedelta.io/v1alpha1 DetectionConfig.
	ConfigFile string `json:"configFile,omitempty"`
	// Learn is the learning window from the first event ("7d").
	Learn string `json:"learn,omitempty"`
	// Baseline is a saved baseline to start from (used when the store has
	// no snapshot yet).
	Baseline string `json:"baseline,omitempty"`
}

// SinkConfig is one alert sink (internal/sink).
type SinkConfig struct {
	Name        string            `json:"name,omitempty"`
	Type        string            `json:"type"`
	URL         string            `json:"url,omitempty"`
	MinSeverity string            `json:"minSeverity,omitempty"`
	Categories  []string          `json:"categories,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Timeout     string            `json:"timeout,omitempty"`
}

// StorageConfig: the embedded store.
type StorageConfig struct {
	// Sync is the WAL durability policy: always (fsync every batch) or
	// batch (group commit).
	Sync string `json:"sync,omitempty"`
	// WALMaxBytes bounds the unprocessed WAL ("1Gi"); past it the webhook
	// answers 429.
	WALMaxBytes ByteSize `json:"walMaxBytes,omitempty"`
	// Retention is how long retained raw events are kept ("7d").
	Retention string `json:"retention,omitempty"`
	// RetainEvents is evidence (the batches behind alerts), all or none.
	RetainEvents string `json:"retainEvents,omitempty"`
}

// ProcessingConfig: the processor.
type ProcessingConfig struct {
	SnapshotInterval string   `json:"snapshotInterval,omitempty"`
	SnapshotRecords  int      `json:"snapshotRecords,omitempty"`
	SnapshotBytes    ByteSize `json:"snapshotBytes,omitempty"`
	DedupEntries     int      `json:"dedupEntries,omitempty"`
}

// LimitsConfig: request limits.
type LimitsConfig struct {
	MaxBodyBytes        ByteSize `json:"maxBodyBytes,omitempty"`
	MaxConcurrentIngest int      `json:"maxConcurrentIngest,omitempty"`
}

// LogConfig: the server's logs.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `json:"level,omitempty"`
	// Format is text or json.
	Format string `json:"format,omitempty"`
}

// ByteSize is a size in bytes that reads 1048576, "512Mi", "1Gi", "10MB".
type ByteSize int64

// UnmarshalJSON reads a number or a string with a unit.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

// ParseByteSize reads "1048576", "512Ki", "512Mi", "1Gi", "10MB", "1G".
func ParseByteSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	num, mult := s, 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || f*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q: want bytes or a number with a unit such as 512Mi or 1Gi", s)
	}
	return int64(f * mult), nil
}

// LoadConfig reads a config file strictly: unknown fields, wrong types,
// another apiVersion or kind are errors naming the file and the field.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c := &Config{}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	if c.APIVersion != ConfigAPIVersion || c.Kind != ConfigKind {
		return nil, fmt.Errorf("%w: %s: want apiVersion %q and kind %q, got %q and %q",
			ErrConfig, path, ConfigAPIVersion, ConfigKind, c.APIVersion, c.Kind)
	}
	c.path = path
	return c, nil
}

// Defaults.
const (
	DefaultListen = "127.0.0.1:8443"
)

// resolved is a validated Config turned into values.
type resolved struct {
	cfg              *Config
	walMax           int64
	sync             store.SyncPolicy
	retention        time.Duration
	retain           server.Retain
	snapshotInterval time.Duration
	learn            time.Duration
	logLevel         string
	sinks            []sink.SinkConfig
}

// validate applies defaults and checks everything that can be checked
// without touching files, naming the offending field.
func (c *Config) validate() (*resolved, error) {
	fail := func(field, format string, args ...any) (*resolved, error) {
		where := ""
		if c.path != "" {
			where = c.path + " (or the flags overriding it): "
		}
		return nil, fmt.Errorf("%w: %s%s: %s", ErrConfig, where, field, fmt.Sprintf(format, args...))
	}
	r := &resolved{cfg: c}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.DataDir == "" {
		return fail("dataDir", "required (--data-dir DIR): the store and its write-ahead log live there")
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fail("listen", "%q: want host:port, e.g. 127.0.0.1:8443 or 0.0.0.0:8443", c.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fail("listen", "%q: port must be a number from 0 to 65535", c.Listen)
	}
	if c.Insecure {
		if !loopbackHost(host) {
			return fail("insecure", "plain HTTP without authentication is only served on a loopback address (127.0.0.1, ::1 or localhost), not %q: use TLS and authentication to listen elsewhere", c.Listen)
		}
		if c.TLS.CertFile != "" || c.TLS.Generate || c.TLS.ClientCAFile != "" || c.Auth.TokenFile != "" {
			return fail("insecure", "serves without TLS and authentication: drop the TLS and token settings, or drop --insecure")
		}
	} else {
		switch {
		case c.TLS.Generate && (c.TLS.CertFile != "" || c.TLS.KeyFile != ""):
			return fail("tls.generate", "give either a certificate (--tls-cert, --tls-key) or --tls-generate, not both")
		case !c.TLS.Generate && (c.TLS.CertFile == "" || c.TLS.KeyFile == ""):
			return fail("tls", "TLS is required: give --tls-cert and --tls-key, or --tls-generate for a self-signed development certificate (or --insecure on a loopback address)")
		}
		if c.Auth.TokenFile == "" && c.TLS.ClientCAFile == "" {
			return fail("auth", "authentication is required: give --token-file (bearer tokens) or --client-ca (client certificates), or both")
		}
	}
	sources := 0
	for _, set := range []bool{len(c.Inventory.Cluster) > 0, c.Inventory.Kubeconfig != "", c.Inventory.InCluster} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return fail("inventory", "give one of --cluster (files), --kubeconfig (a live cluster) or --in-cluster")
	}
	if c.Detection.Learn != "" {
		if r.learn, err = detect.ParseDuration(c.Detection.Learn); err != nil {
			return fail("detection.learn", "%v", err)
		}
	}
	r.walMax = int64(c.Storage.WALMaxBytes)
	if r.walMax == 0 {
		r.walMax = store.DefaultMaxWALBytes
	}
	if r.walMax < 16<<20 {
		return fail("storage.walMaxBytes", "%d bytes is too small to hold a full webhook batch; use at least 16Mi", r.walMax)
	}
	if r.sync, err = store.ParseSyncPolicy(c.Storage.Sync); err != nil {
		return fail("storage.sync", "%q: want always or batch", c.Storage.Sync)
	}
	r.retention = store.DefaultRetention
	if c.Storage.Retention != "" {
		if r.retention, err = detect.ParseDuration(c.Storage.Retention); err != nil || r.retention <= 0 {
			return fail("storage.retention", "%q: want a positive duration such as 7d or 48h", c.Storage.Retention)
		}
	}
	switch r.retain = server.Retain(c.Storage.RetainEvents); r.retain {
	case "":
		r.retain = server.RetainEvidence
	case server.RetainEvidence, server.RetainAll, server.RetainNone:
	default:
		return fail("storage.retainEvents", "%q: want evidence, all or none", c.Storage.RetainEvents)
	}
	if c.Processing.SnapshotInterval != "" {
		if r.snapshotInterval, err = detect.ParseDuration(c.Processing.SnapshotInterval); err != nil || r.snapshotInterval <= 0 {
			return fail("processing.snapshotInterval", "%q: want a positive duration such as 10s", c.Processing.SnapshotInterval)
		}
	}
	if c.Processing.SnapshotBytes < 0 {
		return fail("processing.snapshotBytes", "must not be negative")
	}
	if c.Processing.SnapshotRecords < 0 {
		return fail("processing.snapshotRecords", "must not be negative")
	}
	if c.Processing.DedupEntries < 0 {
		return fail("processing.dedupEntries", "must not be negative")
	}
	if mb := int64(c.Limits.MaxBodyBytes); mb != 0 && (mb < 64<<10 || mb > 256<<20) {
		return fail("limits.maxBodyBytes", "%d bytes: want 64Ki to 256Mi (the API server sends up to 10Mi)", mb)
	}
	if c.Limits.MaxConcurrentIngest < 0 {
		return fail("limits.maxConcurrentIngest", "must not be negative")
	}
	switch r.logLevel = strings.ToLower(c.Log.Level); r.logLevel {
	case "":
		r.logLevel = "info"
	case "debug", "info", "warn", "error":
	default:
		return fail("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		return fail("log.format", "%q: want text or json", c.Log.Format)
	}
	for i, s := range c.Sinks {
		sc := sink.SinkConfig{Name: s.Name, Type: s.Type, URL: s.URL, Categories: s.Categories, Headers: s.Headers}
		if s.MinSeverity != "" {
			sev, err := rbac.ParseSeverity(s.MinSeverity)
			if err != nil {
				return fail(fmt.Sprintf("sinks[%d].minSeverity", i), "%q: want info, low, medium, high or critical", s.MinSeverity)
			}
			sc.MinSeverity = sev
		}
		if s.Timeout != "" {
			d, err := detect.ParseDuration(s.Timeout)
			if err != nil || d <= 0 {
				return fail(fmt.Sprintf("sinks[%d].timeout", i), "%q: want a positive duration such as 10s", s.Timeout)
			}
			sc.Timeout = d
		}
		if err := sc.Validate(); err != nil {
			return fail(fmt.Sprintf("sinks[%d]", i), "%v", err)
		}
		r.sinks = append(r.sinks, sc)
	}
	return r, nil
}

// loopbackHost reports whether host names only loopback addresses.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
