package sim

import (
	"encoding/json"
	"slices"
	"time"
)

// Pod lifecycles: the requests that create, bind, start, report and delete
// each pod (controllers, scheduler, kubelet, Cilium), its containers'
// entrypoints, its first connections, and while it runs, its periodic
// activity (token refreshes, probes, API polling).

// jsonObj marshals a manifest object for an audit body. encoding/json is
// fine here: bodies are rendered once per pod, not per event.
func jsonObj(o obj) []byte {
	b, err := json.Marshal(o)
	if err != nil {
		panic("sim: " + err.Error())
	}
	return b
}

// podBodies are the request and response bodies of p's creation: the pod
// as its creator sent it, and as the API server stored it.
func (w *world) podBodies(p *pod) (req, resp []byte) {
	o := w.podObject(p, false)
	req = jsonObj(o)
	md := o["metadata"].(obj)
	md["uid"], md["creationTimestamp"], md["resourceVersion"] = p.uid, timeVal(p.created), w.rv(p.created)
	return req, jsonObj(o)
}

func (e *engine) creator(p *pod) *actor {
	c := e.act.controller
	switch {
	case p.job != nil:
		return c["job-controller"]
	case p.w.kind == kindStatefulSet:
		return c["statefulset-controller"]
	case p.w.kind == kindDaemonSet:
		return c["daemon-set-controller"]
	case p.w.kind == kindStatic:
		return e.act.kubelet[p.node.idx]
	}
	return c["replicaset-controller"]
}

var pssAnnotation = []byte(`,"pod-security.kubernetes.io/enforce-policy":"privileged:latest"`)

// podScript renders the life of p from its creation.
func (e *engine) podScript(p *pod, s *source) {
	w := e.w
	r := &s.rng
	ns := p.w.ns.name
	kubelet := e.act.kubelet[p.node.idx]
	ms := func(lo, hi int) int64 {
		return r.dur(time.Duration(lo)*time.Millisecond, time.Duration(hi)*time.Millisecond)
	}
	podRef := rPods.ref(ns, p.name, "")
	podPath := rPods.path(ns, p.name, "")
	status := call{who: kubelet, verb: "patch", uri: rPods.path(ns, p.name, "status"), ref: rPods.ref(ns, p.name, "status")}

	if p.w.kind != kindStatic && e.enabled(stAudit) && p.created >= e.start {
		if p.w.kind != kindPod { // a bare pod's creation is its creator's
			req, resp := w.podBodies(p)
			e.request(s, &call{who: e.creator(p), verb: "create", code: 201, uri: rPods.path(ns, "", ""), ref: podRef,
				level: levelRequestResponse, reqObj: req, respObj: resp, ann: pssAnnotation}, p.created, p.scheduled-p.created-ms(1, 3))
		}
		e.request(s, &call{who: e.act.scheduler, verb: "create", code: 201, uri: rPods.path(ns, p.name, "binding"), ref: rPods.ref(ns, p.name, "binding")},
			p.scheduled-ms(1, 3), ms(1, 3))
		e.request(s, &status, p.started, ms(2, 8))
	}
	if !p.w.hostNetwork {
		if ca := e.ciliumOn(p.node); ca != nil {
			e.request(s, &call{who: ca, verb: "create", code: 201, uri: rCiliumEPs.path(ns, "", ""), ref: rCiliumEPs.ref(ns, p.name, "")},
				p.started+ms(500, 900), ms(2, 9))
		}
	}
	e.request(s, &status, p.running+ms(50, 200), ms(2, 8))
	if p.ready < p.ended {
		e.request(s, &status, p.ready, ms(2, 8))
		if p.w.svc != nil {
			e.sliceUpdate(s, p, p.ready+ms(10, 40))
		}
	}
	// Containers: entrypoints.
	s.at(p.running, func(t int64) { p.w.live = append(p.w.live, p) })
	for i, c := range p.w.containers {
		t := p.running + int64(i)*ms(5, 30) + ms(1, 10)
		argv := c.command
		if len(argv) > 0 && argv[0][0] != '/' {
			argv = append([]string{"/usr/local/bin/" + argv[0]}, argv[1:]...)
		}
		pr := e.spawn(s, t, p, i, nil, c.uid, c.cwd, argv...)
		if p.w.privileged && e.exec == fmtFalco {
			pr.rule = "Launch Privileged Container"
		}
		if len(argv) > 2 && argv[0] == "/bin/sh" && argv[1] == "-c" {
			e.spawn(s, t+ms(5, 40), p, i, pr, c.uid, c.cwd, splitCmd(argv[2])...)
		}
	}
	// First connections: the API server, Prometheus' first scrape.
	if p.w.usesAPI && !p.w.hostNetwork {
		e.tcp(s, p.running+ms(300, 1500), podPeer(p), apiServerPeer, apiServerPort, "kubernetes", "default")
	}
	if p.w.metricsPort > 0 && !p.w.hostNetwork {
		if pp := w.prometheus.pods[0]; pp.alive(p.ready) {
			t := p.ready + r.dur(0, 30*time.Second)
			if t+int64(time.Second) < p.ended {
				e.tcp(s, t, podPeer(pp), podPeer(p), p.w.metricsPort, "", "")
			}
		}
	}
	// Background of the running pod.
	if p.tokenVolume != "" {
		a := e.podActor(p)
		first := a.tok.first
		if first < e.start {
			first += a.tok.index(e.start) * a.tok.period
		}
		e.add(&tokenRefresher{a: a, by: kubelet, sa: p.w.sa, until: p.ended}, first-int64(tokenLead), s.rng.fork(1), nil)
	}
	if act := newPodActivity(p); act != nil {
		e.add(act, max(p.running+ms(100, 2000), e.start-ms(0, 60000)), s.rng.fork(2), nil)
	}

	// The end: a Job's pod finishes; a deleted pod is stopped and removed.
	if p.finished != 0 {
		job := p.job
		t := p.finished
		s.at(t, func(int64) { p.w.live = slices.DeleteFunc(p.w.live, func(q *pod) bool { return q == p }) })
		e.request(s, &status, t+ms(150, 400), ms(2, 8))
		jc := e.act.controller["job-controller"]
		e.request(s, &call{who: jc, verb: "patch", uri: podPath, ref: podRef}, t+ms(450, 600), ms(2, 6))
		e.request(s, &call{who: jc, verb: "update", uri: rJobs.path(ns, job.name, "status"), ref: rJobs.ref(ns, job.name, "status")}, t+ms(620, 700), ms(2, 6))
		cj := e.act.controller["cronjob-controller"]
		e.request(s, &call{who: cj, verb: "update", uri: rCronJobs.path(ns, p.w.name, "status"), ref: rCronJobs.ref(ns, p.w.name, "status")}, t+ms(720, 900), ms(2, 6))
		if !p.w.hostNetwork {
			if ca := e.ciliumOn(p.node); ca != nil {
				e.request(s, &call{who: ca, verb: "delete", uri: rCiliumEPs.path(ns, p.name, ""), ref: rCiliumEPs.ref(ns, p.name, ""),
					status: deletedStatus(rCiliumEPs, p.name, cepUID(p))}, p.gone, ms(2, 6))
			}
		}
	}
	if p.deleted != 0 {
		t := p.deleted
		if p.finished == 0 {
			s.at(t, func(int64) { p.w.live = slices.DeleteFunc(p.w.live, func(q *pod) bool { return q == p }) })
		}
		who := e.act.controller[p.deletedBy]
		if who == nil {
			who = e.act.controller["replicaset-controller"]
		}
		e.request(s, &call{who: who, verb: "delete", uri: podPath, ref: podRef, level: levelRequestResponse}, t-ms(2, 5), ms(2, 5))
		if p.finished == 0 {
			if p.w.svc != nil && p.ready < t {
				e.sliceUpdate(s, p, t+ms(10, 40))
			}
			e.request(s, &status, t+(p.gone-t)/2, ms(2, 8))
			e.request(s, &call{who: kubelet, verb: "delete", uri: podPath, ref: podRef, level: levelRequestResponse,
				status: deletedStatus(rPods, p.name, p.uid)}, p.gone, ms(3, 9))
			if !p.w.hostNetwork {
				if ca := e.ciliumOn(p.node); ca != nil {
					e.request(s, &call{who: ca, verb: "delete", uri: rCiliumEPs.path(ns, p.name, ""), ref: rCiliumEPs.ref(ns, p.name, ""),
						status: deletedStatus(rCiliumEPs, p.name, cepUID(p))}, p.gone+ms(5, 30), ms(2, 6))
				}
			}
		}
	}
	if p.ended != never {
		s.at(p.ended+int64(time.Minute), func(int64) {
			delete(e.act.pods, p)
			p.ep, p.epSet, p.exec = [2][]byte{}, [2]bool{}, nil
		})
	}
}

func splitCmd(s string) []string {
	out := splitFields(s)
	if len(out) > 0 && out[0][0] != '/' {
		out[0] = "/usr/bin/" + out[0]
	}
	return out
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// cepUID is the UID of p's CiliumEndpoint.
func cepUID(p *pod) string {
	r := rng{s: hash64(p.uid + "/ciliumendpoint")}
	return r.uuid()
}

// sliceUpdate is the EndpointSlice controller updating p's service's slice.
func (e *engine) sliceUpdate(s *source, p *pod, t int64) {
	svc := p.w.svc
	name := svc.name + "-" + svc.uid[:5]
	e.request(s, &call{who: e.act.controller["endpointslice-controller"], verb: "update", uri: rSlices.path(svc.ns.name, name, ""),
		ref: rSlices.ref(svc.ns.name, name, "")}, t, s.rng.dur(2*time.Millisecond, 7*time.Millisecond))
}

// ciliumOn is the Cilium agent's identity on node n.
func (e *engine) ciliumOn(n *node) *actor {
	for _, p := range e.w.cilium.pods {
		if p.node == n {
			return e.podActor(p)
		}
	}
	return nil
}

// podActivity is what a running pod does on its own: liveness probes that
// exec a command, an application re-reading its ConfigMap, the backup
// operator reading its Secret.
type podActivity struct {
	p       *pod
	probeAt int64
	apiAt   int64
	shim    *proc
	api     call
}

func newPodActivity(p *pod) *podActivity {
	a := &podActivity{p: p, probeAt: never, apiAt: never}
	for _, c := range p.w.containers {
		if c.probe != nil {
			a.probeAt = p.running + int64(c.probe.period/2)
		}
	}
	if p.w.configMap != "" || p.w.name == "backup-operator" {
		a.apiAt = p.running + int64(30*time.Second)
	}
	if a.probeAt == never && a.apiAt == never {
		return nil
	}
	return a
}

func (a *podActivity) step(e *engine, s *source, now int64) int64 {
	p := a.p
	if now >= p.ended {
		return never
	}
	r := &s.rng
	if now >= a.probeAt {
		for i, c := range p.w.containers {
			if c.probe == nil {
				continue
			}
			if a.shim == nil {
				a.shim = shim(p, p.running-int64(40*time.Millisecond))
			}
			argv := append([]string{"/usr/bin/" + c.probe.cmd[0]}, c.probe.cmd[1:]...)
			e.spawn(s, now, p, i, a.shim, c.uid, c.cwd, argv...)
			a.probeAt = now + int64(c.probe.period) + r.dur(0, 20*time.Millisecond)
		}
	}
	if now >= a.apiAt {
		ns := p.w.ns.name
		every := 10 * time.Minute
		if a.api.who == nil {
			a.api = call{who: e.podActor(p), verb: "get", uri: rConfigMaps.path(ns, p.w.configMap, ""), ref: rConfigMaps.ref(ns, p.w.configMap, "")}
			if p.w.name == "backup-operator" {
				a.api.uri, a.api.ref = rSecrets.path(ns, "backup-credentials", ""), rSecrets.ref(ns, "backup-credentials", "")
			}
		}
		if p.w.name == "backup-operator" {
			every = time.Hour
		}
		e.request(s, &a.api, now, r.dur(time.Millisecond, 4*time.Millisecond))
		a.apiAt = now + int64(float64(int64(every)+r.dur(0, 2*time.Second))/e.rate)
	}
	return min(a.probeAt, a.apiAt)
}

// jobScript renders the CronJob controller creating a Job, and deleting the
// oldest one beyond the history limit with its pod.
func (e *engine) jobScript(j *job, s *source) {
	r := &s.rng
	ns := j.cj.ns.name
	cj := e.act.controller["cronjob-controller"]
	body := jsonObj(e.w.jobObject(j))
	e.request(s, &call{who: cj, verb: "create", code: 201, uri: rJobs.path(ns, "", ""), ref: rJobs.ref(ns, j.name, ""),
		level: levelRequestResponse, reqObj: body, respObj: body}, j.created, r.dur(2*time.Millisecond, 6*time.Millisecond))
	e.request(s, &call{who: cj, verb: "update", uri: rCronJobs.path(ns, j.cj.name, "status"), ref: rCronJobs.ref(ns, j.cj.name, "status")},
		j.created+r.dur(8*time.Millisecond, 12*time.Millisecond), r.dur(2*time.Millisecond, 6*time.Millisecond))
	if j.deleted != 0 {
		e.request(s, &call{who: cj, verb: "delete", uri: rJobs.path(ns, j.name, ""), ref: rJobs.ref(ns, j.name, ""), level: levelRequestResponse,
			status: deletedStatus(rJobs, j.name, j.uid)}, j.deleted, r.dur(2*time.Millisecond, 6*time.Millisecond))
		if p := j.pod; p.deleted != 0 {
			// A finished pod is deleted at once.
			e.request(s, &call{who: e.act.controller["generic-garbage-collector"], verb: "delete", uri: rPods.path(ns, p.name, ""), ref: rPods.ref(ns, p.name, ""),
				level: levelRequestResponse, status: deletedStatus(rPods, p.name, p.uid)}, p.deleted, r.dur(2*time.Millisecond, 6*time.Millisecond))
		}
	}
}

// rolloutScript renders a CI deploy: the pipeline patches the Deployment
// and waits for the rollout (kubectl rollout status watches it); the
// deployment controller creates the new ReplicaSet and scales both; the
// pods' own lifecycles are their scripts.
func (e *engine) rolloutScript(ro *rollout, s *source) {
	r := &s.rng
	wl := ro.w
	ns := wl.ns.name
	ms := func(lo, hi int) int64 {
		return r.dur(time.Duration(lo)*time.Millisecond, time.Duration(hi)*time.Millisecond)
	}
	if wl.kind == kindStatefulSet {
		sc := e.act.controller["statefulset-controller"]
		e.request(s, &call{who: sc, verb: "create", code: 201, uri: rCtrlRevs.path(ns, "", ""), ref: rCtrlRevs.ref(ns, ro.to.name, "")}, ro.at, ms(2, 6))
		e.request(s, &call{who: sc, verb: "update", uri: rStatefulSet.path(ns, wl.name, "status"), ref: rStatefulSet.ref(ns, wl.name, "status")}, ro.done, ms(2, 6))
		return
	}
	ci := e.act.ci
	var patch []byte
	patch = append(patch, `{"spec":{"template":{"spec":{"containers":[{"image":`...)
	patch = appendStr(patch, wl.containers[0].repo+":"+ro.to.version, true)
	patch = append(patch, `,"name":`...)
	patch = appendStr(patch, wl.containers[0].name, true)
	patch = append(patch, `}]}}}}`...)
	deploy := e.w.workloadObject(wl)
	e.request(s, &call{who: ci, verb: "get", uri: rDeployments.path(ns, wl.name, ""), ref: rDeployments.ref(ns, wl.name, "")}, ro.at-ms(40, 90), ms(2, 8))
	e.request(s, &call{who: ci, verb: "patch", uri: rDeployments.uri(ns, wl.name, "", "fieldManager=kubectl-set"), ref: rDeployments.ref(ns, wl.name, ""),
		level: levelRequestResponse, reqObj: patch, respObj: jsonObj(deploy)}, ro.at-ms(20, 30), ms(5, 15))
	rs := e.w.replicaSetObject(ro.to)
	dc := e.act.controller["deployment-controller"]
	e.request(s, &call{who: dc, verb: "create", code: 201, uri: rReplicaSets.path(ns, "", ""), ref: rReplicaSets.ref(ns, ro.to.name, ""),
		level: levelRequestResponse, reqObj: jsonObj(rs), respObj: jsonObj(rs)}, ro.to.created-ms(3, 5), ms(2, 5))
	e.request(s, &call{who: dc, verb: "update", uri: rDeployments.path(ns, wl.name, "status"), ref: rDeployments.ref(ns, wl.name, "status")}, ro.to.created+ms(1, 3), ms(2, 6))
	for _, o := range ro.old {
		if o.deleted == 0 {
			continue
		}
		for _, rsName := range []string{ro.to.name, ro.from.name} {
			e.request(s, &call{who: dc, verb: "update", uri: rReplicaSets.path(ns, rsName, ""), ref: rReplicaSets.ref(ns, rsName, ""), level: levelRequestResponse},
				o.deleted-ms(20, 25), ms(2, 5))
		}
	}
	e.request(s, &call{who: dc, verb: "update", uri: rDeployments.path(ns, wl.name, "status"), ref: rDeployments.ref(ns, wl.name, "status")}, ro.done, ms(2, 6))
	// kubectl rollout status: a watch on the Deployment until it is done.
	if ro.done < e.end {
		c := call{who: ci, verb: "watch", ref: rDeployments.ref(ns, "", ""),
			uri: rDeployments.uri(ns, "", "", "fieldSelector=metadata.name%3D"+wl.name+"&watch=true")}
		e.longRequest(s, &c, ro.at+ms(100, 300), ms(1, 3), ro.done-ro.at+ms(200, 400))
	}
}
