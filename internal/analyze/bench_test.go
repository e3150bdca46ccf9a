package analyze_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/cputime"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/sim"
	"github.com/kubedelta/kubedelta/internal/source/audit"
)

// BenchmarkAnalyzeAudit measures `kubedelta analyze` end to end on audit
// events: decode (bodies kept, redacted), copy, every detector, learn. The
// input is a simulated cluster day (internal/sim), the learning window its
// first 18 hours. Reported per wall second and per CPU second (decoding and
// analysis overlap on two goroutines).
func BenchmarkAnalyzeAudit(b *testing.B) {
	var cl, au bytes.Buffer
	sum, err := sim.Generate(sim.Config{Seed: 7, Namespaces: 10, Days: 1, Attacks: []string{"all"}},
		sim.Writers{Cluster: &cl, Audit: &au})
	if err != nil {
		b.Fatal(err)
	}
	inv := &cluster.Inventory{}
	if err := cluster.LoadReader(&cl, "sim", inv); err != nil {
		b.Fatal(err)
	}
	idx := cluster.NewIndex(inv)
	authz := rbac.NewAuthorizer(rbac.Objects{Roles: inv.Roles, ClusterRoles: inv.ClusterRoles,
		RoleBindings: inv.RoleBindings, ClusterRoleBindings: inv.ClusterRoleBindings})
	data := au.Bytes()
	b.SetBytes(int64(len(data)))
	var events int64
	cpu0 := cputime.Now()
	b.ResetTimer()
	for b.Loop() {
		p := analyze.New(analyze.Options{Index: idx, Authorizer: authz, Detectors: analyze.DefaultDetectors(), ArgShape: analyze.ArgShape})
		src := func(ctx context.Context, emit func(analyze.Item) error) error {
			dec := audit.NewDecoder(audit.Options{KeepObjects: true, KeepObjectsOf: analyze.WantBody})
			var slab analyze.Slab[event.APIRequest]
			return dec.Decode(bytes.NewReader(data), "sim", func(r *event.APIRequest) error {
				return emit(analyze.Item{Time: r.Time, API: analyze.CopyAPI(r, &slab)})
			})
		}
		learnUntil := sum.Start.Add(18 * time.Hour)
		p.Options().Config.LearnUntil = learnUntil
		if err := analyze.Merge(context.Background(), []analyze.Source{src}, func(it analyze.Item) error {
			p.API(it.API)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		events += int64(p.Counts().API)
	}
	b.StopTimer()
	cpu := cputime.Now() - cpu0
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	}
}
