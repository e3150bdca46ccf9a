package sim

import (
	"time"
)

// People using kubectl during working hours (weekdays, 08:00 to 18:00
// UTC): get, list, describe, logs and now and then exec; developers in
// their namespaces, an SRE everywhere, an auditor looking around.

type kubectl struct {
	p     *person
	a     *actor
	disco int64 // when discovery was last refreshed
}

func workingHours(t int64) (bool, int64) {
	day := floorDiv(t, int64(24*time.Hour)) * int64(24*time.Hour)
	wd := time.Unix(0, day).UTC().Weekday()
	open, close := day+int64(8*time.Hour), day+int64(18*time.Hour)
	if wd != time.Saturday && wd != time.Sunday && t >= open && t < close {
		return true, close
	}
	next := day + int64(24*time.Hour) + int64(8*time.Hour)
	if t < open && wd != time.Saturday && wd != time.Sunday {
		next = open
	}
	return false, next
}

func (k *kubectl) step(e *engine, s *source, now int64) int64 {
	r := &s.rng
	ok, next := workingHours(now)
	if !ok {
		return next + r.dur(0, 90*time.Minute)
	}
	end := k.session(e, s, now)
	gap := int64(10*time.Hour) / int64(max(1, k.p.sessions))
	return max(end, now+r.exp(time.Duration(gap)))
}

// kubectl's requests: t advances as a person reads the output.
type sess struct {
	e *engine
	s *source
	k *kubectl
	t int64
	n string // namespace
}

func (ss *sess) do(c call, lat int64) {
	c.who = ss.k.a
	if c.reason == "" && !c.forbid {
		c.reason = ss.k.p.reasonIn(ss.n)
	}
	ss.e.request(ss.s, &c, ss.t, lat)
	ss.t += lat + ss.s.rng.dur(8*time.Millisecond, 120*time.Millisecond)
}

func (ss *sess) pause(lo, hi time.Duration) { ss.t += ss.s.rng.dur(lo, hi) }

func (ss *sess) lat() int64 { return ss.s.rng.dur(2*time.Millisecond, 12*time.Millisecond) }

func (ss *sess) discovery() {
	if ss.t-ss.k.disco < int64(10*time.Minute) && ss.k.disco != 0 {
		return
	}
	ss.k.disco = ss.t
	ss.do(call{verb: "get", uri: []byte("/api?timeout=32s"), reason: reasonDiscovery}, ss.lat())
	ss.do(call{verb: "get", uri: []byte("/apis?timeout=32s"), reason: reasonDiscovery}, ss.lat())
}

func (ss *sess) list(r res, ns string) {
	ss.do(call{verb: "list", uri: r.uri(ns, "", "", "limit=500"), ref: r.ref(ns, "", "")}, ss.s.rng.dur(3*time.Millisecond, 25*time.Millisecond))
}

func (ss *sess) get(r res, ns, name string) {
	ss.do(call{verb: "get", uri: r.path(ns, name, ""), ref: r.ref(ns, name, "")}, ss.lat())
}

// session renders one sitting at the terminal; it returns when it ends.
func (k *kubectl) session(e *engine, s *source, now int64) int64 {
	w := e.w
	r := &s.rng
	ss := &sess{e: e, s: s, k: k, t: now}
	p := k.p
	var ns *namespace
	switch {
	case len(p.namespaces) > 0:
		ns = pick(r, p.namespaces)
	default:
		ns = pick(r, w.apps)
	}
	ss.n = ns.name
	ss.discovery()
	switch {
	case p.admin && r.chance(0.4):
		ss.n = ""
		ss.list(rNodes, "")
		ss.pause(2*time.Second, 20*time.Second)
		ss.list(rPods, "")
		ss.pause(time.Second, 10*time.Second)
		ss.list(rEvents, "")
		return ss.t
	case len(p.namespaces) == 0 && !p.admin:
		// The auditor: what may I do, and who runs what.
		ss.do(call{verb: "create", code: 201, uri: rSSRR.path("", "", ""), ref: rSSRR.ref("", "", ""), reason: reasonBasicUser}, ss.lat())
		ss.list(rPods, "")
		ss.pause(5*time.Second, 40*time.Second)
		ss.list(rDeployments, "")
		ss.list(rNetpols, "")
		return ss.t
	}
	ss.list(rPods, ns.name)
	ss.pause(2*time.Second, 30*time.Second)
	wl := pick(r, []*workload{ns.web, ns.api, ns.api})
	target := e.livePod(r, wl, ss.t)
	if target == nil {
		return ss.t
	}
	// describe: the pod and its events.
	ss.get(rPods, ns.name, target.name)
	ss.do(call{verb: "list", ref: rEvents.ref(ns.name, "", ""),
		uri: rEvents.uri(ns.name, "", "", "fieldSelector=involvedObject.name%3D"+target.name+"%2CinvolvedObject.namespace%3D"+ns.name+"%2CinvolvedObject.uid%3D"+target.uid+"&limit=500")}, ss.lat())
	ss.pause(5*time.Second, 60*time.Second)
	// logs
	ss.do(call{verb: "get", uri: rPods.uri(ns.name, target.name, "log", "container="+wl.containers[0].name+"&tailLines=200"), ref: rPods.ref(ns.name, target.name, "log")},
		r.dur(15*time.Millisecond, 120*time.Millisecond))
	ss.pause(10*time.Second, 2*time.Minute)
	if r.chance(0.3) {
		ss.get(rDeployments, ns.name, wl.name)
		ss.list(rServices, ns.name)
	}
	if r.chance(0.1) && ns.api.configMap != "" {
		ss.get(rConfigMaps, ns.name, ns.api.configMap)
	}
	if r.chance(0.08) {
		// A look at a namespace that is not theirs: denied.
		other := pick(r, w.apps)
		if p.admin || other == ns || containsNS(p.namespaces, other) {
			return ss.t
		}
		ss.n = other.name
		c := call{verb: "list", uri: rPods.uri(other.name, "", "", "limit=500"), ref: rPods.ref(other.name, "", ""), forbid: true,
			status: forbidden(p.name, "list", rPods, other.name, "", "")}
		ss.do(c, ss.lat())
		ss.n = ns.name
	}
	if r.chance(p.execs) && target.alive(ss.t+int64(5*time.Minute)) {
		ss.execShell(target)
	}
	return ss.t
}

func containsNS(l []*namespace, ns *namespace) bool {
	for _, x := range l {
		if x == ns {
			return true
		}
	}
	return false
}

// execShell is `kubectl exec -it POD -- sh` and a few commands typed in it.
func (ss *sess) execShell(target *pod) {
	e, s, r := ss.e, ss.s, &ss.s.rng
	c := target.w.containers[0]
	uri := rPods.uri(target.w.ns.name, target.name, "exec", "command=sh&container="+c.name+"&stdin=true&stdout=true&tty=true")
	dur := r.dur(40*time.Second, 6*time.Minute)
	e.longRequest(s, &call{who: ss.k.a, verb: "get", uri: uri, ref: rPods.ref(target.w.ns.name, target.name, "exec"), level: levelRequestResponse,
		reason: ss.k.p.reasonIn(target.w.ns.name)}, ss.t, r.dur(15*time.Millisecond, 60*time.Millisecond), dur)
	t := ss.t + r.dur(60*time.Millisecond, 200*time.Millisecond)
	sh := &proc{p: target, ci: 0, pid: e.newPID(target.node, r), uid: c.uid, argv: []string{"/bin/sh"}, cwd: c.cwd, start: t,
		parent: shim(target, target.running-int64(40*time.Millisecond)), tty: true}
	sh.rule, sh.priority, sh.output = "Terminal shell in container", "Notice", "A shell was spawned in a container with an attached terminal"
	sh.tags = []string{"T1059", "container", "maturity_stable", "mitre_execution", "shell"}
	e.execEvent(s, t, sh)
	for _, cmd := range [][]string{{"/bin/ls", "-la"}, {"/bin/cat", "/etc/" + target.w.ns.name + "/config.yaml"}, {"/usr/bin/env"}, {"/bin/ps", "aux"}} {
		t += r.dur(3*time.Second, 40*time.Second)
		if t >= ss.t+dur {
			break
		}
		child := &proc{p: target, ci: 0, pid: e.newPID(target.node, r), uid: c.uid, argv: cmd, cwd: c.cwd, start: t, parent: sh, tty: true}
		e.execEvent(s, t, child)
	}
	ss.t += dur + r.dur(time.Second, 5*time.Second)
}

// people registers everyone's kubectl sessions.
func (e *engine) people() {
	for i, p := range e.w.people {
		k := &kubectl{p: p, a: e.act.people[i]}
		rs := newRNG(e.w.cfg.Seed, "person/"+p.name)
		e.add(k, e.start+rs.dur(0, 4*time.Hour), rs, nil)
	}
}
