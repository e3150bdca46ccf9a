package detect

import (
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// Rule describes one detection rule for docs and summaries.
type Rule struct {
	ID       string   `json:"id"`
	Category string   `json:"category"`
	Severity Severity `json:"severity"`
	MITRE    []string `json:"mitre"`
	// Summary says in one line what triggers the rule.
	Summary string `json:"summary"`
}

// Emit hands an alert to the aggregator.
type Emit func(Alert)

// Detector is a family of rules. It also implements at least one of
// APIDetector, FlowDetector and ExecDetector.
type Detector interface {
	Rules() []Rule
}

// APIDetector looks at audit events.
type APIDetector interface {
	Detector
	API(s *State, r *event.APIRequest, emit Emit)
}

// FlowDetector looks at network flows resolved to workloads.
type FlowDetector interface {
	Detector
	Flow(s *State, f *Flow, emit Emit)
}

// ExecDetector looks at process events.
type ExecDetector interface {
	Detector
	Exec(s *State, e *event.Exec, emit Emit)
}

// Flow is a network flow with both ends resolved as of its time.
type Flow struct {
	*event.Flow
	Src, Dst baseline.Peer
}

// State is what detectors may consult. Detectors run before the event is
// added to the baseline, so "not in the baseline" means "never seen before".
type State struct {
	Profiles *baseline.Profiles
	// Index and Authorizer are nil when no cluster inventory was given.
	Index      *cluster.Index
	Authorizer *rbac.Authorizer
	Config     *Config
}

// Learning reports whether novelty alerts are suppressed at t for an entity
// first seen at first that has had n events: during the global learning
// window, and during each new entity's warm-up (a rollout must not page).
func (s *State) Learning(t, first time.Time, n uint64) bool {
	c := s.Config
	if !c.LearnUntil.IsZero() && t.Before(c.LearnUntil) {
		return true
	}
	if first.IsZero() {
		return true // a brand-new entity starts its warm-up now
	}
	return t.Sub(first) < c.WarmUp || n < c.WarmUpEvents
}

// IsExternal reports whether ip is outside the cluster's pod, service and
// node addresses (the peer of egress alerts).
func IsExternal(p baseline.Peer) bool { return p.Kind == baseline.PeerExternal }
