package sim

import (
	"hash/fnv"
	"time"
)

// The background every cluster produces, and most of its audit log: lease
// renewals every 10 seconds per node and per leader-elected controller,
// informer watches (a ResponseStarted and a ResponseComplete event 5 to 10
// minutes apart, reopened at once), node status reports, token refreshes
// and metrics scrapes.

// actors are the API server's clients that are not pods.
type actors struct {
	apiserver, kcm, scheduler *actor
	kubelet                   []*actor // by node index
	controller                map[string]*actor
	ci                        *actor
	people                    []*actor
	pods                      map[*pod]*actor
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

const tokenRefresh = 48 * time.Minute // 80% of a bound token's hour

func (e *engine) newActors() {
	w := e.w
	r := newRNG(w.cfg.Seed, "actors")
	cp := w.nodes[0]
	a := &actors{controller: map[string]*actor{}, pods: map[*pod]*actor{}}
	a.apiserver = &actor{username: "system:apiserver", user: renderUser("system:apiserver", r.uuid(), []string{"system:authenticated", "system:masters"}),
		ip: "127.0.0.1", ua: uaAPIServer}
	a.kcm = x509Actor("system:kube-controller-manager", []string{"system:authenticated"}, r.hex(64), ipString(cp.ip), uaKCM,
		crbReason("system:kube-controller-manager", "system:kube-controller-manager", userSubj("system:kube-controller-manager")))
	a.scheduler = x509Actor("system:kube-scheduler", []string{"system:authenticated"}, r.hex(64), ipString(cp.ip), uaScheduler,
		crbReason("system:kube-scheduler", "system:kube-scheduler", userSubj("system:kube-scheduler")))
	for _, n := range w.nodes {
		a.kubelet = append(a.kubelet, x509Actor("system:node:"+n.name, []string{"system:nodes", "system:authenticated"}, n.certSHA, ipString(n.ip), uaKubelet, ""))
	}
	for _, c := range kcmControllers {
		sa := w.findSA("kube-system", c)
		ts := &tokenSched{first: w.start - r.dur(0, tokenRefresh), period: int64(tokenRefresh), seed: w.cfg.Seed ^ hash64(sa.uid)}
		a.controller[c] = boundActor(sa, ts, nil, ipString(cp.ip), uaKCM+"/"+sa.username(),
			crbReason("system:controller:"+c, "system:controller:"+c, saSubj("kube-system", c)))
	}
	dep := w.ciDeployer
	a.ci = &actor{username: dep.username(), user: renderUser(dep.username(), dep.uid, saGroups(dep.ns)), ip: ciRunnerIP, ua: uaKubectl,
		reason: crbReason("ci-deployer", "cluster-admin", saSubj("ci", "deployer"))}
	a.ci.ann = appendKV(nil, "authentication.k8s.io/legacy-token", dep.username(), true)
	a.ci.ann = append(a.ci.ann, ',')
	a.ci.ann = appendKey(a.ci.ann, "authentication.k8s.io/legacy-token-manual-secret")
	a.ci.ann = appendStr(a.ci.ann, dep.legacyToken, true)
	a.ci.ann = append([]byte{','}, a.ci.ann[:]...)
	for _, p := range w.people {
		a.people = append(a.people, x509Actor(p.name, p.groups, p.certSHA, p.ip, p.ua, p.reason))
	}
	e.act = a
}

// podActor is a pod's service account, authenticated by the token the
// kubelet requested for the pod.
func (e *engine) podActor(p *pod) *actor {
	if a, ok := e.act.pods[p]; ok {
		return a
	}
	wl := p.w
	ua := clientGoUA(wl.name)
	switch wl.name {
	case "coredns":
		ua = "coredns/v1.12.1 (linux/amd64) kubernetes/" + k8sCommit
	case "cilium":
		ua = "cilium-agent/" + ciliumVersion
	case "cilium-operator":
		ua = "cilium-operator-generic/" + ciliumVersion
	case "prometheus":
		ua = "Prometheus/3.5.0"
	case "ingress-nginx-controller":
		ua = "nginx-ingress-controller/v1.13.3 (linux/amd64) ingress-nginx/3b9c9d3"
	case "cert-manager":
		ua = "cert-manager-controller/v1.18.2 (linux/amd64) cert-manager/5d4d4e2"
	}
	a := boundActor(wl.sa, podTokens(e.w, p), p, p.ipString(), ua, wl.apiReason)
	e.act.pods[p] = a
	return a
}

// podTokens is the schedule of the tokens the kubelet requests for p: one
// when it starts, then every 48 minutes.
func podTokens(w *world, p *pod) *tokenSched {
	return &tokenSched{first: p.started + int64(700*time.Millisecond), period: int64(tokenRefresh), seed: w.cfg.Seed ^ hash64(p.uid)}
}

// periodic is a request repeated every period (scaled by Config.Rate).
type periodic struct {
	c      call
	every  time.Duration
	jitter time.Duration
	lat    [2]time.Duration
	fixed  bool // not scaled by Config.Rate
	// refPre, when set, is an objectRef up to its resourceVersion's value:
	// an update of an object the client holds (a lease).
	refPre []byte
}

func (p *periodic) step(e *engine, s *source, now int64) int64 {
	if !e.enabled(stAudit) {
		return never
	}
	if p.refPre != nil {
		b := append(p.c.ref[:0], p.refPre...)
		b = appendInt(b, e.rvAt(now))
		p.c.ref = append(b, '"', '}')
	}
	e.request(s, &p.c, now, s.rng.dur(p.lat[0], p.lat[1]))
	gap := int64(p.every) + s.rng.dur(0, p.jitter)
	if !p.fixed {
		gap = int64(float64(gap) / e.rate)
	}
	return now + max(gap, 1)
}

// watch is one informer: it watches r (in ns, with an extra selector)
// until the server ends the watch, 5 to 10 minutes later, and reopens it.
type watch struct {
	c     call
	r     res
	ns    string
	extra string
	base  []byte
}

func (wt *watch) step(e *engine, s *source, now int64) int64 {
	if !e.enabled(stAudit) {
		return never
	}
	timeout := s.rng.rangeInt(300, 599)
	b := append(wt.c.uri[:0], wt.base...)
	b = append(b, '?')
	wt.c.uri = watchQuery(b, wt.extra, e.rvAt(now)-int64(s.rng.intn(40)), timeout)
	dur := int64(float64(time.Duration(timeout)*time.Second) / e.rate)
	dur += s.rng.dur(200*time.Microsecond, 3*time.Millisecond)
	lat := s.rng.dur(250*time.Microsecond, 1500*time.Microsecond)
	e.longRequest(s, &wt.c, now, lat, max(dur, lat+1))
	return now + dur + int64(float64(s.rng.dur(300*time.Microsecond, 60*time.Millisecond))/e.rate)
}

// addWatch starts an informer of who on r.
func (e *engine) addWatch(who *actor, r res, ns, extra string) {
	wt := &watch{c: call{who: who, verb: "watch", ref: r.ref(ns, "", "")}, r: r, ns: ns, extra: extra, base: r.path(ns, "", "")}
	rs := newRNG(e.w.cfg.Seed, "watch/"+who.username+"/"+r.resource+"/"+ns+"/"+extra+"/"+itoa(int64(e.ids)))
	first := e.start - rs.dur(time.Second, 10*time.Minute)
	e.add(wt, first, rs, nil)
	e.baseRate += 2 / 450.0
}

func (e *engine) addPeriodic(name string, p *periodic, first int64) {
	rs := newRNG(e.w.cfg.Seed, "periodic/"+name+"/"+itoa(int64(e.ids)))
	e.add(p, first-rs.dur(0, p.every), rs, nil)
	if !p.fixed {
		e.baseRate += 1 / p.every.Seconds()
	} else {
		e.fixedRate += 1 / p.every.Seconds()
	}
}

// controlPlane registers the background of the control plane, the nodes
// and the add-ons.
func (e *engine) controlPlane() {
	w, a := e.w, e.act
	lease := func(who *actor, ns, name string) {
		lr := newRNG(w.cfg.Seed, "lease/"+ns+"/"+name)
		full := refFull(rLeases.group, rLeases.version, rLeases.resource, ns, name, lr.uuid(), "@", "")
		at := len(full) - 3 // before @"}
		e.addPeriodic("lease/"+ns+"/"+name, &periodic{
			c:     call{who: who, verb: "update", uri: rLeases.uri(ns, name, "", "timeout=10s")},
			every: 10 * time.Second, jitter: 40 * time.Millisecond, lat: [2]time.Duration{2 * time.Millisecond, 9 * time.Millisecond},
			refPre: full[:at:at],
		}, e.start)
	}
	for i, n := range w.nodes {
		lease(a.kubelet[i], "kube-node-lease", n.name)
		e.addPeriodic("status/"+n.name, &periodic{
			c:     call{who: a.kubelet[i], verb: "patch", uri: rNodes.uri("", n.name, "status", "timeout=10s"), ref: rNodes.ref("", n.name, "status")},
			every: 5 * time.Minute, jitter: 900 * time.Millisecond, lat: [2]time.Duration{3 * time.Millisecond, 11 * time.Millisecond},
		}, e.start)
	}
	ar := newRNG(w.cfg.Seed, "apiserver")
	apiserverLease := "apiserver-" + ar.suffix(26)
	lease(a.apiserver, "kube-system", apiserverLease)
	lease(a.kcm, "kube-system", "kube-controller-manager")
	lease(a.scheduler, "kube-system", "kube-scheduler")
	lease(e.podActor(w.ciliumOp.pods[0]), "kube-system", "cilium-operator-resource-lock")
	lease(e.podActor(w.ingress.pods[0]), "ingress-nginx", "ingress-nginx-leader")
	lease(e.podActor(w.certManager.pods[0]), "kube-system", "cert-manager-controller")
	lease(e.podActor(w.backupOp.pods[0]), "platform", "backup-operator-lock")

	// The API server's own informers (loopback client).
	for _, r := range []res{rPods, rNodes, rNamespaces, rServices, rSAs, rSecrets, rConfigMaps, rEndpoints, rSlices,
		rCRs, rCRBs, rRoles, rRBs, rMWCs, rVWCs, rCRDs, rAPIServices, rFlowSchemas, rPriority, rStorage} {
		e.addWatch(a.apiserver, r, "", "")
	}
	e.addWatch(a.apiserver, rLeases, "kube-system", "labelSelector=apiserver.kubernetes.io%2Fidentity%3Dkube-apiserver")
	// kube-controller-manager's shared informers.
	for _, r := range []res{rPods, rNodes, rNamespaces, rServices, rSAs, rSecrets, rConfigMaps, rEndpoints, rSlices,
		rDeployments, rReplicaSets, rStatefulSet, rDaemonSets, rCtrlRevs, rJobs, rCronJobs, rPVCs, rPVs, rCSRs,
		rCRs, rRoles, rRBs, rCRBs, rStorage, rCSINodes} {
		e.addWatch(a.kcm, r, "", "")
	}
	e.addWatch(a.kcm, rLeases, "kube-node-lease", "")
	// kube-scheduler.
	e.addWatch(a.scheduler, rPods, "", "fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed")
	for _, r := range []res{rNodes, rNamespaces, rCSINodes, rPVCs, rPVs, rStorage, rServices, rReplicaSets, rStatefulSet} {
		e.addWatch(a.scheduler, r, "", "")
	}
	// Kubelets and Cilium agents, per node.
	for i, n := range w.nodes {
		k := a.kubelet[i]
		e.addWatch(k, rPods, "", "fieldSelector=spec.nodeName%3D"+n.name)
		e.addWatch(k, rNodes, "", "fieldSelector=metadata.name%3D"+n.name)
		e.addWatch(k, rServices, "", "")
		e.addWatch(k, res{"node.k8s.io", "v1", "runtimeclasses"}, "", "")
		e.addWatch(k, res{"storage.k8s.io", "v1", "csidrivers"}, "", "")
		// The kube-root-ca.crt ConfigMap of (some of) the namespaces of its
		// pods.
		for j, ns := range w.apps {
			if (j+i)%6 == 0 {
				e.addWatch(k, rConfigMaps, ns.name, "fieldSelector=metadata.name%3Dkube-root-ca.crt")
			}
		}
		var agent *pod
		for _, p := range w.cilium.pods {
			if p.node == n {
				agent = p
			}
		}
		if agent == nil {
			continue
		}
		ca := e.podActor(agent)
		e.addWatch(ca, rPods, "", "fieldSelector=spec.nodeName%3D"+n.name)
		for _, r := range []res{rNodes, rServices, rSlices, rNamespaces, rNetpols, rCiliumEPs, rCiliumIDs, rCiliumNodes,
			{"cilium.io", "v2", "ciliumnetworkpolicies"}} {
			e.addWatch(ca, r, "", "")
		}
	}
	op := e.podActor(w.ciliumOp.pods[0])
	for _, r := range []res{rPods, rNodes, rServices, rCiliumEPs, rCiliumIDs, rCiliumNodes} {
		e.addWatch(op, r, "", "")
	}
	for _, p := range w.coredns.pods {
		ca := e.podActor(p)
		for _, r := range []res{rServices, rSlices, rNamespaces} {
			e.addWatch(ca, r, "", "")
		}
	}
	for _, p := range w.ingress.pods {
		ia := e.podActor(p)
		for _, r := range []res{rIngresses, rServices, rSlices, rSecrets, rConfigMaps, rNamespaces, {"networking.k8s.io", "v1", "ingressclasses"}} {
			e.addWatch(ia, r, "", "")
		}
	}
	cm := e.podActor(w.certManager.pods[0])
	for _, r := range []res{rCerts, {"cert-manager.io", "v1", "certificaterequests"}, {"cert-manager.io", "v1", "issuers"}, rIssuers, rSecrets} {
		e.addWatch(cm, r, "", "")
	}
	pr := e.podActor(w.prometheus.pods[0])
	for _, r := range []res{rPods, rServices, rSlices, rNodes} {
		e.addWatch(pr, r, "", "")
	}
	e.addPeriodic("prometheus/metrics", &periodic{
		c:     call{who: pr, verb: "get", uri: []byte("/metrics")},
		every: 30 * time.Second, jitter: 30 * time.Millisecond, lat: [2]time.Duration{12 * time.Millisecond, 45 * time.Millisecond},
	}, e.start)
	bo := e.podActor(w.backupOp.pods[0])
	e.addWatch(bo, rPVCs, "", "")

	// Token refreshes of the controllers (the controller manager asks for
	// them, not bound to a pod).
	for _, c := range kcmControllers {
		ca := a.controller[c]
		e.add(&tokenRefresher{a: ca, by: a.kcm, sa: w.findSA("kube-system", c)}, ca.tok.first-int64(tokenLead), newRNG(w.cfg.Seed, "token/"+c), nil)
	}
}

// tokenRefresher renders the TokenRequests of one bound token schedule.
type tokenRefresher struct {
	a, by    *actor
	sa       *serviceAccount
	until    int64
	uri, ref []byte
	ann      []byte
}

func (tr *tokenRefresher) step(e *engine, s *source, now int64) int64 {
	if (tr.until != 0 && now >= tr.until) || !e.enabled(stAudit) {
		return never
	}
	// The request is answered just before the token's issue time.
	i := tr.a.tok.index(now + int64(tokenLead))
	jti := tr.a.tok.jti(i)
	tr.ann = append(tr.ann[:0], `,"authentication.kubernetes.io/issued-credential-id":"JTI=`...)
	tr.ann = append(tr.ann, jti[:]...)
	tr.ann = append(tr.ann, '"')
	if tr.uri == nil {
		tr.uri, tr.ref = rSAs.path(tr.sa.ns, tr.sa.name, "token"), rSAs.ref(tr.sa.ns, tr.sa.name, "token")
	}
	c := call{who: tr.by, verb: "create", code: 201, uri: tr.uri, ref: tr.ref, ann: tr.ann}
	e.request(s, &c, now, int64(tokenLead)-s.rng.dur(200*time.Microsecond, time.Millisecond))
	return tr.a.tok.first + (i+1)*tr.a.tok.period - int64(tokenLead)
}

// tokenLead is how long before a token's first use its TokenRequest arrives.
const tokenLead = 6 * time.Millisecond
