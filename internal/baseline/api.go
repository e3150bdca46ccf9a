// Package baseline holds learned profiles of normal behaviour: aggregates
// (key → count, first seen, last seen), never raw event lists, so memory grows
// with the number of distinct behaviours and not with the number of events.
package baseline

import (
	"slices"
	"sort"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Outcome classifies how the API server answered a request, as far as
// authorization is concerned.
type Outcome uint8

// Outcomes. Authorized means the request passed authorization (whatever the
// handler answered afterwards: a 404 on get was still authorized).
const (
	OutcomeAuthorized Outcome = iota
	OutcomeForbidden
	OutcomeUnauthenticated
	// OutcomeUnknown: rejected before authorization (429 from priority and
	// fairness) or with no response status.
	OutcomeUnknown
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case OutcomeAuthorized:
		return "authorized"
	case OutcomeForbidden:
		return "forbidden"
	case OutcomeUnauthenticated:
		return "unauthenticated"
	}
	return "unknown"
}

// OutcomeOf classifies r. The authorization.k8s.io/decision annotation wins
// when present; otherwise the status code decides (the authorization filter
// runs after authentication and priority-and-fairness, so 401 and 429 never
// reached it, and every other code means authorization allowed the request).
func OutcomeOf(r *event.APIRequest) Outcome {
	switch r.Decision {
	case "allow":
		return OutcomeAuthorized
	case "forbid":
		if r.Code == 401 {
			return OutcomeUnauthenticated
		}
		return OutcomeForbidden
	}
	switch {
	case r.Code == 403:
		return OutcomeForbidden
	case r.Code == 401:
		return OutcomeUnauthenticated
	case r.Code == 429 || r.Code == 0:
		return OutcomeUnknown
	}
	return OutcomeAuthorized
}

// APIKey is one distinct API behaviour of one identity.
type APIKey struct {
	User        string
	Verb        string
	APIGroup    string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	// Path is the URL path of a non-resource request (Resource empty).
	Path    string
	Outcome Outcome
}

// Stat is how often, and when first and last, something was seen.
type Stat struct {
	Count uint64
	First time.Time
	Last  time.Time
}

// Observe adds one sighting at t.
func (s *Stat) Observe(t time.Time) {
	if s.Count == 0 || t.Before(s.First) {
		s.First = t
	}
	if s.Count == 0 || t.After(s.Last) {
		s.Last = t
	}
	s.Count++
}

// Merge folds o into s.
func (s *Stat) Merge(o Stat) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 || o.First.Before(s.First) {
		s.First = o.First
	}
	if s.Count == 0 || o.Last.After(s.Last) {
		s.Last = o.Last
	}
	s.Count += o.Count
}

// APIUsage aggregates API requests per identity. The zero value is not
// usable; call NewAPIUsage.
type APIUsage struct {
	keys   map[APIKey]*Stat
	users  map[string]*userInfo
	window Stat
}

type userInfo struct {
	// groups is the union of groups the user was seen with, sorted.
	groups []string
	// last is the most recent groups slice, to skip the union work when a
	// user's groups do not change (the common case).
	last []string
}

// NewAPIUsage returns an empty usage baseline.
func NewAPIUsage() *APIUsage {
	return &APIUsage{keys: make(map[APIKey]*Stat), users: make(map[string]*userInfo)}
}

// Add records one request under its actor (the impersonated user when the
// request impersonated one: that is the identity RBAC evaluated). r may be
// reused by the caller after Add returns; strings are kept, slices are not.
func (u *APIUsage) Add(r *event.APIRequest) {
	actor := r.Actor()
	k := APIKey{
		User:        actor.Username,
		Verb:        r.Verb,
		APIGroup:    r.APIGroup,
		Resource:    r.Resource,
		Subresource: r.Subresource,
		Namespace:   r.Namespace,
		Name:        r.Name,
		Path:        r.Path,
		Outcome:     OutcomeOf(r),
	}
	t := r.Time
	if st := u.keys[k]; st != nil {
		st.Observe(t)
	} else {
		st = &Stat{}
		st.Observe(t)
		u.keys[k] = st
	}
	u.window.Observe(t)
	ui := u.users[k.User]
	if ui == nil {
		ui = &userInfo{}
		u.users[k.User] = ui
	}
	if !slices.Equal(ui.last, actor.Groups) {
		ui.last = slices.Clone(actor.Groups)
		for _, g := range actor.Groups {
			if i, found := slices.BinarySearch(ui.groups, g); !found {
				ui.groups = slices.Insert(ui.groups, i, g)
			}
		}
	}
}

// Window is the time span of everything added.
func (u *APIUsage) Window() Stat { return u.window }

// Len is the number of distinct keys.
func (u *APIUsage) Len() int { return len(u.keys) }

// Users returns every user seen, sorted.
func (u *APIUsage) Users() []string {
	out := make([]string, 0, len(u.users))
	for name := range u.users {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Groups returns the union of groups user was seen with (sorted; shared,
// do not modify).
func (u *APIUsage) Groups(user string) []string {
	if ui := u.users[user]; ui != nil {
		return ui.groups
	}
	return nil
}

// Entry is one key with its statistics.
type Entry struct {
	APIKey
	Stat
}

// Entries returns every key, sorted by user, outcome, then the request
// attributes, so output built from it is deterministic.
func (u *APIUsage) Entries() []Entry {
	out := make([]Entry, 0, len(u.keys))
	for k, s := range u.keys {
		out = append(out, Entry{APIKey: k, Stat: *s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].APIKey.less(out[j].APIKey) })
	return out
}

func (a APIKey) less(b APIKey) bool {
	for _, p := range [...][2]string{
		{a.User, b.User}, {a.Namespace, b.Namespace}, {a.APIGroup, b.APIGroup},
		{a.Resource, b.Resource}, {a.Subresource, b.Subresource}, {a.Path, b.Path},
		{a.Verb, b.Verb}, {a.Name, b.Name},
	} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return a.Outcome < b.Outcome
}
