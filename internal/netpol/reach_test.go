package netpol

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// reachWorld: namespace "open" has no policy; "shop" denies ingress by
// default, lets open's web pods reach api on http, lets a load-balancer
// range reach web, and limits api's egress to db and the internet on 443.
// One pod is pending, one runs on the host network.
func reachWorld(t *testing.T) ([]corev1.Namespace, []corev1.Pod, *Engine) {
	nss := []corev1.Namespace{mkNS("open"), mkNS("shop", "team=shop")}
	pods := []corev1.Pod{
		mkPod("open", "web-1", "10.1.0.1", kv("app=web")),
		mkPod("open", "web-2", "10.1.0.2", kv("app=web")),
		mkPod("open", "batch-1", "10.1.0.3", kv("app=batch")),
		mkPod("shop", "api-1", "10.2.0.1", kv("app=api"), "http:8080/TCP"),
		mkPod("shop", "api-2", "10.2.0.2", kv("app=api"), "http:8080/TCP"),
		mkPod("shop", "web-1", "10.2.0.3", kv("app=web"), "http:8081/TCP"),
		mkPod("shop", "db-1", "10.2.0.4", kv("app=db")),
		mkPod("shop", "api-3", "", kv("app=api"), "http:8080/TCP"),
		hostPod("open", "agent-1", "172.16.0.1", kv("app=agent")),
	}
	pods[7].Status.Phase = corev1.PodPending
	pols := mustPolicies(t, `
metadata: {namespace: shop, name: default-deny}
spec: {podSelector: {}}
---
metadata: {namespace: shop, name: api-from-web}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}]
    ports: [{port: http}]
---
metadata: {namespace: shop, name: web-from-lb}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]
---
metadata: {namespace: shop, name: db-from-api}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 5432}]
---
metadata: {namespace: shop, name: api-egress}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
    ports: [{port: 443}]`)
	byApp := func(p *corev1.Pod) string { return p.Namespace + "/" + p.Labels["app"] }
	return nss, pods, New(nss, pods, pols, Options{WorkloadName: byApp})
}

func TestReachReport(t *testing.T) {
	_, _, e := reachWorld(t)
	rep := e.Reach()
	got, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/reach/shop.golden.json"
	if *update {
		if err := os.MkdirAll("testdata/reach", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(golden); err != nil || string(want) != string(got)+"\n" {
		t.Errorf("%s differs (run with -update and review): %v\n%s", golden, err, got)
	}

	if !slices.Equal(rep.UnprotectedNamespaces, []string{"open"}) {
		t.Errorf("unprotected namespaces: %v", rep.UnprotectedNamespaces)
	}
	if !slices.Equal(rep.HostNetwork, []string{"open/agent"}) {
		t.Errorf("host network workloads: %v", rep.HostNetwork)
	}
	if rep.Stats.ActivePods != 7 {
		t.Errorf("active pods: %d, want 7 (pending and host-network pods excluded)", rep.Stats.ActivePods)
	}
	w := map[string]WorkloadReach{}
	var order []string
	for _, x := range rep.Workloads {
		w[x.Workload] = x
		order = append(order, x.Workload)
	}
	if want := []string{"open/batch", "open/web", "shop/api", "shop/db", "shop/web"}; !slices.Equal(order, want) {
		t.Errorf("workload order %v, want %v (unprotected namespaces first)", order, want)
	}
	api := w["shop/api"]
	if api.Pods != 2 || !api.IngressIsolated || !api.EgressIsolated {
		t.Errorf("shop/api: %+v", api)
	}
	// Who reaches api: the web workloads of both namespaces, on http (8080).
	if len(api.Ingress) != 1 || api.Ingress[0].Ports.String() != "TCP:8080" ||
		!slices.Equal(api.Ingress[0].Workloads, []string{"open/web", "shop/web"}) || api.Ingress[0].Pods != 3 || len(api.Ingress[0].External) != 0 {
		t.Errorf("shop/api ingress: %+v", api.Ingress)
	}
	// api reaches db on 5432 only (db's ingress) and the internet on 443.
	wantEgress := map[string]bool{"TCP:443": true, "TCP:5432": true}
	for _, g := range api.Egress {
		if !wantEgress[g.Ports.String()] {
			t.Errorf("shop/api egress group %+v", g)
		}
		if g.Ports.String() == "TCP:5432" && !slices.Equal(g.Workloads, []string{"shop/db"}) {
			t.Errorf("shop/api -> db: %+v", g)
		}
		if g.Ports.String() == "TCP:443" && (g.Pods != 0 || g.AnyExternal || len(g.External) != 8 || !slices.Contains(g.External, "11.0.0.0/8") || !slices.Contains(g.External, "0.0.0.0/5")) {
			t.Errorf("shop/api -> internet: %+v (want 0.0.0.0/0 minus 10/8 as 8 CIDRs)", g)
		}
	}
	// shop/web admits the load balancer range minus the excepted /24.
	web := w["shop/web"]
	if len(web.Ingress) != 1 || web.Ingress[0].Pods != 0 || !slices.Contains(web.Ingress[0].External, "192.168.0.0/24") ||
		slices.Contains(web.Ingress[0].External, "192.168.1.0/24") || !slices.Contains(web.Ingress[0].External, "192.168.128.0/17") {
		t.Errorf("shop/web ingress: %+v", web.Ingress)
	}
	// open/web is not selected, yet shop/api cannot reach it: api's own
	// egress is limited to db and the internet.
	ow := w["open/web"]
	if len(ow.Ingress) != 1 || ow.Ingress[0].AllPods || !ow.Ingress[0].AnyExternal || !ow.Ingress[0].Ports.IsAll() ||
		!slices.Equal(ow.Ingress[0].Namespaces, []string{"open"}) || !slices.Equal(ow.Ingress[0].Workloads, []string{"shop/db", "shop/web"}) || ow.Ingress[0].Pods != 5 {
		t.Errorf("open/web ingress: %+v", ow.Ingress)
	}
}

func TestAllowedPeers(t *testing.T) {
	_, pods, e := reachWorld(t)
	a := e.AllowedPeers(&pods[3]) // shop/api-1
	if !a.IngressIsolated || !a.EgressIsolated || len(a.Ingress) != 1 || len(a.Egress) != 2 {
		t.Fatalf("allowance: %+v", a)
	}
	in := a.Ingress[0]
	if in.Rule != (RuleRef{Policy: Ref{"shop", "api-from-web"}, Direction: Ingress}) || in.Ports.String() != "TCP:8080" ||
		!slices.Equal(in.Peers.Workloads, []string{"open/web", "shop/web"}) || in.Peers.Pods != 3 {
		t.Errorf("ingress grant: %+v", in)
	}
	eg := a.Egress[1]
	if eg.Rule.Index != 1 || !slices.Equal(eg.Peers.IPBlocks, []string{"0.0.0.0/0 except 10.0.0.0/8"}) || eg.Ports.String() != "TCP:443" {
		t.Errorf("egress grant: %+v", eg)
	}
	if got := e.AllowedPeers(&pods[0]); got.IngressIsolated || got.EgressIsolated || len(got.Ingress)+len(got.Egress) != 0 {
		t.Errorf("open/web-1 is not selected: %+v", got)
	}
	// The rules a flow is attributed to are those of the allowance.
	v := e.CanConnect(Peer{Pod: &pods[5]}, Peer{Pod: &pods[3]}, PortRef{Name: "http"}, corev1.ProtocolTCP)
	if !v.Allowed || !slices.Equal(v.Ingress.Rules, []RuleRef{in.Rule}) {
		t.Errorf("shop/web -> shop/api http: %+v", v)
	}
}
