package main

import (
	"fmt"
	"time"
)

// User agents. Kubernetes components and kubectl name their release and
// commit; programs built with client-go that do not set a user agent send
// client-go's default, "<binary>/v0.0.0 (linux/amd64) kubernetes/$Format".
var (
	uaKubelet   = "kubelet/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit
	uaKCM       = "kube-controller-manager/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit
	uaScheduler = "kube-scheduler/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit
	uaAPIServer = "kube-apiserver/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit
	uaKubectl   = "kubectl/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit
	// alice's laptop has an old kubectl, which still execs over SPDY (POST,
	// verb create) rather than WebSocket (GET).
	uaKubectlAlice = "kubectl/v1.28.5 (darwin/arm64) kubernetes/506050d"
	uaCurl         = "curl/7.88.1"
)

func clientGoUA(binary string) string { return binary + "/v0.0.0 (linux/amd64) kubernetes/$Format" }

// Authorization reasons, as the RBAC authorizer words them
// (plugin/pkg/auth/authorizer/rbac/rbac.go, describeSubject and the binding
// describers).
func crbReason(binding, role, subject string) string {
	return fmt.Sprintf("RBAC: allowed by ClusterRoleBinding %q of ClusterRole %q to %s", binding, role, subject)
}

func rbReason(binding, ns, roleKind, role, subject string) string {
	return fmt.Sprintf("RBAC: allowed by RoleBinding %q of %s %q to %s", binding+"/"+ns, roleKind, role, subject)
}

func saSubj(ns, name string) string { return fmt.Sprintf("ServiceAccount %q", name+"/"+ns) }
func userSubj(name string) string   { return fmt.Sprintf("User %q", name) }
func groupSubj(name string) string  { return fmt.Sprintf("Group %q", name) }

var (
	reasonDiscovery = crbReason("system:discovery", "system:discovery", groupSubj("system:authenticated"))
	reasonBasicUser = crbReason("system:basic-user", "system:basic-user", groupSubj("system:authenticated"))
)

func saGroups(ns string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

func x509Extra(sha string) map[string][]string {
	return map[string][]string{"authentication.kubernetes.io/credential-id": {"X509SHA256=" + sha}}
}

// actors are every client of the API server in the example.
type actors struct {
	kubelet    map[string]*actor
	kcm        *actor // kube-controller-manager's own identity
	controller map[string]*actor
	scheduler  *actor
	apiserver  *actor
	pods       map[*pod]*actor
	// tokens are the bound tokens issued during the simulation: who asked
	// (a kubelet for a pod, the controller manager for a controller), for
	// which service account, when, and the JTI.
	tokens []issuedToken

	deployer, alice, bob *actor
}

type issuedToken struct {
	by  *actor
	sa  *serviceAccount
	at  time.Time     // the TokenRequest is received
	lat time.Duration // until it is answered and the token usable
	jti string
}

// controllersWithTokens are the controllers whose work shows in the log;
// the controller manager refreshes their tokens through the day.
var controllersWithTokens = []string{
	"cronjob-controller", "job-controller", "generic-garbage-collector", "endpointslice-controller",
	"node-controller", "replicaset-controller", "ttl-after-finished-controller",
}

func newActors(m *model) *actors {
	r := newRNG(m.seed, "actors")
	a := &actors{kubelet: map[string]*actor{}, controller: map[string]*actor{}, pods: map[*pod]*actor{}}
	cp := m.node("cp-1")
	for _, n := range m.nodes {
		a.kubelet[n.Name] = &actor{
			user: userInfo{Username: "system:node:" + n.Name, Groups: []string{"system:nodes", "system:authenticated"}, Extra: x509Extra(n.CertSHA)},
			ip:   n.IP, ua: uaKubelet}
	}
	a.kcm = &actor{user: userInfo{Username: "system:kube-controller-manager", Groups: []string{"system:authenticated"}, Extra: x509Extra(r.hex(64))},
		ip: cp.IP, ua: uaKCM,
		reason: crbReason("system:kube-controller-manager", "system:kube-controller-manager", userSubj("system:kube-controller-manager"))}
	a.scheduler = &actor{user: userInfo{Username: "system:kube-scheduler", Groups: []string{"system:authenticated"}, Extra: x509Extra(r.hex(64))},
		ip: cp.IP, ua: uaScheduler + "/scheduler",
		reason: crbReason("system:kube-scheduler", "system:kube-scheduler", userSubj("system:kube-scheduler"))}
	a.apiserver = &actor{user: userInfo{Username: "system:apiserver", UID: r.uuid(), Groups: []string{"system:authenticated", "system:masters"}},
		ip: "127.0.0.1", ua: uaAPIServer}

	// Controllers: tokens the controller manager requests for itself (not
	// bound to a pod), refreshed at 80% of their hour.
	for _, c := range controllersWithTokens {
		sa := m.sa("kube-system", c)
		sched := a.schedule(r, a.kcm, sa, 48*time.Minute)
		a.controller[c] = &actor{
			user: userInfo{Username: sa.Username(), UID: sa.UID, Groups: saGroups("kube-system"), Extra: map[string][]string{}},
			ip:   cp.IP, ua: uaKCM + "/" + sa.Username(), creds: sched,
			reason: crbReason("system:controller:"+c, "system:controller:"+c, saSubj("kube-system", c))}
	}

	// Pods: the kubelet requests a token bound to the pod and refreshes it
	// at 80% of its lifetime (3607 s).
	for _, p := range m.pods {
		if p.W.NoToken || p.W.Kind == "Static" {
			continue
		}
		sa := m.sa(p.Namespace, p.W.SA)
		n := m.node(p.Node)
		sched := a.schedule(r, a.kubelet[p.Node], sa, 48*time.Minute)
		a.pods[p] = &actor{
			user: userInfo{Username: sa.Username(), UID: sa.UID, Groups: saGroups(p.Namespace), Extra: map[string][]string{
				"authentication.kubernetes.io/node-name": {n.Name}, "authentication.kubernetes.io/node-uid": {n.UID},
				"authentication.kubernetes.io/pod-name": {p.Name}, "authentication.kubernetes.io/pod-uid": {p.UID},
			}},
			ip: p.IP, creds: sched}
	}

	// The CI system outside the cluster uses a long-lived token from a
	// Secret someone created by hand for ci/deployer.
	dep := m.sa("ci", "deployer")
	a.deployer = &actor{user: userInfo{Username: dep.Username(), UID: dep.UID, Groups: saGroups("ci")},
		ip: "192.0.2.44", ua: uaKubectl,
		reason: crbReason("ci-deployer", "cluster-admin", saSubj("ci", "deployer")),
		ann: map[string]string{"authentication.k8s.io/legacy-token": dep.Username(),
			"authentication.k8s.io/legacy-token-manual-secret": "deployer-token"}}
	// People authenticate with client certificates from the company CA; the
	// organisation (O=) is their group.
	a.alice = &actor{user: userInfo{Username: "alice", Groups: []string{"devs", "system:authenticated"}, Extra: x509Extra(r.hex(64))},
		ip: "10.8.0.14", ua: uaKubectlAlice, reason: rbReason("devs-edit", "shop", "ClusterRole", "edit", groupSubj("devs"))}
	a.bob = &actor{user: userInfo{Username: "bob", Groups: []string{"system:authenticated"}, Extra: x509Extra(r.hex(64))},
		ip: "10.8.0.22", ua: uaKubectl, reason: crbReason("bob-view", "view", userSubj("bob"))}
	return a
}

// schedule simulates token refreshes for sa from before the day to its end.
func (a *actors) schedule(r *rng, by *actor, sa *serviceAccount, every time.Duration) *tokenSchedule {
	s := &tokenSchedule{}
	t := dayStart.Add(-30*time.Minute - r.dur(0, every))
	for t.Before(dayEnd) {
		jti, lat := r.uuid(), r.dur(2*time.Millisecond, 9*time.Millisecond)
		s.times = append(s.times, t.Add(lat))
		s.jtis = append(s.jtis, jti)
		a.tokens = append(a.tokens, issuedToken{by: by, sa: sa, at: t, lat: lat, jti: jti})
		t = t.Add(every + r.dur(0, 40*time.Second))
	}
	return s
}

// pod returns the actor of a pod's service account token, with the
// application's user agent.
func (a *actors) pod(p *pod, ua string) *actor { return a.pods[p].with(ua) }
