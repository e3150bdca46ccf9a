package baseline_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cputime"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/audit"
)

// metadataEvents returns n audit events at Metadata level shaped like a real
// kube-apiserver's (about 700 bytes each): 200 identities, 20 namespaces,
// a realistic mix of verbs and resources, ~2% 403s.
func metadataEvents(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	resources := []struct{ group, res, sub string }{
		{"", "pods", ""}, {"", "pods", "log"}, {"", "configmaps", ""}, {"", "secrets", ""},
		{"apps", "deployments", ""}, {"apps", "replicasets", ""}, {"coordination.k8s.io", "leases", ""},
		{"", "nodes", "status"}, {"", "events", ""}, {"batch", "jobs", ""},
	}
	verbs := []string{"get", "list", "watch", "update", "patch", "create", "delete"}
	var buf bytes.Buffer
	t := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		rs := resources[r.IntN(len(resources))]
		verb := verbs[r.IntN(len(verbs))]
		ns := fmt.Sprintf("team-%02d", r.IntN(20))
		user := fmt.Sprintf("system:serviceaccount:%s:app-%d", ns, r.IntN(10))
		code := 200
		if r.IntN(50) == 0 {
			code = 403
		}
		name := fmt.Sprintf("obj-%d", r.IntN(30))
		uri := fmt.Sprintf("/apis/%s/v1/namespaces/%s/%s/%s", rs.group, ns, rs.res, name)
		sub := ""
		if rs.sub != "" {
			sub = `,"subresource":"` + rs.sub + `"`
			uri += "/" + rs.sub
		}
		ts := t.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000000Z")
		fmt.Fprintf(&buf, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%08x-cc6e-4cb7-a03e-%012x","stage":"ResponseComplete","requestURI":"%s","verb":"%s","user":{"username":"%s","uid":"db0e8b17-ed49-4d2d-943b-2f50aef83533","groups":["system:serviceaccounts","system:serviceaccounts:%s","system:authenticated"]},"sourceIPs":["10.244.%d.%d"],"userAgent":"app/v1.4.2 (linux/amd64) kubernetes/abcdef","objectRef":{"resource":"%s","namespace":"%s","name":"%s","apiGroup":"%s","apiVersion":"v1"%s},"responseStatus":{"metadata":{},"code":%d},"requestReceivedTimestamp":"%s","stageTimestamp":"%s","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`+"\n",
			i, i, uri, verb, user, ns, r.IntN(4), r.IntN(250), rs.res, ns, name, rs.group, sub, code, ts, ts)
	}
	return buf.Bytes()
}

// BenchmarkDecodeAndBaseline measures the path `rbac unused` runs per event:
// decode one audit line, then add it to the usage baseline.
func BenchmarkDecodeAndBaseline(b *testing.B) {
	const n = 100_000
	data := metadataEvents(n)
	b.SetBytes(int64(len(data)))
	var u *baseline.APIUsage
	events := 0
	cpu0 := cputime.Now()
	for b.Loop() {
		u = baseline.NewAPIUsage()
		dec := audit.NewDecoder(audit.Options{})
		if err := dec.Decode(bytes.NewReader(data), "bench", func(r *event.APIRequest) error {
			u.Add(r)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		events += n
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if cpu := cputime.Now() - cpu0; cpu > 0 {
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(u.Len()), "keys")
}
