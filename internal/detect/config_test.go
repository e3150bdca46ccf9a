package detect

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig("testdata/config/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Learn) != 7*24*time.Hour || c.WarmUp != 30*time.Minute || c.WarmUpEvents != 50 || c.RateLimit != 100 {
		t.Errorf("config = %+v", c)
	}
	if c.Enabled("api.novel-agent") || !c.Enabled("rbac.denied") {
		t.Error("disabledRules not applied")
	}
	if !c.Allowed("secret.access", Facts{User: "system:serviceaccount:cert-manager:cert-manager"}) {
		t.Error("allow rule for cert-manager not applied")
	}
	if c.Allowed("secret.access", Facts{User: "alice"}) {
		t.Error("allow rule matched another user")
	}
	if !c.Allowed("net.novel-egress", Facts{IP: netip.MustParseAddr("203.0.113.9")}) || c.Allowed("net.novel-egress", Facts{IP: netip.MustParseAddr("198.51.100.9")}) {
		t.Error("CIDR allow rule wrong")
	}
	d := DefaultConfig()
	if d.WarmUp != DefaultWarmUp || d.RateLimit != DefaultRateLimit || d.WarmUpEvents != DefaultWarmUpEvents {
		t.Errorf("defaults = %+v", d)
	}
}

// Every bad file is refused with an error naming the file and what to fix
// (the style of kind's and Prometheus's config tests).
func TestLoadConfigBad(t *testing.T) {
	tests := map[string]string{
		"unknown-field":        `unknown field "learnWindow"`,
		"wrong-version":        `want apiVersion "kubedelta.io/v1alpha1"`,
		"bad-duration":         `duration "7 days"`,
		"bad-severity":         `minSeverity: "urgent" is not one of info, low, medium, high, critical`,
		"allow-without-reason": `allow[0].reason: say why this is allowed`,
		"bad-cidr":             `allow[0].cidrs[0]: "10.0.0.0/33" is not a CIDR`,
		"negative-rate":        `rateLimit: must be positive`,
		"wrong-type":           `rateLimit`,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			path := "testdata/config/" + name + ".bad.yaml"
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
				t.Errorf("error %q: want ErrConfig naming %s and containing %q", err, path, want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "7x", "1.5d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}
