package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// aggregatorStateVersion is the version of the MarshalState format.
const aggregatorStateVersion = 1

// ErrAggregatorState reports aggregator state that cannot be restored.
var ErrAggregatorState = errors.New("invalid aggregator state")

// aggregatorState is what an Aggregator persists: its alerts in order of
// first appearance and the per-rule suppression counts. The per-rule rate
// limit counts are derived from the alerts on restore (each admitted alert
// counted once for its rule), so they cannot disagree with them.
type aggregatorState struct {
	Version    int               `json:"version"`
	Alerts     []Alert           `json:"alerts"`
	Suppressed map[string]uint64 `json:"suppressed,omitempty"`
}

// MarshalState encodes the aggregator's state (its folded alerts, with their
// counts and evidence, and the suppression counts) so that a process can
// resume exactly where another stopped: RestoreState on an aggregator built
// with the same Config, then the same Add calls, gives the same alerts as
// never stopping. The callback set by OnNew is not part of the state.
func (a *Aggregator) MarshalState() ([]byte, error) {
	a.mu.Lock()
	st := aggregatorState{Version: aggregatorStateVersion, Alerts: make([]Alert, 0, len(a.order))}
	for _, id := range a.order {
		st.Alerts = append(st.Alerts, *a.alerts[id])
	}
	if len(a.suppressed) > 0 {
		st.Suppressed = make(map[string]uint64, len(a.suppressed))
		for k, v := range a.suppressed {
			st.Suppressed[k] = v
		}
	}
	a.mu.Unlock()
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAggregatorState, err)
	}
	return b, nil
}

// RestoreState replaces the aggregator's alerts and counts with a state
// written by MarshalState. On error the aggregator is left unchanged.
func (a *Aggregator) RestoreState(b []byte) error {
	var st aggregatorState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%w: %w", ErrAggregatorState, err)
	}
	if st.Version != aggregatorStateVersion {
		return fmt.Errorf("%w: version %d, this build reads version %d", ErrAggregatorState, st.Version, aggregatorStateVersion)
	}
	alerts := make(map[string]*Alert, len(st.Alerts))
	order := make([]string, 0, len(st.Alerts))
	perRule := map[string]int{}
	for i := range st.Alerts {
		al := &st.Alerts[i]
		if al.ID == "" || al.Rule == "" {
			return fmt.Errorf("%w: alerts[%d]: id and rule are required", ErrAggregatorState, i)
		}
		if _, dup := alerts[al.ID]; dup {
			return fmt.Errorf("%w: alerts[%d]: duplicate id %s", ErrAggregatorState, i, al.ID)
		}
		alerts[al.ID] = al
		order = append(order, al.ID)
		perRule[al.Rule]++
	}
	if st.Suppressed == nil {
		st.Suppressed = map[string]uint64{}
	}
	a.mu.Lock()
	a.alerts, a.order, a.perRule, a.suppressed = alerts, order, perRule, st.Suppressed
	a.mu.Unlock()
	return nil
}

// Forget drops the alerts last seen before t, freeing their place under the
// per-rule rate limit, and returns how many it dropped. A long-running
// server calls it so that memory and the rate limit apply to recent
// findings; a forgotten finding that recurs is reported as new again (with
// the same ID).
func (a *Aggregator) Forget(before time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	kept := a.order[:0]
	n := 0
	for _, id := range a.order {
		al := a.alerts[id]
		if al.LastSeen.Before(before) {
			delete(a.alerts, id)
			if a.perRule[al.Rule]--; a.perRule[al.Rule] <= 0 {
				delete(a.perRule, al.Rule)
			}
			n++
			continue
		}
		kept = append(kept, id)
	}
	clear(a.order[len(kept):])
	a.order = kept
	return n
}

// Len returns the number of distinct alerts held.
func (a *Aggregator) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.order)
}
