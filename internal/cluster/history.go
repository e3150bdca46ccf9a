package cluster

import (
	"math"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Lifetimes are kept as Unix nanoseconds: compact, and compared without
// calls on the lookup path.
const (
	beginningOfTime int64 = math.MinInt64
	endOfTime       int64 = math.MaxInt64
)

// podRecord is one pod as the index knows it, alive or gone.
type podRecord struct {
	pod      *corev1.Pod
	key      string // UID, or namespace/name when the pod has no UID
	workload Workload
	// from and to bound the pod's lifetime, [from, to); to is endOfTime
	// while nothing says the pod ended.
	from, to int64
	// ips are the pod addresses it held (none for hostNetwork pods).
	ips []netip.Addr
	// live: not deleted, not finished, not replaced by a newer pod of the
	// same name.
	live bool
}

func (r *podRecord) aliveAt(t time.Time) bool {
	if t.IsZero() {
		return r.live
	}
	n := t.UnixNano()
	return r.from <= n && n < r.to
}

// holding is one interval during which a pod held an address. It carries
// the pod itself so that PodAt does not touch the record.
type holding struct {
	from, to int64
	pod      *corev1.Pod
	rec      *podRecord
}

// holderAt finds the holding of ip at t. Callers hold x.mu (read).
// It allocates nothing: a map lookup and a binary search.
func (x *Index) holderAt(ip netip.Addr, t time.Time) *holding {
	hs := x.ips[ip]
	if len(hs) == 0 {
		return nil
	}
	if t.IsZero() {
		if last := &hs[len(hs)-1]; last.rec.live {
			return last
		}
		return nil
	}
	n := t.UnixNano()
	// Most lookups are for the latest holder.
	if last := &hs[len(hs)-1]; last.from <= n {
		if n < last.to {
			return last
		}
		return nil
	}
	// The last holding that started at or before n.
	lo, hi := 0, len(hs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if hs[m].from <= n {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return nil
	}
	if h := &hs[lo-1]; n < h.to {
		return h
	}
	return nil
}

// AddPod adds a pod, or updates it when the index already knows it (same
// UID): the server's informers call it on add and on update. A pod that
// takes the namespace/name of an earlier pod (a StatefulSet pod recreated)
// ends the earlier pod's lifetime where the new one's starts. Past holders
// of every address are kept until Prune drops them.
func (x *Index) AddPod(p *corev1.Pod) {
	if p == nil {
		return
	}
	x.mu.Lock()
	x.addPodLocked(p)
	x.mu.Unlock()
}

// DeletePod records that the current pod namespace/name was deleted at t
// (when the informer saw it go; zero t means its deletionTimestamp, or now
// when it has none). Its addresses stay in the history, ending at t.
func (x *Index) DeletePod(ns, name string, t time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	rec, ok := x.current[nsName{ns, name}]
	if !ok {
		return
	}
	if t.IsZero() {
		if dt := rec.pod.DeletionTimestamp; dt != nil {
			t = dt.Time
		} else {
			t = time.Now()
		}
	}
	x.end(rec, t.UnixNano())
	rec.live = false
	delete(x.current, nsName{ns, name})
}

// Prune forgets pods whose lifetime ended before the cutoff, and their
// address holdings, and returns how many pods it forgot. The server calls
// it with now minus its retention window; live pods are never pruned.
func (x *Index) Prune(before time.Time) int {
	cut := before.UnixNano()
	x.mu.Lock()
	defer x.mu.Unlock()
	gone := func(r *podRecord) bool { return !r.live && r.to <= cut }
	for ip, hs := range x.ips {
		hs = slices.DeleteFunc(hs, func(h holding) bool { return h.to <= cut && gone(h.rec) })
		if len(hs) == 0 {
			delete(x.ips, ip)
		} else {
			x.ips[ip] = hs
		}
	}
	for ns, recs := range x.byNamespace {
		recs = slices.DeleteFunc(recs, gone)
		if len(recs) == 0 {
			delete(x.byNamespace, ns)
		} else {
			x.byNamespace[ns] = recs
		}
	}
	n := 0
	for key, rec := range x.pods {
		if gone(rec) {
			delete(x.pods, key)
			n++
		}
	}
	return n
}

func podKey(p *corev1.Pod) string {
	if p.UID != "" {
		return string(p.UID)
	}
	return p.Namespace + "/" + p.Name
}

// addPodLocked inserts or updates p. Callers hold x.mu (write), or own x
// exclusively (NewIndex).
func (x *Index) addPodLocked(p *corev1.Pod) {
	key := podKey(p)
	rec, known := x.pods[key]
	if known {
		x.dropHoldings(rec)
	} else {
		rec = &podRecord{key: key}
		x.pods[key] = rec
		x.byNamespace[p.Namespace] = append(x.byNamespace[p.Namespace], rec)
	}
	rec.pod = p
	rec.workload = x.owners.workloadOf(p)
	rec.from, rec.to = lifetime(p)
	rec.live = !podFinished(p)
	rec.ips = rec.ips[:0]
	if !p.Spec.HostNetwork {
		rec.ips = podIPs(p, rec.ips)
	}
	x.learnNodeIPs(p)

	name := nsName{p.Namespace, p.Name}
	if cur, ok := x.current[name]; ok && cur != rec {
		if cur.from > rec.from {
			// An older pod of this name (two dumps, loaded newest
			// first): it ended when the current one started.
			x.end(rec, cur.from)
			rec.live = false
		} else {
			x.end(cur, rec.from)
			cur.live = false
		}
	}
	if rec.live {
		x.current[name] = rec
	} else if x.current[name] == rec {
		delete(x.current, name)
	}
	for _, ip := range rec.ips {
		x.insertHolding(ip, holding{from: rec.from, to: rec.to, pod: p, rec: rec})
	}
}

// end closes rec's lifetime at t unless it already ended earlier.
func (x *Index) end(rec *podRecord, t int64) {
	if t >= rec.to {
		return
	}
	if t < rec.from {
		t = rec.from
	}
	rec.to = t
	for _, ip := range rec.ips {
		hs := x.ips[ip]
		for i := range hs {
			if hs[i].rec == rec {
				hs[i].to = t
			}
		}
	}
}

func (x *Index) dropHoldings(rec *podRecord) {
	for _, ip := range rec.ips {
		hs := slices.DeleteFunc(x.ips[ip], func(h holding) bool { return h.rec == rec })
		if len(hs) == 0 {
			delete(x.ips, ip)
		} else {
			x.ips[ip] = hs
		}
	}
}

// insertHolding keeps each address's holdings sorted by start time. Pods
// mostly arrive in start order, so the append is the common case.
func (x *Index) insertHolding(ip netip.Addr, h holding) {
	hs := x.ips[ip]
	i := len(hs)
	for i > 0 && hs[i-1].from > h.from {
		i--
	}
	x.ips[ip] = slices.Insert(hs, i, h)
}

// learnNodeIPs maps a pod's host IPs to its node when no Node object
// describes the address (dumps often lack Nodes: reading them needs a
// ClusterRole).
func (x *Index) learnNodeIPs(p *corev1.Pod) {
	if p.Spec.NodeName == "" {
		return
	}
	learn := func(s string) {
		if ip, ok := parseIP(s); ok {
			if _, known := x.nodeIPs[ip]; !known {
				x.nodeIPs[ip] = nodeRef{name: p.Spec.NodeName}
			}
		}
	}
	learn(p.Status.HostIP)
	for _, h := range p.Status.HostIPs {
		learn(h.IP)
	}
}

// lifetime returns [from, to) for a pod; see PodAt.
func lifetime(p *corev1.Pod) (from, to int64) {
	from, to = beginningOfTime, endOfTime
	switch {
	case p.Status.StartTime != nil && !p.Status.StartTime.IsZero():
		from = p.Status.StartTime.UnixNano()
	case !p.CreationTimestamp.IsZero():
		from = p.CreationTimestamp.UnixNano()
	}
	if dt := p.DeletionTimestamp; dt != nil && !dt.IsZero() {
		to = dt.UnixNano()
	}
	if podFinished(p) {
		var last int64 = beginningOfTime
		for _, cs := range p.Status.ContainerStatuses {
			if term := cs.State.Terminated; term != nil && !term.FinishedAt.IsZero() {
				last = max(last, term.FinishedAt.UnixNano())
			}
		}
		if last != beginningOfTime {
			to = min(to, last)
		}
	}
	if to < from {
		to = from
	}
	return from, to
}

func podFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// podIPs appends the pod's addresses (status.podIPs, and status.podIP for
// objects written before dual-stack) to dst, without duplicates.
func podIPs(p *corev1.Pod, dst []netip.Addr) []netip.Addr {
	add := func(s string) {
		if ip, ok := parseIP(s); ok && !slices.Contains(dst, ip) {
			dst = append(dst, ip)
		}
	}
	add(p.Status.PodIP)
	for _, pip := range p.Status.PodIPs {
		add(pip.IP)
	}
	return dst
}
