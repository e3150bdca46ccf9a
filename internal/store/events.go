package store

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kubedelta/kubedelta/internal/server"
)

// Raw events: e/<kind>/<time>/<id> holds the event's bytes, kept as evidence
// for Options.Retention. Time-ordered keys per kind make pruning one range
// deletion per kind.

// validKind reports whether kind can be a key segment: 1–32 bytes of
// lower-case letters, digits and '-'.
func validKind(kind string) bool {
	if kind == "" || len(kind) > 32 {
		return false
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// PutEvents stores raw events of one kind (audit, flows, exec); an event with
// the same kind, time and ID replaces the earlier one. Like PutAlerts it is
// not fsynced on its own (the next snapshot is).
func (s *Store) PutEvents(kind string, recs []server.RawEvent) error {
	if !validKind(kind) {
		return fmt.Errorf("%w: event kind %q: want 1-32 of a-z, 0-9, -", ErrInvalid, kind)
	}
	if len(recs) == 0 {
		return nil
	}
	if err := s.life.acquire(); err != nil {
		return err
	}
	defer s.life.release()
	b := s.db.NewBatch()
	defer b.Close()
	for _, r := range recs {
		_ = b.Set(eventKey(kind, r.Time, r.ID), r.Data, nil)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("store: put %d %s events: %w", len(recs), kind, err)
	}
	return nil
}

// PruneEvents deletes the events of every kind older than before and returns
// how many it deleted.
func (s *Store) PruneEvents(before time.Time) (int, error) {
	if err := s.life.acquire(); err != nil {
		return 0, err
	}
	defer s.life.release()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixEvent, UpperBound: prefixEnd(prefixEvent)})
	if err != nil {
		return 0, fmt.Errorf("store: prune events: %w", err)
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	total := 0
	// Visit each kind: count its keys before the cutoff, then skip to the
	// next kind.
	for ok := it.First(); ok; {
		kind, valid := eventKind(it.Key())
		if !valid {
			return 0, fmt.Errorf("%w: event key %q", ErrCorrupt, it.Key())
		}
		start, cutoff := eventKindPrefix(kind), eventTimeBound(kind, before)
		n := 0
		for ; ok && string(it.Key()) < string(cutoff); ok = it.Next() {
			n++
		}
		if n > 0 {
			_ = b.DeleteRange(start, cutoff, nil)
			total += n
		}
		ok = it.SeekGE(prefixEnd(start))
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("store: prune events: %w", err)
	}
	if total == 0 {
		return 0, nil
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("store: prune %d events before %s: %w", total, before.Format(time.RFC3339), err)
	}
	return total, nil
}
