package detect

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func stateAlert(rule, subject string, t time.Time) Alert {
	return Alert{Time: t, Rule: rule, Category: CategoryAPI, Severity: Medium, Subject: subject, Message: rule + " by " + subject,
		Evidence: []Evidence{{Kind: "audit", Time: t, Ref: "id-" + subject, Detail: "d"}}}
}

// TestAggregatorStateResume checks the property the server relies on: stop
// half-way, save, restore into a fresh aggregator, continue — the result is
// the same as never stopping, rate limits and suppression counts included.
func TestAggregatorStateResume(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RateLimit = 3
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var adds []Alert
	for i := range 40 {
		adds = append(adds, stateAlert(fmt.Sprintf("r%d", i%2), fmt.Sprintf("u%d", i%5), t0.Add(time.Duration(i)*time.Second)))
	}
	whole := NewAggregator(cfg)
	for _, a := range adds {
		whole.Add(a, Facts{})
	}
	for _, cut := range []int{0, 1, 7, 20, 39, 40} {
		first := NewAggregator(cfg)
		for _, a := range adds[:cut] {
			first.Add(a, Facts{})
		}
		b, err := first.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		second := NewAggregator(cfg)
		var news int
		second.OnNew(func(Alert) { news++ })
		if err := second.RestoreState(b); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		for _, a := range adds[cut:] {
			second.Add(a, Facts{})
		}
		if got, want := second.Alerts(), whole.Alerts(); !reflect.DeepEqual(got, want) {
			t.Errorf("cut %d: alerts differ after resume:\n got %+v\nwant %+v", cut, got, want)
		}
		if got, want := second.Suppressed(), whole.Suppressed(); !reflect.DeepEqual(got, want) {
			t.Errorf("cut %d: suppressed %v, want %v", cut, got, want)
		}
		if cut == 40 && news != 0 {
			t.Errorf("cut 40: OnNew called %d times for restored alerts", news)
		}
	}
}

func TestAggregatorRestoreStateErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":     `{`,
		"version":      `{"version":2,"alerts":[]}`,
		"no id":        `{"version":1,"alerts":[{"rule":"x"}]}`,
		"duplicate id": `{"version":1,"alerts":[{"id":"a","rule":"x"},{"id":"a","rule":"x"}]}`,
	} {
		a := NewAggregator(DefaultConfig())
		a.Add(stateAlert("r", "u", time.Unix(1, 0)), Facts{})
		if err := a.RestoreState([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
		if a.Len() != 1 {
			t.Errorf("%s: failed restore changed the aggregator (%d alerts)", name, a.Len())
		}
	}
}

func TestAggregatorForget(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RateLimit = 2
	a := NewAggregator(cfg)
	t0 := time.Unix(1000, 0)
	a.Add(stateAlert("r", "old", t0), Facts{})
	a.Add(stateAlert("r", "new", t0.Add(time.Hour)), Facts{})
	a.Add(stateAlert("r", "third", t0.Add(time.Hour)), Facts{}) // over the limit
	if n := a.Forget(t0.Add(time.Minute)); n != 1 {
		t.Fatalf("Forget dropped %d, want 1", n)
	}
	if a.Len() != 1 {
		t.Fatalf("Len %d after Forget, want 1", a.Len())
	}
	// The freed slot admits a new alert.
	a.Add(stateAlert("r", "third", t0.Add(2*time.Hour)), Facts{})
	if a.Len() != 2 {
		t.Errorf("Len %d, want 2: Forget did not free the rate-limit slot", a.Len())
	}
}
