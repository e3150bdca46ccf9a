package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// The story (examples/README.md tells it): what each over-provisioned
// identity really does in a day, the people, and a stolen token.

func auditLog(m *model) ([]byte, error) {
	a := newActors(m)
	l := &auditLogger{ids: newRNG(m.seed, "auditIDs")}
	noise(m, a, l)
	story(m, a, l)
	return l.render()
}

func clock(hhmmss string) time.Time {
	t, err := time.Parse("15:04:05", hhmmss)
	if err != nil {
		panic(err)
	}
	return dayStart.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

// session issues calls one after another, as a person or a script does.
type session struct {
	l   *auditLogger
	r   *rng
	who *actor
	t   time.Time
}

func (s *session) do(c call) {
	c.who, c.at = s.who, s.t
	if c.lat == 0 {
		c.lat = s.r.dur(1500*time.Microsecond, 9*time.Millisecond)
	}
	s.l.emit(c)
	end := c.lat
	if c.long > 0 {
		end = c.long
	}
	s.t = s.t.Add(end + s.r.dur(8*time.Millisecond, 120*time.Millisecond))
}

// pause moves the session's clock on, as a person reading output does.
func (s *session) pause(lo, hi time.Duration) { s.t = s.t.Add(s.r.dur(lo, hi)) }

// discovery is kubectl refreshing its discovery cache (kept ten minutes).
func (s *session) discovery() {
	s.do(call{verb: "get", uri: "/api?timeout=32s", reason: reasonDiscovery})
	s.do(call{verb: "get", uri: "/apis?timeout=32s", reason: reasonDiscovery})
}

func (s *session) get(ref *objectRef) { s.do(call{verb: "get", uri: path(ref), ref: ref}) }

// list is what kubectl get sends: a list with a page size.
func (s *session) list(ref *objectRef, kv ...string) {
	s.do(call{verb: "list", uri: path(ref) + query(append(kv, "limit", "500")...), ref: ref, lat: s.r.dur(3*time.Millisecond, 18*time.Millisecond)})
}

func story(m *model, a *actors, l *auditLogger) {
	r := newRNG(m.seed, "story")
	webApp(m, a, l, r)
	backupOperator(m, a, l, r)
	prometheus(m, a, l, r)
	ciDeployer(m, a, l, r)
	alice(m, a, l, r)
	bob(m, a, l, r)
	stolenToken(m, a, l, r)
}

// webApp: the storefront re-reads its ConfigMap every ten minutes, and one
// replica reloads its TLS certificate from a Secret once. Its RoleBinding
// grants all of edit in shop.
func webApp(m *model, a *actors, l *auditLogger, r *rng) {
	reason := rbReason("web-edit", "shop", "ClusterRole", "edit", saSubj("shop", "web"))
	cm := coreRef("shop", "configmaps", "app-config", "")
	for _, p := range m.podsOf("shop", "web") {
		who := a.pod(p, clientGoUA("shop-web"))
		who.reason = reason
		for t := dayStart.Add(r.dur(0, 10*time.Minute)); t.Before(dayEnd); t = t.Add(10*time.Minute + r.dur(0, 2*time.Second)) {
			l.emit(call{who: who, at: t, lat: r.dur(time.Millisecond, 4*time.Millisecond), verb: "get", uri: path(cm), ref: cm})
		}
	}
	p := m.podsOf("shop", "web")[0]
	who := a.pod(p, clientGoUA("shop-web"))
	who.reason = reason
	tls := coreRef("shop", "secrets", "web-tls", "")
	l.emit(call{who: who, at: clock("09:00:07").Add(r.dur(0, time.Second)), lat: r.dur(time.Millisecond, 3*time.Millisecond), verb: "get", uri: path(tls), ref: tls})
}

// backupOperator reads its one secret every hour; it may read all of them.
func backupOperator(m *model, a *actors, l *auditLogger, r *rng) {
	p := m.podsOf("data", "backup-operator")[0]
	who := a.pod(p, clientGoUA("backup-operator"))
	who.reason = crbReason("backup-operator-secrets", "secret-reader", saSubj("data", "backup-operator"))
	ref := coreRef("data", "secrets", "backup-creds", "")
	for h := 0; h < 24; h++ {
		t := dayStart.Add(time.Duration(h)*time.Hour + 5*time.Minute + r.dur(0, 20*time.Second))
		l.emit(call{who: who, at: t, lat: r.dur(time.Millisecond, 4*time.Millisecond), verb: "get", uri: path(ref), ref: ref})
	}
}

// prometheus discovers targets through endpointslices, services and pods
// (never nodes or endpoints, never secrets) and scrapes the API server.
func prometheus(m *model, a *actors, l *auditLogger, r *rng) {
	p := m.podsOf("monitoring", "prometheus")[0]
	who := a.pod(p, "Prometheus/3.5.0")
	who.reason = crbReason("prometheus", "prometheus", saSubj("monitoring", "prometheus"))
	l.watches(r, []watchStream{
		{who: who, ref: groupRef("discovery.k8s.io", "", "endpointslices", "", "")},
		{who: who, ref: coreRef("", "services", "", "")},
		{who: who, ref: coreRef("", "pods", "", "")},
	})
	for t := dayStart.Add(r.dur(0, 2*time.Minute)); t.Before(dayEnd); t = t.Add(2*time.Minute + r.dur(0, 30*time.Millisecond)) {
		l.emit(call{who: who, at: t, lat: r.dur(12*time.Millisecond, 45*time.Millisecond), verb: "get", uri: "/metrics"})
	}
}

// ciDeployer: the CI system re-applies the shop's and data's Deployments
// (server-side apply, no change, so no rollout) and checks their pods. Its
// binding is cluster-admin.
func ciDeployer(m *model, a *actors, l *auditLogger, r *rng) {
	runs := []string{"06:02:11", "10:17:40", "13:41:05", "17:06:52", "21:33:18"}
	targets := []struct{ ns, name string }{{"shop", "web"}, {"shop", "cart"}, {"shop", "payments"}, {"data", "redis"}}
	for _, start := range runs {
		s := &session{l: l, r: r, who: a.deployer, t: clock(start).Add(r.dur(0, time.Second))}
		s.discovery()
		for _, tg := range targets {
			w := findWorkload(m, tg.ns, tg.name)
			ref := groupRef("apps", tg.ns, "deployments", tg.name, "")
			s.get(ref)
			s.do(call{verb: "patch", uri: path(ref) + query("fieldManager", "ci-deployer", "fieldValidation", "Strict", "force", "true"),
				ref: ref, level: "Request", reqObj: applyConfig(w), lat: r.dur(6*time.Millisecond, 20*time.Millisecond)})
		}
		s.pause(20*time.Second, 50*time.Second)
		for _, ns := range []string{"shop", "data"} {
			s.list(coreRef(ns, "pods", "", ""))
		}
	}
}

// applyConfig is the manifest the CI applies (the request body of a
// server-side apply patch, as kubectl sends it: JSON with sorted keys).
func applyConfig(w *workload) json.RawMessage {
	var cs []map[string]any
	for _, c := range w.Containers {
		var ps []map[string]any
		for _, p := range c.Ports {
			ps = append(ps, map[string]any{"containerPort": p.Port, "name": p.Name})
		}
		cs = append(cs, map[string]any{"image": c.Image, "name": c.Name, "ports": ps})
	}
	spec := map[string]any{
		"replicas": len(w.Placement),
		"selector": map[string]any{"matchLabels": w.Labels},
		"template": map[string]any{
			"metadata": map[string]any{"labels": w.Labels},
			"spec":     map[string]any{"containers": cs, "serviceAccountName": w.SA},
		},
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": w.Name, "namespace": w.Namespace}, "spec": spec})
	if err != nil {
		panic(err)
	}
	return b
}

// alice (group devs, edit in shop) looks at pods and logs, twice opens a
// shell in a web pod, and once tries to delete a namespace.
func alice(m *model, a *actors, l *auditLogger, r *rng) {
	webs := m.podsOf("shop", "web")
	pods := coreRef("shop", "pods", "", "")
	for i, start := range []string{"09:12:30", "10:48:02", "11:35:47", "14:02:13", "15:26:55", "16:40:21", "17:52:08"} {
		s := &session{l: l, r: r, who: a.alice, t: clock(start).Add(r.dur(0, 30*time.Second))}
		s.discovery()
		s.list(pods)
		s.pause(5*time.Second, 40*time.Second)
		p := webs[r.intn(len(webs))]
		s.get(coreRef("shop", "pods", p.Name, ""))
		logRef := coreRef("shop", "pods", p.Name, "log")
		s.do(call{verb: "get", uri: path(logRef) + query("container", "web", "tailLines", "200"), ref: logRef,
			lat: r.dur(4*time.Millisecond, 12*time.Millisecond), long: r.dur(40*time.Millisecond, 300*time.Millisecond)})
		switch i {
		case 1, 4:
			// kubectl exec -it <pod> -- sh
			s.pause(20*time.Second, 90*time.Second)
			s.get(coreRef("shop", "pods", p.Name, ""))
			ex := coreRef("shop", "pods", p.Name, "exec")
			s.do(call{verb: "create", code: 101, uri: path(ex) + query("command", "sh", "container", "web", "stdin", "true", "stdout", "true", "tty", "true"),
				ref: ex, lat: r.dur(30*time.Millisecond, 80*time.Millisecond), long: r.dur(2*time.Minute, 7*time.Minute)})
		case 5:
			// kubectl delete namespace shop-staging: not hers to delete.
			s.pause(30*time.Second, 2*time.Minute)
			ns := coreRef("shop-staging", "namespaces", "shop-staging", "")
			s.do(call{verb: "delete", uri: path(ns), ref: ns, forbidden: true})
		}
		for range 1 + r.intn(3) {
			s.pause(30*time.Second, 4*time.Minute)
			s.list(pods)
		}
	}
}

// bob (view, cluster-wide) lists every namespace's pods a few times a day.
func bob(m *model, a *actors, l *auditLogger, r *rng) {
	for i, start := range []string{"08:31:14", "11:02:40", "13:15:09", "16:58:33"} {
		s := &session{l: l, r: r, who: a.bob, t: clock(start).Add(r.dur(0, 30*time.Second))}
		s.discovery()
		s.list(coreRef("", "pods", "", ""))
		if i == 2 {
			// kubectl get pods -A -w, stopped after a while.
			s.pause(10*time.Second, 30*time.Second)
			ref := coreRef("", "pods", "", "")
			s.do(call{verb: "watch", uri: path(ref) + query("resourceVersion", fmt.Sprint(rvAt(s.t)), "watch", "true"), ref: ref,
				long: r.dur(3*time.Minute, 6*time.Minute)})
		}
	}
}

// stolenToken: at 14:05 someone gets a shell in a cart pod through the
// application, reads the pod's service account token and probes the API with
// curl from inside the pod; a quarter of an hour later the same token is used
// with kubectl from an address outside the company. The cart account has no
// bindings: everything but the self-review is forbidden.
func stolenToken(m *model, a *actors, l *auditLogger, r *rng) {
	p := m.podsOf("shop", "cart")[0]
	curl := a.pod(p, uaCurl)
	rules := groupRef("authorization.k8s.io", "", "selfsubjectrulesreviews", "", "")
	for i, c := range []call{
		{verb: "list", uri: path(coreRef("shop", "secrets", "", "")), ref: coreRef("shop", "secrets", "", ""), forbidden: true},
		{verb: "list", uri: path(coreRef("", "secrets", "", "")), ref: coreRef("", "secrets", "", ""), forbidden: true},
		{verb: "create", code: 201, uri: path(rules), ref: rules, reason: reasonBasicUser},
		{verb: "list", uri: path(coreRef("kube-system", "configmaps", "", "")), ref: coreRef("kube-system", "configmaps", "", ""), forbidden: true},
	} {
		// The same times as the connections in flows.go.
		c.who, c.at, c.lat = curl, clockMilli(attackCurl[i]), r.dur(2*time.Millisecond, 7*time.Millisecond)
		l.emit(c)
	}

	out := &session{l: l, r: r, who: a.pod(p, uaKubectl), t: clock("14:19:05")}
	out.who.ip = "203.0.113.66"
	out.discovery()
	// kubectl auth can-i --list, namespace after namespace, in a burst.
	for range 6 {
		out.do(call{verb: "create", code: 201, uri: path(rules), ref: rules, reason: reasonBasicUser})
		out.pause(150*time.Millisecond, 900*time.Millisecond)
	}
	for _, c := range []struct {
		verb string
		ref  *objectRef
		uri  string
	}{
		{"list", coreRef("kube-system", "secrets", "", ""), ""},
		{"list", coreRef("data", "secrets", "", ""), ""},
		{"get", coreRef("kube-system", "configmaps", "kubeadm-config", ""), ""},
		{"get", coreRef("kube-system", "configmaps", "cilium-config", ""), ""},
		{"list", coreRef("shop", "pods", "", ""), ""},
		{"create", coreRef("shop", "pods", "", ""), "/api/v1/namespaces/shop/pods?fieldManager=kubectl-run"},
		{"list", coreRef("ci", "serviceaccounts", "", ""), ""},
	} {
		out.pause(6*time.Second, 35*time.Second)
		uri := c.uri
		if uri == "" {
			uri = path(c.ref)
			if c.verb == "list" {
				uri += "?limit=500"
			}
		}
		out.do(call{verb: c.verb, uri: uri, ref: c.ref, forbidden: true})
	}
}
