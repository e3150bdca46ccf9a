package sim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

// traces is one simulation, decoded.
type traces struct {
	o     *outputs
	audit []event.APIRequest
	flows []event.Flow
	execs []execRecord
	truth []AttackTruth
}

func (tr *traces) countAudit(fn func(r *event.APIRequest) bool) int {
	n := 0
	for i := range tr.audit {
		if fn(&tr.audit[i]) {
			n++
		}
	}
	return n
}

func (tr *traces) countFlows(fn func(f *event.Flow) bool) int {
	n := 0
	for i := range tr.flows {
		if fn(&tr.flows[i]) {
			n++
		}
	}
	return n
}

func (tr *traces) countExec(fn func(e *execRecord) bool) int {
	n := 0
	for i := range tr.execs {
		if fn(&tr.execs[i]) {
			n++
		}
	}
	return n
}

// Each attack leaves the traces a real one leaves, after the learning
// period and not before it, and a ground-truth record.
func TestAttackTraces(t *testing.T) {
	type check struct {
		what string
		min  int
		n    func(tr *traces, a AttackTruth) int
	}
	audit := func(what string, min int, fn func(r *event.APIRequest, a AttackTruth) bool) check {
		return check{what, min, func(tr *traces, a AttackTruth) int {
			return tr.countAudit(func(r *event.APIRequest) bool { return fn(r, a) })
		}}
	}
	flows := func(what string, min int, fn func(f *event.Flow, a AttackTruth) bool) check {
		return check{what, min, func(tr *traces, a AttackTruth) int {
			return tr.countFlows(func(f *event.Flow) bool { return fn(f, a) })
		}}
	}
	execs := func(what string, min int, fn func(e *execRecord, a AttackTruth) bool) check {
		return check{what, min, func(tr *traces, a AttackTruth) int {
			return tr.countExec(func(e *execRecord) bool { return fn(e, a) })
		}}
	}
	fromAttacker := func(r *event.APIRequest) bool { return len(r.SourceIPs) == 1 && r.SourceIPs[0] == attackerIP }
	body := func(r *event.APIRequest, s string) bool { return bytes.Contains(r.RequestObject, []byte(s)) }

	for _, tc := range []struct {
		attack string
		checks []check
	}{
		{"stolen-token", []check{
			audit("403s from outside with a workload's token", 20, func(r *event.APIRequest, a AttackTruth) bool {
				return fromAttacker(r) && r.Forbidden() && r.User.Username == a.Entities["user"] && strings.HasPrefix(r.User.Username, "system:serviceaccount:")
			}),
			audit("selfsubjectrulesreviews", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return fromAttacker(r) && r.Resource == "selfsubjectrulesreviews" && r.Verb == "create" && r.Code == 201
			}),
		}},
		{"secrets-dump", []check{
			audit("cluster-wide list of secrets", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return r.Verb == "list" && r.Resource == "secrets" && r.Namespace == "" && r.User.Username == a.Entities["user"] && r.Succeeded()
			}),
			audit("secrets listed in other namespaces", 5, func(r *event.APIRequest, a AttackTruth) bool {
				return r.Verb == "list" && r.Resource == "secrets" && r.Namespace != "" && r.Namespace != a.Entities["namespace"] && r.User.Username == a.Entities["user"]
			}),
			execs("curl in the operator's container", 1, func(e *execRecord, a AttackTruth) bool {
				return e.Pod == a.Entities["pod"] && e.Binary == "/usr/bin/curl" && strings.Contains(e.Args, "/api/v1/secrets")
			}),
			flows("connection to the API server", 1, func(f *event.Flow, a AttackTruth) bool {
				return f.Src.Pod == a.Entities["pod"] && f.Dst.Port == apiServerPort
			}),
		}},
		{"exec-reverse-shell", []check{
			audit("pods/exec with a reverse shell", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return r.Subresource == "exec" && r.Name == a.Entities["pod"] && strings.Contains(r.RequestURI, "%2Fdev%2Ftcp%2F"+attackerIP) && r.Level == levelRequestResponse
			}),
			execs("bash -i in the pod", 1, func(e *execRecord, a AttackTruth) bool {
				return e.Pod == a.Entities["pod"] && e.Binary == "/bin/bash" && e.Args == "-i"
			}),
			execs("bash -c with /dev/tcp", 1, func(e *execRecord, a AttackTruth) bool {
				return e.Pod == a.Entities["pod"] && strings.Contains(e.Args, "/dev/tcp/"+attackerIP)
			}),
			flows("connection to the attacker", 1, func(f *event.Flow, a AttackTruth) bool {
				return f.Src.Pod == a.Entities["pod"] && f.Dst.IP.String() == attackerIP && f.Dst.Port == attackerC2Port
			}),
		}},
		{"privileged-pod", []check{
			audit("pod created privileged with the host's root", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return r.Verb == "create" && r.Resource == "pods" && r.Subresource == "" && r.Name == a.Entities["pod"] &&
					body(r, `"privileged":true`) && body(r, `"hostPath":{"path":"/"`) && body(r, `"hostPID":true`) && r.User.Username == a.Entities["user"]
			}),
			execs("nsenter into the host", 1, func(e *execRecord, a AttackTruth) bool {
				return e.Pod == a.Entities["pod"] && strings.HasSuffix(e.Binary, "/nsenter") && strings.Contains(e.Args, "-t 1")
			}),
		}},
		{"cluster-admin-binding", []check{
			audit("ClusterRoleBinding to cluster-admin", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return fromAttacker(r) && r.Verb == "create" && r.Resource == "clusterrolebindings" && body(r, `"name":"cluster-admin"`) && r.Code == 201
			}),
			audit("service account created", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return fromAttacker(r) && r.Verb == "create" && r.Resource == "serviceaccounts" && r.Subresource == ""
			}),
		}},
		{"crypto-miner", []check{
			audit("Deployment created from outside", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return fromAttacker(r) && r.Verb == "create" && r.Resource == "deployments" && r.Name == a.Entities["deployment"] && body(r, "xmrig")
			}),
			flows("connections to the mining pool", 3, func(f *event.Flow, a AttackTruth) bool {
				return f.Dst.IP.String() == miningPoolIP && f.Dst.Port == 3333 && f.Src.Namespace == a.Entities["namespace"]
			}),
			execs("the miner", 1, func(e *execRecord, a AttackTruth) bool {
				return e.Binary == "/xmrig/xmrig" && strings.Contains(e.Args, "stratum+tcp://")
			}),
		}},
		{"lateral-movement", []check{
			flows("connections to other namespaces and etcd", 3, func(f *event.Flow, a AttackTruth) bool {
				return f.Src.Pod == a.Entities["pod"] && f.Dst.Port != 53 && (f.Dst.Namespace != "" && f.Dst.Namespace != a.Entities["namespace"] || f.Dst.Port == 2379)
			}),
		}},
		{"untrusted-image", []check{
			audit("pod with an image of an unknown registry", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return r.Verb == "create" && r.Resource == "pods" && body(r, "registry.tools-mirror.example/")
			}),
			execs("process of the image", 1, func(e *execRecord, a AttackTruth) bool {
				return e.Pod == a.Entities["pod"] && strings.HasPrefix(e.Image, "registry.tools-mirror.example/")
			}),
		}},
		{"csr-persistence", []check{
			audit("CSR created by a non-node identity", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return r.Verb == "create" && r.Resource == "certificatesigningrequests" && !strings.HasPrefix(r.User.Username, "system:node:") && fromAttacker(r)
			}),
			audit("approved by the same identity", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return r.Verb == "update" && r.Resource == "certificatesigningrequests" && r.Subresource == "approval" && r.User.Username == a.Entities["user"]
			}),
		}},
		{"malicious-webhook", []check{
			audit("MutatingWebhookConfiguration to an outside URL", 1, func(r *event.APIRequest, a AttackTruth) bool {
				return r.Verb == "create" && r.Resource == "mutatingwebhookconfigurations" && body(r, "https://"+attackerIP) && !strings.HasPrefix(r.User.Username, "system:node")
			}),
		}},
	} {
		t.Run(tc.attack, func(t *testing.T) {
			o := simulate(t, small(31, tc.attack), ExecFalco)
			tr := &traces{o: o, audit: o.auditEvents(t), flows: o.flowEvents(t), execs: o.execEvents(t, ExecFalco)}
			for _, line := range bytes.Split(bytes.TrimSpace(o.groundTruth.Bytes()), []byte("\n")) {
				var a AttackTruth
				if err := json.Unmarshal(line, &a); err != nil {
					t.Fatalf("ground truth: %v: %s", err, line)
				}
				tr.truth = append(tr.truth, a)
			}
			if len(tr.truth) != 1 || tr.truth[0].Attack != tc.attack {
				t.Fatalf("ground truth %+v, want one %s", tr.truth, tc.attack)
			}
			a := tr.truth[0]
			if a.Time.Before(o.sum.LearningEnd) || !a.Time.Before(o.sum.End) || a.End.Before(a.Time) {
				t.Errorf("attack at %s to %s, outside [%s, %s)", a.Time, a.End, o.sum.LearningEnd, o.sum.End)
			}
			if len(a.Rules) == 0 || len(a.Entities) == 0 || a.Description == "" {
				t.Errorf("ground truth incomplete: %+v", a)
			}
			// The traces after the learning period, and none like them before.
			before, after := *tr, *tr
			before.audit, after.audit = split(tr.audit, func(r event.APIRequest) bool { return r.Time.Before(o.sum.LearningEnd) })
			before.flows, after.flows = split(tr.flows, func(f event.Flow) bool { return f.Time.Before(o.sum.LearningEnd) })
			before.execs, after.execs = split(tr.execs, func(e execRecord) bool { return e.Time.Before(o.sum.LearningEnd) })
			for _, c := range tc.checks {
				if n := c.n(&after, a); n < c.min {
					t.Errorf("%s: %d records, want at least %d", c.what, n, c.min)
				}
				if n := c.n(&before, a); n != 0 {
					t.Errorf("%s: %d records during the learning period", c.what, n)
				}
			}
		})
	}
}

func split[T any](l []T, first func(T) bool) (a, b []T) {
	for _, x := range l {
		if first(x) {
			a = append(a, x)
		} else {
			b = append(b, x)
		}
	}
	return a, b
}

// Without attacks, nothing of them shows: no ground truth, no traffic to
// the attacker, no 403 burst.
func TestNoAttacks(t *testing.T) {
	o := simulate(t, small(31), ExecFalco)
	if o.groundTruth.Len() != 0 || len(o.sum.Attacks) != 0 {
		t.Errorf("ground truth without attacks: %s", o.groundTruth.Bytes())
	}
	tr := &traces{audit: o.auditEvents(t), flows: o.flowEvents(t)}
	if n := tr.countAudit(func(r *event.APIRequest) bool { return r.SourceIPs[0] == attackerIP }); n != 0 {
		t.Errorf("%d requests from the attacker's address", n)
	}
	if n := tr.countFlows(func(f *event.Flow) bool { return f.Dst.IP.String() == attackerIP || f.Dst.IP.String() == miningPoolIP }); n != 0 {
		t.Errorf("%d flows to the attacker or the pool", n)
	}
	// Benign denials exist (people looking at other namespaces), but few.
	if n := tr.countAudit(func(r *event.APIRequest) bool { return r.Forbidden() }); n > 10 {
		t.Errorf("%d benign 403s in six hours", n)
	}
}
