package detect

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// wkBenignAudit returns n audit events shaped like a quiet production
// cluster's: lease renewals and watches by the control plane and kubelets,
// gets and lists by controllers and service accounts, events and pod
// status written by kubelets, and about one in two hundred a CI identity
// patching a Deployment (body logged) with an image the namespace runs.
func wkBenignAudit(n int) []*event.APIRequest {
	rng := rand.New(rand.NewPCG(3, 4))
	nodes := []string{"system:node:worker-1", "system:node:worker-2", "system:node:worker-3"}
	type shape struct {
		user, verb, group, resource, sub, ns, name string
		weight                                     int
	}
	shapes := []shape{
		{"system:kube-controller-manager", "update", "coordination.k8s.io", "leases", "", "kube-system", "kube-controller-manager", 14},
		{"system:kube-scheduler", "update", "coordination.k8s.io", "leases", "", "kube-system", "kube-scheduler", 14},
		{"node", "update", "coordination.k8s.io", "leases", "", "kube-node-lease", "node", 14},
		{"system:kube-controller-manager", "watch", "", "pods", "", "", "", 6},
		{"system:serviceaccount:kube-system:coredns", "watch", "discovery.k8s.io", "endpointslices", "", "", "", 4},
		{"node", "get", "", "nodes", "", "", "node", 6},
		{"node", "patch", "", "nodes", "status", "", "node", 4},
		{"node", "patch", "", "pods", "status", "shop", "api-5d8f7c9b4-x2x9z", 4},
		{"node", "create", "", "serviceaccounts", "token", "shop", "api", 2},
		{"node", "create", "", "events", "", "shop", "", 3},
		{"system:serviceaccount:kube-system:replicaset-controller", "get", "apps", "replicasets", "", "shop", "api-5d8f7c9b4", 4},
		{"system:serviceaccount:kube-system:endpointslice-controller", "update", "discovery.k8s.io", "endpointslices", "", "shop", "api-x7f2k", 4},
		{"system:serviceaccount:monitoring:prometheus", "list", "", "pods", "", "", "", 3},
		{"system:serviceaccount:shop:web", "get", "", "configmaps", "", "shop", "app-config", 5},
		{"system:apiserver", "get", "", "", "", "", "", 6},
		{"system:serviceaccount:kube-system:generic-garbage-collector", "list", "", "configmaps", "", "", "", 2},
		{"system:kube-scheduler", "create", "", "pods", "binding", "shop", "api-5d8f7c9b4-x2x9z", 2},
		{"bob", "list", "", "pods", "", "", "", 1},
	}
	total := 0
	for _, s := range shapes {
		total += s.weight
	}
	t := wkNow
	out := make([]*event.APIRequest, 0, n)
	for i := range n {
		t = t.Add(time.Duration(rng.IntN(2000)) * time.Microsecond)
		var r *event.APIRequest
		if i%200 == 199 {
			r = wkBody(wkReq("system:serviceaccount:ci:deployer", "patch", "apps", "deployments", "shop", "api"),
				`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"shop"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"registry.example.com/shop/api:1.4.2"}]}}}}`)
		} else {
			k := rng.IntN(total)
			var s shape
			for _, s = range shapes {
				if k < s.weight {
					break
				}
				k -= s.weight
			}
			user, name := s.user, s.name
			if user == "node" {
				user = nodes[rng.IntN(len(nodes))]
				if name == "node" {
					name = user[len("system:node:"):]
				}
			}
			r = wkReq(user, s.verb, s.group, s.resource, s.ns, name)
			if s.sub != "" {
				wkSub(r, s.sub)
			}
			if s.resource == "" {
				r.Path, r.RequestURI = "/healthz", "/healthz"
			}
		}
		r.Time, r.AuditID = t, fmt.Sprintf("%08x-cc6e-4cb7-a03e-2f50aef83533", i)
		out = append(out, r)
	}
	return out
}

// BenchmarkWorkloadDetectors measures the audit-reading detectors of this
// family (rbac.escalation, workload.risky-spec, persistence.change and the
// inventory rules) over 100k benign events against a warmed-up baseline.
// The pipeline's budget is 300,000 events/s per core with every detector
// on: these must stay well under 1 µs/event.
func BenchmarkWorkloadDetectors(b *testing.B) {
	const n = 100_000
	events := wkBenignAudit(n)
	s := wkState()
	wkShop(s)
	for _, u := range []string{"system:serviceaccount:ci:deployer", "bob"} {
		wkLearnSubject(s.Profiles, u)
	}
	ds := SpecDetectors(SpecOptions{})
	var api []APIDetector
	for _, d := range ds {
		api = append(api, d.(APIDetector))
	}
	alerts := 0
	emit := func(Alert) { alerts++ }
	b.ReportAllocs()
	start, cpu0 := time.Now(), wkCPUTime()
	for b.Loop() {
		for _, r := range events {
			for _, d := range api {
				d.API(s, r, emit)
			}
		}
	}
	wkReportRate(b, n, start, cpu0, "event")
	if alerts != 0 {
		b.Fatalf("%d alerts on benign traffic", alerts)
	}
}

// BenchmarkNetworkDetectors measures net.* over 100k flows between known
// peers (internal and external) and a few dropped ones.
func BenchmarkNetworkDetectors(b *testing.B) {
	const n = 100_000
	s := wkState()
	wkNetBaseline(s)
	flows := make([]*Flow, n)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range flows {
		switch {
		case i%500 == 0:
			flows[i] = wkFlow(wkAPI, wkCache, 6379, 0, event.VerdictDropped)
		case i%2 == 0:
			flows[i] = wkFlow(wkAPI, wkDB, 5432, uint64(rng.IntN(1<<20)), event.VerdictForwarded)
		default:
			ext := wkExternal(netip.AddrFrom4([4]byte{198, 51, 100, byte(rng.IntN(256))}).String(), "")
			flows[i] = wkFlow(wkAPI, ext, 443, uint64(rng.IntN(1<<20)), event.VerdictForwarded)
		}
	}
	d := NetworkDetectors(NetOptions{})[0].(FlowDetector)
	alerts := 0
	emit := func(Alert) { alerts++ }
	b.ReportAllocs()
	start, cpu0 := time.Now(), wkCPUTime()
	for b.Loop() {
		for _, f := range flows {
			d.Flow(s, f, emit)
		}
	}
	wkReportRate(b, n, start, cpu0, "flow")
	if alerts != b.N*n/500 {
		b.Fatalf("%d alerts, want only the dropped flows", alerts)
	}
}

// BenchmarkProcessDetectors measures exec.novel-command and the inventory
// rules on process events of known binaries.
func BenchmarkProcessDetectors(b *testing.B) {
	const n = 100_000
	s := wkState()
	wkShop(s)
	wkProcBaseline(s)
	execs := make([]*event.Exec, n)
	for i := range execs {
		switch i % 3 {
		case 0:
			execs[i] = wkExec("/usr/local/bin/api", "--port=8080", "--config", "/etc/api/config.yaml")
		case 1:
			execs[i] = wkExec("/bin/sh", "-c", "wget -qO- http://127.0.0.1:8080/healthz")
		default:
			execs[i] = wkExec("/usr/bin/wget", "-qO-", "http://127.0.0.1:8080/healthz")
		}
	}
	var ds []ExecDetector
	for _, d := range append(ProcessDetectors(ProcOptions{}), SpecDetectors(SpecOptions{})...) {
		if x, ok := d.(ExecDetector); ok {
			ds = append(ds, x)
		}
	}
	alerts := 0
	emit := func(Alert) { alerts++ }
	b.ReportAllocs()
	start, cpu0 := time.Now(), wkCPUTime()
	for b.Loop() {
		for _, e := range execs {
			for _, d := range ds {
				d.Exec(s, e, emit)
			}
		}
	}
	wkReportRate(b, n, start, cpu0, "exec")
	if alerts != 0 {
		b.Fatalf("%d alerts on known processes", alerts)
	}
}

// wkReportRate reports events per second of wall and CPU time and the CPU
// nanoseconds per event (the figure that matters on a shared machine).
func wkReportRate(b *testing.B, n int, start time.Time, cpu0 time.Duration, unit string) {
	total := float64(n * b.N)
	b.ReportMetric(total/time.Since(start).Seconds(), unit+"s/s")
	if cpu := wkCPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(total/cpu.Seconds(), unit+"s/cpu-s")
		b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/"+unit)
	}
}
