// Package detect turns events into few, ranked, deduplicated alerts:
// detectors look at one event at a time against the learned baseline; the
// Aggregator after them folds repeats into one alert per (rule, subject or
// workload, evidence key), rate-limits, filters and ranks.
package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/kubedelta/kubedelta/internal/rbac"
)

// Severity is an alert's severity: info, low, medium, high, critical.
type Severity = rbac.Severity

// Severities.
const (
	Info     = rbac.SeverityInfo
	Low      = rbac.SeverityLow
	Medium   = rbac.SeverityMedium
	High     = rbac.SeverityHigh
	Critical = rbac.SeverityCritical
)

// Categories group rules for summaries and sink filters.
const (
	CategoryAPI         = "api"
	CategoryRBAC        = "rbac"
	CategorySecret      = "secret"
	CategoryExec        = "exec"
	CategoryWorkload    = "workload"
	CategoryPersistence = "persistence"
	CategoryImage       = "image"
	CategoryNetwork     = "network"
	CategorySequence    = "sequence"
)

// Evidence is one thing an alert rests on.
type Evidence struct {
	// Kind is audit, flow, exec, binding, role, policy or baseline.
	Kind string    `json:"kind"`
	Time time.Time `json:"time,omitzero"`
	// Ref identifies the record: an auditID, a binding "Kind/ns/name", …
	Ref    string `json:"ref,omitempty"`
	Detail string `json:"detail"`
}

// Alert is one finding. Detectors fill the descriptive fields and Key; the
// Aggregator fills ID, Count, FirstSeen and LastSeen.
type Alert struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Rule      string    `json:"rule"`
	Category  string    `json:"category"`
	Severity  Severity  `json:"severity"`
	Score     float64   `json:"score"`
	Subject   string    `json:"subject,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	Workload  string    `json:"workload,omitempty"`
	Message   string    `json:"message"`
	// Evidence is kept short: the first few records, plus counts in Message.
	Evidence []Evidence `json:"evidence,omitempty"`
	MITRE    []string   `json:"mitre,omitempty"`
	// Key is what repeats of the same finding share beyond rule and subject
	// or workload (e.g. the resource denied, the peer contacted).
	Key       string    `json:"key,omitempty"`
	Count     uint64    `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// StableID is the alert's identity across runs: the same finding in the same
// data gets the same ID, so sinks and people can acknowledge it.
func StableID(rule, subject, workload, key string) string {
	h := sha256.New()
	for _, s := range []string{rule, subject, workload, key} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// baseScore orders severities far apart so that score adjustments inside a
// severity never overtake the next one.
func baseScore(s Severity) float64 {
	switch s {
	case Critical:
		return 1000
	case High:
		return 300
	case Medium:
		return 100
	case Low:
		return 30
	}
	return 10
}
