package detect

import (
	"log/slog"
	"slices"
	"time"
)

// apiMaxSamples bounds the descriptions an episode keeps for its message.
const apiMaxSamples = 6

// apiWindowItem is one distinct thing (a denied action, a secret) seen at t,
// by its hash.
type apiWindowItem struct {
	h uint64
	t time.Time
}

// apiEpisode is one key's sliding window of distinct items, plus what the
// current episode — activity without a quiet gap as long as the window —
// has accumulated for its alert. Its size is bounded by the windows' caps.
type apiEpisode struct {
	items []apiWindowItem
	// start is the episode's first event, last its latest.
	start, last time.Time
	// total counts events in the episode, repeats included; denials and
	// reviews split it for rbac.denied-burst.
	total            int
	denials, reviews int
	// fired is set once the episode raised its alert.
	fired    bool
	samples  []string
	more     bool
	evidence []Evidence
	// subjects are the distinct identities seen (for source-address
	// windows), up to maxSamples.
	subjects []string
}

// distinct is the number of distinct items in the window.
func (e *apiEpisode) distinct() int { return len(e.items) }

// sample keeps a description of a distinct item for the message.
func (e *apiEpisode) sample(s string) {
	if slices.Contains(e.samples, s) {
		return
	}
	if len(e.samples) >= apiMaxSamples {
		e.more = true
		return
	}
	e.samples = append(e.samples, s)
}

// addEvidence keeps the first maxEvidence records.
func (e *apiEpisode) addEvidence(ev Evidence) {
	if len(e.evidence) < maxEvidence {
		e.evidence = append(e.evidence, ev)
	}
}

// addSubject records a distinct identity.
func (e *apiEpisode) addSubject(s string) {
	if len(e.subjects) < apiMaxSamples && !slices.Contains(e.subjects, s) {
		e.subjects = append(e.subjects, s)
	}
}

// apiWindows keeps one episode per key (an identity or a source address),
// evicting by time, with at most max keys and perKey items each: memory
// is bounded whatever the event rate. Not safe for concurrent use; callers
// hold their own lock.
type apiWindows struct {
	span   time.Duration
	perKey int
	max    int
	m      map[string]*apiEpisode
	swept  time.Time
	log    *slog.Logger
	what   string
	warned bool
}

func newAPIWindows(what string, span time.Duration, perKey, max int, log *slog.Logger) *apiWindows {
	return &apiWindows{span: span, perKey: perKey, max: max, m: map[string]*apiEpisode{}, log: log, what: what}
}

// add records item h under key at t and returns the key's episode and
// whether h was new in the window.
func (w *apiWindows) add(key string, h uint64, t time.Time) (*apiEpisode, bool) {
	if t.Sub(w.swept) > w.span {
		w.sweep(t)
	}
	e := w.m[key]
	if e == nil {
		if len(w.m) >= w.max {
			w.sweep(t)
			if len(w.m) >= w.max {
				w.evictOldest()
			}
		}
		e = &apiEpisode{start: t, last: t}
		w.m[key] = e
	}
	now := t
	if e.last.After(now) {
		now = e.last // late event: do not move the window back
	}
	cut := now.Add(-w.span)
	i := 0
	for i < len(e.items) && !e.items[i].t.After(cut) {
		i++
	}
	if i > 0 {
		e.items = append(e.items[:0], e.items[i:]...)
	}
	if len(e.items) == 0 && e.total > 0 {
		// A quiet gap as long as the window: a new episode.
		*e = apiEpisode{items: e.items, start: t}
	}
	e.total++
	e.last = now
	for j := range e.items {
		if e.items[j].h == h {
			it := e.items[j]
			it.t = now
			e.items = append(append(e.items[:j], e.items[j+1:]...), it)
			return e, false
		}
	}
	if len(e.items) >= w.perKey {
		e.items = append(e.items[:0], e.items[1:]...)
	}
	e.items = append(e.items, apiWindowItem{h: h, t: now})
	return e, true
}

// sweep drops the episodes that have been quiet for a whole window.
func (w *apiWindows) sweep(t time.Time) {
	w.swept = t
	cut := t.Add(-w.span)
	for k, e := range w.m {
		if !e.last.After(cut) {
			delete(w.m, k)
		}
	}
}

// evictOldest drops the least recently active episode when every slot is
// busy (a flood of distinct identities): bounded memory wins over
// completeness, and the first time it happens is logged.
func (w *apiWindows) evictOldest() {
	var oldest string
	var ot time.Time
	first := true
	for k, e := range w.m {
		if first || e.last.Before(ot) {
			oldest, ot, first = k, e.last, false
		}
	}
	delete(w.m, oldest)
	if !w.warned {
		w.warned = true
		w.log.Warn("detector state full: dropping the least recently active window",
			"state", w.what, "maxTracked", w.max)
	}
}

// len is the number of tracked keys.
func (w *apiWindows) len() int { return len(w.m) }
