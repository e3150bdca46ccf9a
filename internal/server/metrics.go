package server

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file writes the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), by hand:
// the standard library is enough for counters, gauges and one histogram.

// metricsContentType is the Content-Type of /metrics.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// counterVec is a counter with labels. Series are created on first use and
// never removed; their label values come from small fixed sets (kinds,
// endpoints, status codes, reasons, rules' categories and severities).
type counterVec struct {
	name, help string
	labels     []string
	mu         sync.RWMutex
	series     map[string]*series
}

type series struct {
	values []string
	v      atomic.Int64
}

func newCounterVec(name, help string, labels ...string) *counterVec {
	return &counterVec{name: name, help: help, labels: labels, series: map[string]*series{}}
}

// with returns the series for the label values (in the order of labels).
func (c *counterVec) with(values ...string) *atomic.Int64 {
	if len(values) != len(c.labels) {
		panic(fmt.Sprintf("metric %s: %d label values for %d labels", c.name, len(values), len(c.labels)))
	}
	key := strings.Join(values, "\xff")
	c.mu.RLock()
	s := c.series[key]
	c.mu.RUnlock()
	if s != nil {
		return &s.v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s = c.series[key]; s == nil {
		s = &series{values: slices.Clone(values)}
		c.series[key] = s
	}
	return &s.v
}

// get returns a series' value without creating it.
func (c *counterVec) get(values ...string) int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if s := c.series[strings.Join(values, "\xff")]; s != nil {
		return s.v.Load()
	}
	return 0
}

// each calls fn for every series, sorted by label values.
func (c *counterVec) each(fn func(values []string, v int64)) {
	c.mu.RLock()
	all := make([]*series, 0, len(c.series))
	for _, s := range c.series {
		all = append(all, s)
	}
	c.mu.RUnlock()
	slices.SortFunc(all, func(a, b *series) int { return slices.Compare(a.values, b.values) })
	for _, s := range all {
		fn(s.values, s.v.Load())
	}
}

// snapshotKey names a series in Snapshot.Counters: the metric name and its
// label values, "|"-separated ("kubedelta_processed_events_total|audit").
func (c *counterVec) snapshotKey(values []string) string {
	return c.name + "|" + strings.Join(values, "|")
}

// save adds every series to m.
func (c *counterVec) save(m map[string]int64) {
	c.each(func(values []string, v int64) { m[c.snapshotKey(values)] = v })
}

// restore sets the series found in m (written by save).
func (c *counterVec) restore(m map[string]int64) {
	prefix := c.name + "|"
	for k, v := range m {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		values := strings.Split(rest, "|")
		if len(c.labels) == 0 && rest == "" {
			values = nil
		}
		if len(values) != len(c.labels) {
			continue // written by another version with other labels
		}
		c.with(values...).Store(v)
	}
}

func (c *counterVec) write(w *bufio.Writer) {
	writeHeader(w, c.name, c.help, "counter")
	c.each(func(values []string, v int64) {
		w.WriteString(c.name)
		writeLabels(w, c.labels, values, "", "")
		w.WriteByte(' ')
		w.WriteString(strconv.FormatInt(v, 10))
		w.WriteByte('\n')
	})
}

// histogram is a Prometheus histogram with fixed buckets and one label.
type histogram struct {
	name, help string
	label      string
	bounds     []float64
	mu         sync.RWMutex
	series     map[string]*histSeries
}

type histSeries struct {
	counts []atomic.Uint64 // per bucket (not cumulative); last is +Inf
	sum    atomic.Uint64   // float64 bits
	n      atomic.Uint64
}

func newHistogram(name, help, label string, bounds []float64) *histogram {
	return &histogram{name: name, help: help, label: label, bounds: bounds, series: map[string]*histSeries{}}
}

func (h *histogram) observe(value string, v float64) {
	h.mu.RLock()
	s := h.series[value]
	h.mu.RUnlock()
	if s == nil {
		h.mu.Lock()
		if s = h.series[value]; s == nil {
			s = &histSeries{counts: make([]atomic.Uint64, len(h.bounds)+1)}
			h.series[value] = s
		}
		h.mu.Unlock()
	}
	i, _ := slices.BinarySearch(h.bounds, v)
	s.counts[i].Add(1)
	s.n.Add(1)
	for {
		old := s.sum.Load()
		if s.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
}

func (h *histogram) write(w *bufio.Writer) {
	writeHeader(w, h.name, h.help, "histogram")
	h.mu.RLock()
	values := make([]string, 0, len(h.series))
	for v := range h.series {
		values = append(values, v)
	}
	h.mu.RUnlock()
	slices.Sort(values)
	lbl := []string{h.label}
	for _, v := range values {
		h.mu.RLock()
		s := h.series[v]
		h.mu.RUnlock()
		var cum uint64
		for i := range s.counts {
			cum += s.counts[i].Load()
			le := "+Inf"
			if i < len(h.bounds) {
				le = formatFloat(h.bounds[i])
			}
			w.WriteString(h.name)
			w.WriteString("_bucket")
			writeLabels(w, lbl, []string{v}, "le", le)
			fmt.Fprintf(w, " %d\n", cum)
		}
		w.WriteString(h.name + "_sum")
		writeLabels(w, lbl, []string{v}, "", "")
		w.WriteString(" " + formatFloat(math.Float64frombits(s.sum.Load())) + "\n")
		w.WriteString(h.name + "_count")
		writeLabels(w, lbl, []string{v}, "", "")
		fmt.Fprintf(w, " %d\n", cum)
	}
}

// gauge is a value computed at scrape time.
type gauge struct {
	name, help string
	value      func() float64
}

func (g gauge) write(w *bufio.Writer) {
	writeHeader(w, g.name, g.help, "gauge")
	w.WriteString(g.name + " " + formatFloat(g.value()) + "\n")
}

func writeHeader(w *bufio.Writer, name, help, typ string) {
	w.WriteString("# HELP " + name + " " + escapeHelp(help) + "\n")
	w.WriteString("# TYPE " + name + " " + typ + "\n")
}

// writeLabels writes {a="x",b="y"} plus an extra label when extra is set;
// nothing when there are no labels at all.
func writeLabels(w *bufio.Writer, names, values []string, extra, extraValue string) {
	if len(names) == 0 && extra == "" {
		return
	}
	w.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(n + `="` + escapeLabel(values[i]) + `"`)
	}
	if extra != "" {
		if len(names) > 0 {
			w.WriteByte(',')
		}
		w.WriteString(extra + `="` + escapeLabel(extraValue) + `"`)
	}
	w.WriteByte('}')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// ackBuckets are the bounds of the acknowledgement latency histogram, in
// seconds: the webhook should answer in milliseconds.
var ackBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics are the server's instruments. Every counter is saved in the
// processing snapshot and restored at start, so counts continue across
// restarts; the processor's counters are saved at the snapshot's WAL
// position (exact), the request counters as of the snapshot (a crash loses
// those of the requests after it).
type metrics struct {
	// accepted counts the events of the WAL records processed, by kind;
	// with inflight (the events of records appended by this process and not
	// yet processed) it gives kubedelta_ingest_events_total{result=accepted}.
	accepted *counterVec
	inflight [len(kinds) + 1]atomic.Int64
	// ingested counts events by kind and result: rejected (malformed) and
	// throttled (in a batch answered 429).
	ingested   *counterVec
	requests   *counterVec
	rejections *counterVec
	processed  *counterVec
	dropped    *counterVec
	alerts     *counterVec
	denials    *counterVec
	counters   []*counterVec

	ack *histogram
}

func newMetrics() *metrics {
	m := &metrics{
		accepted: newCounterVec("kubedelta_ingest_accepted_events_total", "Events in WAL records processed (internal; see kubedelta_ingest_events_total).", "kind"),
		ingested: newCounterVec("kubedelta_ingest_rejected_events_total", "Events not accepted, by kind and result (rejected: malformed; throttled: in a batch answered 429).", "kind", "result"),
		requests: newCounterVec("kubedelta_ingest_requests_total", "HTTP requests by endpoint and status code.", "endpoint", "code"),
		rejections: newCounterVec("kubedelta_ingest_rejected_requests_total",
			"Requests refused, by endpoint and reason (malformed, oversized, unauthenticated, method, wal_full, unsupported_media_type).", "endpoint", "reason"),
		processed: newCounterVec("kubedelta_processed_events_total", "Events fed to the detection pipeline, by kind.", "kind"),
		dropped: newCounterVec("kubedelta_dropped_events_total",
			"Accepted events not fed to the pipeline, by kind and reason (duplicate, stage, reply, skipped, malformed).", "kind", "reason"),
		alerts:  newCounterVec("kubedelta_alerts_total", "Distinct alerts raised, by category and severity.", "category", "severity"),
		denials: newCounterVec("kubedelta_audit_denials_total", "Audit events answered 403 Forbidden, by subject kind (user, serviceaccount, anonymous).", "subject_kind"),
		ack:     newHistogram("kubedelta_ingest_ack_seconds", "Time from receiving an ingest request to acknowledging it.", "endpoint", ackBuckets),
	}
	m.counters = []*counterVec{m.accepted, m.ingested, m.requests, m.rejections, m.processed, m.dropped, m.alerts, m.denials}
	return m
}

// acceptedEvents is the number of accepted events of kind k: processed
// records plus records appended by this process and not yet processed.
func (m *metrics) acceptedEvents(k Kind) int64 {
	return m.accepted.get(k.String()) + m.inflight[k].Load()
}

func (m *metrics) save() map[string]int64 {
	out := map[string]int64{}
	for _, c := range m.counters {
		c.save(out)
	}
	return out
}

func (m *metrics) restore(saved map[string]int64) {
	for _, c := range m.counters {
		c.restore(saved)
	}
}

// gauges are read at scrape time.
type gauges struct {
	walBytes, walRecords func() float64
	lag                  func() float64
	ready                func() float64
	sinks                func() []SinkStats
}

// write renders every metric.
func (m *metrics) write(out io.Writer, g gauges) error {
	w := bufio.NewWriter(out)
	// kubedelta_ingest_events_total joins the accepted count with the
	// rejected and throttled ones under one name.
	events := newCounterVec("kubedelta_ingest_events_total",
		"Events received by kind and result: accepted (appended to the WAL), rejected (malformed), throttled (batch answered 429).", "kind", "result")
	for _, k := range kinds {
		events.with(k.String(), "accepted").Store(m.acceptedEvents(k))
	}
	m.ingested.each(func(v []string, n int64) { events.with(v...).Store(n) })
	events.write(w)
	for _, c := range []*counterVec{m.requests, m.rejections, m.processed, m.dropped, m.alerts, m.denials} {
		c.write(w)
	}
	m.ack.write(w)
	gauge{"kubedelta_wal_pending_bytes", "Bytes of WAL records not yet processed and released.", g.walBytes}.write(w)
	gauge{"kubedelta_wal_pending_records", "WAL records not yet processed and released.", g.walRecords}.write(w)
	gauge{"kubedelta_processing_lag_seconds", "Now minus the event time of the last processed event.", g.lag}.write(w)
	gauge{"kubedelta_ready", "1 once the snapshot is restored and the WAL replayed.", g.ready}.write(w)
	if g.sinks != nil {
		sent := newCounterVec("kubedelta_sink_sent_total", "Alerts delivered, by sink.", "sink")
		failed := newCounterVec("kubedelta_sink_failed_total", "Alerts given up on after retries, by sink.", "sink")
		dropped := newCounterVec("kubedelta_sink_dropped_total", "Alerts dropped because the sink's queue was full, by sink.", "sink")
		for _, s := range g.sinks() {
			sent.with(s.Name).Store(s.Sent)
			failed.with(s.Name).Store(s.Failed)
			dropped.with(s.Name).Store(s.Dropped)
		}
		sent.write(w)
		failed.write(w)
		dropped.write(w)
	}
	return w.Flush()
}

// SinkStats are one alert sink's delivery counters.
type SinkStats struct {
	Name    string `json:"name"`
	Sent    int64  `json:"sent"`
	Failed  int64  `json:"failed"`
	Dropped int64  `json:"dropped"`
	Queued  int64  `json:"queued"`
}

// seconds converts a duration for the exposition format.
func seconds(d time.Duration) float64 { return d.Seconds() }
