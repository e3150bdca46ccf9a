// Package delta compares the network reach NetworkPolicies allow with the
// connections workloads really make, and writes least-privilege policies
// that allow exactly what was observed.
//
// Flows are resolved, as of each flow's time, to the pods (and workloads),
// nodes and external addresses at both ends, and aggregated into Edges:
// one entry per distinct (source, destination, port, protocol) with
// counts, volume and first and last seen, so memory grows with distinct
// behaviours, not with the number of flows. Unused then evaluates every
// distinct edge with the policy engine (netpol.Engine) and sets the result
// against each workload's allowed reach; Suggest turns the edges into
// NetworkPolicies and checks them with the engine before returning them.
//
// It is a pure library: cluster index, engine and edges in, findings out.
package delta

import "errors"

// Sentinel errors.
var (
	// ErrSuggestionIncomplete means a suggested policy set does not allow a
	// flow it was built to allow. It is a bug in the generator, never a
	// property of the input; the error names the flow and the verdict.
	ErrSuggestionIncomplete = errors.New("suggested NetworkPolicies do not allow an observed flow")
	// ErrBadOption marks invalid options (a CIDR prefix out of range, an
	// unparsable exclusion).
	ErrBadOption = errors.New("invalid option")
)
