package delta

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/netpol"
)

// Window is the time span the evidence covers.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Report is the result of Unused: per workload, the reach the policies
// allow against the connections it made and received; the rules no flow
// used; the flows the policies deny.
type Report struct {
	Window Window `json:"window"`
	// Flows and Edges count the flows read and their distinct edges.
	Flows int64 `json:"flows"`
	Edges int   `json:"edges"`
	// UnprotectedNamespaces have running pods and no NetworkPolicy.
	UnprotectedNamespaces []string `json:"unprotectedNamespaces"`
	// Workloads are ranked by the reach nothing used, largest first.
	Workloads []WorkloadReport `json:"workloads"`
	// Rules lists every rule that applies to a running pod, with what used
	// it; unused and partly used rules first.
	Rules []RuleUsage `json:"rules"`
	// Denied lists observed connections the current policies deny.
	Denied []EdgeFinding `json:"denied"`
	// Unresolved lists observed connections with an end that cannot be
	// evaluated (see Kind).
	Unresolved []EdgeFinding `json:"unresolved"`
}

// WorkloadReport is one workload's allowed and observed reach.
type WorkloadReport struct {
	Workload  string `json:"workload"`
	Namespace string `json:"namespace"`
	// Pods counts its running pods (0 for a workload seen only in flows).
	Pods     int      `json:"pods"`
	Allowed  Allowed  `json:"allowed"`
	Observed Observed `json:"observed"`
	// UnusedPods counts the pods of the allowed reach that are not pods of
	// an observed peer workload, per direction.
	UnusedPods  DirCount     `json:"unusedPods"`
	UnusedRules []UnusedRule `json:"unusedRules"`
	Summary     string       `json:"summary"`
}

// DirCount is a count per direction.
type DirCount struct {
	Ingress int `json:"ingress"`
	Egress  int `json:"egress"`
}

// Allowed is the reach the policies allow a workload: who may connect to
// it (Ingress) and whom it may connect to (Egress).
type Allowed struct {
	Ingress AllowedSide `json:"ingress"`
	Egress  AllowedSide `json:"egress"`
}

// AllowedSide summarizes one direction of a workload's reach.
type AllowedSide struct {
	// Isolated: some policy selects the workload's pods for this
	// direction; otherwise everything is allowed.
	Isolated   bool `json:"isolated"`
	Pods       int  `json:"pods"`
	Workloads  int  `json:"workloads"`
	Namespaces int  `json:"namespaces"`
	// AnyExternal: every address outside the pod network; External: the
	// CIDRs allowed otherwise.
	AnyExternal bool     `json:"anyExternal"`
	External    []string `json:"external,omitempty"`
}

// Observed are the connections a workload made (Egress) and received
// (Ingress), one entry per peer, port and protocol.
type Observed struct {
	Ingress []ObservedPeer `json:"ingress"`
	Egress  []ObservedPeer `json:"egress"`
}

// ObservedPeer aggregates the flows with one peer on one port. External
// addresses are grouped by /24 (IPv4) or /64 (IPv6) network: Peer is the
// address when there is one, else the network, with Addresses counting
// the distinct addresses.
type ObservedPeer struct {
	Peer      string   `json:"peer"`
	Kind      Kind     `json:"kind"`
	Addresses int      `json:"addresses,omitempty"`
	Names     []string `json:"names,omitempty"`
	Port      uint16   `json:"port"`
	Protocol  string   `json:"protocol"`
	Count     uint64   `json:"count"`
	Bytes     uint64   `json:"bytes"`
	Packets   uint64   `json:"packets"`
	// Dropped counts flows the network reported dropped.
	Dropped   uint64    `json:"dropped,omitempty"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Verdict of the current policies: allowed, denied, unresolved, or
	// mixed when the pods or addresses grouped here differ.
	Verdict string `json:"verdict"`
}

// UnusedRule is a rule that applies to a workload and that none of its
// flows used.
type UnusedRule struct {
	Policy    string           `json:"policy"`
	Direction netpol.Direction `json:"direction"`
	Index     int              `json:"index"`
	Why       string           `json:"why"`
}

// Rule usage statuses.
const (
	RuleUnused     = "unused"
	RulePartlyUsed = "partly used"
	RuleUsed       = "used"
)

// RuleUsage is one rule: whom it applies to, what it admits, what used it.
type RuleUsage struct {
	Policy    string           `json:"policy"`
	Direction netpol.Direction `json:"direction"`
	Index     int              `json:"index"`
	// Status: unused, partly used (some admitted peer workloads never
	// connected) or used.
	Status string `json:"status"`
	// AppliesTo: the workloads whose running pods the policy selects.
	AppliesTo []string `json:"appliesTo"`
	// Admits: the peers and ports the rule allows.
	Admits netpol.PeerSet `json:"admits"`
	Ports  string         `json:"ports"`
	// UsedBy: the peers whose flows the rule allowed, and how many flows.
	UsedBy []string `json:"usedBy,omitempty"`
	Flows  uint64   `json:"flows"`
	Why    string   `json:"why"`
}

// EdgeFinding is an observed connection the policies deny, or cannot
// evaluate, aggregated over the pods of each workload.
type EdgeFinding struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Port     uint16 `json:"port"`
	Protocol string `json:"protocol"`
	Count    uint64 `json:"count"`
	Bytes    uint64 `json:"bytes"`
	// Dropped counts the flows the network reported dropped: when it is
	// below Count, the policies were not enforced as they are now (added
	// later, or the CNI does not enforce them).
	Dropped   uint64    `json:"dropped"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Why       string    `json:"why"`
}

// Unused compares, for every workload, the reach the engine's policies
// allow with the edges observed. idx is the index of the cluster objects
// the engine was built from (its WorkloadName must be
// idx.WorkloadOf(pod).String()); edges come from an Ingester over idx.
func Unused(eng *netpol.Engine, idx *cluster.Index, edges *Edges) *Report {
	reach := eng.Reach()
	u := newUnusedState(eng, idx, reach)
	from, to := edges.Window()
	rep := &Report{
		Window: Window{From: from, To: to}, Flows: edges.Flows(), Edges: edges.Len(),
		UnprotectedNamespaces: nonNil(reach.UnprotectedNamespaces),
		Denied:                []EdgeFinding{}, Unresolved: []EdgeFinding{},
	}
	u.collectGrants()
	denied, unresolved := newFindings(), newFindings()
	for _, e := range edges.List() {
		ev := evaluate(eng, &e)
		u.observe(&e, ev)
		switch ev.status {
		case VerdictDenied:
			denied.add(&e, ev.why)
		case VerdictUnresolved:
			unresolved.add(&e, ev.why)
		}
	}
	rep.Denied, rep.Unresolved = denied.list(), unresolved.list()
	rep.Workloads = u.workloads()
	rep.Rules = u.rules()
	return rep
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// unusedState accumulates Unused's intermediate results.
type unusedState struct {
	eng   *netpol.Engine
	idx   *cluster.Index
	reach *netpol.ReachReport

	wlPods       map[string]int // running pods per workload
	nsWorkloads  map[string]int // workloads with running pods per namespace
	totalWls     int
	activeNS     int
	order        []string // workloads in report order before ranking
	byWorkload   map[string]*wlAcc
	grants       map[netpol.RuleRef]*ruleAcc
	grantedRules map[string][]netpol.RuleRef // workload -> rules applying to it
	nsNames      map[string][]string         // namespace -> workloads with running pods

	scratchNS, scratchWL, scratchExt map[string]bool
}

type wlAcc struct {
	rep     WorkloadReport
	reach   *netpol.WorkloadReach
	ingress map[obsKey]*obsAcc
	egress  map[obsKey]*obsAcc
	used    map[netpol.RuleRef]bool
}

type ruleAcc struct {
	grant     netpol.Grant
	appliesTo map[string]bool
	usedBy    map[string]uint64
	flows     uint64
}

func newUnusedState(eng *netpol.Engine, idx *cluster.Index, reach *netpol.ReachReport) *unusedState {
	u := &unusedState{
		eng: eng, idx: idx, reach: reach,
		wlPods: map[string]int{}, nsWorkloads: map[string]int{},
		byWorkload: map[string]*wlAcc{}, grants: map[netpol.RuleRef]*ruleAcc{},
		grantedRules: map[string][]netpol.RuleRef{}, nsNames: map[string][]string{},
	}
	for i := range reach.Workloads {
		wr := &reach.Workloads[i]
		u.wlPods[wr.Workload] = wr.Pods
		if u.nsWorkloads[wr.Namespace] == 0 {
			u.activeNS++
		}
		u.nsWorkloads[wr.Namespace]++
		u.nsNames[wr.Namespace] = append(u.nsNames[wr.Namespace], wr.Workload)
		u.totalWls++
		a := u.workload(wr.Workload, wr.Namespace)
		a.reach = wr
		a.rep.Pods = wr.Pods
	}
	return u
}

func (u *unusedState) workload(name, ns string) *wlAcc {
	a := u.byWorkload[name]
	if a == nil {
		a = &wlAcc{
			rep:     WorkloadReport{Workload: name, Namespace: ns},
			ingress: map[obsKey]*obsAcc{}, egress: map[obsKey]*obsAcc{},
			used: map[netpol.RuleRef]bool{},
		}
		u.byWorkload[name] = a
		u.order = append(u.order, name)
	}
	return a
}

// collectGrants asks the engine which rules apply to each isolated
// workload's running pods: one pod per distinct label set. The engine is
// safe for concurrent use and AllowedPeers costs a pass over the cluster,
// so the questions are asked in parallel and the answers merged in order.
func (u *unusedState) collectGrants() {
	byNS := map[string]bool{}
	for _, wr := range u.reach.Workloads {
		if wr.IngressIsolated || wr.EgressIsolated {
			byNS[wr.Namespace] = true
		}
	}
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	slices.Sort(namespaces)
	type job struct {
		workload string
		pod      *corev1.Pod
		al       netpol.Allowance
	}
	var jobs []job
	for _, ns := range namespaces {
		seen := map[string]bool{}
		for _, p := range u.idx.PodsInNamespace(ns) {
			if !runningPod(p) {
				continue
			}
			w := u.idx.WorkloadOf(p).String()
			a := u.byWorkload[w]
			if a == nil || a.reach == nil || (!a.reach.IngressIsolated && !a.reach.EgressIsolated) {
				continue
			}
			key := variantKey(w, ns, p.Labels)
			if !seen[key] {
				seen[key] = true
				jobs = append(jobs, job{workload: w, pod: p})
			}
		}
	}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(jobs)); i = next.Add(1) - 1 {
				jobs[i].al = u.eng.AllowedPeers(jobs[i].pod)
			}
		})
	}
	wg.Wait()
	for _, j := range jobs {
		for _, g := range append(j.al.Ingress, j.al.Egress...) {
			ra := u.grants[g.Rule]
			if ra == nil {
				ra = &ruleAcc{grant: g, appliesTo: map[string]bool{}, usedBy: map[string]uint64{}}
				u.grants[g.Rule] = ra
			}
			if !ra.appliesTo[j.workload] {
				ra.appliesTo[j.workload] = true
				u.grantedRules[j.workload] = append(u.grantedRules[j.workload], g.Rule)
			}
		}
	}
}

// runningPod: the pods Reach counts (Running, with an address, not on the
// host network).
func runningPod(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && !p.Spec.HostNetwork && (p.Status.PodIP != "" || len(p.Status.PodIPs) > 0)
}

// observe adds one evaluated edge to both ends' observations and
// attributes it to the rules that allowed it.
func (u *unusedState) observe(e *Edge, ev evaluation) {
	if e.Src.Kind == KindPod {
		a := u.workload(e.Src.Workload, e.Src.Namespace)
		addObs(a.egress, e.Dst, e, ev.status)
		for _, r := range ev.v.Egress.Rules {
			a.used[r] = true
			u.attribute(r, e.Dst, e.Flows)
		}
	}
	if e.Dst.Kind == KindPod {
		a := u.workload(e.Dst.Workload, e.Dst.Namespace)
		addObs(a.ingress, e.Src, e, ev.status)
		for _, r := range ev.v.Ingress.Rules {
			a.used[r] = true
			u.attribute(r, e.Src, e.Flows)
		}
	}
}

func (u *unusedState) attribute(r netpol.RuleRef, peer *Endpoint, flows uint64) {
	ra := u.grants[r]
	if ra == nil {
		// A rule of a policy selecting only pods that are not running
		// (or not in the cluster objects): not reported.
		return
	}
	ra.usedBy[peerLabel(peer)] += flows
	ra.flows += flows
}

// workloads finishes every workload's report and ranks them.
func (u *unusedState) workloads() []WorkloadReport {
	out := make([]WorkloadReport, 0, len(u.order))
	for _, name := range u.order {
		a := u.byWorkload[name]
		r := a.rep
		r.Observed = Observed{Ingress: observedList(a.ingress), Egress: observedList(a.egress)}
		if a.reach != nil {
			r.Allowed = Allowed{
				Ingress: u.side(a.reach.Ingress, a.reach.IngressIsolated),
				Egress:  u.side(a.reach.Egress, a.reach.EgressIsolated),
			}
			r.UnusedPods = DirCount{
				Ingress: max(0, r.Allowed.Ingress.Pods-u.usedPods(r.Observed.Ingress)),
				Egress:  max(0, r.Allowed.Egress.Pods-u.usedPods(r.Observed.Egress)),
			}
		}
		r.UnusedRules = u.unusedRules(name, a)
		r.Summary = u.summary(&r, a.reach != nil)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b WorkloadReport) int {
		return cmp.Or(
			cmp.Compare(b.UnusedPods.Ingress+b.UnusedPods.Egress, a.UnusedPods.Ingress+a.UnusedPods.Egress),
			cmp.Compare(openExternal(b), openExternal(a)),
			cmp.Compare(len(b.UnusedRules), len(a.UnusedRules)),
			strings.Compare(a.Namespace, b.Namespace),
			strings.Compare(a.Workload, b.Workload),
		)
	})
	return out
}

func openExternal(w WorkloadReport) int {
	n := 0
	if w.Allowed.Ingress.AnyExternal {
		n++
	}
	if w.Allowed.Egress.AnyExternal {
		n++
	}
	return n
}

// side summarizes reach groups.
func (u *unusedState) side(groups []netpol.ReachGroup, isolated bool) AllowedSide {
	s := AllowedSide{Isolated: isolated}
	if u.scratchNS == nil {
		u.scratchNS, u.scratchWL, u.scratchExt = map[string]bool{}, map[string]bool{}, map[string]bool{}
	}
	namespaces, workloads, external := u.scratchNS, u.scratchWL, u.scratchExt
	clear(namespaces)
	clear(workloads)
	clear(external)
	all := false
	for _, g := range groups {
		s.Pods += g.Pods
		if g.AllPods {
			all = true
		}
		for _, ns := range g.Namespaces {
			namespaces[ns] = true
		}
		for _, w := range g.Workloads {
			workloads[w] = true
		}
		if g.AnyExternal {
			s.AnyExternal = true
		}
		for _, c := range g.External {
			external[c] = true
		}
	}
	if all {
		s.Namespaces, s.Workloads = u.activeNS, u.totalWls
	} else {
		s.Workloads = len(workloads)
		for ns := range namespaces {
			s.Workloads += u.nsWorkloads[ns]
		}
		for w := range workloads {
			if ns := workloadNamespace(w); ns != "" {
				namespaces[ns] = true
			}
		}
		s.Namespaces = len(namespaces)
	}
	if !s.AnyExternal {
		for c := range external {
			s.External = append(s.External, c)
		}
		slices.Sort(s.External)
	}
	return s
}

// workloadNamespace returns the namespace of "Kind/namespace/name".
func workloadNamespace(w string) string {
	_, rest, ok := strings.Cut(w, "/")
	if !ok {
		return ""
	}
	ns, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return ns
}

// usedPods counts the running pods of the observed peer workloads.
func (u *unusedState) usedPods(obs []ObservedPeer) int {
	seen := map[string]bool{}
	n := 0
	for _, o := range obs {
		if o.Kind == KindPod && !seen[o.Peer] {
			seen[o.Peer] = true
			n += u.wlPods[o.Peer]
		}
	}
	return n
}

// unusedRules lists the rules applying to a workload its flows never used.
func (u *unusedState) unusedRules(w string, a *wlAcc) []UnusedRule {
	out := []UnusedRule{}
	for _, r := range u.grantedRules[w] {
		if a.used[r] {
			continue
		}
		ra := u.grants[r]
		why := "no flow of " + shortName(w) + " matched it; it admits " + describePeers(ra.grant.Peers) + " on " + portsText(ra.grant)
		if len(ra.usedBy) > 0 {
			why = "only flows of other workloads it applies to matched it; none of " + shortName(w) + "'s"
		}
		out = append(out, UnusedRule{Policy: r.Policy.String(), Direction: r.Direction, Index: r.Index, Why: why})
	}
	slices.SortFunc(out, func(a, b UnusedRule) int {
		return cmp.Or(strings.Compare(a.Policy, b.Policy), strings.Compare(string(a.Direction), string(b.Direction)), cmp.Compare(a.Index, b.Index))
	})
	return out
}

// summary is one sentence per direction: allowed against used.
func (u *unusedState) summary(r *WorkloadReport, running bool) string {
	name := shortName(r.Workload)
	if !running {
		return fmt.Sprintf("%s has no running pods in the cluster objects; its flows talked to %s and it was reached by %s",
			name, peersText(r.Observed.Egress), peersText(r.Observed.Ingress))
	}
	eg, in := r.Allowed.Egress, r.Allowed.Ingress
	return fmt.Sprintf("%s may reach %s; it talked to %s. %s may reach it; %s did.",
		name, reachText(eg), peersText(r.Observed.Egress),
		upperFirst(reachText(in)), peersText(r.Observed.Ingress))
}

func reachText(s AllowedSide) string {
	t := fmt.Sprintf("%d %s in %d %s", s.Pods, plural(s.Pods, "pod", "pods"), s.Namespaces, plural(s.Namespaces, "namespace", "namespaces"))
	switch {
	case s.AnyExternal:
		t += " and any external address"
	case len(s.External) > 0:
		t += fmt.Sprintf(" and %d external %s", len(s.External), plural(len(s.External), "CIDR", "CIDRs"))
	}
	return t
}

// peersText counts distinct peers and names the first three.
func peersText(obs []ObservedPeer) string {
	var names []string
	seen := map[string]bool{}
	for _, o := range obs {
		if seen[o.Peer] {
			continue
		}
		seen[o.Peer] = true
		n := shortName(o.Peer)
		if o.Addresses > 1 {
			n = fmt.Sprintf("%d addresses in %s", o.Addresses, o.Peer)
		} else if len(o.Names) > 0 {
			n = o.Names[0]
		}
		names = append(names, n)
	}
	switch {
	case len(names) == 0:
		return "none"
	case len(names) <= 3:
		return fmt.Sprintf("%d (%s)", len(names), strings.Join(names, ", "))
	}
	return fmt.Sprintf("%d (%s, …)", len(names), strings.Join(names[:3], ", "))
}

// shortName drops the kind from "Kind/namespace/name" when the name is
// enough to read the sentence: "web", "Node/cp-1" stays.
func shortName(w string) string {
	parts := strings.Split(w, "/")
	if len(parts) == 3 {
		return parts[1] + "/" + parts[2]
	}
	return w
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
