package server

import "net/http"

// KindStats count one kind of event. For every kind,
// Accepted = Processed + Duplicates + Skipped once the WAL is processed.
type KindStats struct {
	// Accepted events were appended to the WAL and acknowledged.
	Accepted int64 `json:"accepted"`
	// Processed events were fed to the detection pipeline.
	Processed int64 `json:"processed"`
	// Duplicates were dropped as already processed: a retried audit batch,
	// a later stage of a delivered request, a second observation of a flow
	// (its reply direction included).
	Duplicates int64 `json:"duplicates"`
	// Skipped events carry nothing to analyze: audit stages other than the
	// one delivered per request, flow records that are not L3/L4 flows,
	// process records that start no process.
	Skipped int64 `json:"skipped"`
	// Rejected events were malformed (a malformed body counts one).
	Rejected int64 `json:"rejected"`
	// Throttled events were in batches answered 429 or 503 (the sender
	// retries them).
	Throttled int64 `json:"throttled"`
}

// WALStats describe the write-ahead log.
type WALStats struct {
	PendingBytes   int64  `json:"pendingBytes"`
	PendingRecords int64  `json:"pendingRecords"`
	Processed      uint64 `json:"processedPosition"`
}

// AlertStats count distinct alerts raised.
type AlertStats struct {
	Total      int64            `json:"total"`
	BySeverity map[string]int64 `json:"bySeverity"`
	ByCategory map[string]int64 `json:"byCategory"`
}

// Stats is the answer of GET /api/v1/stats.
type Stats struct {
	Audit KindStats  `json:"audit"`
	Flows KindStats  `json:"flows"`
	Exec  KindStats  `json:"exec"`
	WAL   WALStats   `json:"wal"`
	Alert AlertStats `json:"alerts"`
	// Requests counts refused requests by reason (malformed, oversized,
	// unauthenticated, method, wal_full, busy, storage_error,
	// unsupported_media_type), over every endpoint.
	Requests struct {
		Refused map[string]int64 `json:"refused"`
	} `json:"requests"`
	// Denials counts audit events answered 403 by subject kind.
	Denials map[string]int64 `json:"denials"`
	// LagSeconds is now minus the time of the last processed event.
	LagSeconds float64     `json:"lagSeconds"`
	Ready      bool        `json:"ready"`
	Sinks      []SinkStats `json:"sinks"`
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	m := s.metrics
	var st Stats
	for _, k := range kinds {
		ks := KindStats{
			Accepted:  m.acceptedEvents(k),
			Processed: m.processed.get(k.String()),
			Rejected:  m.ingested.get(k.String(), "rejected"),
			Throttled: m.ingested.get(k.String(), "throttled"),
		}
		m.dropped.each(func(v []string, n int64) {
			if v[0] != k.String() {
				return
			}
			switch v[1] {
			case "duplicate", "reply":
				ks.Duplicates += n
			default:
				ks.Skipped += n
			}
		})
		switch k {
		case KindAudit:
			st.Audit = ks
		case KindFlows:
			st.Flows = ks
		case KindExec:
			st.Exec = ks
		}
	}
	st.WAL.PendingBytes, st.WAL.PendingRecords = s.store.Pending()
	st.WAL.Processed = s.proc.procSeq.Load()
	st.Alert.BySeverity, st.Alert.ByCategory = map[string]int64{}, map[string]int64{}
	m.alerts.each(func(v []string, n int64) {
		st.Alert.Total += n
		st.Alert.ByCategory[v[0]] += n
		st.Alert.BySeverity[v[1]] += n
	})
	st.Requests.Refused = map[string]int64{}
	m.rejections.each(func(v []string, n int64) { st.Requests.Refused[v[1]] += n })
	st.Denials = map[string]int64{}
	m.denials.each(func(v []string, n int64) { st.Denials[v[0]] = n })
	st.LagSeconds = seconds(s.proc.lag())
	st.Ready = s.Ready()
	if s.opts.SinkStats != nil {
		st.Sinks = s.opts.SinkStats()
	}
	if st.Sinks == nil {
		st.Sinks = []SinkStats{}
	}
	return st
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}
