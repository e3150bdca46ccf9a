// Package input loads what kubedelta's commands read: cluster object dumps
// and audit logs, with the flags every command shares.
package input

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/audit"
)

// ErrNoCluster is returned when a command needs --cluster and has none.
var ErrNoCluster = errors.New("no cluster objects: give --cluster PATH (a file or directory of YAML/JSON, e.g. `kubectl get -A -o yaml` output)")

// Cluster holds the --cluster flag.
type Cluster struct {
	Paths []string
}

// AddFlags registers --cluster.
func (c *Cluster) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&c.Paths, "cluster", nil,
		"file or directory (recursive) of Kubernetes objects: YAML or JSON, multi-document, kind: List, optionally .gz (repeatable)")
}

// Load reads the inventory.
func (c *Cluster) Load(s iostreams.Streams) (*cluster.Inventory, error) {
	if len(c.Paths) == 0 {
		return nil, ErrNoCluster
	}
	return cluster.Load(c.Paths, cluster.LoadOptions{Logger: s.Logger})
}

// Audit holds the flags that select audit events.
type Audit struct {
	Paths  []string
	Since  string
	Until  string
	Strict bool
}

// AddFlags registers --audit, --since, --until and --strict.
func (a *Audit) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&a.Paths, "audit", nil,
		"audit log: JSON lines or EventList (webhook) bodies, optionally .gz; - for stdin (repeatable, rotated files in any order)")
	cmd.Flags().StringVar(&a.Since, "since", "", "only events at or after this time (RFC 3339, or a duration before now such as 24h)")
	cmd.Flags().StringVar(&a.Until, "until", "", "only events before this time (RFC 3339, or a duration before now)")
	cmd.Flags().BoolVar(&a.Strict, "strict", false, "stop at the first malformed record instead of reporting and skipping it")
}

// Summary describes what was read.
type Summary struct {
	Files     int
	Events    int64
	Rejected  int64
	Skipped   int64
	Delivered int64
}

// Read decodes every audit file and calls fn for each request in the time
// window. now anchors relative --since/--until values.
func (a *Audit) Read(s iostreams.Streams, now time.Time, fn func(*event.APIRequest) error) (Summary, error) {
	if len(a.Paths) == 0 {
		return Summary{}, errors.New("no audit events: give --audit FILE (repeatable; - for stdin)")
	}
	since, err := ParseTime(a.Since, now)
	if err != nil {
		return Summary{}, fmt.Errorf("--since: %w", err)
	}
	until, err := ParseTime(a.Until, now)
	if err != nil {
		return Summary{}, fmt.Errorf("--until: %w", err)
	}
	dec := audit.NewDecoder(audit.Options{Strict: a.Strict, Stdin: s.In, Logger: s.Logger})
	var sum Summary
	err = dec.DecodeFiles(a.Paths, func(r *event.APIRequest) error {
		if (!since.IsZero() && r.Time.Before(since)) || (!until.IsZero() && !r.Time.Before(until)) {
			sum.Skipped++
			return nil
		}
		sum.Delivered++
		return fn(r)
	})
	st := dec.Stats()
	sum.Files = len(a.Paths)
	sum.Events = st.Records
	sum.Rejected = st.Rejected
	return sum, err
}

// ParseTime accepts "" (no bound), an RFC 3339 time, or a Go duration meaning
// that long before now.
func ParseTime(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration (24h)", v)
	}
	return t, nil
}
