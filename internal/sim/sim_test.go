package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubedelta/kubedelta/internal/cluster"
)

func TestDeterministic(t *testing.T) {
	digest := func(o *outputs) [5][32]byte {
		return [5][32]byte{sha256.Sum256(o.cluster.Bytes()), sha256.Sum256(o.audit.Bytes()), sha256.Sum256(o.flows.Bytes()),
			sha256.Sum256(o.exec.Bytes()), sha256.Sum256(o.groundTruth.Bytes())}
	}
	names := []string{"cluster", "audit", "flows", "exec", "ground truth"}
	for _, format := range []string{ExecFalco, ExecTetragon} {
		t.Run(format, func(t *testing.T) {
			a := digest(simulate(t, small(7, "all"), format))
			b := digest(simulate(t, small(7, "all"), format))
			c := digest(simulate(t, small(8, "all"), format))
			for i := range a {
				if a[i] != b[i] {
					t.Errorf("seed 7 twice: %s streams differ", names[i])
				}
				if a[i] == c[i] {
					t.Errorf("seeds 7 and 8: %s streams are identical", names[i])
				}
			}
		})
	}
}

// Disabling a stream must not change the others: each source draws from its
// own random stream.
func TestStreamsIndependentOfWriters(t *testing.T) {
	all := simulate(t, small(3, "all"), ExecFalco)
	var auditOnly bytes.Buffer
	if _, err := Generate(small(3, "all"), Writers{Audit: &auditOnly}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(all.audit.Bytes(), auditOnly.Bytes()) {
		t.Error("the audit stream changes when the other streams are disabled")
	}
}

func TestDecodersAcceptEverything(t *testing.T) {
	for _, format := range []string{ExecFalco, ExecTetragon} {
		t.Run(format, func(t *testing.T) {
			o := simulate(t, small(11, "all"), format)
			reqs := o.auditEvents(t)
			flows := o.flowEvents(t)
			execs := o.execEvents(t, format)
			inv := o.inventory(t)
			if len(reqs) == 0 || len(flows) == 0 || len(execs) == 0 || len(inv.Pods) == 0 {
				t.Fatalf("empty stream: %d audit events, %d flows, %d exec events, %d pods", len(reqs), len(flows), len(execs), len(inv.Pods))
			}
			if int64(len(reqs)) != o.sum.AuditEvents {
				t.Errorf("audit: decoded %d events, summary says %d", len(reqs), o.sum.AuditEvents)
			}
			if int64(len(execs)) != o.sum.ExecEvents {
				t.Errorf("exec: decoded %d events, summary says %d", len(execs), o.sum.ExecEvents)
			}
			// Every kind of the dump is read, and nothing is duplicated.
			if len(inv.ClusterRoles) < 35 || len(inv.ClusterRoleBindings) < 18 || len(inv.Deployments) == 0 || len(inv.StatefulSets) == 0 ||
				len(inv.DaemonSets) == 0 || len(inv.CronJobs) == 0 || len(inv.Jobs) == 0 || len(inv.NetworkPolicies) == 0 || len(inv.Nodes) < 3 ||
				len(inv.ReplicaSets) == 0 || len(inv.Services) == 0 || len(inv.RoleBindings) == 0 {
				t.Errorf("inventory misses kinds: %d cluster roles, %d bindings, %d deployments, %d statefulsets, %d daemonsets, %d cronjobs, %d jobs, %d netpols, %d nodes",
					len(inv.ClusterRoles), len(inv.ClusterRoleBindings), len(inv.Deployments), len(inv.StatefulSets), len(inv.DaemonSets),
					len(inv.CronJobs), len(inv.Jobs), len(inv.NetworkPolicies), len(inv.Nodes))
			}
			if len(inv.Duplicates) != 0 || len(inv.ImplicitNamespaces) != 0 {
				t.Errorf("dump has duplicates %v or objects in undeclared namespaces %v", inv.Duplicates, inv.ImplicitNamespaces)
			}
			if _, ok := inv.Skipped["admissionregistration.k8s.io/v1/MutatingWebhookConfiguration"]; !ok {
				t.Errorf("the attack's webhook configuration is not in the dump: skipped kinds %v", inv.Skipped)
			}
		})
	}
}

// Each stream is written in time order: audit events by stageTimestamp,
// flows and process events by their time.
func TestTimeOrder(t *testing.T) {
	o := simulate(t, small(5, "all"), ExecTetragon)
	check := func(name string, times []time.Time) {
		for i := 1; i < len(times); i++ {
			if times[i].Before(times[i-1]) {
				t.Fatalf("%s: record %d at %s comes after one at %s", name, i+1, times[i].Format(time.RFC3339Nano), times[i-1].Format(time.RFC3339Nano))
			}
		}
		if len(times) > 0 && (times[0].Before(o.sum.Start) || !times[len(times)-1].Before(o.sum.End)) {
			t.Errorf("%s: records from %s to %s, outside the window [%s, %s)", name, times[0], times[len(times)-1], o.sum.Start, o.sum.End)
		}
	}
	var at []time.Time
	for _, r := range o.auditEvents(t) {
		at = append(at, r.Time)
	}
	check("audit", at)
	var ft []time.Time
	for _, f := range o.flowEvents(t) {
		ft = append(ft, f.Time)
	}
	check("flows", ft)
	var et []time.Time
	for _, e := range o.execEvents(t, ExecTetragon) {
		et = append(et, e.Time)
	}
	check("exec", et)
}

// Pod addresses are reused, and every flow's addresses resolve, at the
// flow's time, to the pod Hubble named: the dump's pods (with their
// lifetimes) agree with the flows.
func TestFlowsResolveToPodsAtTheirTime(t *testing.T) {
	o := simulate(t, Config{Seed: 21, Namespaces: 4, Days: 0.5, Attacks: []string{"lateral-movement", "crypto-miner"}}, ExecFalco)
	inv := o.inventory(t)
	idx := cluster.NewIndex(inv)

	holders := map[string][]*corev1.Pod{}
	for i := range inv.Pods {
		p := &inv.Pods[i]
		if !p.Spec.HostNetwork && p.Status.PodIP != "" {
			holders[p.Status.PodIP] = append(holders[p.Status.PodIP], p)
		}
	}
	// An address is held by one pod at a time: each holder's life ends
	// (deletion or completion) before the next one's starts.
	reused := 0
	for ip, ps := range holders {
		if len(ps) < 2 {
			continue
		}
		reused++
		slices.SortFunc(ps, func(a, b *corev1.Pod) int { return a.Status.StartTime.Compare(b.Status.StartTime.Time) })
		for i := 1; i < len(ps); i++ {
			prev := ps[i-1]
			var end time.Time
			if prev.DeletionTimestamp != nil {
				end = prev.DeletionTimestamp.Time
			}
			for _, cs := range prev.Status.ContainerStatuses {
				if cs.State.Terminated != nil && (end.IsZero() || cs.State.Terminated.FinishedAt.Time.Before(end)) {
					end = cs.State.Terminated.FinishedAt.Time
				}
			}
			if end.IsZero() || end.After(ps[i].Status.StartTime.Time) {
				t.Fatalf("%s: %s/%s (ended %s) and %s/%s (started %s) overlap", ip, prev.Namespace, prev.Name, end, ps[i].Namespace, ps[i].Name, ps[i].Status.StartTime)
			}
		}
	}
	if reused == 0 {
		t.Error("no pod address was held by two pods")
	}

	checked := 0
	for _, f := range o.flowEvents(t) {
		for _, ep := range []struct {
			side string
			ns   string
			pod  string
			ip   string
		}{{"source", f.Src.Namespace, f.Src.Pod, f.Src.IP.String()}, {"destination", f.Dst.Namespace, f.Dst.Pod, f.Dst.IP.String()}} {
			if ep.pod == "" {
				continue
			}
			p, ok := idx.PodAt(addr(t, ep.ip), f.Time)
			if !ok {
				t.Fatalf("flow at %s: %s %s (%s/%s) resolves to no pod", f.Time.Format(time.RFC3339Nano), ep.side, ep.ip, ep.ns, ep.pod)
			}
			if p.Namespace != ep.ns || p.Name != ep.pod {
				t.Fatalf("flow at %s: %s %s is %s/%s in Hubble but %s/%s in the dump", f.Time.Format(time.RFC3339Nano), ep.side, ep.ip, ep.ns, ep.pod, p.Namespace, p.Name)
			}
			checked++
		}
	}
	if checked < 1000 {
		t.Errorf("only %d flow endpoints checked", checked)
	}
	t.Logf("%d addresses reused, %d flow endpoints resolved", reused, checked)
}

// The process events and the audit log name pods of the dump, alive at the
// event's time.
func TestStreamsNamePodsOfTheDump(t *testing.T) {
	o := simulate(t, small(13, "all"), ExecTetragon)
	inv := o.inventory(t)
	type key struct{ ns, name string }
	pods := map[key][]*corev1.Pod{}
	for i := range inv.Pods {
		p := &inv.Pods[i]
		pods[key{p.Namespace, p.Name}] = append(pods[key{p.Namespace, p.Name}], p)
	}
	// Pods the audit log creates are in the dump, with the same UID.
	uids := map[string]bool{}
	for i := range inv.Pods {
		uids[string(inv.Pods[i].UID)] = true
	}
	created := 0
	for _, r := range o.auditEvents(t) {
		if r.Verb != "create" || r.Resource != "pods" || r.Subresource != "" || r.Code != 201 {
			continue
		}
		var resp struct {
			Metadata struct{ UID string }
		}
		if err := json.Unmarshal(r.ResponseObject, &resp); err != nil || !uids[resp.Metadata.UID] {
			t.Fatalf("pod %s/%s created at %s is not in the dump (uid %q, %v)", r.Namespace, r.Name, r.Time, resp.Metadata.UID, err)
		}
		created++
	}
	if created == 0 {
		t.Error("no pod creation in the audit log")
	}
	for _, e := range o.execEvents(t, ExecTetragon) {
		alive := false
		for _, p := range pods[key{e.Namespace, e.Pod}] {
			from := p.Status.StartTime.Time
			to := o.sum.End
			if p.DeletionTimestamp != nil {
				to = p.DeletionTimestamp.Time
			}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Terminated != nil {
					to = cs.State.Terminated.FinishedAt.Time
				}
			}
			if !e.Time.Before(from) && !e.Time.After(to) && p.Spec.NodeName == e.Node {
				alive = true
			}
		}
		if !alive {
			t.Fatalf("process %s at %s in %s/%s on %s: no such pod alive there then", e.Binary, e.Time, e.Namespace, e.Pod, e.Node)
		}
	}
}

func TestRate(t *testing.T) {
	for _, rate := range []float64{6, 60} {
		cfg := Config{Seed: 2, Namespaces: 3, Days: 1.0 / 24, Rate: rate}
		sum, err := Generate(cfg, Writers{Audit: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		got := float64(sum.AuditEvents) / 3600
		if got < rate*0.75 || got > rate*1.25 {
			t.Errorf("rate %v: %.1f audit events per second", rate, got)
		}
	}
}

// The realistic default: a demo-sized week is one to two million audit
// events (checked on one simulated day of 20 namespaces).
func TestDefaultRate(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a day of 20 namespaces")
	}
	sum, err := Generate(Config{Seed: DefaultSeed, Days: 1}, Writers{Audit: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	week := sum.AuditEvents * 7
	if week < 1_000_000 || week > 2_000_000 {
		t.Errorf("a week of 20 namespaces would be %d audit events, want 1 to 2 million", week)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		out  Writers
		want error
		msg  string
	}{
		{"negative namespaces", Config{Namespaces: -1}, Writers{}, ErrConfig, "namespaces = -1"},
		{"too many namespaces", Config{Namespaces: MaxNamespaces + 1}, Writers{}, ErrConfig, "namespaces"},
		{"short window", Config{Days: 0.01}, Writers{}, ErrConfig, "days = 0.01"},
		{"long window", Config{Days: 400}, Writers{}, ErrConfig, "days = 400"},
		{"too big a plan", Config{Namespaces: 500, Days: 30}, Writers{}, ErrConfig, "namespaces × days = 500 × 30"},
		{"negative rate", Config{Rate: -1}, Writers{}, ErrConfig, "rate = -1"},
		{"learning longer than window", Config{Days: 1, LearningPeriod: 25 * time.Hour}, Writers{}, ErrConfig, "learning period"},
		{"unknown attack", Config{Attacks: []string{"rootkit"}}, Writers{}, ErrAttack, `"rootkit": want one of stolen-token`},
		{"attack twice", Config{Attacks: []string{"secrets-dump", "secrets-dump"}}, Writers{}, ErrAttack, "given twice"},
		{"exec format", Config{}, Writers{ExecFormat: "auditd"}, ErrConfig, `exec format "auditd"`},
		{"start", Config{Start: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, Writers{}, ErrConfig, "start = 1960"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(tc.cfg, tc.out)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	boom := errors.New("disk full")
	for _, tc := range []struct {
		name string
		out  Writers
	}{
		{"cluster", Writers{Cluster: failingWriter{boom}}},
		{"audit", Writers{Audit: failingWriter{boom}}},
		{"flows", Writers{Flows: failingWriter{boom}}},
		{"exec", Writers{Exec: failingWriter{boom}}},
		{"ground truth", Writers{GroundTruth: failingWriter{boom}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(small(1, "secrets-dump"), tc.out)
			if !errors.Is(err, ErrWrite) || !errors.Is(err, boom) || !strings.Contains(err.Error(), tc.name) {
				t.Errorf("error %v, want ErrWrite naming the %s stream", err, tc.name)
			}
		})
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestAttackNames(t *testing.T) {
	names := AttackNames()
	if len(names) != 10 {
		t.Fatalf("%d attacks: %v", len(names), names)
	}
	for _, n := range names {
		if len(attackRules[n]) == 0 || attackDescriptions[n] == "" {
			t.Errorf("attack %s has no rules or description", n)
		}
	}
	got, err := resolveAttacks([]string{"malicious-webhook", "stolen-token"})
	if err != nil || !slices.Equal(got, []string{"stolen-token", "malicious-webhook"}) {
		t.Errorf("resolveAttacks = %v, %v; want AttackNames order", got, err)
	}
}

// The embedded default RBAC policy is the same data as internal/rbac's
// copy (bootstrap/README.md).
func TestBootstrapMatchesRBACTestdata(t *testing.T) {
	for _, f := range bootstrapFiles {
		want, err := os.ReadFile(filepath.Join("..", "rbac", "testdata", "bootstrap", f))
		if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(f, "controller-") {
			continue // internal/rbac has no copy of the controllers' roles
		}
		if err != nil {
			t.Fatalf("internal/rbac's copy is not readable: %v", err)
		}
		got, err := bootstrapFS.ReadFile("bootstrap/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("bootstrap/%s differs from internal/rbac/testdata/bootstrap/%s", f, f)
		}
	}
}

// heapProbe samples the heap in use while the audit stream is written.
type heapProbe struct {
	writes int
	max    uint64
}

func (h *heapProbe) Write(p []byte) (int, error) {
	h.writes++
	if h.writes%50 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.max = max(h.max, ms.HeapInuse)
	}
	return len(p), nil
}

// Generation streams: a million events need no more memory than a few, and
// a high rate is reached.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a million audit events")
	}
	h := &heapProbe{}
	sum, err := Generate(Config{Seed: 4, Namespaces: 30, Days: 1.0 / 24, Rate: 300}, Writers{Audit: h})
	if err != nil {
		t.Fatal(err)
	}
	if got := float64(sum.AuditEvents) / 3600; got < 300*0.9 || got > 300*1.1 {
		t.Errorf("rate 300: %.1f audit events per second", got)
	}
	if h.max > 64<<20 {
		t.Errorf("%d MiB of heap in use for %d events", h.max>>20, sum.AuditEvents)
	}
	t.Logf("%d audit events, at most %d MiB of heap in use", sum.AuditEvents, h.max>>20)
}
