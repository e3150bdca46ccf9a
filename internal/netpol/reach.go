package netpol

import (
	"maps"
	"slices"
	"strings"
)

// ReachReport is the reachability of every workload: who may connect to it
// and whom it may connect to, per port set. Pods that are not Running or
// have no IP are not counted.
type ReachReport struct {
	// UnprotectedNamespaces have pods and no NetworkPolicy at all: their
	// pods accept connections from, and open connections to, anything.
	UnprotectedNamespaces []string `json:"unprotectedNamespaces"`
	// Workloads are sorted: those of unprotected namespaces first, then by
	// namespace and name.
	Workloads []WorkloadReach `json:"workloads"`
	// HostNetwork lists workloads of host-network pods: no policy selects
	// them; they appear as node addresses in External.
	HostNetwork []string   `json:"hostNetworkWorkloads,omitempty"`
	Stats       ReachStats `json:"stats"`
}

// ReachStats sizes the evaluation.
type ReachStats struct {
	Namespaces int `json:"namespaces"`
	Pods       int `json:"pods"`
	ActivePods int `json:"activePods"`
	Classes    int `json:"classes"`
	Policies   int `json:"policies"`
	Rules      int `json:"rules"`
}

// WorkloadReach is the reachability of one workload, the union over its
// active pods.
type WorkloadReach struct {
	Workload  string `json:"workload"`
	Namespace string `json:"namespace"`
	Pods      int    `json:"pods"`
	// IngressIsolated / EgressIsolated: some policy selects some of its
	// pods for that direction.
	IngressIsolated bool `json:"ingressIsolated"`
	EgressIsolated  bool `json:"egressIsolated"`
	// Ingress: the peers that may connect to the workload; Egress: the
	// peers it may connect to. One group per distinct port set.
	Ingress []ReachGroup `json:"ingress"`
	Egress  []ReachGroup `json:"egress"`
}

// ReachGroup is a set of peers reachable on one port set.
type ReachGroup struct {
	Ports PortSet `json:"ports"`
	// AllPods: every active pod of the cluster.
	AllPods bool `json:"allPods,omitempty"`
	// Namespaces: every active pod of these namespaces.
	Namespaces []string `json:"namespaces,omitempty"`
	// Workloads: workloads with a pod in the group, outside Namespaces.
	Workloads []string `json:"workloads,omitempty"`
	// Pods counts the active pods in the group.
	Pods int `json:"pods"`
	// AnyExternal: every address that is not a pod; External: the CIDRs
	// of such addresses otherwise (ipBlocks also match pod addresses,
	// which are counted in Pods).
	AnyExternal bool     `json:"anyExternal,omitempty"`
	External    []string `json:"external,omitempty"`
}

// part is one block of a partition of classes: its members are allowed on
// ports.
type part struct {
	bits  bitset
	ports portID
}

// reacher holds the state of one Reach computation.
type reacher struct {
	e      *Engine
	t      *portTable
	n      int
	active bitset
	egIso  bitset
	// in[d]: partition of source classes allowed to connect to class d.
	in [][]part
	// out[s]: destinations of class s, grouped by port set.
	out [][]part
	// inExt[d], outExt[s]: external addresses by port set.
	inExt, outExt [][]ipEntry
	egByDst       [][]int32
	// egBase is the egress partition before any rule: sources that are
	// not egress-isolated reach everything, isolated ones nothing.
	egBase []part
	anyIso bool
}

// Reach computes the reachability report. It costs one pass over classes
// with bitset operations, not a pass over pairs of pods.
func (e *Engine) Reach() *ReachReport {
	r := e.newReacher()
	for d := range r.n {
		if r.active.has(d) {
			r.ingressOf(d)
		}
	}
	for s := range r.n {
		if r.active.has(s) {
			r.outExt[s] = r.egressExternal(s)
		}
	}
	return r.report()
}

func (e *Engine) newReacher() *reacher {
	n := len(e.classes)
	r := &reacher{
		e: e, t: e.ports.clone(), n: n,
		active: newBitset(n), egIso: newBitset(n),
		in: make([][]part, n), out: make([][]part, n),
		inExt: make([][]ipEntry, n), outExt: make([][]ipEntry, n),
		egByDst: make([][]int32, n),
	}
	for c := range e.classes {
		if e.classes[c].active > 0 {
			r.active.set(c)
		}
		if len(e.classes[c].egressRefs) > 0 {
			r.egIso.set(c)
		}
	}
	isoActive, anyIso := r.active.and(r.egIso)
	r.anyIso = anyIso
	if !anyIso {
		r.egBase = []part{{r.active, psAll}}
	} else {
		if open, anyOpen := r.active.andNot(r.egIso); anyOpen {
			r.egBase = append(r.egBase, part{open, psAll})
		}
		r.egBase = append(r.egBase, part{isoActive, psNone})
	}
	// Inverted index: the egress rules whose peers include each class.
	for _, p := range e.policies {
		if !p.egress || p.selected.isEmpty() {
			continue
		}
		for _, ri := range p.egressRules {
			bits, ok := e.rules[ri].peerBits.and(r.active)
			if !ok {
				continue
			}
			bits.each(func(d int) { r.egByDst[d] = append(r.egByDst[d], ri) })
		}
	}
	return r
}

// clone copies the table so Reach can intern new sets without locking.
func (t *portTable) clone() *portTable {
	return &portTable{
		sets:  slices.Clone(t.sets),
		ids:   maps.Clone(t.ids),
		union: maps.Clone(t.union),
		inter: maps.Clone(t.inter),
	}
}

// rulePorts returns the interned port set of r towards class d.
func (r *reacher) rulePorts(ru *rule, d int) portID {
	if len(ru.ports.named) == 0 {
		return ru.fixed
	}
	return ru.resolved[r.e.classes[d].portSig]
}

// ingressOf computes who may connect to class d: the partition of sources
// by the ports d's ingress allows them, intersected with the partition by
// the ports their own egress allows towards d.
func (r *reacher) ingressOf(d int) {
	e := r.e
	c := &e.classes[d]
	var inPart []part
	var ext []ipEntry
	if len(c.ingressRefs) == 0 {
		inPart = []part{{r.active, psAll}}
		ext = []ipEntry{{ranges: []ipRange{allIPv4, allIPv6}, ports: psAll}}
	} else {
		var entries []part
		for _, ri := range c.ingressRules {
			ru := &e.rules[ri]
			ps := r.rulePorts(ru, d)
			entries = append(entries, part{ru.peerBits, ps})
			if ru.allPeers {
				ext = append(ext, ipEntry{ranges: []ipRange{allIPv4, allIPv6}, ports: ps})
			}
			for _, b := range ru.blocks {
				ext = append(ext, ipEntry{ranges: e.blocks[b].ranges(), ports: ps})
			}
		}
		inPart = r.refine([]part{{r.active, psNone}}, entries)
	}
	r.inExt[d] = ipPartition(r.t, ext)

	egPart := r.egBase
	if r.anyIso && len(r.egByDst[d]) > 0 {
		var entries []part
		for _, ri := range r.egByDst[d] {
			ru := &e.rules[ri]
			entries = append(entries, part{e.policies[ru.policy].selected, r.rulePorts(ru, d)})
		}
		egPart = r.refine(egPart, entries)
	}

	var res []part
	for _, a := range inPart {
		for _, b := range egPart {
			ps := r.t.interID(a.ports, b.ports)
			if ps == psNone {
				continue
			}
			if bits, ok := a.bits.and(b.bits); ok {
				res = append(res, part{bits, ps})
			}
		}
	}
	res = mergeParts(res)
	r.in[d] = res
	for _, p := range res {
		p.bits.each(func(s int) { r.addOut(s, d, p.ports) })
	}
}

func (r *reacher) addOut(s, d int, ps portID) {
	for i := range r.out[s] {
		if r.out[s][i].ports == ps {
			r.out[s][i].bits.set(d)
			return
		}
	}
	b := newBitset(r.n)
	b.set(d)
	r.out[s] = append(r.out[s], part{b, ps})
}

// refine splits parts by each entry: members of an entry gain its ports.
// Entries with the same ports are merged first.
func (r *reacher) refine(parts, entries []part) []part {
	merged := map[portID]bitset{}
	var order []portID
	for _, en := range entries {
		if en.ports == psNone {
			continue
		}
		if b, ok := merged[en.ports]; ok {
			b.or(en.bits)
			continue
		}
		merged[en.ports] = en.bits.clone()
		order = append(order, en.ports)
	}
	for _, ps := range order {
		eb := merged[ps]
		next := make([]part, 0, len(parts)+1)
		for _, p := range parts {
			in, okIn := p.bits.and(eb)
			if !okIn {
				next = append(next, p)
				continue
			}
			next = append(next, part{in, r.t.unionID(p.ports, ps)})
			if out, okOut := p.bits.andNot(eb); okOut {
				next = append(next, part{out, p.ports})
			}
		}
		parts = mergeParts(next)
	}
	return parts
}

// mergeParts unites parts with the same ports.
func mergeParts(ps []part) []part {
	if len(ps) < 2 {
		return ps
	}
	out := ps[:0]
	for _, p := range ps {
		found := false
		for i := range out {
			if out[i].ports == p.ports {
				u := out[i].bits.clone()
				u.or(p.bits)
				out[i].bits = u
				found = true
				break
			}
		}
		if !found {
			out = append(out, p)
		}
	}
	return out
}

// unionParts unites two partitions: a member of both gains both port sets.
func (r *reacher) unionParts(a, b []part) []part {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	rest := r.active.clone()
	for _, p := range a {
		rest, _ = rest.andNot(p.bits)
	}
	parts := append(slices.Clone(a), part{rest, psNone})
	parts = r.refine(parts, b)
	return slices.DeleteFunc(parts, func(p part) bool { return p.ports == psNone })
}

// egressExternal is the external addresses class s may connect to.
func (r *reacher) egressExternal(s int) []ipEntry {
	e := r.e
	c := &e.classes[s]
	if len(c.egressRefs) == 0 {
		return []ipEntry{{ranges: []ipRange{allIPv4, allIPv6}, ports: psAll}}
	}
	var ext []ipEntry
	for _, ri := range c.egressRules {
		ru := &e.rules[ri]
		if ru.allPeers {
			ext = append(ext, ipEntry{ranges: []ipRange{allIPv4, allIPv6}, ports: ru.external})
		}
		for _, b := range ru.blocks {
			ext = append(ext, ipEntry{ranges: e.blocks[b].ranges(), ports: ru.external})
		}
	}
	return ipPartition(r.t, ext)
}

type workloadAcc struct {
	name    string
	ns      int32
	pods    int
	classes []int32
}

func (r *reacher) report() *ReachReport {
	e := r.e
	rep := &ReachReport{Stats: ReachStats{
		Namespaces: len(e.namespaces), Pods: len(e.pods), Classes: r.n,
		Policies: len(e.policies), Rules: len(e.rules),
	}}
	byName := map[string]*workloadAcc{}
	var order []*workloadAcc
	classWorkloads := make([][]string, r.n)
	host := map[string]bool{}
	for i := range e.pods {
		pi := &e.pods[i]
		if pi.class < 0 {
			if !host[pi.workload] {
				host[pi.workload] = true
				rep.HostNetwork = append(rep.HostNetwork, pi.workload)
			}
			continue
		}
		if !pi.active {
			continue
		}
		rep.Stats.ActivePods++
		w := byName[pi.workload]
		if w == nil {
			w = &workloadAcc{name: pi.workload, ns: pi.ns}
			byName[pi.workload] = w
			order = append(order, w)
		}
		w.pods++
		if !slices.Contains(w.classes, pi.class) {
			w.classes = append(w.classes, pi.class)
		}
		if !slices.Contains(classWorkloads[pi.class], pi.workload) {
			classWorkloads[pi.class] = append(classWorkloads[pi.class], pi.workload)
		}
	}
	slices.Sort(rep.HostNetwork)
	d := r.newDescriber(classWorkloads)
	for i := range e.namespaces {
		ns := &e.namespaces[i]
		if !ns.hasPolicy && d.nsActive[i] > 0 {
			rep.UnprotectedNamespaces = append(rep.UnprotectedNamespaces, ns.name)
		}
	}
	slices.Sort(rep.UnprotectedNamespaces)
	for _, w := range order {
		wr := WorkloadReach{Workload: w.name, Namespace: e.namespaces[w.ns].name, Pods: w.pods}
		var in, out []part
		var inExt, outExt []ipEntry
		for _, c := range w.classes {
			cl := &e.classes[c]
			wr.IngressIsolated = wr.IngressIsolated || len(cl.ingressRefs) > 0
			wr.EgressIsolated = wr.EgressIsolated || len(cl.egressRefs) > 0
			in = r.unionParts(in, r.in[c])
			out = r.unionParts(out, r.out[c])
			inExt = append(inExt, r.inExt[c]...)
			outExt = append(outExt, r.outExt[c]...)
		}
		if len(w.classes) > 1 {
			inExt = ipPartition(r.t, inExt)
			outExt = ipPartition(r.t, outExt)
		}
		wr.Ingress = d.groups(in, inExt)
		wr.Egress = d.groups(out, outExt)
		rep.Workloads = append(rep.Workloads, wr)
	}
	unprotected := map[string]bool{}
	for _, ns := range rep.UnprotectedNamespaces {
		unprotected[ns] = true
	}
	slices.SortFunc(rep.Workloads, func(a, b WorkloadReach) int {
		if ua, ub := unprotected[a.Namespace], unprotected[b.Namespace]; ua != ub {
			if ua {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Workload, b.Workload)
	})
	return rep
}

// describer turns sets of classes into namespaces and workloads.
type describer struct {
	r              *reacher
	classWorkloads [][]string
	nsActive       []int // active classes per namespace
	nsCount        []int // scratch
	activeNS       int
}

func (r *reacher) newDescriber(cw [][]string) *describer {
	d := &describer{r: r, classWorkloads: cw, nsActive: make([]int, len(r.e.namespaces)), nsCount: make([]int, len(r.e.namespaces))}
	r.active.each(func(c int) { d.nsActive[r.e.classes[c].ns]++ })
	for _, n := range d.nsActive {
		if n > 0 {
			d.activeNS++
		}
	}
	return d
}

func (d *describer) groups(pods []part, ext []ipEntry) []ReachGroup {
	byPorts := map[portID]*ReachGroup{}
	var ids []portID
	get := func(ps portID) *ReachGroup {
		g, ok := byPorts[ps]
		if !ok {
			g = &ReachGroup{Ports: *d.r.t.get(ps)}
			byPorts[ps] = g
			ids = append(ids, ps)
		}
		return g
	}
	for _, p := range pods {
		if p.ports == psNone {
			continue
		}
		d.describe(get(p.ports), p.bits)
	}
	for _, x := range ext {
		g := get(x.ports)
		if coversAll(x.ranges) {
			g.AnyExternal = true
		} else {
			g.External = append(g.External, rangesCIDRStrings(x.ranges)...)
		}
	}
	out := make([]ReachGroup, 0, len(ids))
	for _, ps := range ids {
		out = append(out, *byPorts[ps])
	}
	slices.SortFunc(out, func(a, b ReachGroup) int { return strings.Compare(a.Ports.String(), b.Ports.String()) })
	return out
}

func (d *describer) describe(g *ReachGroup, bits bitset) {
	e := d.r.e
	if bits.equal(d.r.active) {
		g.AllPods = true
		for c := range e.classes {
			if d.r.active.has(c) {
				g.Pods += e.classes[c].active
			}
		}
		return
	}
	clear(d.nsCount)
	bits.each(func(c int) {
		d.nsCount[e.classes[c].ns]++
		g.Pods += e.classes[c].active
	})
	seen := map[string]bool{}
	bits.each(func(c int) {
		ns := e.classes[c].ns
		if d.nsCount[ns] == d.nsActive[ns] {
			if !seen["\x00"+e.namespaces[ns].name] {
				seen["\x00"+e.namespaces[ns].name] = true
				g.Namespaces = append(g.Namespaces, e.namespaces[ns].name)
			}
			return
		}
		for _, w := range d.classWorkloads[c] {
			if !seen[w] {
				seen[w] = true
				g.Workloads = append(g.Workloads, w)
			}
		}
	})
	slices.Sort(g.Namespaces)
	slices.Sort(g.Workloads)
}
