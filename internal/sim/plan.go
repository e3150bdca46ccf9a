package sim

import (
	"math"
	"slices"
	"strconv"
	"time"
)

const never = math.MaxInt64

// pod is one pod of the window: its whole life is planned before any record
// is written, so that the cluster dump can list it and every stream agrees
// on its node, address and times.
type pod struct {
	w    *workload
	rev  *revision
	job  *job
	name string
	uid  string
	node *node
	ip   uint32

	created   int64 // the API request that created it
	scheduled int64 // bound to a node
	started   int64 // status.startTime: the kubelet took it on
	running   int64 // containers started
	ready     int64
	deleted   int64 // deletionTimestamp, 0 when not deleted in the window
	finished  int64 // a Job pod's finishedAt, 0 otherwise
	ended     int64 // deleted or finished, never while it runs at the end
	gone      int64 // its address is released
	deletedBy string

	containerIDs []string
	tokenVolume  string
	epID         int
	seq          int

	// Runtime state.
	jti   string
	ep    [2][]byte // Hubble endpoint JSON: remote view, local view (with ID)
	epSet [2]bool
	exec  []*execCache
}

// alive reports whether p runs at t and still will a little later.
func (p *pod) alive(t int64) bool {
	return p.running <= t && t+int64(2*time.Second) < p.ended
}

func (p *pod) ipString() string {
	if p.w.hostNetwork {
		return ipString(p.node.ip)
	}
	return ipString(p.ip)
}

type job struct {
	cj      *workload
	name    string
	uid     string
	created int64
	deleted int64
	pod     *pod
}

// rollout is a CI deploy of a new version of a Deployment, or a restart of
// a StatefulSet.
type rollout struct {
	at       int64
	w        *workload
	from, to *revision
	pods     []*pod // the new pods
	old      []*pod // the pods replaced
	done     int64
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// plan decides the life of every pod in the window: the pods running when
// it starts, CronJob runs, CI rollouts and attack workloads; then it places
// pods on nodes and gives them addresses, in time order.
func (w *world) plan() {
	r := newRNG(w.cfg.Seed, "plan")
	for _, wl := range w.workloads {
		switch wl.kind {
		case kindDeployment:
			w.planDeployment(&r, wl)
		case kindStatefulSet:
			w.planStatefulSet(&r, wl)
		case kindDaemonSet:
			w.planDaemonSet(&r, wl)
		case kindStatic:
			w.planStatic(&r, wl)
		case kindCronJob:
			w.planCronJob(&r, wl)
		}
	}
	w.planRollouts(&r)
	slices.SortStableFunc(w.pods, func(a, b *pod) int { return cmpInt(a.created, b.created) })
	w.place(&r)
	for i, p := range w.pods {
		p.seq = i
		if p.node.controlPlane && !p.w.controlPlane {
			panic("sim: workload pod on the control plane")
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// newPod plans a pod created at t; its start, running and ready times
// follow. pull says the image is pulled first.
func (w *world) newPod(r *rng, wl *workload, name string, t int64, pull bool) *pod {
	p := &pod{w: wl, name: name, uid: r.uuid(), created: t, ended: never, gone: never}
	p.scheduled = t + r.dur(3*time.Millisecond, 25*time.Millisecond)
	p.started = p.scheduled + r.dur(15*time.Millisecond, 90*time.Millisecond)
	p.running = p.started + r.dur(900*time.Millisecond, 3*time.Second)
	if pull {
		p.running += r.dur(3*time.Second, 25*time.Second)
	}
	p.ready = p.running + r.dur(2*time.Second, 9*time.Second)
	for range wl.containers {
		p.containerIDs = append(p.containerIDs, r.hex(64))
	}
	if !wl.noToken && wl.sa != nil {
		p.tokenVolume = "kube-api-access-" + r.suffix(5)
	}
	p.jti = r.uuid()
	wl.pods = append(wl.pods, p)
	w.pods = append(w.pods, p)
	return p
}

// remove plans the deletion of p at t by who: it ends then, and its address
// is released once its containers stopped.
func (w *world) remove(r *rng, p *pod, t int64, who string) {
	if t >= w.end || p.ended != never {
		return
	}
	p.deleted, p.ended, p.deletedBy = t, t, who
	p.gone = t + r.dur(800*time.Millisecond, 12*time.Second)
}

func (w *world) newRevision(r *rng, wl *workload, t int64) *revision {
	rev := &revision{uid: r.uuid(), created: t, number: len(wl.revisions) + 1, by: wl}
	rev.hash = r.suffix(9 + r.intn(2))
	rev.name = wl.name + "-" + rev.hash
	if wl.kind == kindStatefulSet || wl.kind == kindDaemonSet {
		rev.hash = r.suffix(10)
		rev.name = wl.name + "-" + rev.hash
	}
	minor := 3 + len(wl.name)%7
	rev.version = "1." + strconv.Itoa(minor) + "." + strconv.Itoa(wl.version)
	wl.revisions = append(wl.revisions, rev)
	return rev
}

func (w *world) planDeployment(r *rng, wl *workload) {
	t := max(wl.created, w.start-r.dur(6*time.Hour, 6*24*time.Hour))
	if wl.attack != "" {
		return // planned by its attack
	}
	wl.version = 1 + r.intn(30)
	rev := w.newRevision(r, wl, t)
	rev.replicas = wl.replicas
	for i := 0; i < wl.replicas; i++ {
		p := w.newPod(r, wl, rev.name+"-"+r.suffix(5), t+int64(i)*int64(200*time.Millisecond), false)
		p.rev = rev
	}
}

func (w *world) planStatefulSet(r *rng, wl *workload) {
	t := max(wl.created, w.start-r.dur(24*time.Hour, 20*24*time.Hour))
	rev := w.newRevision(r, wl, t)
	rev.replicas = wl.replicas
	for i := 0; i < wl.replicas; i++ {
		p := w.newPod(r, wl, wl.name+"-"+strconv.Itoa(i), t+int64(i)*int64(15*time.Second), false)
		p.rev = rev
	}
}

func (w *world) planDaemonSet(r *rng, wl *workload) {
	rev := w.newRevision(r, wl, wl.created)
	for _, n := range w.nodes {
		p := w.newPod(r, wl, wl.name+"-"+r.suffix(5), max(wl.created, n.created)+int64(40*time.Second), true)
		p.rev, p.node = rev, n
	}
}

func (w *world) planStatic(r *rng, wl *workload) {
	for _, n := range w.nodes {
		if n.controlPlane {
			p := w.newPod(r, wl, wl.name+"-"+n.name, n.created+int64(5*time.Second), false)
			p.node = n
			p.uid = r.hex(32) // static pods' UIDs are the hash of the manifest
		}
	}
}

// cronHistory is successfulJobsHistoryLimit's default: older Jobs are
// deleted, and their pods with them.
const cronHistory = 3

// planCronJob plans every Job of the window, and the three before it.
func (w *world) planCronJob(r *rng, wl *workload) {
	every := int64(wl.schedule)
	first := floorDiv(w.start, every)*every + int64(wl.schedOffset) - int64(cronHistory+1)*every
	var jobs []*job
	for tick := first; tick < w.end; tick += every {
		if tick < wl.created {
			continue
		}
		j := &job{cj: wl, name: wl.name + "-" + itoa(tick/int64(time.Minute)), uid: r.uuid()}
		j.created = tick + r.dur(40*time.Millisecond, 400*time.Millisecond)
		if j.created >= w.end {
			break
		}
		p := w.newPod(r, wl, j.name+"-"+r.suffix(5), j.created+r.dur(10*time.Millisecond, 40*time.Millisecond), false)
		p.job, j.pod = j, p
		fin := p.running + r.dur(wl.runFor[0], wl.runFor[1])
		if fin < w.end {
			p.finished, p.ended = fin, fin
			p.gone = fin + r.dur(400*time.Millisecond, 2*time.Second)
		}
		jobs = append(jobs, j)
	}
	// Job history: when a Job is created, the oldest beyond the limit goes.
	for i := cronHistory; i < len(jobs); i++ {
		old := jobs[i-cronHistory]
		t := jobs[i].created + r.dur(5*time.Millisecond, 40*time.Millisecond)
		if t >= w.end || old.pod.finished == 0 {
			continue
		}
		old.deleted = t
		old.pod.deleted = t + r.dur(20*time.Millisecond, 90*time.Millisecond)
		old.pod.deletedBy = "generic-garbage-collector"
		if old.pod.deleted >= w.end {
			old.pod.deleted = 0
		}
	}
}

// planRollouts plans CI deploys (weekdays, working hours, about one and a
// half a day per namespace) and the occasional StatefulSet restart.
func (w *world) planRollouts(r *rng) {
	day := int64(24 * time.Hour)
	for _, ns := range w.apps {
		var targets []*workload
		for _, wl := range []*workload{ns.web, ns.api, ns.api, ns.worker} {
			if wl != nil {
				targets = append(targets, wl)
			}
		}
		for d := floorDiv(w.start, day) * day; d < w.end; d += day {
			wd := time.Unix(0, d).UTC().Weekday()
			if wd == time.Saturday || wd == time.Sunday {
				continue
			}
			n := poisson(r, 1.5)
			var times []int64
			for k := 0; k < n; k++ {
				times = append(times, d+int64(8*time.Hour)+r.dur(0, 10*time.Hour))
			}
			slices.Sort(times)
			last := int64(0)
			for _, t := range times {
				if t < w.start || t >= w.end || t < last+int64(10*time.Minute) {
					continue
				}
				last = t
				w.deployNewVersion(r, pick(r, targets), t)
			}
		}
		for _, wl := range []*workload{ns.db, ns.cache} {
			if wl == nil {
				continue
			}
			for d := floorDiv(w.start, day) * day; d < w.end; d += day {
				if r.chance(0.08) {
					if t := d + r.dur(0, 24*time.Hour); t >= w.start && t < w.end {
						w.restartStatefulSet(r, wl, t)
					}
				}
			}
		}
	}
}

func poisson(r *rng, mean float64) int {
	l := math.Exp(-mean)
	k, p := 0, 1.0
	for {
		p *= r.float()
		if p <= l {
			return k
		}
		k++
	}
}

// deployNewVersion rolls wl out to a new version at t: maxSurge 1,
// maxUnavailable 0 (25% of 2 to 4 replicas, rounded), one pod at a time.
func (w *world) deployNewVersion(r *rng, wl *workload, t int64) {
	var old []*pod
	for _, p := range wl.pods {
		if p.ended == never && p.created < t {
			old = append(old, p)
		}
	}
	if len(old) == 0 || len(wl.revisions) == 0 {
		return
	}
	// A rollout still in progress is left alone.
	for _, p := range old {
		if p.ready > t {
			return
		}
	}
	from := wl.revisions[len(wl.revisions)-1]
	wl.version++
	to := w.newRevision(r, wl, t+r.dur(5*time.Millisecond, 20*time.Millisecond))
	to.replicas, from.replicas = len(old), 0
	ro := &rollout{at: t, w: wl, from: from, to: to, old: old}
	next := to.created + r.dur(5*time.Millisecond, 30*time.Millisecond)
	for _, o := range old {
		p := w.newPod(r, wl, to.name+"-"+r.suffix(5), next, true)
		p.rev = to
		ro.pods = append(ro.pods, p)
		del := p.ready + r.dur(30*time.Millisecond, 300*time.Millisecond)
		w.remove(r, o, del, "replicaset-controller")
		next = del + r.dur(10*time.Millisecond, 60*time.Millisecond)
	}
	ro.done = next
	w.rollouts = append(w.rollouts, ro)
}

// restartStatefulSet replaces each pod in reverse ordinal order, each new
// pod taking its predecessor's name once it is gone.
func (w *world) restartStatefulSet(r *rng, wl *workload, t int64) {
	var old []*pod
	for _, p := range wl.pods {
		if p.ended == never && p.created < t {
			old = append(old, p)
		}
	}
	if len(old) == 0 {
		return
	}
	for _, p := range old {
		if p.ready > t {
			return
		}
	}
	from := wl.revisions[len(wl.revisions)-1]
	to := w.newRevision(r, wl, t)
	to.replicas, from.replicas = len(old), 0
	ro := &rollout{at: t, w: wl, from: from, to: to, old: old}
	next := t + r.dur(10*time.Millisecond, 50*time.Millisecond)
	for i := len(old) - 1; i >= 0; i-- {
		o := old[i]
		w.remove(r, o, next, "statefulset-controller")
		if o.ended != next {
			return
		}
		p := w.newPod(r, wl, o.name, o.gone+r.dur(50*time.Millisecond, 500*time.Millisecond), false)
		p.rev = to
		ro.pods = append(ro.pods, p)
		next = p.ready + r.dur(100*time.Millisecond, time.Second)
	}
	ro.done = next
	w.rollouts = append(w.rollouts, ro)
}

// place assigns nodes (the least loaded worker, as the scheduler's
// balanced-allocation scoring would) and pod addresses in time order. An
// address is taken at random among the free ones of the node's range, as
// Cilium's cluster-pool IPAM does (k8s.io ipallocator's random scan), so
// addresses are reused minutes after their pod is gone.
func (w *world) place(r *rng) {
	type ev struct {
		t     int64
		alloc bool
		p     *pod
	}
	evs := make([]ev, 0, 2*len(w.pods))
	for _, p := range w.pods {
		evs = append(evs, ev{t: p.started, alloc: true, p: p})
		if p.gone != never {
			evs = append(evs, ev{t: p.gone, p: p})
		}
	}
	slices.SortStableFunc(evs, func(a, b ev) int {
		if c := cmpInt(a.t, b.t); c != 0 {
			return c
		}
		// Releases first, so an address freed at t can be reused at t.
		switch {
		case a.alloc == b.alloc:
			return 0
		case !a.alloc:
			return -1
		}
		return 1
	})
	var workers []*node
	for _, n := range w.nodes {
		if !n.controlPlane {
			workers = append(workers, n)
		}
	}
	for _, e := range evs {
		p := e.p
		if !e.alloc {
			p.node.load--
			if !p.w.hostNetwork {
				i := p.ip & 0xff
				p.node.used[i] = false
			}
			continue
		}
		if p.node == nil {
			best := workers[0]
			for _, n := range workers[1:] {
				if n.load < best.load {
					best = n
				}
			}
			p.node = best
		}
		n := p.node
		n.load++
		p.epID = n.nextEP
		n.nextEP += 1 + r.intn(40)
		if p.w.hostNetwork {
			p.ip = n.ip
			continue
		}
		off := 2 + r.intn(253)
		for k := 0; k < 253; k++ {
			i := 2 + (off-2+k)%253
			if !n.used[i] {
				n.used[i] = true
				p.ip = n.podNet | uint32(i)
				break
			}
		}
		if p.ip == 0 {
			panic("sim: node " + n.name + " has no free pod address")
		}
	}
}
