package delta

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// planner collects, per workload of the covered namespaces, the peers and
// ports its policy must allow.
type planner struct {
	opts *SuggestOptions
	inv  *cluster.Inventory
	idx  *cluster.Index

	covered map[string]bool
	// known: every pod of a workload the inputs show (cluster objects in
	// any phase, and pods known only from flows).
	known     map[string][]*corev1.Pod
	nsPods    map[string][]*corev1.Pod
	selectors map[string]selResult
	names     map[nameKey]string
	plans     map[string]*plan
	order     []string
	notes     []string
	noted     map[string]bool
}

type selResult struct {
	labels map[string]string
	ok     bool
}

type nameKey struct {
	workload string
	pk       portKey
}

type portKey struct {
	port  uint16
	proto event.Protocol
}

// plan is one workload's future policy.
type plan struct {
	workload, ns string
	selector     map[string]string
	ingress      *sideAcc
	egress       *sideAcc
}

// sideAcc collects one direction's peers.
type sideAcc struct {
	pods     map[string]*podPeer
	nodes    map[portKey]*addrAcc
	external map[portKey]*addrAcc
	// names: port names on the policy's own pods, for ingress from
	// addresses.
	names map[portKey]string
	dns   evidence
}

type podPeer struct {
	ep    *Endpoint
	ports map[portKey]string // port -> name ("" for the number)
	ev    evidence
}

type addrAcc struct {
	addrs map[netip.Addr]bool
	ev    evidence
}

// evidence is what a rule rests on.
type evidence struct {
	flows, bytes uint64
	first, last  time.Time
	peers        map[string]bool
}

func (v *evidence) add(e *Edge, peer string) {
	if v.flows == 0 || e.First.Before(v.first) {
		v.first = e.First
	}
	if e.Last.After(v.last) {
		v.last = e.Last
	}
	v.flows += e.Flows
	v.bytes += e.Bytes
	if v.peers == nil {
		v.peers = map[string]bool{}
	}
	v.peers[peer] = true
}

func (v *evidence) merge(o evidence) {
	if o.flows == 0 {
		return
	}
	if v.flows == 0 || o.first.Before(v.first) {
		v.first = o.first
	}
	if o.last.After(v.last) {
		v.last = o.last
	}
	v.flows += o.flows
	v.bytes += o.bytes
	if v.peers == nil {
		v.peers = map[string]bool{}
	}
	for p := range o.peers {
		v.peers[p] = true
	}
}

func newSide() *sideAcc {
	return &sideAcc{pods: map[string]*podPeer{}, nodes: map[portKey]*addrAcc{}, external: map[portKey]*addrAcc{}, names: map[portKey]string{}}
}

func newPlanner(inv *cluster.Inventory, idx *cluster.Index, edges *Edges, opts *SuggestOptions) *planner {
	p := &planner{
		opts: opts, inv: inv, idx: idx,
		covered: map[string]bool{}, known: map[string][]*corev1.Pod{}, nsPods: map[string][]*corev1.Pod{},
		selectors: map[string]selResult{}, names: map[nameKey]string{}, plans: map[string]*plan{},
		noted: map[string]bool{},
	}
	wlNS := map[string]string{}
	for i := range inv.Pods {
		pod := &inv.Pods[i]
		if !selectable(pod) {
			continue
		}
		w := idx.WorkloadOf(pod).String()
		p.known[w] = append(p.known[w], pod)
		p.nsPods[pod.Namespace] = append(p.nsPods[pod.Namespace], pod)
		wlNS[w] = pod.Namespace
	}
	for i := range edges.endpoints {
		ep := &edges.endpoints[i]
		if ep.Kind == KindPod && ep.FromFlow {
			p.known[ep.Workload] = append(p.known[ep.Workload], ep.Pod)
			wlNS[ep.Workload] = ep.Namespace
		}
	}
	if len(opts.Namespaces) > 0 {
		for _, ns := range opts.Namespaces {
			p.covered[ns] = true
		}
	} else {
		for _, ns := range wlNS {
			if !slices.Contains(opts.ExcludeNamespaces, ns) {
				p.covered[ns] = true
			}
		}
	}
	for w, ns := range wlNS {
		if p.covered[ns] {
			p.order = append(p.order, w)
		}
	}
	slices.SortFunc(p.order, func(a, b string) int {
		if c := strings.Compare(wlNS[a], wlNS[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	kept := p.order[:0]
	for _, w := range p.order {
		sel := p.selector(w)
		if !sel.ok {
			p.note("%s: no label that all its pods keep across rollouts and runs; no policy written (add a label to its pod template)", w)
			continue
		}
		p.checkOverlap(w, wlNS[w], sel.labels)
		p.plans[w] = &plan{workload: w, ns: wlNS[w], selector: sel.labels, ingress: newSide(), egress: newSide()}
		kept = append(kept, w)
	}
	p.order = kept
	return p
}

func (p *planner) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !p.noted[s] {
		p.noted[s] = true
		p.notes = append(p.notes, s)
	}
}

func (p *planner) coveredList() []string {
	out := make([]string, 0, len(p.covered))
	for ns := range p.covered {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// governs reports whether the suggestion replaces the policies of ep's
// pods: ep is a pod of a covered namespace (with a policy of its own, or
// none, or another workload's that selects it).
func (p *planner) governs(ep *Endpoint) bool {
	return ep.Kind == KindPod && p.covered[ep.Namespace]
}

// selector is the labels every known pod of a workload has, without the
// volatile ones; not ok when there are none.
func (p *planner) selector(w string) selResult {
	if s, ok := p.selectors[w]; ok {
		return s
	}
	var common map[string]string
	for _, pod := range p.known[w] {
		st := StableLabels(pod.Labels)
		if common == nil {
			common = st
			continue
		}
		for k, v := range common {
			if st[k] != v {
				delete(common, k)
			}
		}
	}
	s := selResult{labels: common, ok: len(common) > 0}
	p.selectors[w] = s
	return s
}

// checkOverlap notes when a workload's selector also selects other
// workloads' pods: policies add up, so those pods would be allowed this
// workload's connections too.
func (p *planner) checkOverlap(w, ns string, sel map[string]string) {
	s := labels.SelectorFromSet(sel)
	others := map[string]bool{}
	for _, pod := range p.nsPods[ns] {
		if s.Matches(labels.Set(pod.Labels)) {
			if ow := p.idx.WorkloadOf(pod).String(); ow != w {
				others[ow] = true
			}
		}
	}
	if len(others) > 0 {
		p.note("%s: its selector %s also selects the pods of %s; they would be allowed its connections too",
			w, labels.Set(sel).String(), strings.Join(sortedSet(others), ", "))
	}
}

// add records a baseline edge in the plans of its ends.
func (p *planner) add(e *Edge) {
	if e.Src.Kind == KindPod {
		for _, pl := range p.plansOf(e.Src) {
			p.addPeer(pl, pl.egress, e.Dst, e, true)
		}
	}
	if e.Dst.Kind == KindPod {
		for _, pl := range p.plansOf(e.Dst) {
			p.addPeer(pl, pl.ingress, e.Src, e, false)
		}
	}
}

// plansOf returns the plans whose policies will govern a pod endpoint: its
// workload's; for a workload without one, the plans of its namespace whose
// selector happens to select the pod (policies add up, so their
// allowances are all the pod will have).
func (p *planner) plansOf(ep *Endpoint) []*plan {
	if pl := p.plans[ep.Workload]; pl != nil {
		return []*plan{pl}
	}
	if !p.covered[ep.Namespace] {
		return nil
	}
	var out []*plan
	for _, w := range p.order {
		pl := p.plans[w]
		if pl.ns == ep.Namespace && labels.SelectorFromSet(pl.selector).Matches(labels.Set(ep.Pod.Labels)) {
			out = append(out, pl)
			p.note("%s: some of its pods are selected by the policy of %s, which therefore also allows their connections", ep.Workload, w)
		}
	}
	return out
}

func (p *planner) addPeer(pl *plan, side *sideAcc, peer *Endpoint, e *Edge, egress bool) {
	pk := portKey{e.Port, e.Protocol}
	label := peerLabel(peer)
	switch peer.Kind {
	case KindPod:
		if egress && p.isDNS(peer, pk) {
			side.dns.add(e, label)
			return
		}
		pp := side.pods[peer.Workload]
		if pp == nil {
			pp = &podPeer{ep: peer, ports: map[portKey]string{}}
			side.pods[peer.Workload] = pp
		}
		setName(pp.ports, pk, p.portName(e.Dst.Workload, pk))
		pp.ev.add(e, label)
	case KindNode, KindExternal:
		m := side.external
		if peer.Kind == KindNode {
			m = side.nodes
		}
		a := m[pk]
		if a == nil {
			a = &addrAcc{addrs: map[netip.Addr]bool{}}
			m[pk] = a
		}
		a.addrs[peer.IP] = true
		a.ev.add(e, label)
		if !egress {
			setName(side.names, pk, p.portName(e.Dst.Workload, pk))
		}
	}
}

// setName records the name a rule may use for a port. A plan can govern
// the pods of more than one workload (see plansOf), and a named port
// resolves on each destination pod: when the destinations disagree, the
// rule names the number.
func setName(m map[portKey]string, pk portKey, name string) {
	if prev, ok := m[pk]; ok && prev != name {
		name = ""
	}
	m[pk] = name
}

// isDNS: a connection to the cluster DNS that the DNS rule allows.
func (p *planner) isDNS(peer *Endpoint, pk portKey) bool {
	if pk.port != 53 || (pk.proto != event.ProtoUDP && pk.proto != event.ProtoTCP) || peer.Namespace != p.opts.DNSNamespace {
		return false
	}
	return labels.SelectorFromSet(p.opts.DNSLabels).Matches(labels.Set(peer.Pod.Labels))
}

// portName is the name every known pod of the destination workload gives
// the port, or "" (then the rule names the number): a named port resolves
// on each destination pod, so it must mean this number on all of them.
func (p *planner) portName(w string, pk portKey) string {
	k := nameKey{w, pk}
	if n, ok := p.names[k]; ok {
		return n
	}
	proto := k8sProtocol(pk.proto)
	name := ""
	pods := p.known[w]
	if len(pods) > 0 {
		name = portName(pods[0], int32(pk.port), proto)
	}
	if name != "" {
		for _, pod := range pods {
			if containerPort(pod, name, proto) != int32(pk.port) {
				name = ""
				break
			}
		}
	}
	p.names[k] = name
	return name
}
