package detect

import (
	"sort"
	"sync"
)

// maxEvidence bounds the evidence kept per aggregated alert.
const maxEvidence = 5

// Aggregator folds alerts into one per (rule, subject, workload, key),
// counting repeats, applies the config's allowlists, disabled rules, minimum
// severity and per-rule rate limits, and ranks what remains. It is safe for
// concurrent use (the server feeds it from several goroutines).
type Aggregator struct {
	cfg *Config
	min Severity

	mu      sync.Mutex
	alerts  map[string]*Alert
	order   []string
	perRule map[string]int
	// Suppressed counts alerts dropped by allowlists, disabled rules,
	// minimum severity or rate limits, by rule.
	suppressed map[string]uint64
	// onNew, when set, is called (under the lock) with every alert the
	// first time it is seen: live sinks hang here.
	onNew func(Alert)
}

// NewAggregator returns an aggregator with the config's noise settings.
func NewAggregator(cfg *Config) *Aggregator {
	min := Info
	if cfg.MinSeverity != "" {
		min, _ = parseSeverity(cfg.MinSeverity)
	}
	return &Aggregator{cfg: cfg, min: min, alerts: map[string]*Alert{}, perRule: map[string]int{}, suppressed: map[string]uint64{}}
}

// OnNew registers a callback for each newly seen alert.
func (a *Aggregator) OnNew(f func(Alert)) { a.onNew = f }

// Add folds one alert in. Facts feed the allowlists.
func (a *Aggregator) Add(al Alert, f Facts) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.cfg.Enabled(al.Rule) || al.Severity < a.min || a.cfg.Allowed(al.Rule, f) {
		a.suppressed[al.Rule]++
		return
	}
	id := StableID(al.Rule, al.Subject, al.Workload, al.Key)
	if cur, ok := a.alerts[id]; ok {
		cur.Count += max(al.Count, 1)
		if al.Time.After(cur.LastSeen) {
			cur.LastSeen = al.Time
			cur.Time = al.Time
		}
		if al.Time.Before(cur.FirstSeen) {
			cur.FirstSeen = al.Time
		}
		// A later repeat may be worse (more bytes, a sensitive resource).
		if al.Severity > cur.Severity {
			cur.Severity, cur.Message = al.Severity, al.Message
		}
		cur.Score = max(cur.Score, al.Score)
		for _, e := range al.Evidence {
			if len(cur.Evidence) >= maxEvidence {
				break
			}
			cur.Evidence = append(cur.Evidence, e)
		}
		return
	}
	if a.perRule[al.Rule] >= a.cfg.RateLimit {
		a.suppressed[al.Rule]++
		return
	}
	a.perRule[al.Rule]++
	al.ID = id
	if al.Count == 0 {
		al.Count = 1
	}
	al.FirstSeen, al.LastSeen = al.Time, al.Time
	if len(al.Evidence) > maxEvidence {
		al.Evidence = al.Evidence[:maxEvidence]
	}
	a.alerts[id] = &al
	a.order = append(a.order, id)
	if a.onNew != nil {
		a.onNew(al)
	}
}

// Alerts returns the aggregated alerts ranked: severity, then score (with a
// bonus for repeats on a log scale), then first seen.
func (a *Aggregator) Alerts() []Alert {
	a.mu.Lock()
	out := make([]Alert, 0, len(a.alerts))
	for _, id := range a.order {
		al := *a.alerts[id]
		al.Score = rankScore(al)
		out = append(out, al)
	}
	a.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity > out[j].Severity
		}
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].FirstSeen.Before(out[j].FirstSeen)
	})
	return out
}

// Suppressed returns how many alerts each rule had dropped.
func (a *Aggregator) Suppressed() map[string]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]uint64, len(a.suppressed))
	for k, v := range a.suppressed {
		out[k] = v
	}
	return out
}

// rankScore is the severity's base plus the detector's own score plus a
// small bonus for repetition (log2), so that within a severity the loudest
// and most repeated come first without a flood outranking a worse finding.
func rankScore(al Alert) float64 {
	bonus := 0.0
	for n := al.Count; n > 1; n >>= 1 {
		bonus++
	}
	return baseScore(al.Severity) + al.Score + bonus
}
