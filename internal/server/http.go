package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// Endpoint names, the endpoint label of the metrics.
const (
	EndpointAudit   = "audit"
	EndpointFlows   = "flows"
	EndpointExec    = "exec"
	endpointAlerts  = "alerts"
	endpointAck     = "ack"
	endpointStats   = "stats"
	endpointMetrics = "metrics"
	endpointHealth  = "healthz"
	endpointReady   = "readyz"
	endpointOther   = "other"
)

// Paths of the endpoints.
const (
	PathAudit   = "/audit/webhook"
	PathFlows   = "/ingest/flows"
	PathExec    = "/ingest/exec"
	PathAlerts  = "/api/v1/alerts"
	PathStats   = "/api/v1/stats"
	PathMetrics = "/metrics"
	PathHealth  = "/healthz"
	PathReady   = "/readyz"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+PathAudit, s.requireAuth(EndpointAudit, s.ingestHandler(KindAudit, EndpointAudit)))
	mux.Handle("POST "+PathFlows, s.requireAuth(EndpointFlows, s.ingestHandler(KindFlows, EndpointFlows)))
	mux.Handle("POST "+PathExec, s.requireAuth(EndpointExec, s.ingestHandler(KindExec, EndpointExec)))
	mux.Handle("GET "+PathAlerts, s.requireAuth(endpointAlerts, http.HandlerFunc(s.listAlerts)))
	mux.Handle("POST "+PathAlerts+"/{id}/ack", s.requireAuth(endpointAck, http.HandlerFunc(s.ackAlert)))
	mux.Handle("GET "+PathStats, s.requireAuth(endpointStats, http.HandlerFunc(s.stats)))
	mux.Handle("GET "+PathMetrics, s.requireAuth(endpointMetrics, http.HandlerFunc(s.serveMetrics)))
	mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET "+PathReady, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "restoring state and replaying the write-ahead log\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	return s.observe(mux)
}

// endpointOf names the endpoint of a path for metrics.
func endpointOf(path string) string {
	switch {
	case path == PathAudit:
		return EndpointAudit
	case path == PathFlows:
		return EndpointFlows
	case path == PathExec:
		return EndpointExec
	case path == PathAlerts:
		return endpointAlerts
	case strings.HasPrefix(path, PathAlerts+"/"):
		return endpointAck
	case path == PathStats:
		return endpointStats
	case path == PathMetrics:
		return endpointMetrics
	case path == PathHealth:
		return endpointHealth
	case path == PathReady:
		return endpointReady
	}
	return endpointOther
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe counts requests by endpoint and status, and counts the refusals
// the mux itself makes (405 wrong method, 404).
func (s *Server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		ep := endpointOf(r.URL.Path)
		switch ep {
		case EndpointAudit, EndpointFlows, EndpointExec:
			s.metrics.requests.with(ep, strconv.Itoa(sw.code)).Add(1)
		}
		if sw.code == http.StatusMethodNotAllowed {
			s.metrics.rejections.with(ep, reasonMethod).Add(1)
			s.rejects.log("request refused", ep, r, "code", sw.code, "reason", reasonMethod, "method", r.Method)
		}
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

type apiError struct {
	Error string `json:"error"`
}

// Alert query limits.
const (
	defaultAlertLimit = 100
	maxAlertLimit     = 10000
)

// AlertList is the answer of GET /api/v1/alerts.
type AlertList struct {
	Alerts []StoredAlert `json:"alerts"`
}

// parseAlertFilter reads the query parameters of GET /api/v1/alerts.
func parseAlertFilter(q map[string][]string, now time.Time) (AlertFilter, error) {
	f := AlertFilter{Limit: defaultAlertLimit}
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	for k := range q {
		switch k {
		case "severity", "category", "namespace", "since", "until", "limit", "acked":
		default:
			return f, fmt.Errorf("unknown query parameter %q (known: severity, category, namespace, since, until, limit, acked)", k)
		}
	}
	if v := get("severity"); v != "" {
		sev, err := rbac.ParseSeverity(v)
		if err != nil {
			return f, fmt.Errorf("severity %q: want info, low, medium, high or critical", v)
		}
		f.MinSeverity = sev
	}
	for _, v := range q["category"] {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				f.Categories = append(f.Categories, c)
			}
		}
	}
	f.Namespace = get("namespace")
	var err error
	if f.Since, err = parseQueryTime(get("since"), now); err != nil {
		return f, fmt.Errorf("since: %w", err)
	}
	if f.Until, err = parseQueryTime(get("until"), now); err != nil {
		return f, fmt.Errorf("until: %w", err)
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return f, fmt.Errorf("limit %q: want a number from 0 (no limit: up to %d) to %d", v, maxAlertLimit, maxAlertLimit)
		}
		if n == 0 || n > maxAlertLimit {
			n = maxAlertLimit
		}
		f.Limit = n
	}
	if v := get("acked"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, fmt.Errorf("acked %q: want true or false", v)
		}
		f.IncludeAcked = b
	}
	return f, nil
}

// parseQueryTime reads an RFC 3339 time or a duration before now ("2h",
// "7d").
func parseQueryTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := detect.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time or a duration before now such as 2h or 7d", v)
	}
	return now.Add(-d), nil
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	f, err := parseAlertFilter(r.URL.Query(), s.opts.Now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	alerts, err := s.store.ListAlerts(f)
	if err != nil {
		s.log.Error("listing alerts failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, apiError{"storage error"})
		return
	}
	if alerts == nil {
		alerts = []StoredAlert{}
	}
	writeJSON(w, http.StatusOK, AlertList{Alerts: alerts})
}

// AckRequest is the optional body of POST /api/v1/alerts/{id}/ack.
type AckRequest struct {
	// By names who acknowledges; default: the authenticated principal.
	By string `json:"by,omitempty"`
}

// AckResponse is its answer.
type AckResponse struct {
	ID      string    `json:"id"`
	AckedBy string    `json:"ackedBy"`
	AckedAt time.Time `json:"ackedAt"`
}

func (s *Server) ackAlert(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req AckRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"reading the body: " + err.Error()})
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{`body: want {"by": "name"} or nothing: ` + err.Error()})
			return
		}
	}
	by := req.By
	if by == "" {
		by = principal(r.Context())
	}
	if by == "" {
		by = "anonymous"
	}
	if len(by) > 200 {
		writeJSON(w, http.StatusBadRequest, apiError{"by: at most 200 characters"})
		return
	}
	at := s.opts.Now().UTC()
	switch err := s.store.AckAlert(id, by, at); {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no alert with id %q", id)})
		return
	case err != nil:
		s.log.Error("acknowledging an alert failed", "id", id, "error", err)
		writeJSON(w, http.StatusInternalServerError, apiError{"storage error"})
		return
	}
	s.log.Info("alert acknowledged", "id", id, "by", by)
	writeJSON(w, http.StatusOK, AckResponse{ID: id, AckedBy: by, AckedAt: at})
}

func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", metricsContentType)
	if err := s.metrics.write(w, s.gauges()); err != nil {
		s.log.Debug("writing metrics failed", "error", err)
	}
}

func (s *Server) gauges() gauges {
	return gauges{
		walBytes:   func() float64 { b, _ := s.store.Pending(); return float64(b) },
		walRecords: func() float64 { _, n := s.store.Pending(); return float64(n) },
		lag:        func() float64 { return seconds(s.proc.lag()) },
		ready: func() float64 {
			if s.Ready() {
				return 1
			}
			return 0
		},
		sinks: s.opts.SinkStats,
	}
}
