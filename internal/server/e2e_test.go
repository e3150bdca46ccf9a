package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/loadgen"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/server"
	"github.com/kubedelta/kubedelta/internal/store"
)

// TestWebhookEndToEnd posts the example audit log as webhook batches to a
// real server and checks that it counts every event once and raises exactly
// the alerts the offline pipeline (`kubedelta analyze`) raises.
func TestWebhookEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	lines := auditLines(t)
	want, ref := reference(t, lines)
	if len(want) == 0 {
		t.Fatal("the example data raises no alert: the comparison would prove nothing")
	}
	dir := t.TempDir()
	ts := startServer(t, dir, serverConfig{})
	for i, b := range batches(lines, 400) {
		code, body := ts.post(server.PathAudit, b)
		if code != http.StatusOK {
			t.Fatalf("batch %d: %d %s", i, code, body)
		}
	}
	// A retried batch counts once.
	retry := batches(lines, 400)[3]
	if code, body := ts.post(server.PathAudit, retry); code != http.StatusOK {
		t.Fatalf("retry: %d %s", code, body)
	}
	st := ts.waitProcessed()
	if got, want := st.Audit.Accepted, int64(len(lines)+400); got != want {
		t.Errorf("accepted %d, want %d", got, want)
	}
	if st.Audit.Processed != ref.Delivered {
		t.Errorf("processed %d, want %d (the offline decoder's deliveries)", st.Audit.Processed, ref.Delivered)
	}
	if got, want := st.Audit.Duplicates+st.Audit.Skipped, ref.Duplicates+ref.SkippedStages+400; got != want {
		t.Errorf("duplicates+skipped %d, want %d", got, want)
	}
	if st.Audit.Rejected != 0 {
		t.Errorf("rejected %d, want 0", st.Audit.Rejected)
	}
	ts.stop() // the final snapshot writes the latest counts
	ts = startServer(t, dir, serverConfig{})
	ts.waitProcessed()
	got := ts.alerts("?limit=0&acked=true")
	gs := alertSummary(got, func(a server.StoredAlert) detect.Alert { return a.Alert })
	ws := alertSummary(want, func(a detect.Alert) detect.Alert { return a })
	if d := diffLines(gs, ws); d != "" {
		t.Errorf("server alerts differ from the offline pipeline's (+server -offline):\n%s", d)
	}
	st2 := ts.stats()
	if st2.Audit != st.Audit {
		t.Errorf("counters changed across a restart:\n got %+v\nwant %+v", st2.Audit, st.Audit)
	}
	if st2.Alert.Total != int64(len(want)) {
		t.Errorf("stats alerts.total %d, want %d", st2.Alert.Total, len(want))
	}
	b, _ := json.Marshal(st2)
	t.Logf("stats: %s", b)
}

// TestInventoryChange swaps the inventory (new index and authorizer, as a
// live inventory does when RBAC changes) half-way: the pipeline is rebuilt
// around it and keeps its baseline and alerts, so the result is the same as
// without the swap.
func TestInventoryChange(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	lines := auditLines(t)
	want, _ := reference(t, lines)
	type inv struct {
		idx   *cluster.Index
		authz *rbac.Authorizer
	}
	var cur atomic.Pointer[inv]
	idx, authz := inventory(t)
	cur.Store(&inv{idx, authz})
	ts := startServer(t, t.TempDir(), serverConfig{opts: server.Options{Inventory: func() (*cluster.Index, *rbac.Authorizer) {
		c := cur.Load()
		return c.idx, c.authz
	}}})
	bs := batches(lines, 400)
	for i, b := range bs {
		if i == len(bs)/2 {
			ts.waitProcessed()
			idx, authz := inventory(t)
			cur.Store(&inv{idx, authz})
		}
		if code, body := ts.post(server.PathAudit, b); code != 200 {
			t.Fatalf("batch %d: %d %s", i, code, body)
		}
	}
	ts.waitProcessed()
	ts.stop()
	if !strings.Contains(ts.logs.String(), "pipeline rebuilt") {
		t.Error("the inventory change did not rebuild the pipeline")
	}
	st, err := store.Open(ts.dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.ListAlerts(server.AlertFilter{IncludeAcked: true})
	if err != nil {
		t.Fatal(err)
	}
	gs := alertSummary(got, func(a server.StoredAlert) detect.Alert { return a.Alert })
	ws := alertSummary(want, func(a detect.Alert) detect.Alert { return a })
	if d := diffLines(gs, ws); d != "" {
		t.Errorf("alerts differ after an inventory change (+server -offline):\n%s", d)
	}
}

// TestForgetByEventTime: with a short retention, alerts not seen for it
// leave the live aggregator as event time advances, and recurring findings
// are raised again; with the default retention the second day folds into
// the first day's alerts.
func TestForgetByEventTime(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tpl, err := loadgen.ReadTemplates(exampleAudit, 0)
	if err != nil {
		t.Fatal(err)
	}
	raised := func(retention time.Duration) int64 {
		ts := startServer(t, t.TempDir(), serverConfig{opts: server.Options{Retention: retention}})
		// Two passes over the example day, the second a day later.
		if _, err := loadgen.Run(context.Background(), loadgen.Config{Target: ts.base, Events: 2 * int64(len(tpl)),
			Templates: tpl, Concurrency: 1, Duration: time.Minute}); err != nil {
			t.Fatal(err)
		}
		return ts.waitProcessed().Alert.Total
	}
	long, short := raised(0), raised(time.Hour)
	if short <= long {
		t.Errorf("%d alerts raised with a 1h retention, %d with the default: forgotten alerts were not raised again", short, long)
	}
	t.Logf("alerts raised: %d with the default retention, %d with 1h", long, short)
}

// TestDefaultDetectorsAreTheCLIs: the server runs the rules `kubedelta
// analyze` runs, no more, no fewer.
func TestDefaultDetectorsAreTheCLIs(t *testing.T) {
	rules := func(ds []detect.Detector) []string {
		var out []string
		for _, d := range ds {
			for _, r := range d.Rules() {
				out = append(out, r.ID)
			}
		}
		slices.Sort(out)
		return out
	}
	got, want := rules(server.DefaultDetectors(nil)), rules(analyze.DefaultDetectors())
	if !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("server rules %v, analyze rules %v", got, want)
	}
}
