// Package server is kubedelta's always-on service: the audit webhook and
// ingest API, the single processor that feeds the analysis pipeline, the query
// API and the metrics endpoint.
package server

import (
	"errors"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// The interfaces in this file are what the server needs from its storage.
// internal/store implements them on an embedded Pebble database; a
// scale-out backend would be a second implementation.

// WAL is the durable, bounded write-ahead log of accepted batches.
type WAL interface {
	// Append stores one record durably (per the sync policy) and returns its
	// sequence number (1, 2, 3, …, never reused). It fails with ErrWALFull
	// when the unprocessed bytes exceed the bound.
	Append(rec []byte) (seq uint64, err error)
	// Replay calls fn for every record with seq > after, in order.
	Replay(after uint64, fn func(seq uint64, rec []byte) error) error
	// Release drops records with seq <= upTo (processed and covered by a
	// snapshot).
	Release(upTo uint64) error
	// Pending is the number of bytes and records not yet released.
	Pending() (bytes int64, records int64)
}

// ErrWALFull is returned by WAL.Append when the unreleased records exceed the
// configured bound; the webhook answers 429 and the sender retries.
var ErrWALFull = errors.New("write-ahead log full")

// ErrNotFound is returned when a named record (an alert to acknowledge) does
// not exist.
var ErrNotFound = errors.New("not found")

// Snapshot is the processor's state at a WAL position: restoring it and
// replaying the WAL after Seq reproduces the state exactly (nothing lost,
// nothing counted twice).
type Snapshot struct {
	// Seq is the last WAL record the state includes.
	Seq uint64
	// Baseline is baseline.Profiles.Save output.
	Baseline []byte
	// Aggregator is the detect aggregator state.
	Aggregator []byte
	// Counters are the processor's monotonic counters.
	Counters map[string]int64
	// Dedup is the processed auditID+stage set.
	Dedup []byte
}

// SnapshotStore keeps the latest processing snapshot.
type SnapshotStore interface {
	SaveSnapshot(Snapshot) error
	// LoadSnapshot returns the latest snapshot; ok is false when none was
	// ever saved.
	LoadSnapshot() (snap Snapshot, ok bool, err error)
}

// AlertFilter selects stored alerts. Zero values select everything.
type AlertFilter struct {
	MinSeverity detect.Severity
	// Categories, when not empty, keeps alerts in one of them.
	Categories []string
	// Namespace, when not empty, keeps alerts in that namespace.
	Namespace string
	// Since and Until bound the alert's Time: Since <= Time < Until. Zero
	// means unbounded.
	Since, Until time.Time
	// IncludeAcked keeps acknowledged alerts, which are hidden otherwise.
	IncludeAcked bool
	// Limit caps the result (newest first); 0 means no limit.
	Limit int
}

// AlertStore keeps alerts for the query API.
type AlertStore interface {
	// PutAlerts upserts alerts by ID, keeping an existing acknowledgement.
	PutAlerts([]detect.Alert) error
	// ListAlerts returns matching alerts, newest first.
	ListAlerts(AlertFilter) ([]StoredAlert, error)
	// AckAlert acknowledges an alert; ErrNotFound if the ID is unknown.
	AckAlert(id, by string, at time.Time) error
}

// StoredAlert is an alert with its acknowledgement.
type StoredAlert struct {
	detect.Alert
	AckedBy string    `json:"ackedBy,omitempty"`
	AckedAt time.Time `json:"ackedAt,omitzero"`
}

// EventStore keeps raw events as evidence, for a bounded retention.
type EventStore interface {
	// PutEvents stores raw events of one kind (audit, flows, exec).
	PutEvents(kind string, recs []RawEvent) error
	// PruneEvents deletes events older than before and returns how many.
	PruneEvents(before time.Time) (int, error)
}

// RawEvent is one retained raw event.
type RawEvent struct {
	Time time.Time
	ID   string
	Data []byte
}

// Store is everything the server persists.
type Store interface {
	WAL
	SnapshotStore
	AlertStore
	EventStore
	Close() error
}
