// Package servecmd implements `kubedelta serve`, the always-on service: the
// audit webhook, the flow and process event ingest API, the query API and
// /metrics, on the embedded store (internal/server, internal/store), with
// alerts delivered to sinks (internal/sink). It also holds the hidden
// `kubedelta loadgen` command that measures a running server.
package servecmd

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/server"
	"github.com/kubedelta/kubedelta/internal/sink"
	"github.com/kubedelta/kubedelta/internal/store"
)

type options struct {
	configPath string
	cfg        Config
	sinks      []string
	walMax     string
	bodyMax    string
}

// NewCommand returns `kubedelta serve`.
func NewCommand(s iostreams.Streams) *cobra.Command {
	cmd, _ := newCommand(s)
	return cmd
}

func newCommand(s iostreams.Streams) (*cobra.Command, *options) {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "serve --data-dir DIR [--cluster PATH] (--insecure | --tls-cert FILE --tls-key FILE | --tls-generate) [--token-file FILE] [--client-ca FILE]",
		Short: "Run the always-on service: audit webhook, ingest API, live alerts, query API, metrics",
		Long: `Run kubedelta as a service. The API server's audit webhook backend posts
EventList batches to POST /audit/webhook; the node agent and kubedelta sim post
flows to POST /ingest/flows and process events to POST /ingest/exec. Every batch
is appended to a durable write-ahead log and acknowledged at once; one processor
runs the detectors of 'kubedelta analyze' on it, keeps the learned baseline,
stores alerts (GET /api/v1/alerts) and sends new ones to the sinks. A crash at
any moment loses nothing acknowledged and counts nothing twice.

Without --insecure, TLS and authentication (bearer tokens from --token-file, or
client certificates verified against --client-ca) are required on every
endpoint except /healthz and /readyz. --insecure serves plain HTTP without
authentication, on a loopback address only. docs/server.md is the reference.`,
		Example: `  kubedelta serve --data-dir /tmp/kd --cluster examples/cluster --listen 127.0.0.1:8080 --insecure
  kubedelta serve --config /etc/kubedelta/server.yaml
  kubedelta serve --data-dir /var/lib/kubedelta --listen 0.0.0.0:8443 --tls-generate --token-file /etc/kubedelta/tokens \
      --sink alertmanager=http://alertmanager:9093,min-severity=high`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(cmd)
			if err != nil {
				return err
			}
			return Run(cmd.Context(), cfg, s)
		},
	}
	f := cmd.Flags()
	c := &o.cfg
	f.StringVar(&o.configPath, "config", "", "server config file (kubedelta.io/v1alpha1 ServerConfig); flags override it")
	f.StringVar(&c.DataDir, "data-dir", "", "directory of the store (write-ahead log, snapshots, alerts, retained events)")
	f.StringVar(&c.Listen, "listen", DefaultListen, "address to listen on, host:port")
	f.BoolVar(&c.Insecure, "insecure", false, "plain HTTP without authentication (loopback addresses only)")
	f.StringVar(&c.TLS.CertFile, "tls-cert", "", "serving certificate (PEM); reloaded when it changes")
	f.StringVar(&c.TLS.KeyFile, "tls-key", "", "serving certificate's private key (PEM)")
	f.BoolVar(&c.TLS.Generate, "tls-generate", false, "generate a self-signed development certificate into the data directory and log its fingerprint")
	f.StringArrayVar(&c.TLS.Hosts, "tls-host", nil, "extra DNS name or IP address of the generated certificate (repeatable)")
	f.StringVar(&c.TLS.ClientCAFile, "client-ca", "", "CA bundle (PEM) verifying client certificates, which then authenticate")
	f.StringVar(&c.Auth.TokenFile, "token-file", "", "bearer tokens, one per line (kept hashed in memory, never logged)")
	f.StringSliceVar(&c.Inventory.Cluster, "cluster", nil, "file or directory (recursive) of the cluster's objects: YAML or JSON, kind: List, .gz (repeatable)")
	f.StringVar(&c.Inventory.Kubeconfig, "kubeconfig", "", "live inventory: watch the cluster this kubeconfig points at")
	f.BoolVar(&c.Inventory.InCluster, "in-cluster", false, "live inventory: watch the cluster kubedelta runs in, with its service account")
	f.StringVar(&c.Detection.ConfigFile, "detection-config", "", "detection config (kubedelta.io/v1alpha1 DetectionConfig: allowlists, warm-up, rate limits)")
	f.StringVar(&c.Detection.Learn, "learn", "", "learning window from the first event, e.g. 7d (default: the detection config's, else none)")
	f.StringVar(&c.Detection.Baseline, "baseline", "", "saved baseline to start from when the store has none yet")
	f.StringArrayVar(&o.sinks, "sink", nil, "alert sink TYPE[=URL][,min-severity=S][,category=C]...: stdout, webhook=URL, alertmanager=URL, slack=URL (repeatable; adds to the config's)")
	f.StringVar(&c.Storage.Retention, "retention", "", "how long retained raw events are kept, and alerts stay live in the aggregator (default 7d)")
	f.StringVar(&c.Storage.RetainEvents, "retain-events", "", "raw batches kept as evidence: evidence (those behind alerts, default), all, none")
	f.StringVar(&c.Storage.Sync, "sync", "", "write-ahead log durability: always (fsync per batch, default) or batch (group commit)")
	f.StringVar(&o.walMax, "wal-max-bytes", "", "bound of the unprocessed write-ahead log, e.g. 1Gi (default); past it ingest answers 429")
	f.StringVar(&o.bodyMax, "max-body-bytes", "", "largest ingest body, e.g. 11Mi (default)")
	f.StringVar(&c.Log.Level, "log-level", "", "debug, info (default), warn or error")
	f.StringVar(&c.Log.Format, "log-format", "", "text (default) or json")
	return cmd, o
}

// config merges the config file and the flags that were set.
func (o *options) config(cmd *cobra.Command) (*Config, error) {
	cfg := &Config{APIVersion: ConfigAPIVersion, Kind: ConfigKind}
	if o.configPath != "" {
		var err error
		if cfg, err = LoadConfig(o.configPath); err != nil {
			return nil, err
		}
	}
	f := cmd.Flags()
	set := func(name string, apply func()) {
		if f.Changed(name) {
			apply()
		}
	}
	c := &o.cfg
	set("data-dir", func() { cfg.DataDir = c.DataDir })
	set("listen", func() { cfg.Listen = c.Listen })
	set("insecure", func() { cfg.Insecure = c.Insecure })
	set("tls-cert", func() { cfg.TLS.CertFile = c.TLS.CertFile })
	set("tls-key", func() { cfg.TLS.KeyFile = c.TLS.KeyFile })
	set("tls-generate", func() { cfg.TLS.Generate = c.TLS.Generate })
	set("tls-host", func() { cfg.TLS.Hosts = c.TLS.Hosts })
	set("client-ca", func() { cfg.TLS.ClientCAFile = c.TLS.ClientCAFile })
	set("token-file", func() { cfg.Auth.TokenFile = c.Auth.TokenFile })
	set("cluster", func() { cfg.Inventory.Cluster = c.Inventory.Cluster })
	set("kubeconfig", func() { cfg.Inventory.Kubeconfig = c.Inventory.Kubeconfig })
	set("in-cluster", func() { cfg.Inventory.InCluster = c.Inventory.InCluster })
	set("detection-config", func() { cfg.Detection.ConfigFile = c.Detection.ConfigFile })
	set("learn", func() { cfg.Detection.Learn = c.Detection.Learn })
	set("baseline", func() { cfg.Detection.Baseline = c.Detection.Baseline })
	set("retention", func() { cfg.Storage.Retention = c.Storage.Retention })
	set("retain-events", func() { cfg.Storage.RetainEvents = c.Storage.RetainEvents })
	set("sync", func() { cfg.Storage.Sync = c.Storage.Sync })
	set("log-level", func() { cfg.Log.Level = c.Log.Level })
	set("log-format", func() { cfg.Log.Format = c.Log.Format })
	if o.walMax != "" {
		v, err := ParseByteSize(o.walMax)
		if err != nil {
			return nil, fmt.Errorf("--wal-max-bytes: %w", err)
		}
		cfg.Storage.WALMaxBytes = ByteSize(v)
	}
	if o.bodyMax != "" {
		v, err := ParseByteSize(o.bodyMax)
		if err != nil {
			return nil, fmt.Errorf("--max-body-bytes: %w", err)
		}
		cfg.Limits.MaxBodyBytes = ByteSize(v)
	}
	for _, v := range o.sinks {
		sc, err := parseSinkFlag(v)
		if err != nil {
			return nil, err
		}
		cfg.Sinks = append(cfg.Sinks, sc)
	}
	return cfg, nil
}

func newLogger(s iostreams.Streams, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	ho := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(s.Err, ho))
	}
	return slog.New(slog.NewTextHandler(s.Err, ho))
}

// Run validates cfg, builds everything it names and serves until ctx is
// cancelled (SIGINT, SIGTERM), then shuts down gracefully: stop accepting,
// process what was accepted, snapshot, deliver queued alerts, close the
// store.
func Run(ctx context.Context, cfg *Config, s iostreams.Streams) error {
	s = s.WithDefaults()
	r, err := cfg.validate()
	if err != nil {
		return err
	}
	log := newLogger(s, r.logLevel, cfg.Log.Format)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	opts := server.Options{
		Logger:              log,
		MaxBodyBytes:        int64(cfg.Limits.MaxBodyBytes),
		MaxConcurrentIngest: cfg.Limits.MaxConcurrentIngest,
		SnapshotInterval:    r.snapshotInterval,
		SnapshotRecords:     cfg.Processing.SnapshotRecords,
		SnapshotBytes:       int64(cfg.Processing.SnapshotBytes),
		DedupEntries:        cfg.Processing.DedupEntries,
		Retain:              r.retain,
		Retention:           r.retention,
	}
	tlsCfg, err := setupSecurity(cfg, &opts, log)
	if err != nil {
		return err
	}
	if opts.Detection, err = detectionConfig(cfg, r); err != nil {
		return err
	}
	if cfg.Detection.Baseline != "" {
		if opts.Baseline, err = baseline.LoadFile(cfg.Detection.Baseline); err != nil {
			return fmt.Errorf("--baseline: %w", err)
		}
	}
	var live *liveInventory
	switch {
	case len(cfg.Inventory.Cluster) > 0:
		inv, err := cluster.Load(cfg.Inventory.Cluster, cluster.LoadOptions{Logger: log})
		if err != nil {
			return err
		}
		opts.Inventory = server.StaticInventory(cluster.NewIndex(inv), authorizer(inv))
	case cfg.Inventory.Kubeconfig != "" || cfg.Inventory.InCluster:
		if live, err = newLiveInventory(cfg.Inventory.Kubeconfig, log); err != nil {
			return fmt.Errorf("live inventory: %w", err)
		}
		opts.Inventory = live.inventory()
		opts.WaitInventory = live.waitSynced
	default:
		log.Warn("no cluster inventory (--cluster, --kubeconfig or --in-cluster): identities and addresses are not resolved to workloads, RBAC rules are not evaluated")
	}
	var disp *sink.Dispatcher
	if len(r.sinks) > 0 {
		targets, err := sink.Targets(r.sinks, log)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if disp, err = sink.NewDispatcher(targets, sink.Options{Logger: log}); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		opts.Publisher = disp
		opts.SinkStats = func() []server.SinkStats { return sinkStats(disp.Stats()) }
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	st, err := store.Open(filepath.Join(cfg.DataDir, "store"), store.Options{
		MaxWALBytes: r.walMax, Sync: r.sync, Retention: r.retention, Logger: log,
	})
	if err != nil {
		return err
	}
	opts.Store = st
	srv, err := server.New(opts)
	if err != nil {
		st.Close()
		return err
	}
	// Background work stops after the server: the sinks deliver what its
	// final processing raised, then the store closes.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = st.Run(bg) })
	if disp != nil {
		wg.Go(func() { _ = disp.Run(bg) })
	}
	if live != nil {
		wg.Go(func() {
			if err := live.w.Run(bg); err != nil && bg.Err() == nil {
				log.Error("live inventory stopped", "error", err)
			}
		})
	}
	log.Info("kubedelta serve starting", "listen", ln.Addr().String(), "dataDir", cfg.DataDir, "insecure", cfg.Insecure,
		"sinks", len(r.sinks), "walMaxBytes", r.walMax, "sync", r.sync.String(), "retainEvents", string(r.retain))
	serr := srv.Serve(ctx, ln, tlsCfg)
	stopBG()
	wg.Wait()
	cerr := st.Close()
	if serr != nil {
		return serr
	}
	if cerr != nil {
		return fmt.Errorf("closing the store: %w", cerr)
	}
	log.Info("kubedelta serve stopped")
	return nil
}

// setupSecurity builds the TLS config and the authenticator.
func setupSecurity(cfg *Config, opts *server.Options, log *slog.Logger) (*tls.Config, error) {
	if cfg.Insecure {
		log.Warn("serving plain HTTP without authentication (--insecure); for local use only", "listen", cfg.Listen)
		return nil, nil
	}
	certFile, keyFile := cfg.TLS.CertFile, cfg.TLS.KeyFile
	if cfg.TLS.Generate {
		var fp string
		var err error
		certFile, keyFile, fp, err = server.GenerateCert(cfg.DataDir, cfg.TLS.Hosts, time.Now())
		if err != nil {
			return nil, fmt.Errorf("--tls-generate: %w", err)
		}
		log.Warn("serving a self-signed development certificate; give --tls-cert and --tls-key in production",
			"cert", certFile, "sha256Fingerprint", fp)
	}
	tlsCfg, err := server.TLSConfig(certFile, keyFile, cfg.TLS.ClientCAFile)
	if err != nil {
		return nil, err
	}
	auth, err := server.NewAuth(cfg.Auth.TokenFile, cfg.TLS.ClientCAFile != "")
	if err != nil {
		return nil, err
	}
	opts.Auth = auth
	log.Info("authentication", "tokens", auth.Tokens(), "clientCertificates", cfg.TLS.ClientCAFile != "")
	return tlsCfg, nil
}

func detectionConfig(cfg *Config, r *resolved) (*detect.Config, error) {
	dc := detect.DefaultConfig()
	if cfg.Detection.ConfigFile != "" {
		var err error
		if dc, err = detect.LoadConfig(cfg.Detection.ConfigFile); err != nil {
			return nil, err
		}
	}
	if r.learn > 0 {
		dc.Learn = detect.Duration(r.learn)
	}
	return dc, nil
}

func sinkStats(in []sink.Stats) []server.SinkStats {
	out := make([]server.SinkStats, len(in))
	for i, s := range in {
		out[i] = server.SinkStats{Name: s.Sink, Sent: int64(s.Sent), Failed: int64(s.Failed), Dropped: int64(s.Dropped), Queued: int64(s.Pending)}
	}
	return out
}
