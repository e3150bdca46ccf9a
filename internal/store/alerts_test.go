package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/server"
)

type rawEvent = server.RawEvent

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func filterAll() server.AlertFilter { return server.AlertFilter{IncludeAcked: true} }

func testAlerts() []detect.Alert {
	mk := func(id string, minutes int, sev detect.Severity, cat, ns string) detect.Alert {
		at := t0.Add(time.Duration(minutes) * time.Minute)
		return detect.Alert{ID: id, Time: at, Rule: "rule-" + id, Category: cat, Severity: sev, Namespace: ns,
			Message: "alert " + id, Count: 1, FirstSeen: at, LastSeen: at}
	}
	return []detect.Alert{
		mk("a1", 0, detect.Low, detect.CategoryAPI, "default"),
		mk("a2", 10, detect.High, detect.CategorySecret, "prod"),
		mk("a3", 20, detect.Critical, detect.CategoryExec, "prod"),
		mk("a4", 30, detect.Info, detect.CategoryNetwork, ""),
		mk("a5", 40, detect.Medium, detect.CategoryRBAC, "kube-system"),
		mk("a6", 40, detect.High, detect.CategoryExec, "prod"), // same time as a5
	}
}

func ids(as []server.StoredAlert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func TestListAlertsFilters(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.PutAlerts(testAlerts()); err != nil {
		t.Fatal(err)
	}
	if err := s.AckAlert("a2", "alice", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    server.AlertFilter
		want []string
	}{
		{"everything, newest first; ties by ID descending", filterAll(), []string{"a6", "a5", "a4", "a3", "a2", "a1"}},
		{"acked hidden by default", server.AlertFilter{}, []string{"a6", "a5", "a4", "a3", "a1"}},
		{"min severity high", server.AlertFilter{MinSeverity: detect.High, IncludeAcked: true}, []string{"a6", "a3", "a2"}},
		{"categories", server.AlertFilter{Categories: []string{detect.CategoryExec, detect.CategoryAPI}}, []string{"a6", "a3", "a1"}},
		{"namespace", server.AlertFilter{Namespace: "prod", IncludeAcked: true}, []string{"a6", "a3", "a2"}},
		{"since is inclusive", server.AlertFilter{Since: t0.Add(20 * time.Minute), IncludeAcked: true}, []string{"a6", "a5", "a4", "a3"}},
		{"until is exclusive", server.AlertFilter{Until: t0.Add(20 * time.Minute), IncludeAcked: true}, []string{"a2", "a1"}},
		{"window", server.AlertFilter{Since: t0.Add(10 * time.Minute), Until: t0.Add(40 * time.Minute)}, []string{"a4", "a3"}},
		{"limit keeps the newest", server.AlertFilter{Limit: 2, IncludeAcked: true}, []string{"a6", "a5"}},
		{"limit after filtering", server.AlertFilter{Namespace: "prod", Limit: 1, MinSeverity: detect.Critical}, []string{"a3"}},
		{"nothing matches", server.AlertFilter{Namespace: "nope"}, nil},
		{"combined", server.AlertFilter{MinSeverity: detect.Medium, Categories: []string{detect.CategoryExec, detect.CategoryRBAC}, Since: t0.Add(30 * time.Minute)}, []string{"a6", "a5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAlerts(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Fatalf("ListAlerts = %v, want %v", ids(got), tc.want)
			}
		})
	}
}

func TestPutAlertsUpsert(t *testing.T) {
	s := openTest(t, Options{})
	as := testAlerts()
	if err := s.PutAlerts(as); err != nil {
		t.Fatal(err)
	}
	ackAt := t0.Add(2 * time.Hour)
	if err := s.AckAlert("a1", "bob", ackAt); err != nil {
		t.Fatal(err)
	}
	// a1 fires again an hour later: Time moves, the ack stays.
	again := as[0]
	again.Time, again.LastSeen, again.Count = t0.Add(time.Hour), t0.Add(time.Hour), 5
	// The same ID twice in one call: the last one wins.
	older := again
	older.Count = 4
	if err := s.PutAlerts([]detect.Alert{older, again}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAlerts(filterAll())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a1", "a6", "a5", "a4", "a3", "a2"}; !slices.Equal(ids(got), want) {
		t.Fatalf("after upsert: %v, want %v (a1 once, moved to the front)", ids(got), want)
	}
	a1 := got[0]
	if a1.Count != 5 || a1.AckedBy != "bob" || !a1.AckedAt.Equal(ackAt) || !a1.Time.Equal(again.Time) {
		t.Fatalf("a1 = count %d acked by %q at %v, time %v", a1.Count, a1.AckedBy, a1.AckedAt, a1.Time)
	}
	if n := countKeys(t, s, prefixAlertTime); n != len(as) {
		t.Fatalf("%d time index entries for %d alerts", n, len(as))
	}
}

func TestAckAlert(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir, Options{})
	if err := s.PutAlerts(testAlerts()[:2]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		id, by  string
		at      time.Time
		wantErr error
	}{
		{"known", "a1", "alice", t0, nil},
		{"again, by someone else", "a1", "bob", t0.Add(time.Minute), nil},
		{"unknown id", "zz", "alice", t0, server.ErrNotFound},
		{"empty id", "", "alice", t0, server.ErrNotFound},
		{"no time", "a2", "alice", time.Time{}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.AckAlert(tc.id, tc.by, tc.at)
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("AckAlert(%q) = %v, want %v", tc.id, err, tc.wantErr)
			}
		})
	}
	// The acknowledgement survives a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir, Options{})
	got, err := s.ListAlerts(server.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{"a2"}) {
		t.Fatalf("unacked after reopen = %v, want [a2]", ids(got))
	}
	all, _ := s.ListAlerts(filterAll())
	if a1 := all[1]; a1.ID != "a1" || a1.AckedBy != "bob" || !a1.AckedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("a1 after reopen = %+v", a1)
	}
}

func TestPutAlertsRejectsMissingID(t *testing.T) {
	s := openTest(t, Options{})
	bad := testAlerts()
	bad[3].ID = ""
	if err := s.PutAlerts(bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PutAlerts = %v, want ErrInvalid", err)
	}
	if got, _ := s.ListAlerts(filterAll()); len(got) != 0 {
		t.Fatalf("a rejected call stored %d alerts", len(got))
	}
}

func TestListAlertsExtremeTimes(t *testing.T) {
	s := openTest(t, Options{})
	as := testAlerts()[:3]
	as[0].Time = time.Time{}                                 // zero: sorts first
	as[1].Time = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) // beyond UnixNano: sorts last
	if err := s.PutAlerts(as); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAlerts(filterAll())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a2", "a3", "a1"}; !slices.Equal(ids(got), want) {
		t.Fatalf("ListAlerts = %v, want %v", ids(got), want)
	}
}

func countKeys(t *testing.T, s *Store, prefix []byte) int {
	t.Helper()
	n := 0
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.SeekGE(prefix); ok && string(it.Key()) < string(prefixEnd(prefix)); ok = it.Next() {
		n++
	}
	return n
}
