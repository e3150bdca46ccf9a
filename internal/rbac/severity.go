package rbac

import (
	"errors"
	"fmt"
	"strings"
)

// Severity ranks a risk. The zero value is SeverityInfo.
type Severity int

// Severities, lowest first.
const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

// ErrInvalidSeverity is returned by ParseSeverity and UnmarshalText.
var ErrInvalidSeverity = errors.New("invalid severity")

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns "info", "low", "medium", "high" or "critical".
func (s Severity) String() string {
	if s >= SeverityInfo && s <= SeverityCritical {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// ParseSeverity parses a severity name, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q: want one of %s", ErrInvalidSeverity, s, strings.Join(severityNames[:], ", "))
}

// MarshalText encodes s by name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < SeverityInfo || s > SeverityCritical {
		return nil, fmt.Errorf("%w: %d", ErrInvalidSeverity, int(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// lower returns the next lower severity, not below info.
func (s Severity) lower() Severity {
	if s > SeverityInfo {
		return s - 1
	}
	return s
}
