package main

import (
	"fmt"
	"time"
)

// The background every cluster produces, and most of the log: informer
// watches of the control plane, the kubelets and the add-ons (each watch is
// a ResponseStarted and a ResponseComplete event, 5 to 10 minutes apart),
// node status reports, and token refreshes. Lease renewals are left out by
// the audit policy (examples/audit-policy.yaml); lease watches are in.

// watchStream is one reflector: it re-opens its watch whenever the server
// ends the previous one (client-go picks timeoutSeconds in [300, 600)).
type watchStream struct {
	who       *actor
	ref       *objectRef
	selectors []string // extra query parameters, key then value
}

// Once a day or so a watch cannot resume where the last one ended (its
// resourceVersion was compacted away, "410 Gone") and the reflector lists
// again before watching.
func (l *auditLogger) watches(r *rng, ws []watchStream) {
	for _, w := range ws {
		t := dayStart.Add(-r.dur(time.Second, 10*time.Minute))
		relist := r.rangeInt(5, 180)
		for i := 0; t.Before(dayEnd); i++ {
			if i == relist {
				lat := r.dur(3*time.Millisecond, 25*time.Millisecond)
				l.emit(call{who: w.who, at: t, lat: lat, verb: "list", ref: w.ref,
					uri: path(w.ref) + query(append([]string{"limit", "500", "resourceVersion", "0"}, w.selectors...)...)})
				t = t.Add(lat + r.dur(time.Millisecond, 5*time.Millisecond))
			}
			timeout := r.rangeInt(300, 599)
			long := time.Duration(timeout)*time.Second + r.dur(200*time.Microsecond, 3*time.Millisecond)
			l.emit(call{who: w.who, at: t, lat: r.dur(250*time.Microsecond, 1500*time.Microsecond), long: long,
				verb: "watch", uri: watchURI(w.ref, rvAt(t)-int64(r.intn(40)), timeout, w.selectors...), ref: w.ref})
			t = t.Add(long + r.dur(300*time.Microsecond, 60*time.Millisecond))
		}
	}
}

func noise(m *model, a *actors, l *auditLogger) {
	r := newRNG(m.seed, "noise")
	var ws []watchStream
	core := func(resource string) *objectRef { return coreRef("", resource, "", "") }

	// kube-controller-manager's shared informers run as the controller
	// manager itself; the node lifecycle controller watches node leases.
	kcmInf := a.kcm.with(uaKCM + "/shared-informers")
	ws = append(ws,
		watchStream{who: kcmInf, ref: core("pods")},
		watchStream{who: kcmInf, ref: core("nodes")},
		watchStream{who: kcmInf, ref: groupRef("apps", "", "replicasets", "", "")},
		watchStream{who: kcmInf, ref: groupRef("batch", "", "jobs", "", "")},
		watchStream{who: kcmInf, ref: groupRef("coordination.k8s.io", "kube-node-lease", "leases", "", "")},
	)
	ws = append(ws,
		watchStream{who: a.scheduler, ref: core("pods"), selectors: []string{"fieldSelector", "status.phase!=Succeeded,status.phase!=Failed"}},
		watchStream{who: a.scheduler, ref: core("nodes")},
		watchStream{who: a.scheduler, ref: core("namespaces")},
		watchStream{who: a.scheduler, ref: groupRef("storage.k8s.io", "", "csinodes", "", "")},
	)
	ws = append(ws,
		watchStream{who: a.apiserver, ref: groupRef("coordination.k8s.io", "kube-system", "leases", "", ""),
			selectors: []string{"labelSelector", "apiserver.kubernetes.io/identity=kube-apiserver"}},
		watchStream{who: a.apiserver, ref: groupRef("apiregistration.k8s.io", "", "apiservices", "", "")},
	)
	for _, n := range m.nodes {
		k := a.kubelet[n.Name]
		ws = append(ws,
			watchStream{who: k, ref: core("pods"), selectors: []string{"fieldSelector", "spec.nodeName=" + n.Name}},
			watchStream{who: k, ref: core("nodes"), selectors: []string{"fieldSelector", "metadata.name=" + n.Name}},
			watchStream{who: k, ref: core("services")},
		)
	}
	coredns := crbReason("system:coredns", "system:coredns", saSubj("kube-system", "coredns"))
	for _, p := range m.podsOf("kube-system", "coredns") {
		c := a.pod(p, clientGoUA("coredns"))
		c.reason = coredns
		ws = append(ws,
			watchStream{who: c, ref: core("services")},
			watchStream{who: c, ref: groupRef("discovery.k8s.io", "", "endpointslices", "", "")},
		)
	}
	cilium := crbReason("cilium", "cilium", saSubj("kube-system", "cilium"))
	for _, p := range m.podsOf("kube-system", "cilium") {
		c := a.pod(p, "cilium-agent/"+ciliumVersion)
		c.reason = cilium
		ws = append(ws, watchStream{who: c, ref: core("pods"), selectors: []string{"fieldSelector", "spec.nodeName=" + p.Node}})
	}
	op := a.pod(m.podsOf("kube-system", "cilium-operator")[0], "cilium-operator-generic/"+ciliumVersion)
	op.reason = crbReason("cilium-operator", "cilium-operator", saSubj("kube-system", "cilium-operator"))
	ws = append(ws, watchStream{who: op, ref: &objectRef{Resource: "ciliumendpoints", APIGroup: "cilium.io", APIVersion: "v2"}})
	l.watches(r, ws)

	// Kubelets report node status every five minutes when nothing changes.
	for _, n := range m.nodes {
		t := dayStart.Add(-r.dur(0, 5*time.Minute))
		for t.Before(dayEnd) {
			l.emit(call{who: a.kubelet[n.Name], at: t, lat: r.dur(3*time.Millisecond, 11*time.Millisecond), verb: "patch",
				uri: "/api/v1/nodes/" + n.Name + "/status?timeout=10s", ref: coreRef("", "nodes", n.Name, "status")})
			t = t.Add(5*time.Minute + r.dur(0, 900*time.Millisecond))
		}
	}

	// Token requests: kubelets for their pods' projected tokens, the
	// controller manager for its controllers.
	for _, tok := range a.tokens {
		l.emit(call{who: tok.by, at: tok.at, lat: tok.lat, verb: "create", code: 201,
			uri: fmt.Sprintf("/api/v1/namespaces/%s/serviceaccounts/%s/token", tok.sa.Namespace, tok.sa.Name),
			ref: coreRef(tok.sa.Namespace, "serviceaccounts", tok.sa.Name, "token"),
			ann: map[string]string{"authentication.kubernetes.io/issued-credential-id": "JTI=" + tok.jti}})
	}

	cronRun(m, a, l, r)
}

// cronRun is the nightly-report CronJob firing at 02:00: the controllers
// create the Job and its pod, the scheduler binds it, the kubelet runs it,
// and the previous night's Job is deleted (successfulJobsHistoryLimit: 1).
func cronRun(m *model, a *actors, l *auditLogger, r *rng) {
	w := findWorkload(m, "ci", "nightly-report")
	p := m.podsOf("ci", "nightly-report")[0]
	cj, job := a.controller["cronjob-controller"], a.controller["job-controller"]
	gc := a.controller["generic-garbage-collector"]
	kubelet := a.kubelet[p.Node]
	t := w.Rollout.Add(r.dur(5*time.Millisecond, 30*time.Millisecond))
	ms := func(lo, hi int) time.Duration {
		return time.Duration(lo)*time.Millisecond + r.dur(0, time.Duration(hi-lo)*time.Millisecond)
	}
	step := func(c call) {
		c.at = t
		if c.lat == 0 {
			c.lat = ms(2, 9)
		}
		l.emit(c)
		t = t.Add(c.lat + ms(1, 15))
	}
	jobRef := groupRef("batch", "ci", "jobs", w.OwnerName, "")
	step(call{who: cj, verb: "create", code: 201, uri: "/apis/batch/v1/namespaces/ci/jobs", ref: jobRef})
	step(call{who: cj, verb: "update", uri: "/apis/batch/v1/namespaces/ci/cronjobs/nightly-report/status", ref: groupRef("batch", "ci", "cronjobs", "nightly-report", "status")})
	step(call{who: job, verb: "create", code: 201, uri: "/api/v1/namespaces/ci/pods", ref: coreRef("ci", "pods", p.Name, ""),
		ann: map[string]string{"pod-security.kubernetes.io/enforce-policy": "privileged:latest"}})
	step(call{who: job, verb: "update", uri: "/apis/batch/v1/namespaces/ci/jobs/" + w.OwnerName + "/status", ref: groupRef("batch", "ci", "jobs", w.OwnerName, "status")})
	step(call{who: a.scheduler, verb: "create", code: 201, uri: "/api/v1/namespaces/ci/pods/" + p.Name + "/binding", ref: coreRef("ci", "pods", p.Name, "binding")})
	podStatus := call{who: kubelet, verb: "patch", uri: "/api/v1/namespaces/ci/pods/" + p.Name + "/status", ref: coreRef("ci", "pods", p.Name, "status")}
	t = p.Created.Add(ms(900, 1200))
	step(podStatus)
	t = p.Started.Add(ms(100, 400))
	step(podStatus)
	// Finished.
	t = p.Finished.Add(ms(200, 700))
	step(podStatus)
	step(call{who: job, verb: "patch", uri: "/api/v1/namespaces/ci/pods/" + p.Name, ref: coreRef("ci", "pods", p.Name, "")})
	step(call{who: job, verb: "update", uri: "/apis/batch/v1/namespaces/ci/jobs/" + w.OwnerName + "/status", ref: groupRef("batch", "ci", "jobs", w.OwnerName, "status")})
	step(call{who: cj, verb: "update", uri: "/apis/batch/v1/namespaces/ci/cronjobs/nightly-report/status", ref: groupRef("batch", "ci", "cronjobs", "nightly-report", "status")})
	prev := fmt.Sprintf("nightly-report-%d", w.Rollout.Add(-24*time.Hour).Unix()/60)
	step(call{who: cj, verb: "delete", uri: "/apis/batch/v1/namespaces/ci/jobs/" + prev, ref: groupRef("batch", "ci", "jobs", prev, "")})
	prevPod := prev + "-" + r.suffix(5)
	step(call{who: gc, verb: "delete", uri: "/api/v1/namespaces/ci/pods/" + prevPod, ref: coreRef("ci", "pods", prevPod, "")})
}

func findWorkload(m *model, ns, name string) *workload {
	for _, w := range m.workloads {
		if w.Namespace == ns && w.Name == name {
			return w
		}
	}
	panic("no workload " + ns + "/" + name)
}
