package sim

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Generate simulates cfg and writes the streams out names. The cluster dump
// is written first, then the audit, flow and process streams together, each
// in time order, then the ground truth. Memory grows with the number of
// pods in the window, not with the number of events: 100 million events
// are fine.
//
// The same cfg (Seed included) writes the same bytes, whatever the writers.
// Write errors stop generation and are returned wrapping ErrWrite; a bad
// cfg returns an error wrapping ErrConfig or ErrAttack before anything is
// written.
func Generate(cfg Config, out Writers) (Summary, error) {
	began := time.Now()
	cfg, err := cfg.normalized()
	if err != nil {
		return Summary{}, err
	}
	ef, err := out.execFormat()
	if err != nil {
		return Summary{}, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := newWorld(cfg)
	sum := Summary{Seed: cfg.Seed, Start: cfg.Start, End: time.Unix(0, w.end).UTC(), LearningEnd: time.Unix(0, w.learnEnd).UTC(),
		Namespaces: len(w.apps), Nodes: len(w.nodes)}
	for _, p := range w.pods {
		if p.created < w.end && p.ended > w.start {
			sum.Pods++
		}
	}
	log.Debug("planned", "nodes", len(w.nodes), "pods", len(w.pods), "rollouts", len(w.rollouts), "attacks", len(w.attacks))
	if out.Cluster != nil {
		n, err := w.writeCluster(out.Cluster)
		sum.Objects = n
		if err != nil {
			return sum, err
		}
	}

	fmtID := fmtFalco
	if ef == ExecTetragon {
		fmtID = fmtTetragon
	}
	e := newEngine(w, out, fmtID)
	e.newActors()
	// Every source is registered whatever the writers, so that a disabled
	// stream changes nothing in the others; sources of a disabled stream
	// stop at their first step.
	e.controlPlane()
	e.people()
	e.callGraph()
	e.spawns()
	e.rate = 1
	if cfg.Rate > 0 {
		e.rate = e.rateFactor(cfg.Rate)
		log.Debug("rate", "target", cfg.Rate, "factor", e.rate)
	}
	if err := e.run(); err != nil {
		return sum, err
	}
	if e.clamped > 0 {
		log.Warn("records rendered before their time were delayed", "count", e.clamped)
	}
	sum.AuditEvents, sum.Flows, sum.ExecEvents = e.counts[stAudit], e.counts[stFlow], e.counts[stExec]
	for _, a := range w.attacks {
		if len(a.ents) == 0 {
			continue
		}
		sum.Attacks = append(sum.Attacks, AttackTruth{
			Time: time.Unix(0, a.at).UTC(), End: time.Unix(0, a.end).UTC(), Attack: a.name, Description: attackDescriptions[a.name],
			Rules: attackRules[a.name], Entities: a.ents,
		})
	}
	if out.GroundTruth != nil {
		for _, t := range sum.Attacks {
			b, err := json.Marshal(t)
			if err != nil {
				return sum, fmt.Errorf("ground truth: %w", err)
			}
			if _, err := out.GroundTruth.Write(append(b, '\n')); err != nil {
				return sum, fmt.Errorf("%w: ground truth: %w", ErrWrite, err)
			}
		}
	}
	sum.Elapsed = time.Since(began)
	log.Debug("generated", "audit", sum.AuditEvents, "flows", sum.Flows, "exec", sum.ExecEvents, "elapsed", sum.Elapsed)
	return sum, nil
}

// spawns schedules every planned script at its time: pod lifecycles, CronJob
// runs, rollouts and attacks.
func (e *engine) spawns() {
	w := e.w
	sp := &spawner{}
	type item struct {
		t  int64
		fn func(t int64)
	}
	var items []item
	for _, p := range w.pods {
		if p.created >= w.end || p.ended <= w.start-int64(time.Hour) {
			continue
		}
		items = append(items, item{p.created, func(int64) {
			e.script(w.cfg.Seed^hash64(p.uid), func(s *source) { e.podScript(p, s) })
		}})
		if j := p.job; j != nil {
			items = append(items, item{j.created, func(int64) {
				e.script(w.cfg.Seed^hash64(j.uid), func(s *source) { e.jobScript(j, s) })
			}})
		}
	}
	for _, ro := range w.rollouts {
		items = append(items, item{ro.at - int64(100*time.Millisecond), func(int64) {
			e.script(w.cfg.Seed^hash64(ro.to.uid), func(s *source) { e.rolloutScript(ro, s) })
		}})
	}
	for _, a := range w.attacks {
		items = append(items, item{a.at, func(int64) { e.startAttack(a) }})
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmpInt(a.t, b.t) })
	for _, it := range items {
		sp.add(it.t, it.fn)
	}
	if len(items) > 0 {
		e.add(sp, items[0].t, rng{}, nil)
	}
}

// rateFactor is the speed-up of the periodic background that makes the
// audit log about target events per second: the periodic sources' rate
// (baseRate) is scaled, the rest (pod lifecycles, token refreshes, people,
// rollouts) is estimated from the plan and kept.
func (e *engine) rateFactor(target float64) float64 {
	w := e.w
	secs := float64(w.end-w.start) / 1e9
	fixed := e.fixedRate * 1
	scaled := e.baseRate
	for _, p := range w.pods {
		from, to := max(p.started, w.start), min(p.ended, w.end)
		if to <= from {
			continue
		}
		life := float64(to-from) / 1e9
		if p.created >= w.start {
			fixed += 9 / secs
		}
		if p.tokenVolume != "" {
			fixed += life / tokenRefresh.Seconds() / secs
		}
		if p.w.configMap != "" {
			scaled += life / 600 / secs
		}
	}
	fixed += float64(len(w.rollouts)) * 10 / secs
	f := (target - fixed) / scaled
	return max(f, 0.001)
}
