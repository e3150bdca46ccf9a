package servecmd

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/loadgen"
)

type loadOptions struct {
	cfg       loadgen.Config
	audit     string
	tokenFile string
	pid       int
	format    output.Format
}

// NewLoadgenCommand returns the hidden `kubedelta loadgen`: it posts audit
// EventList batches to a server on this machine and reports throughput,
// acknowledgement latency and, with --server-pid, the server's peak RSS.
func NewLoadgenCommand(s iostreams.Streams) *cobra.Command {
	o := &loadOptions{}
	cmd := &cobra.Command{
		Use:    "loadgen --target http://127.0.0.1:PORT [--events N] [--duration D]",
		Short:  "Measure a kubedelta server on this machine (loopback only)",
		Hidden: true,
		Long: `Post realistic audit EventList batches to a kubedelta server's audit webhook
from concurrent senders until --events are sent or --duration passes, and report
events per second and the p50/p99 acknowledgement latency. Each event is a copy
of a template (--audit FILE, e.g. examples/audit.jsonl.gz or kubedelta sim
output; synthesized without it) with a unique auditID and timestamps advanced
by a day per pass. Only loopback targets are accepted.`,
		Example: `  kubedelta loadgen --target http://127.0.0.1:8080 --audit examples/audit.jsonl.gz --events 2000000 --duration 60s --server-pid $(pidof kubedelta)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.audit != "" {
				tpl, err := loadgen.ReadTemplates(o.audit, 0)
				if err != nil {
					return err
				}
				o.cfg.Templates = tpl
			}
			if o.tokenFile != "" {
				b, err := os.ReadFile(o.tokenFile)
				if err != nil {
					return err
				}
				o.cfg.Token = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
			}
			o.cfg.Logger = s.Logger
			r, err := loadgen.Run(cmd.Context(), o.cfg)
			if err != nil {
				return err
			}
			rep := report{Result: r}
			if o.pid > 0 {
				if rss, err := loadgen.PeakRSS(o.pid); err == nil {
					rep.PeakRSSBytes = rss
				} else {
					s.Logger.Warn("reading the server's peak RSS failed", "pid", o.pid, "error", err)
				}
			}
			if o.format == output.JSON {
				return output.WriteJSONLine(s.Out, rep)
			}
			return rep.write(s.Out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.cfg.Target, "target", "", "server base URL on this machine, e.g. http://127.0.0.1:8080")
	f.StringVar(&o.cfg.Path, "path", "/audit/webhook", "endpoint to post to")
	f.StringVar(&o.tokenFile, "token-file", "", "file whose first line is the bearer token")
	f.StringVar(&o.cfg.CAFile, "ca-file", "", "CA certificate verifying an HTTPS target (e.g. DATA_DIR/tls/serving.crt)")
	f.Int64Var(&o.cfg.Events, "events", loadgen.DefaultEvents, "events to send at most")
	f.DurationVar(&o.cfg.Duration, "duration", loadgen.DefaultDuration, "time to run at most")
	f.IntVar(&o.cfg.BatchSize, "batch-size", loadgen.DefaultBatchSize, "events per EventList")
	f.IntVar(&o.cfg.Concurrency, "concurrency", loadgen.DefaultConcurrency, "concurrent senders")
	f.Float64Var(&o.cfg.Rate, "rate", 0, "events per second at most (0: as fast as the server acknowledges)")
	f.StringVar(&o.audit, "audit", "", "template audit events: JSON lines, .gz accepted (default: synthesized)")
	f.IntVar(&o.pid, "server-pid", 0, "the server's process id, to report its peak RSS (VmHWM)")
	output.AddFlag(cmd, &o.format, output.Table, output.JSON)
	_ = cmd.MarkFlagRequired("target")
	return cmd
}

type report struct {
	loadgen.Result
	PeakRSSBytes int64 `json:"peakRSSBytes,omitempty"`
}

func (r report) write(w io.Writer) error {
	_, err := fmt.Fprintf(w, "events      %d acknowledged in %d batches (%d failed, status %v), mean body %d bytes\n"+
		"throughput  %.0f events/s over %s\n"+
		"ack latency p50 %s  p99 %s  max %s\n",
		r.Events, r.Batches, r.Failed, r.Status, r.BodyBytes, r.PerSecond, r.Elapsed.Round(time.Millisecond),
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
	if err == nil && r.PeakRSSBytes > 0 {
		_, err = fmt.Fprintf(w, "server peak RSS %.1f MiB\n", float64(r.PeakRSSBytes)/(1<<20))
	}
	return err
}
