package delta

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/netpol"
)

// Defaults of SuggestOptions.
const (
	DefaultCIDRPrefixV4 = 24
	DefaultCIDRPrefixV6 = 64
	DefaultMaxCIDRs     = 32
	DefaultDNSNamespace = "kube-system"
)

// DefaultDNSLabels are the labels of the cluster DNS pods (CoreDNS and
// kube-dns both keep the historical k8s-app=kube-dns).
func DefaultDNSLabels() map[string]string { return map[string]string{"k8s-app": "kube-dns"} }

// DefaultExcludeNamespaces are left out when SuggestOptions.Namespaces is
// empty: the control plane's and add-ons' namespace.
func DefaultExcludeNamespaces() []string { return []string{"kube-system"} }

// SuggestOptions tune Suggest. The zero value is usable.
type SuggestOptions struct {
	// CIDRPrefixV4 and CIDRPrefixV6: external addresses are allowed as
	// their network of this many bits (default 24 and 64).
	CIDRPrefixV4, CIDRPrefixV6 int
	// MaxCIDRs bounds the ipBlocks of one rule: more networks are widened
	// to shorter prefixes until they fit (default 32; negative: no bound).
	MaxCIDRs int
	// Namespaces: the namespaces to write policies for. Empty: every
	// namespace with workloads, except ExcludeNamespaces.
	Namespaces []string
	// ExcludeNamespaces applies when Namespaces is empty; nil means
	// DefaultExcludeNamespaces.
	ExcludeNamespaces []string
	// Exclude lists peers never allowed, whatever the flows show.
	Exclude []Exclusion
	// IncludeDropped also allows connections every flow of which the
	// network reported dropped.
	IncludeDropped bool
	// IncludeDenied also allows connections the current policies deny
	// (by default a suggestion never opens what they close).
	IncludeDenied bool
	// PodNetworks are excepted from external ipBlocks that contain them
	// (see PodNetworks).
	PodNetworks []netip.Prefix
	// DNSNamespace and DNSLabels select the cluster DNS pods, which every
	// workload may reach on UDP and TCP 53 (defaults: kube-system,
	// DefaultDNSLabels).
	DNSNamespace string
	DNSLabels    map[string]string
}

func (o *SuggestOptions) defaults() error {
	if o.CIDRPrefixV4 == 0 {
		o.CIDRPrefixV4 = DefaultCIDRPrefixV4
	}
	if o.CIDRPrefixV6 == 0 {
		o.CIDRPrefixV6 = DefaultCIDRPrefixV6
	}
	if o.CIDRPrefixV4 < 0 || o.CIDRPrefixV4 > 32 {
		return fmt.Errorf("%w: IPv4 CIDR prefix %d: want 0 to 32", ErrBadOption, o.CIDRPrefixV4)
	}
	if o.CIDRPrefixV6 < 0 || o.CIDRPrefixV6 > 128 {
		return fmt.Errorf("%w: IPv6 CIDR prefix %d: want 0 to 128", ErrBadOption, o.CIDRPrefixV6)
	}
	if o.MaxCIDRs == 0 {
		o.MaxCIDRs = DefaultMaxCIDRs
	}
	if o.ExcludeNamespaces == nil {
		o.ExcludeNamespaces = DefaultExcludeNamespaces()
	}
	if o.DNSNamespace == "" {
		o.DNSNamespace = DefaultDNSNamespace
	}
	if o.DNSLabels == nil {
		o.DNSLabels = DefaultDNSLabels()
	}
	return nil
}

// Exclusion is a peer Suggest never allows: an address range, which
// matches node, external and unresolved addresses (pods are excluded by
// workload, since their addresses change), or a workload
// ("Kind/namespace/name", "namespace/name" for any kind, or "Node/name").
type Exclusion struct {
	Prefix   netip.Prefix
	Workload string
}

// ParseExclusion parses an address, a CIDR or a workload name.
func ParseExclusion(s string) (Exclusion, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return Exclusion{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return Exclusion{Prefix: netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked()}, nil
	}
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if p == "" {
			parts = nil
		}
	}
	if len(parts) < 2 || len(parts) > 3 {
		return Exclusion{}, fmt.Errorf("%w: exclusion %q: want an address, a CIDR, NAMESPACE/NAME, KIND/NAMESPACE/NAME or Node/NAME", ErrBadOption, s)
	}
	return Exclusion{Workload: s}, nil
}

func (x Exclusion) String() string {
	if x.Workload != "" {
		return x.Workload
	}
	return x.Prefix.String()
}

func (x Exclusion) matches(ep *Endpoint) bool {
	if x.Workload != "" {
		if ep.Workload == x.Workload {
			return true
		}
		return ep.Kind == KindPod && strings.Count(x.Workload, "/") == 1 && shortName(ep.Workload) == x.Workload
	}
	return ep.Kind != KindPod && x.Prefix.IsValid() && x.Prefix.Contains(ep.IP)
}

// Suggestion is the result of Suggest: policies, and what a reviewer needs
// to know before applying them.
type Suggestion struct {
	Window Window `json:"window"`
	Flows  int64  `json:"flows"`
	Edges  int    `json:"edges"`
	// Namespaces the policies cover; Replaced: the existing policies there,
	// which the suggestion replaces (delete them when applying it).
	Namespaces []string                     `json:"namespaces"`
	Replaced   []netpol.Ref                 `json:"replaced"`
	Policies   []networkingv1.NetworkPolicy `json:"policies"`
	// Checked counts the observed edges verified allowed by the policies.
	Checked int `json:"checked"`
	// Rare lists allowed connections seen in at most two flows: review them
	// (Exclusion leaves a peer out).
	Rare []EdgeNote `json:"rare"`
	// LeftOut lists observed connections the policies do not allow, and why.
	LeftOut []EdgeNote `json:"leftOut"`
	// Notes: workloads without a policy, selectors that overlap, widened
	// CIDRs.
	Notes []string `json:"notes"`
	// Reach compares each covered workload's reach before and after.
	Reach []ReachChange `json:"reach"`
}

// EdgeNote is an observed connection, aggregated over the pods of each
// workload and external networks, with a reason.
type EdgeNote struct {
	Src       string    `json:"src"`
	Dst       string    `json:"dst"`
	Port      uint16    `json:"port"`
	Protocol  string    `json:"protocol"`
	Count     uint64    `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Why       string    `json:"why,omitempty"`
}

// ReachChange is one workload's reach before and after the suggestion.
type ReachChange struct {
	Workload string     `json:"workload"`
	Ingress  ReachDelta `json:"ingress"`
	Egress   ReachDelta `json:"egress"`
}

// ReachDelta counts pods and describes external reach ("any", "2 CIDRs",
// "none") before and after.
type ReachDelta struct {
	PodsBefore     int    `json:"podsBefore"`
	PodsAfter      int    `json:"podsAfter"`
	ExternalBefore string `json:"externalBefore"`
	ExternalAfter  string `json:"externalAfter"`
}

// Suggest writes NetworkPolicies, one per workload of the covered
// namespaces, that allow exactly the observed connections (the edges),
// ingress and egress, plus DNS to the cluster DNS. inv is the cluster the
// engine eng was built from and idx its index. Before returning, it builds
// an engine with the suggested policies in place of the covered
// namespaces' current ones and checks that every connection meant to be
// allowed is; a failure is returned as ErrSuggestionIncomplete.
func Suggest(inv *cluster.Inventory, idx *cluster.Index, eng *netpol.Engine, edges *Edges, opts SuggestOptions) (*Suggestion, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	p := newPlanner(inv, idx, edges, &opts)
	from, to := edges.Window()
	sg := &Suggestion{
		Window: Window{From: from, To: to}, Flows: edges.Flows(), Edges: edges.Len(),
		Namespaces: p.coveredList(), Replaced: []netpol.Ref{}, Rare: []EdgeNote{}, LeftOut: []EdgeNote{},
	}
	rare, left := newNotes(), newNotes()
	var baseline []Edge
	for _, e := range edges.List() {
		why := p.leaveOut(eng, &e)
		if why != "" {
			left.add(&e, why)
			continue
		}
		baseline = append(baseline, e)
		if !(e.Dst.Kind == KindPod && p.isDNS(e.Dst, portKey{e.Port, e.Protocol})) {
			rare.add(&e, "")
		}
		p.add(&e)
	}
	sg.Policies = p.policies(sg.Window)
	for i := range inv.NetworkPolicies {
		np := &inv.NetworkPolicies[i]
		if p.covered[policyNamespace(np)] {
			sg.Replaced = append(sg.Replaced, netpol.Ref{Namespace: policyNamespace(np), Name: np.Name})
		}
	}
	after, err := p.check(sg.Policies, baseline)
	if err != nil {
		return nil, err
	}
	sg.Checked = len(baseline)
	sg.Rare = rare.rare()
	sg.LeftOut = left.list()
	sg.Notes = nonNil(p.notes)
	sg.Reach = reachChanges(eng.Reach(), after.Reach(), p.covered)
	return sg, nil
}

func policyNamespace(np *networkingv1.NetworkPolicy) string {
	if np.Namespace == "" {
		return "default"
	}
	return np.Namespace
}

// leaveOut says why an observed edge is not to be allowed, or "".
func (p *planner) leaveOut(eng *netpol.Engine, e *Edge) string {
	for _, x := range p.opts.Exclude {
		if x.matches(e.Src) || x.matches(e.Dst) {
			return "excluded (" + x.String() + ")"
		}
	}
	if e.Protocol != event.ProtoTCP && e.Protocol != event.ProtoUDP && e.Protocol != event.ProtoSCTP {
		return "a NetworkPolicy can allow " + e.Protocol.String() + " only by allowing every port and protocol"
	}
	if e.Dropped == e.Flows && !p.opts.IncludeDropped {
		return "every flow was dropped by the network"
	}
	ev := evaluate(eng, e)
	switch ev.status {
	case VerdictUnresolved:
		return ev.why
	case VerdictDenied:
		if !p.opts.IncludeDenied {
			return "denied by the current policies: " + ev.why
		}
		if !ev.v.Egress.Allowed && !p.governs(e.Src) {
			return "denied by policies of " + e.Src.Label() + ", which the suggestion does not cover: " + ev.why
		}
		if !ev.v.Ingress.Allowed && !p.governs(e.Dst) {
			return "denied by policies of " + e.Dst.Label() + ", which the suggestion does not cover: " + ev.why
		}
	}
	return ""
}

// notes aggregates edge notes like Unused's findings, external addresses
// by network (named by the address when there is one).
type notes struct {
	m     map[findingKey]*noteAcc
	order []findingKey
}

type noteAcc struct {
	n     EdgeNote
	addrs [2]map[netip.Addr]bool
}

func newNotes() *notes { return &notes{m: map[findingKey]*noteAcc{}} }

func (n *notes) add(e *Edge, why string) {
	k := findingKey{peerLabel(e.Src), peerLabel(e.Dst), e.Port, e.Protocol}
	x := n.m[k]
	if x == nil {
		x = &noteAcc{n: EdgeNote{Src: k.src, Dst: k.dst, Port: e.Port, Protocol: e.Protocol.String(), FirstSeen: e.First, LastSeen: e.Last, Why: why}}
		n.m[k] = x
		n.order = append(n.order, k)
	}
	for i, ep := range []*Endpoint{e.Src, e.Dst} {
		if ep.Kind == KindExternal {
			if x.addrs[i] == nil {
				x.addrs[i] = map[netip.Addr]bool{}
			}
			x.addrs[i][ep.IP] = true
		}
	}
	x.n.Count += e.Flows
	if e.First.Before(x.n.FirstSeen) {
		x.n.FirstSeen = e.First
	}
	if e.Last.After(x.n.LastSeen) {
		x.n.LastSeen = e.Last
	}
}

func (n *notes) list() []EdgeNote {
	out := make([]EdgeNote, 0, len(n.order))
	for _, k := range n.order {
		x := n.m[k]
		en := x.n
		for i, label := range []*string{&en.Src, &en.Dst} {
			if len(x.addrs[i]) == 1 {
				for a := range x.addrs[i] {
					*label = a.String()
				}
			}
		}
		out = append(out, en)
	}
	slices.SortFunc(out, func(a, b EdgeNote) int {
		return cmp.Or(strings.Compare(a.Src, b.Src), strings.Compare(a.Dst, b.Dst),
			strings.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// rare keeps the notes seen in at most two flows.
func (n *notes) rare() []EdgeNote {
	return slices.DeleteFunc(n.list(), func(x EdgeNote) bool { return x.Count > 2 })
}

// reachChanges compares per-workload reach for the covered namespaces.
func reachChanges(before, after *netpol.ReachReport, covered map[string]bool) []ReachChange {
	idx := map[string]*netpol.WorkloadReach{}
	for i := range after.Workloads {
		idx[after.Workloads[i].Workload] = &after.Workloads[i]
	}
	out := []ReachChange{}
	for i := range before.Workloads {
		b := &before.Workloads[i]
		a := idx[b.Workload]
		if !covered[b.Namespace] || a == nil {
			continue
		}
		out = append(out, ReachChange{
			Workload: b.Workload,
			Ingress:  reachDelta(b.Ingress, a.Ingress),
			Egress:   reachDelta(b.Egress, a.Egress),
		})
	}
	slices.SortFunc(out, func(x, y ReachChange) int {
		return cmp.Or(strings.Compare(workloadNamespace(x.Workload), workloadNamespace(y.Workload)),
			strings.Compare(shortName(x.Workload), shortName(y.Workload)), strings.Compare(x.Workload, y.Workload))
	})
	return out
}

func reachDelta(before, after []netpol.ReachGroup) ReachDelta {
	d := ReachDelta{}
	d.PodsBefore, d.ExternalBefore = groupTotals(before)
	d.PodsAfter, d.ExternalAfter = groupTotals(after)
	return d
}

func groupTotals(gs []netpol.ReachGroup) (int, string) {
	pods := 0
	anyExt := false
	cidrs := map[string]bool{}
	for _, g := range gs {
		pods += g.Pods
		anyExt = anyExt || g.AnyExternal
		for _, c := range g.External {
			cidrs[c] = true
		}
	}
	switch {
	case anyExt:
		return pods, "any"
	case len(cidrs) == 0:
		return pods, "none"
	}
	return pods, fmt.Sprintf("%d %s", len(cidrs), plural(len(cidrs), "CIDR", "CIDRs"))
}

// selectable: the pods a workload's selector is computed from, in any
// phase (a finished CronJob pod still tells its template's labels);
// host-network pods are left out, since no policy selects them.
func selectable(p *corev1.Pod) bool { return !p.Spec.HostNetwork }
