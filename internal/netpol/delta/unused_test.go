package delta

import (
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/netpol"
)

func TestUnused(t *testing.T) {
	w := newWorld(shopCluster())
	rep := Unused(w.eng, w.idx, w.ingest(shopFlows()...))

	if rep.Flows != int64(len(shopFlows())) || rep.Window.From.IsZero() {
		t.Errorf("flows %d window %+v", rep.Flows, rep.Window)
	}
	if strings.Join(rep.UnprotectedNamespaces, ",") != "kube-system,shop" {
		t.Errorf("unprotected %v", rep.UnprotectedNamespaces)
	}

	// Denied: api -> db on 5432 (forwarded by the network: the CNI did not
	// enforce data's default deny), and on 9999 (dropped).
	denied := map[string]EdgeFinding{}
	for _, d := range rep.Denied {
		denied[d.Src+">"+d.Dst+">"+portText(d.Port, 6)] = d
	}
	if d, ok := denied["Deployment/shop/api>Deployment/data/db>5432/TCP"]; !ok || d.Count != 2 || d.Dropped != 0 ||
		!strings.Contains(d.Why, "ingress of Deployment/data/db is limited by data/deny-all") {
		t.Errorf("api -> db 5432: %+v (all: %+v)", d, rep.Denied)
	}
	if d, ok := denied["Deployment/shop/api>Deployment/data/db>9999/TCP"]; !ok || d.Dropped != 1 {
		t.Errorf("api -> db 9999: %+v", d)
	}
	if len(rep.Denied) != 2 {
		t.Errorf("%d denied, want 2: %+v", len(rep.Denied), rep.Denied)
	}
	// The pod gone before the dump is evaluated from the flow's labels: allowed.
	for _, d := range rep.Denied {
		if strings.Contains(d.Src, "web") {
			t.Errorf("web's flows are allowed (the gone pod by its Hubble labels): %+v", d)
		}
	}
	if len(rep.Unresolved) != 1 || rep.Unresolved[0].Src != ghost || !strings.Contains(rep.Unresolved[0].Why, "pod network") {
		t.Errorf("unresolved %+v", rep.Unresolved)
	}

	// Rules: allow-web is used by web; the metrics rule admits all of shop
	// and nothing used it.
	status := map[string]RuleUsage{}
	for _, r := range rep.Rules {
		status[r.Policy+"/"+string(r.Direction)] = r
	}
	if r := status["data/allow-web/Ingress"]; r.Status != RuleUsed || r.Flows != 4 || r.UsedBy[0] != "Deployment/shop/web" {
		t.Errorf("allow-web: %+v", r)
	}
	if r := status["data/allow-shop-metrics/Ingress"]; r.Status != RuleUnused || r.Flows != 0 {
		t.Errorf("allow-shop-metrics: %+v", r)
	}
	if rep.Rules[0].Status != RuleUnused {
		t.Errorf("unused rules first: %+v", rep.Rules[0])
	}

	dbw := findWorkload(t, rep, "Deployment/data/db")
	if len(dbw.UnusedRules) != 1 || dbw.UnusedRules[0].Policy != "data/allow-shop-metrics" || dbw.UnusedRules[0].Direction != netpol.Ingress {
		t.Errorf("db unused rules %+v", dbw.UnusedRules)
	}
	if !dbw.Allowed.Ingress.Isolated || dbw.Allowed.Ingress.Pods != 3 || dbw.Allowed.Ingress.AnyExternal {
		t.Errorf("db allowed ingress %+v (shop's 3 pods)", dbw.Allowed.Ingress)
	}

	web := findWorkload(t, rep, "Deployment/shop/web")
	var ext *ObservedPeer
	for i, o := range web.Observed.Egress {
		if o.Kind == KindExternal {
			ext = &web.Observed.Egress[i]
		}
	}
	if ext == nil || ext.Peer != "93.184.216.0/24" || ext.Addresses != 2 || ext.Count != 2 || ext.Verdict != VerdictAllowed {
		t.Errorf("web's external peers grouped by /24: %+v", ext)
	}
	if !strings.HasPrefix(web.Summary, "shop/web may reach") || !strings.Contains(web.Summary, "it talked to 3") {
		t.Errorf("summary %q", web.Summary)
	}
	if web.UnusedPods.Egress <= 0 {
		t.Errorf("web may reach every pod and used 2 workloads: unused %+v", web.UnusedPods)
	}
	// Ranked by unused reach.
	for i := 1; i < len(rep.Workloads); i++ {
		a, b := rep.Workloads[i-1].UnusedPods, rep.Workloads[i].UnusedPods
		if a.Ingress+a.Egress < b.Ingress+b.Egress {
			t.Errorf("workloads not ranked: %s before %s", rep.Workloads[i-1].Workload, rep.Workloads[i].Workload)
		}
	}
}

// A rule that admits more workloads than used it is partly used, and the
// ones that never did are named (mirrors the example's
// data/allow-shop-to-postgres story).
func TestUnusedPartlyUsedRule(t *testing.T) {
	inv := shopCluster()
	inv.NetworkPolicies[1].Spec.Ingress[0].From[0].PodSelector = nil // all of shop
	w := newWorld(inv)
	rep := Unused(w.eng, w.idx, w.ingest(tcp(web1, db, 5432, 1)))
	for _, r := range rep.Rules {
		if r.Policy != "data/allow-web" {
			continue
		}
		if r.Status != RulePartlyUsed || !strings.Contains(r.Why, "never shop/api") {
			t.Errorf("allow-web: %+v", r)
		}
		return
	}
	t.Fatal("allow-web not reported")
}

func TestUnusedNoFlows(t *testing.T) {
	w := newWorld(shopCluster())
	rep := Unused(w.eng, w.idx, NewEdges())
	if rep.Flows != 0 || len(rep.Denied) != 0 || len(rep.Workloads) != 4 {
		t.Fatalf("%+v", rep)
	}
	for _, r := range rep.Rules {
		if r.Status != RuleUnused {
			t.Errorf("no flows: rule %s %s", r.Policy, r.Status)
		}
	}
}
