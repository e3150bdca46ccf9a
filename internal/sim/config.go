package sim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
)

// Sentinel errors.
var (
	// ErrConfig: a Config field is out of range.
	ErrConfig = errors.New("invalid simulation config")
	// ErrAttack: an attack name is not one of AttackNames.
	ErrAttack = errors.New("unknown attack")
	// ErrWrite: an output writer failed.
	ErrWrite = errors.New("write failed")
)

// Defaults and limits.
const (
	DefaultNamespaces = 20
	DefaultDays       = 7.0
	DefaultSeed       = 1
	// MaxNamespaces bounds the cluster: the planner keeps every pod of the
	// window in memory, and node pod ranges are /24s.
	MaxNamespaces = 500
	// MaxDays bounds the window (a year).
	MaxDays = 366.0
	// MaxRate bounds Config.Rate (audit events per simulated second).
	MaxRate = 1e6
	// MaxNamespaceDays bounds Namespaces × Days: about 30 pods a day per
	// namespace are planned (CronJob runs, rollouts) and kept in memory, so
	// the bound keeps the plan under a few hundred megabytes. Volume comes
	// from Rate, not from more namespaces or days.
	MaxNamespaceDays = 10000
)

// DefaultStart is the default beginning of the simulated window: a fixed
// Monday, so that the same seed writes the same bytes on every day.
var DefaultStart = time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)

// Exec output formats.
const (
	ExecFalco    = "falco"
	ExecTetragon = "tetragon"
)

// Config describes one simulation. The zero value is DefaultNamespaces
// namespaces over DefaultDays days from DefaultStart, seed 0, no attacks.
type Config struct {
	// Seed drives every random choice: the same Config writes the same bytes.
	Seed uint64
	// Namespaces is the number of application namespaces (besides the
	// system and add-on ones); 0 means DefaultNamespaces.
	Namespaces int
	// Days is the length of the simulated window; 0 means DefaultDays.
	Days float64
	// Start is the beginning of the window; zero means DefaultStart.
	Start time.Time
	// Attacks are injected after the learning period, by name (see
	// AttackNames); "all" injects every attack. Each name may appear once.
	Attacks []string
	// Rate is the target number of audit events per simulated second; 0 is
	// the realistic rate of the simulated cluster (a few events a second
	// for 20 namespaces). The periodic background (leases, watches, status
	// updates, workloads' API polling) is sped up or slowed down to reach it;
	// pod lifecycles, people, CI and attacks keep their realistic pace.
	Rate float64
	// LearningPeriod is how long the benign period lasts before attacks
	// start; 0 means all but the last day of a window longer than two days,
	// else the first half of the window.
	LearningPeriod time.Duration
	// Logger receives progress at debug level; nil discards.
	Logger *slog.Logger
}

// Writers are the output streams. A nil writer disables its stream (and
// the work of generating it); Cluster and Audit are usually set.
type Writers struct {
	// Cluster receives the cluster's objects: YAML documents, each a
	// `kind: List` (the default RBAC policy, then everything else).
	Cluster io.Writer
	// Audit receives audit.k8s.io/v1 Events, one JSON object per line.
	Audit io.Writer
	// Flows receives Cilium Hubble flows, one GetFlowsResponse per line.
	Flows io.Writer
	// Exec receives process events in ExecFormat, one JSON object per line.
	Exec io.Writer
	// ExecFormat is ExecFalco (the default when empty) or ExecTetragon.
	ExecFormat string
	// GroundTruth receives one JSON object per injected attack.
	GroundTruth io.Writer
}

// Summary counts what Generate wrote.
type Summary struct {
	Seed        uint64
	Start, End  time.Time
	LearningEnd time.Time
	Namespaces  int // application namespaces
	Nodes       int
	// Pods is the number of pods that lived during the window (all of them
	// are in the cluster dump).
	Pods int
	// Objects is the number of objects in the cluster dump, the default
	// RBAC policy included.
	Objects     int
	AuditEvents int64
	Flows       int64
	ExecEvents  int64
	Attacks     []AttackTruth
	// Elapsed is the wall time Generate took.
	Elapsed time.Duration
}

// normalized returns cfg with defaults applied, or an error naming the bad
// field.
func (cfg Config) normalized() (Config, error) {
	if cfg.Namespaces == 0 {
		cfg.Namespaces = DefaultNamespaces
	}
	if cfg.Namespaces < 1 || cfg.Namespaces > MaxNamespaces {
		return cfg, fmt.Errorf("%w: namespaces = %d: want 1 to %d", ErrConfig, cfg.Namespaces, MaxNamespaces)
	}
	if cfg.Days == 0 {
		cfg.Days = DefaultDays
	}
	if math.IsNaN(cfg.Days) || cfg.Days < 1.0/24 || cfg.Days > MaxDays {
		return cfg, fmt.Errorf("%w: days = %v: want 1/24 (one hour) to %v", ErrConfig, cfg.Days, MaxDays)
	}
	if nd := float64(cfg.Namespaces) * cfg.Days; nd > MaxNamespaceDays {
		return cfg, fmt.Errorf("%w: namespaces × days = %d × %v = %.0f: want at most %d (every pod of the window is planned in memory); raise the rate for more events",
			ErrConfig, cfg.Namespaces, cfg.Days, nd, MaxNamespaceDays)
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	cfg.Start = cfg.Start.UTC()
	if y := cfg.Start.Year(); y < 1971 || y > 9000 {
		return cfg, fmt.Errorf("%w: start = %s: want a year between 1971 and 9000", ErrConfig, cfg.Start.Format(time.RFC3339))
	}
	if math.IsNaN(cfg.Rate) || cfg.Rate < 0 || cfg.Rate > MaxRate {
		return cfg, fmt.Errorf("%w: rate = %v: want 0 (realistic) to %v audit events per second", ErrConfig, cfg.Rate, float64(MaxRate))
	}
	window := time.Duration(cfg.Days * float64(24*time.Hour))
	if cfg.LearningPeriod < 0 || cfg.LearningPeriod >= window {
		return cfg, fmt.Errorf("%w: learning period = %s: want less than the window (%s)", ErrConfig, cfg.LearningPeriod, window)
	}
	if cfg.LearningPeriod == 0 {
		if window > 48*time.Hour {
			cfg.LearningPeriod = window - 24*time.Hour
		} else {
			cfg.LearningPeriod = window / 2
		}
	}
	attacks, err := resolveAttacks(cfg.Attacks)
	if err != nil {
		return cfg, err
	}
	cfg.Attacks = attacks
	return cfg, nil
}

// resolveAttacks expands "all", rejects unknown and repeated names, and
// returns the attacks in AttackNames order (the order they happen in).
func resolveAttacks(names []string) ([]string, error) {
	known := AttackNames()
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "all":
			for _, k := range known {
				want[k] = true
			}
		case slices.Contains(known, n):
			if want[n] {
				return nil, fmt.Errorf("%w: %q is given twice", ErrAttack, n)
			}
			want[n] = true
		default:
			return nil, fmt.Errorf("%w: %q: want one of %s, or all", ErrAttack, n, strings.Join(known, ", "))
		}
	}
	var out []string
	for _, k := range known {
		if want[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

func (w Writers) execFormat() (string, error) {
	switch w.ExecFormat {
	case "", ExecFalco:
		return ExecFalco, nil
	case ExecTetragon:
		return ExecTetragon, nil
	}
	return "", fmt.Errorf("%w: exec format %q: want %s or %s", ErrConfig, w.ExecFormat, ExecFalco, ExecTetragon)
}
