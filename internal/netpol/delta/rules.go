package delta

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kubedelta/kubedelta/internal/netpol"
)

// rules lists every granted rule with its usage: unused first, then partly
// used, then used.
func (u *unusedState) rules() []RuleUsage {
	out := make([]RuleUsage, 0, len(u.grants))
	for ref, ra := range u.grants {
		r := RuleUsage{
			Policy: ref.Policy.String(), Direction: ref.Direction, Index: ref.Index,
			Admits: ra.grant.Peers, Ports: portsText(ra.grant), Flows: ra.flows,
			AppliesTo: sortedSet(ra.appliesTo),
		}
		for p := range ra.usedBy {
			r.UsedBy = append(r.UsedBy, p)
		}
		slices.Sort(r.UsedBy)
		var idle []string
		if ra.flows > 0 && !ra.grant.Peers.All && len(ra.grant.Peers.IPBlocks) == 0 {
			// A policy admitting its own pods (same-namespace rules) does
			// not make them unused peers.
			for w := range u.admittedWorkloads(ra.grant.Peers) {
				if _, used := ra.usedBy[w]; !used && !ra.appliesTo[w] {
					idle = append(idle, w)
				}
			}
			slices.Sort(idle)
		}
		applies := listText(shortNames(r.AppliesTo), 3)
		switch {
		case ra.flows == 0:
			r.Status = RuleUnused
			r.Why = fmt.Sprintf("no observed flow matched it; it lets %s %s %s on %s",
				applies, verbFor(ref.Direction), describePeers(ra.grant.Peers), r.Ports)
		case len(idle) > 0:
			r.Status = RulePartlyUsed
			r.Why = fmt.Sprintf("it admits %s; only %s used it (%d flows), never %s: narrow its peers",
				describePeers(ra.grant.Peers), listText(shortNames(r.UsedBy), 4), ra.flows, listText(shortNames(idle), 4))
		default:
			r.Status = RuleUsed
			r.Why = fmt.Sprintf("used by %s (%d flows)", listText(shortNames(r.UsedBy), 4), ra.flows)
		}
		out = append(out, r)
	}
	rank := map[string]int{RuleUnused: 0, RulePartlyUsed: 1, RuleUsed: 2}
	slices.SortFunc(out, func(a, b RuleUsage) int {
		return cmp.Or(cmp.Compare(rank[a.Status], rank[b.Status]), strings.Compare(a.Policy, b.Policy),
			strings.Compare(string(a.Direction), string(b.Direction)), cmp.Compare(a.Index, b.Index))
	})
	return out
}

func verbFor(d netpol.Direction) string {
	if d == netpol.Ingress {
		return "accept"
	}
	return "reach"
}

// admittedWorkloads returns the workloads with running pods a peer set
// covers.
func (u *unusedState) admittedWorkloads(ps netpol.PeerSet) map[string]bool {
	out := map[string]bool{}
	for _, w := range ps.Workloads {
		out[w] = true
	}
	if ps.All {
		for _, wr := range u.reach.Workloads {
			out[wr.Workload] = true
		}
		return out
	}
	for _, ns := range ps.Namespaces {
		for _, w := range u.nsNames[ns] {
			out[w] = true
		}
	}
	return out
}

// describePeers renders a peer set for a sentence.
func describePeers(ps netpol.PeerSet) string {
	if ps.All {
		return "every pod and address"
	}
	var parts []string
	if len(ps.Namespaces) > 0 {
		parts = append(parts, fmt.Sprintf("every pod in %s %s", plural(len(ps.Namespaces), "namespace", "namespaces"), listText(ps.Namespaces, 3)))
	}
	if len(ps.Workloads) > 0 {
		parts = append(parts, listText(shortNames(ps.Workloads), 3))
	}
	if len(ps.IPBlocks) > 0 {
		parts = append(parts, listText(ps.IPBlocks, 3))
	}
	if len(parts) == 0 {
		return "no running pod"
	}
	return strings.Join(parts, " and ")
}

// portsText renders a grant's ports.
func portsText(g netpol.Grant) string {
	s := g.Ports.String()
	if len(g.NamedPorts) > 0 {
		named := "named " + strings.Join(g.NamedPorts, ",")
		if g.Ports.IsEmpty() {
			return named
		}
		return s + " and " + named
	}
	return s
}

func shortNames(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = shortName(w)
	}
	return out
}

// listText joins up to n items and counts the rest.
func listText(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
