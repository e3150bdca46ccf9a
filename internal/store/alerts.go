package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/server"
)

// Alerts: a/<id> holds the StoredAlert as JSON; t/<time>/<id> indexes it by
// alert Time so that ListAlerts reads newest first and bounds by time
// without decoding every alert. An upsert moves the index entry when the
// alert's Time changes (the aggregator sets Time to the latest occurrence).

// PutAlerts upserts alerts by ID, keeping an existing acknowledgement. The
// write is not fsynced on its own: alerts derive from WAL records, and the
// next snapshot (synced, and after them in Pebble's log) makes them durable;
// a crash before it replays the records and puts the alerts again.
func (s *Store) PutAlerts(alerts []detect.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	for i := range alerts {
		if alerts[i].ID == "" {
			return fmt.Errorf("%w: alert %d (rule %q) has no ID", ErrInvalid, i, alerts[i].Rule)
		}
	}
	if err := s.life.acquire(); err != nil {
		return err
	}
	defer s.life.release()
	s.alertMu.Lock()
	defer s.alertMu.Unlock()
	b := s.db.NewIndexedBatch() // reads see earlier alerts of this call
	defer b.Close()
	for _, al := range alerts {
		sa := server.StoredAlert{Alert: al}
		old, ok, err := getAlert(b, al.ID)
		if err != nil {
			return fmt.Errorf("store: put alert %s: %w", al.ID, err)
		}
		if ok {
			sa.AckedBy, sa.AckedAt = old.AckedBy, old.AckedAt
			if !old.Time.Equal(al.Time) {
				_ = b.Delete(alertTimeKey(old.Time, al.ID), nil)
			}
		}
		if err := setAlert(b, sa); err != nil {
			return fmt.Errorf("store: put alert %s: %w", al.ID, err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("store: put %d alerts: %w", len(alerts), err)
	}
	return nil
}

// AckAlert acknowledges an alert (again, if it was already); it fails with
// ErrNotFound for an unknown ID. The acknowledgement is fsynced: unlike
// alerts it cannot be recomputed.
func (s *Store) AckAlert(id, by string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("%w: acknowledging alert %s: no time", ErrInvalid, id)
	}
	if err := s.life.acquire(); err != nil {
		return err
	}
	defer s.life.release()
	s.alertMu.Lock()
	defer s.alertMu.Unlock()
	b := s.db.NewIndexedBatch()
	defer b.Close()
	sa, ok, err := getAlert(b, id)
	if err != nil {
		return fmt.Errorf("store: ack alert %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("store: ack alert %q: %w", id, ErrNotFound)
	}
	sa.AckedBy, sa.AckedAt = by, at
	if err := setAlert(b, sa); err != nil {
		return fmt.Errorf("store: ack alert %s: %w", id, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: ack alert %s: %w", id, err)
	}
	return nil
}

// ListAlerts returns the alerts matching f, newest (by Time) first, from a
// consistent view of the store.
func (s *Store) ListAlerts(f server.AlertFilter) ([]server.StoredAlert, error) {
	if err := s.life.acquire(); err != nil {
		return nil, err
	}
	defer s.life.release()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	io := &pebble.IterOptions{LowerBound: prefixAlertTime, UpperBound: prefixEnd(prefixAlertTime)}
	if !f.Since.IsZero() {
		io.LowerBound = alertTimeBound(f.Since)
	}
	if !f.Until.IsZero() {
		io.UpperBound = alertTimeBound(f.Until)
	}
	it, err := snap.NewIter(io)
	if err != nil {
		return nil, fmt.Errorf("store: list alerts: %w", err)
	}
	defer it.Close()
	var out []server.StoredAlert
	for ok := it.Last(); ok; ok = it.Prev() {
		id, ok := alertTimeID(it.Key())
		if !ok {
			return nil, fmt.Errorf("%w: alert index key %q", ErrCorrupt, it.Key())
		}
		sa, found, err := getAlert(snap, id)
		if err != nil {
			return nil, fmt.Errorf("store: list alerts: %w", err)
		}
		if !found {
			return nil, fmt.Errorf("%w: alert index names %q, which is missing", ErrCorrupt, id)
		}
		if !matches(f, sa) {
			continue
		}
		out = append(out, sa)
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("store: list alerts: %w", err)
	}
	return out, nil
}

func matches(f server.AlertFilter, sa server.StoredAlert) bool {
	switch {
	case sa.Severity < f.MinSeverity:
		return false
	case len(f.Categories) > 0 && !slices.Contains(f.Categories, sa.Category):
		return false
	case f.Namespace != "" && sa.Namespace != f.Namespace:
		return false
	case !f.IncludeAcked && !sa.AckedAt.IsZero():
		return false
	}
	return true
}

func getAlert(r pebble.Reader, id string) (server.StoredAlert, bool, error) {
	var sa server.StoredAlert
	v, closer, err := r.Get(alertKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return sa, false, nil
	}
	if err != nil {
		return sa, false, err
	}
	defer closer.Close()
	if err := json.Unmarshal(v, &sa); err != nil {
		return sa, false, fmt.Errorf("%w: alert %q: %w", ErrCorrupt, id, err)
	}
	return sa, true, nil
}

func setAlert(b *pebble.Batch, sa server.StoredAlert) error {
	v, err := json.Marshal(sa)
	if err != nil {
		return err
	}
	if err := b.Set(alertKey(sa.ID), v, nil); err != nil {
		return err
	}
	return b.Set(alertTimeKey(sa.Time, sa.ID), nil, nil)
}
