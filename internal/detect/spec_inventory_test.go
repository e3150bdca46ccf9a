package detect

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

func wkInventory() []Detector {
	return []Detector{&specWorkloadDetector{sys: newSpecIdentities(nil), log: wkLog()}}
}

// wkShop is a warmed-up namespace "shop" running api and web from the
// cluster's usual registries.
func wkShop(s *State) {
	wkLearnNamespace(s.Profiles, "shop",
		"Deployment/shop/api", "registry.example.com/shop/api:1.4.2",
		"Deployment/shop/web", "docker.io/library/nginx:1.27")
	wkLearnNamespace(s.Profiles, "kube-system", "DaemonSet/kube-system/kube-proxy", "registry.k8s.io/kube-proxy:v1.37.2")
}

func TestInventoryAudit(t *testing.T) {
	deploy := func(name, image string) string {
		return wkDeployment(name, `{"containers":[{"name":"c","image":"`+image+`"}]}`)
	}
	learning := func(s *State) {
		wkShop(s)
		s.Config.LearnUntil = wkNow.Add(time.Minute)
	}
	newNamespace := func(s *State) {
		wkShop(s)
		s.Profiles.ObserveWorkload("fresh", "Deployment/fresh/a", "registry.example.com/a:1", wkNow.Add(-time.Minute))
	}
	cases := []wkCase{
		{name: "new deployment, known image", setup: wkShop, rule: RuleWorkloadFirstSeen, sev: Low,
			message: "Deployment/shop/cart is new in namespace shop (created by alice): the namespace has run 2 other workloads since 2026-11-22",
			req:     wkBody(wkReq("alice", "create", "apps", "deployments", "shop", "cart"), deploy("cart", "docker.io/library/nginx:1.27"))},
		{name: "bare pod", setup: wkShop, rule: RuleWorkloadFirstSeen, sev: Medium, message: "Pod/shop/dbg is new",
			req: wkReq("alice", "create", "", "pods", "shop", "dbg")},
		{name: "new workload in kube-system", setup: wkShop, rule: RuleWorkloadFirstSeen, sev: Medium, message: "DaemonSet/kube-system/agent",
			req: wkReq("alice", "create", "apps", "daemonsets", "kube-system", "agent")},
		{name: "known workload recreated", setup: wkShop, req: wkBody(wkReq("alice", "create", "apps", "deployments", "shop", "api"), deploy("api", "registry.example.com/shop/api:1.4.2"))},
		{name: "new namespace warming up", setup: newNamespace, req: wkReq("alice", "create", "apps", "deployments", "fresh", "b")},
		{name: "learning", setup: learning, req: wkReq("alice", "create", "", "pods", "shop", "dbg")},
		{name: "new repository and registry while learning", setup: learning,
			req: wkBody(wkReq("alice", "update", "apps", "deployments", "shop", "web"), deploy("web", "evil.example:5000/x/miner:latest"))},
		{name: "new repository in a namespace warming up", setup: newNamespace,
			req: wkBody(wkReq("alice", "update", "apps", "deployments", "fresh", "a"), deploy("a", "registry.example.com/b:1"))},
		{name: "new tag", setup: wkShop, rule: RuleImageFirstSeen, sev: Low, message: "a version of registry.example.com/shop/api never run in namespace shop (1 known versions)",
			req: wkBody(wkReq("alice", "patch", "apps", "deployments", "shop", "api"), `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"registry.example.com/shop/api:1.5.0"}]}}}}`)},
		// The same release by the identity that deploys here routinely.
		{name: "new tag by a routine deployer", setup: func(s *State) {
			wkShop(s)
			s.Profiles.ObserveCall("ci", baseline.CallKey{Verb: "patch", APIGroup: "apps", Resource: "deployments", Namespace: "shop"}, "argocd", netip.Addr{}, wkNow.Add(-24*time.Hour))
		}, rule: RuleImageFirstSeen, sev: Info, message: "ci deploys here routinely",
			req: wkBody(wkReq("ci", "patch", "apps", "deployments", "shop", "api"), `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"registry.example.com/shop/api:1.5.0"}]}}}}`)},
		{name: "new repository", setup: wkShop, rule: RuleImageFirstSeen, sev: Medium, message: "repository docker.io/library/redis was never run in namespace shop",
			req: wkBody(wkReq("alice", "update", "apps", "deployments", "shop", "web"), deploy("web", "redis:7"))},
		{name: "unknown registry", setup: wkShop, rule: RuleImageUntrustedRegistry, sev: High, message: "from registry evil.example:5000, which no workload of the cluster pulled from",
			req: wkBody(wkReq("alice", "patch", "apps", "deployments", "shop", "api"), `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"registry.example.com/shop/api:1.4.2"},{"name":"s","image":"evil.example:5000/x/miner:latest"}]}}}}`)},
		// A controller's pod: its owner is known, its image too.
		{name: "pod of a known deployment", setup: wkShop,
			req: wkBody(wkReq("system:serviceaccount:kube-system:replicaset-controller", "create", "", "pods", "shop", ""),
				`{"metadata":{"generateName":"api-5d8f7c9b4-","labels":{"app":"api","pod-template-hash":"5d8f7c9b4"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"api-5d8f7c9b4","controller":true}]},"spec":{"containers":[{"name":"c","image":"registry.example.com/shop/api:1.4.2"}]}}`)},
	}
	wkRunCases(t, wkInventory(), cases)
}

func TestWorkloadOfWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		req    *event.APIRequest
		want   string
		images []string
		ok     bool
	}{
		{"deployment", wkBody(wkReq("a", "create", "apps", "deployments", "shop", "api"), wkDeployment("api", `{"initContainers":[{"name":"i","image":"busybox"}],"containers":[{"name":"c","image":"api:1"}]}`)),
			"Deployment/shop/api", []string{"api:1", "busybox"}, true},
		{"pod of a replicaset of a deployment", wkBody(wkReq("rc", "create", "", "pods", "shop", ""),
			`{"metadata":{"generateName":"api-5d8f7c9b4-","labels":{"pod-template-hash":"5d8f7c9b4"},"ownerReferences":[{"kind":"ReplicaSet","name":"api-5d8f7c9b4","controller":true}]}}`),
			"Deployment/shop/api", nil, true},
		{"job of a cronjob", wkBody(wkReq("cj", "create", "batch", "jobs", "shop", "cleanup-29012345"),
			`{"metadata":{"ownerReferences":[{"kind":"CronJob","name":"cleanup","controller":true}]}}`), "CronJob/shop/cleanup", nil, true},
		{"pod of a job of a cronjob", wkBody(wkReq("jc", "create", "", "pods", "shop", ""),
			`{"metadata":{"generateName":"cleanup-29012345-","ownerReferences":[{"kind":"Job","name":"cleanup-29012345","controller":true}]}}`), "CronJob/shop/cleanup", nil, true},
		{"pod of a daemonset", wkBody(wkReq("ds", "create", "", "pods", "kube-system", ""),
			`{"metadata":{"ownerReferences":[{"kind":"DaemonSet","name":"cilium","controller":true}]}}`), "DaemonSet/kube-system/cilium", nil, true},
		{"bare pod with generateName", wkBody(wkReq("a", "create", "", "pods", "shop", ""), `{"metadata":{"generateName":"dbg-"}}`), "Pod/shop/dbg-*", nil, true},
		{"metadata level", wkReq("a", "create", "apps", "statefulsets", "shop", "db"), "StatefulSet/shop/db", nil, true},
		{"status", wkSub(wkReq("a", "update", "apps", "deployments", "shop", "api"), "status"), "", nil, false},
		{"configmap", wkReq("a", "create", "", "configmaps", "shop", "c"), "", nil, false},
	} {
		got, images, ok := WorkloadOfWrite(tc.req)
		if got != tc.want || ok != tc.ok || !slices.Equal(images, tc.images) {
			t.Errorf("%s: %q %v %v, want %q %v %v", tc.name, got, images, ok, tc.want, tc.images, tc.ok)
		}
	}
}

func TestInventoryFlowAndExec(t *testing.T) {
	s := wkState()
	wkShop(s)
	var k wkSink
	d := wkInventory()[0].(*specWorkloadDetector)

	known := baseline.Peer{Kind: baseline.PeerWorkload, Workload: "Deployment/shop/api", Namespace: "shop", IP: netip.MustParseAddr("10.244.1.7")}
	stranger := baseline.Peer{Kind: baseline.PeerWorkload, Workload: "Deployment/shop/scanner", Namespace: "shop", IP: netip.MustParseAddr("10.244.2.9")}
	f := &Flow{Flow: &event.Flow{Time: wkNow, Protocol: event.ProtoTCP, Verdict: event.VerdictForwarded,
		Src: event.Endpoint{IP: stranger.IP, Port: 40112}, Dst: event.Endpoint{IP: known.IP, Port: 8080}}, Src: stranger, Dst: known}
	d.Flow(s, f, k.emit)
	a := wkOne(t, k.alerts, RuleWorkloadFirstSeen)
	wkCheckAlert(t, a)
	if a.Workload != "Deployment/shop/scanner" || a.Evidence[0].Kind != "flow" {
		t.Errorf("flow alert: %+v", a)
	}

	k.alerts = nil
	f.Src, f.Dst = known, known
	d.Flow(s, f, k.emit)
	if len(k.alerts) != 0 {
		t.Errorf("known workloads: %s", wkDescribe(k.alerts))
	}

	e := &event.Exec{Time: wkNow, Source: "tetragon", Namespace: "shop", Pod: "api-5d8f7c9b4-x2x9z", Container: "c",
		Workload: "Deployment/shop/api", Image: "registry.example.com/shop/api:1.4.2", Executable: "/usr/bin/api"}
	d.Exec(s, e, k.emit)
	if len(k.alerts) != 0 {
		t.Errorf("known workload and image: %s", wkDescribe(k.alerts))
	}
	e.Image = "ghcr.io/evil/api:1.4.2"
	d.Exec(s, e, k.emit)
	a = wkOne(t, k.alerts, RuleImageUntrustedRegistry)
	wkCheckAlert(t, a)
	wkOne(t, k.alerts, RuleImageFirstSeen)

	k.alerts = nil
	e = &event.Exec{Time: wkNow, Namespace: "shop", Pod: "miner", Workload: "shop", WorkloadKind: "Pod", Image: "docker.io/library/nginx:1.27", Executable: "/tmp/x"}
	d.Exec(s, e, k.emit)
	if a := wkOne(t, k.alerts, RuleWorkloadFirstSeen); a.Workload != "Pod/shop/shop" || a.Severity != Medium {
		t.Errorf("exec first seen: %+v", a)
	}
}

func TestInventoryAllocs(t *testing.T) {
	s := wkState()
	wkShop(s)
	d := wkInventory()[0].(*specWorkloadDetector)
	e := &event.Exec{Time: wkNow, Namespace: "shop", Container: "c", Workload: "Deployment/shop/api",
		Image: "registry.example.com/shop/api:1.4.2", Executable: "/usr/bin/api"}
	emit := func(Alert) { t.Fatal("no alert expected") }
	if n := testing.AllocsPerRun(100, func() { d.Exec(s, e, emit) }); n > 0 {
		t.Errorf("known exec allocates %v times", n)
	}
}
