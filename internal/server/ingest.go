package server

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Rejection reasons, in kubedelta_ingest_rejected_requests_total and stats.
const (
	reasonMalformed       = "malformed"
	reasonOversized       = "oversized"
	reasonUnauthenticated = "unauthenticated"
	reasonMethod          = "method"
	reasonWALFull         = "wal_full"
	reasonMediaType       = "unsupported_media_type"
	reasonBusy            = "busy"
	reasonStorage         = "storage_error"
)

// ingestWait is how long a request waits for a free ingest slot before it
// is answered 429.
const ingestWait = 2 * time.Second

// bufPool holds request buffers. Buffers larger than keepBuffer are not
// kept: one 10 MiB batch must not pin 10 MiB per pooled buffer.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const keepBuffer = 1 << 20

// ingestAnswer is the JSON body of an ingest response.
type ingestAnswer struct {
	Accepted int64  `json:"accepted"`
	Rejected int64  `json:"rejected,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ingestHandler accepts one kind of batch: read (bounded), validate and
// count, append to the WAL as one record, answer — never waiting for
// analysis.
func (s *Server) ingestHandler(k Kind, endpoint string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.ingest1(w, r, k, endpoint)
		s.metrics.ack.observe(endpoint, time.Since(start).Seconds())
	}
}

func (s *Server) ingest1(w http.ResponseWriter, r *http.Request, k Kind, endpoint string) int {
	format := r.URL.Query().Get("format")
	if err := checkFormat(k, format); err != nil {
		return s.refuse(w, r, endpoint, k, http.StatusBadRequest, reasonMalformed, 1, err.Error())
	}
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return s.refuse(w, r, endpoint, k, http.StatusRequestEntityTooLarge, reasonOversized, 1,
			"body of "+strconv.FormatInt(r.ContentLength, 10)+" bytes exceeds the limit of "+strconv.FormatInt(limit, 10))
	}
	// Bound the requests held in memory at once.
	select {
	case s.ingest <- struct{}{}:
		defer func() { <-s.ingest }()
	default:
		t := time.NewTimer(ingestWait)
		select {
		case s.ingest <- struct{}{}:
			t.Stop()
			defer func() { <-s.ingest }()
		case <-t.C:
			w.Header().Set("Retry-After", "1")
			return s.refuse(w, r, endpoint, k, http.StatusTooManyRequests, reasonBusy, 0, "too many concurrent ingest requests; retry")
		case <-r.Context().Done():
			t.Stop()
			return 0
		}
	}

	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= keepBuffer {
			bufPool.Put(bp)
		}
	}()
	// The record header goes first, so that the record is built in place.
	head := recordHeader + len(format)
	buf, err := readBody(r, (*bp)[:0], head, limit)
	*bp = buf[:0]
	switch {
	case errors.Is(err, errTooLarge):
		return s.refuse(w, r, endpoint, k, http.StatusRequestEntityTooLarge, reasonOversized, 1,
			"body exceeds the limit of "+strconv.FormatInt(limit, 10)+" bytes")
	case errors.Is(err, errEncoding):
		return s.refuse(w, r, endpoint, k, http.StatusUnsupportedMediaType, reasonMediaType, 1, err.Error())
	case err != nil:
		return s.refuse(w, r, endpoint, k, http.StatusBadRequest, reasonMalformed, 1, "reading the body: "+err.Error())
	}
	body := buf[head:]

	v := s.validators.validate(k, format, body)
	if v.rejected > 0 {
		s.metrics.ingested.with(k.String(), "rejected").Add(v.rejected)
		s.rejects.log("rejected records in a batch", endpoint, r, "count", v.rejected, "reason", v.reason)
	}
	if v.err != nil || (v.events == 0 && v.rejected > 0) {
		msg := "no valid record in the body"
		if v.err != nil {
			msg = errorMessage(v.err)
		}
		n := int64(0)
		if v.rejected == 0 {
			n = 1
		}
		return s.refuse(w, r, endpoint, k, http.StatusBadRequest, reasonMalformed, n, msg)
	}
	if v.events == 0 {
		return s.answer(w, endpoint, http.StatusOK, ingestAnswer{})
	}

	// Write the header in place, before the body.
	appendRecord(buf[:0:head], &record{Kind: k, Boot: s.boot, Received: s.opts.Now(), Events: uint32(min(v.events, 1<<32-1)), Format: format})
	s.metrics.inflight[k].Add(v.events)
	if _, err := s.store.Append(buf); err != nil {
		s.metrics.inflight[k].Add(-v.events)
		s.metrics.ingested.with(k.String(), "throttled").Add(v.events)
		if errors.Is(err, ErrWALFull) {
			w.Header().Set("Retry-After", "5")
			return s.refuse(w, r, endpoint, k, http.StatusTooManyRequests, reasonWALFull, 0,
				"the write-ahead log is full (processing is behind); retry later")
		}
		s.log.Error("appending to the WAL failed", "endpoint", endpoint, "error", err)
		return s.refuse(w, r, endpoint, k, http.StatusServiceUnavailable, reasonStorage, 0, "storage error; retry later")
	}
	s.wake()
	return s.answer(w, endpoint, http.StatusOK, ingestAnswer{Accepted: v.events, Rejected: v.rejected})
}

// refuse answers an error, counts it by reason and events (n events of
// kind k counted rejected, beyond those counted by validation) and logs it,
// rate-limited.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, endpoint string, k Kind, code int, reason string, n int64, msg string) int {
	s.metrics.rejections.with(endpoint, reason).Add(1)
	if n > 0 && reason != reasonBusy && reason != reasonWALFull && reason != reasonStorage {
		s.metrics.ingested.with(k.String(), "rejected").Add(n)
	}
	s.rejects.log("request refused", endpoint, r, "code", code, "reason", reason)
	return s.answer(w, endpoint, code, ingestAnswer{Error: msg})
}

func (s *Server) answer(w http.ResponseWriter, endpoint string, code int, a ingestAnswer) int {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
	return code
}

var (
	errTooLarge = errors.New("body too large")
	errEncoding = errors.New("unsupported Content-Encoding")
)

// readBody reads the request body after head zero bytes at the start of
// dst, failing with errTooLarge past limit bytes of body (after gzip
// decompression, when the body is gzip-encoded).
func readBody(r *http.Request, dst []byte, head int, limit int64) ([]byte, error) {
	var src io.Reader = r.Body
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return dst, err
		}
		defer zr.Close()
		src = zr
	default:
		return dst, errEncoding
	}
	want := head + 64<<10
	if r.ContentLength > 0 && r.Header.Get("Content-Encoding") == "" {
		want = head + int(r.ContentLength) + 1
	}
	if cap(dst) < want {
		dst = make([]byte, 0, want)
	}
	dst = dst[:head]
	clear(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := src.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)-head) > limit {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return dst, errTooLarge
			}
			return dst, err
		}
	}
}
