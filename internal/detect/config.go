package detect

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubedelta/kubedelta/internal/rbac"
)

// ConfigAPIVersion and ConfigKind identify a detection config file.
const (
	ConfigAPIVersion = "kubedelta.io/v1alpha1"
	ConfigKind       = "DetectionConfig"
)

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("invalid detection config")

// Config tunes learning and noise. Zero values mean the defaults of
// DefaultConfig; Validate checks a loaded one.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`

	// LearnUntil ends the global learning window (set from --learn or
	// --learn-until; not read from the file).
	LearnUntil time.Time `json:"-"`
	// Learn is the learning window from the first event ("7d", "168h").
	Learn Duration `json:"learn,omitempty"`
	// WarmUp and WarmUpEvents: a new workload or subject learns during its
	// first WarmUp, and at least its first WarmUpEvents events.
	WarmUp       time.Duration `json:"-"`
	WarmUpRaw    Duration      `json:"warmUp,omitempty"`
	WarmUpEvents uint64        `json:"warmUpEvents,omitempty"`

	// MinSeverity drops alerts below it.
	MinSeverity string `json:"minSeverity,omitempty"`
	// RateLimit caps distinct alerts per rule (0: DefaultRateLimit); the
	// rest are counted in Aggregator.Suppressed.
	RateLimit int `json:"rateLimit,omitempty"`
	// Disabled rules by id.
	Disabled []string `json:"disabledRules,omitempty"`
	// Allow lists what is never alerted on.
	Allow []AllowRule `json:"allow,omitempty"`

	cidrs [][]netip.Prefix
}

// AllowRule suppresses alerts that match every field it sets; an empty
// Rules list means every rule. Entries of a list are alternatives.
type AllowRule struct {
	Rules      []string `json:"rules,omitempty"`
	Users      []string `json:"users,omitempty"`
	Groups     []string `json:"groups,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
	Images     []string `json:"images,omitempty"`
	Registries []string `json:"registries,omitempty"`
	CIDRs      []string `json:"cidrs,omitempty"`
	// Reason documents why (required: an allowlist without reasons rots).
	Reason string `json:"reason"`
}

// Duration is a time.Duration that also reads days ("7d").
type Duration time.Duration

// UnmarshalJSON reads "90m", "24h" or "7d".
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the Go form.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// ParseDuration is time.ParseDuration plus a "d" (24h) unit: "7d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	if days, rest, ok := strings.Cut(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != days {
			return 0, fmt.Errorf("duration %q: want e.g. 7d, 36h or 90m", s)
		}
		d := time.Duration(n) * 24 * time.Hour
		if rest == "" {
			return d, nil
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 7d, 36h or 90m", s)
		}
		return d + r, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 7d, 36h or 90m", s)
	}
	return d, nil
}

// Defaults.
const (
	DefaultWarmUp       = 15 * time.Minute
	DefaultWarmUpEvents = 20
	DefaultRateLimit    = 200
)

// DefaultConfig returns the configuration used without --config.
func DefaultConfig() *Config {
	c := &Config{APIVersion: ConfigAPIVersion, Kind: ConfigKind}
	if err := c.complete(); err != nil {
		panic(err) // the defaults are valid by construction
	}
	return c
}

// LoadConfig reads and validates a config file strictly: unknown fields,
// wrong types and bad values are errors naming the file and the field.
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
	if err := c.complete(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	return c, nil
}

// complete applies defaults and validates.
func (c *Config) complete() error {
	c.WarmUp = time.Duration(c.WarmUpRaw)
	if c.WarmUp == 0 {
		c.WarmUp = DefaultWarmUp
	}
	if c.WarmUpEvents == 0 {
		c.WarmUpEvents = DefaultWarmUpEvents
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateLimit < 0 {
		return fmt.Errorf("rateLimit: must be positive, got %d", c.RateLimit)
	}
	if c.MinSeverity != "" {
		if _, err := parseSeverity(c.MinSeverity); err != nil {
			return fmt.Errorf("minSeverity: %w", err)
		}
	}
	c.cidrs = make([][]netip.Prefix, len(c.Allow))
	for i, a := range c.Allow {
		if strings.TrimSpace(a.Reason) == "" {
			return fmt.Errorf("allow[%d].reason: say why this is allowed", i)
		}
		for j, s := range a.CIDRs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("allow[%d].cidrs[%d]: %q is not a CIDR such as 10.0.0.0/8", i, j, s)
			}
			c.cidrs[i] = append(c.cidrs[i], p.Masked())
		}
	}
	return nil
}

func parseSeverity(s string) (Severity, error) {
	v, err := rbac.ParseSeverity(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not one of info, low, medium, high, critical", s)
	}
	return v, nil
}

// Facts are the attributes of an alert's context that allow rules match.
type Facts struct {
	User      string
	Groups    []string
	Namespace string
	Image     string
	Registry  string
	IP        netip.Addr
}

// Allowed reports whether an allow rule covers an alert of rule with facts.
func (c *Config) Allowed(rule string, f Facts) bool {
	for i, a := range c.Allow {
		if len(a.Rules) > 0 && !slices.Contains(a.Rules, rule) {
			continue
		}
		if len(a.Users) > 0 && !slices.Contains(a.Users, f.User) {
			continue
		}
		if len(a.Groups) > 0 && !slices.ContainsFunc(a.Groups, func(g string) bool { return slices.Contains(f.Groups, g) }) {
			continue
		}
		if len(a.Namespaces) > 0 && !slices.Contains(a.Namespaces, f.Namespace) {
			continue
		}
		if len(a.Images) > 0 && !slices.ContainsFunc(a.Images, func(p string) bool { return f.Image != "" && strings.HasPrefix(f.Image, p) }) {
			continue
		}
		if len(a.Registries) > 0 && !slices.Contains(a.Registries, f.Registry) {
			continue
		}
		if len(c.cidrs[i]) > 0 && !slices.ContainsFunc(c.cidrs[i], func(p netip.Prefix) bool { return f.IP.IsValid() && p.Contains(f.IP) }) {
			continue
		}
		return true
	}
	return false
}

// Enabled reports whether a rule is not disabled.
func (c *Config) Enabled(rule string) bool { return !slices.Contains(c.Disabled, rule) }
