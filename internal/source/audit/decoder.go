package audit

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// DefaultMaxRecordBytes is the default limit on one line, and on one record
// spread over several lines. RequestResponse-level events of large objects
// reach megabytes.
const DefaultMaxRecordBytes = 64 << 20

// readBufferSize is the size of the read buffers; longer lines are
// assembled in a separate buffer.
const readBufferSize = 128 << 10

// maxKeptErrors is how many rejects Stats.Errors keeps, and how many are
// logged one by one before logging switches to a summary every
// logEveryRejects.
const (
	maxKeptErrors   = 20
	logEveryRejects = 1000
)

// Options configure a Decoder. The zero value is ready to use.
type Options struct {
	// KeepObjects fills RequestObject and ResponseObject with the bodies,
	// redacted (see the package documentation). By default bodies are
	// validated and skipped without being copied.
	KeepObjects bool
	// KeepObjectsOf, when set with KeepObjects, keeps the bodies of only the
	// requests it accepts (called after the request's attributes are
	// decoded): analysis needs the specs of a few writes, and copying and
	// redacting every list response would dominate decoding.
	KeepObjectsOf func(r *event.APIRequest) bool
	// Strict makes the first rejected record a fatal error.
	Strict bool
	// AllStages delivers every stage of every event: no stage filter and no
	// deduplication (for debugging and raw ingestion).
	AllStages bool
	// Logger, if set, receives a Warn record for rejected records (the first
	// 20, then one summary per 1000).
	Logger *slog.Logger
	// Stdin is read for the path "-" in DecodeFiles.
	Stdin io.Reader
	// MaxRecordBytes limits the size of a line and of a record; 0 means
	// DefaultMaxRecordBytes.
	MaxRecordBytes int
}

// Stats count what a Decoder has seen, over all its calls. Every record is
// counted once in Records and once in exactly one of Delivered, Duplicates,
// SkippedStages and Rejected.
type Stats struct {
	// Records is the number of audit events read (an EventList counts its
	// items), plus rejected inputs that could not be identified as events.
	Records int64
	// Delivered is the number of events passed to the callback.
	Delivered int64
	// Duplicates is the number of events dropped because the same request
	// was delivered already (a later stage, a webhook retry, an overlapping
	// file).
	Duplicates int64
	// SkippedStages is the number of events dropped by the stage filter
	// (RequestReceived, ResponseStarted of requests that are not
	// long-running).
	SkippedStages int64
	// Rejected is the number of malformed records and unreadable streams.
	Rejected int64
	// Errors holds the first 20 rejects, each a *RecordError.
	Errors []error
}

// Decoder decodes Kubernetes audit logs (audit.k8s.io/v1) into
// event.APIRequest values. It is reusable across streams and keeps its
// deduplication state across everything it decodes. A Decoder is not safe
// for concurrent use.
type Decoder struct {
	opts  Options
	max   int
	stats Stats
	seen  *seenSet
	seed  maphash.Seed

	// Per-record state, reused.
	req    event.APIRequest
	rec    record
	arena  []byte // high-cardinality strings of the current record
	keyBuf []byte
	strBuf []byte
	field  string // field being parsed, for error messages
	sc     valueScanner
	strs   interner
	lists  listInterner
	red    redactor
	bodies [2][]byte

	// Stream state, reused.
	br    *bufio.Reader
	gz    *gzip.Reader
	gzbr  *bufio.Reader
	lines lineReader
	multi []byte
}

// NewDecoder returns a Decoder with the given options.
func NewDecoder(opts Options) *Decoder {
	d := &Decoder{
		opts: opts,
		max:  opts.MaxRecordBytes,
		seen: newSeenSet(defaultDedupLimit),
		seed: maphash.MakeSeed(),
	}
	if d.max <= 0 {
		d.max = DefaultMaxRecordBytes
	}
	return d
}

// Stats returns the counters accumulated so far.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.Errors = append([]error(nil), d.stats.Errors...)
	return s
}

// Decode reads one stream: JSON lines of audit Events (the log backend's
// format), EventList objects (the webhook backend's format, compact or
// pretty-printed over many lines), or a mix, optionally gzip-compressed
// (detected by its magic bytes). name identifies the stream in errors.
//
// fn receives each delivered event. The pointer, and the RequestObject and
// ResponseObject bytes, are reused and only valid during the call; the
// strings and the Groups and SourceIPs slices are immutable and may be kept
// (do not modify the slices). If fn returns an error, decoding stops and
// Decode returns that error unchanged.
//
// Malformed records are counted in Stats and skipped (Options.Strict: the
// first one is returned). A stream that cannot be read to its end (truncated
// or corrupt gzip data, an I/O error) is counted and always returned, as a
// *RecordError wrapping ErrTruncated or ErrRead, after delivering everything
// before the damage.
func (d *Decoder) Decode(r io.Reader, name string, fn func(*event.APIRequest) error) error {
	_, err := d.decode(r, name, fn)
	return err
}

// decode is Decode, also reporting whether err is a stream error that a
// caller may step over to go on with the next stream.
func (d *Decoder) decode(r io.Reader, name string, fn func(*event.APIRequest) error) (skippable bool, err error) {
	if d.br == nil {
		d.br = bufio.NewReaderSize(r, readBufferSize)
	} else {
		d.br.Reset(r)
	}
	src := d.br
	if magic, _ := d.br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		if d.gz == nil {
			d.gz, err = gzip.NewReader(d.br)
		} else {
			err = d.gz.Reset(d.br)
		}
		if err != nil {
			return true, d.streamError(name, 1, err)
		}
		if d.gzbr == nil {
			d.gzbr = bufio.NewReaderSize(d.gz, readBufferSize)
		} else {
			d.gzbr.Reset(d.gz)
		}
		src = d.gzbr
	}
	d.lines.reset(src, d.max)
	defer d.release()
	return d.run(name, fn)
}

// release detaches the stream and drops grown buffers.
func (d *Decoder) release() {
	d.shrink()
	d.lines.br = nil
	d.br.Reset(nil)
}

// shrink drops buffers grown by an unusually large record.
func (d *Decoder) shrink() {
	const keep = 4 << 20
	for _, b := range []*[]byte{&d.multi, &d.lines.long, &d.arena, &d.strBuf, &d.bodies[0], &d.bodies[1], &d.red.out, &d.red.buf} {
		if cap(*b) > keep {
			*b = nil
		}
	}
}

// DecodeFiles decodes the files in order, as Decode does; the path "-"
// reads Options.Stdin. Files that cannot be opened stop decoding. A file
// that cannot be read to its end is reported and decoding goes on with the
// next file, unless Options.Strict; such errors are joined into the result.
func (d *Decoder) DecodeFiles(paths []string, fn func(*event.APIRequest) error) error {
	var errs []error
	for _, p := range paths {
		var (
			r    io.Reader
			name = p
			f    *os.File
		)
		if p == "-" {
			if d.opts.Stdin == nil {
				return errors.New("audit: cannot read \"-\": no standard input configured (Options.Stdin)")
			}
			r, name = d.opts.Stdin, "<stdin>"
		} else {
			var err error
			if f, err = os.Open(p); err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			r = f
		}
		skippable, err := d.decode(r, name, fn)
		if f != nil {
			f.Close() // read-only: a close error cannot lose data
		}
		if err != nil {
			if !skippable || d.opts.Strict {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DecodeEventList decodes one audit webhook request body: a single
// EventList. A body that is not an EventList is counted, and always
// returned as a *RecordError; its malformed items are counted and skipped
// (Options.Strict: the first is returned). fn is called as for Decode.
func (d *Decoder) DecodeEventList(body []byte, name string, fn func(*event.APIRequest) error) error {
	if len(body) >= 3 && body[0] == 0xef && body[1] == 0xbb && body[2] == 0xbf {
		body = body[3:]
	}
	pos := skipWS(body, 0)
	end, err := d.parseRecord(body, pos, 0)
	switch {
	case errors.Is(err, errEnd):
		err = synErr(len(body), "unexpected end of input: the body is incomplete")
	case err != nil:
	case d.rec.kind != kindList:
		err = newFieldError("kind", -1, ErrKind, "%s: a webhook body must be an audit.k8s.io/v1 EventList", kindMsg(d.rec.kind))
	case skipWS(body, end) != len(body):
		d.field = ""
		err = synErr(skipWS(body, end), "unexpected data after the EventList")
	default:
		if verr := checkVersion(d.rec.apiVersion, false); verr != nil {
			err = verr
		}
	}
	if err != nil {
		e := d.recordError(name, body, 1, pos, -1, err)
		d.stats.Records++
		d.countReject(e)
		return e
	}
	defer d.shrink()
	if !d.rec.hasItems {
		return nil
	}
	return d.items(body, d.rec.items, pos, 1, name, fn)
}

// streamError counts a stream that cannot be read further.
func (d *Decoder) streamError(name string, line int, err error) *RecordError {
	e := &RecordError{File: name, Line: line, Item: -1, Err: ErrRead, Cause: err}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		e.Err = ErrTruncated
		e.Msg = "gzip stream is truncated (unexpected EOF): the file is incomplete; events up to here were read"
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum):
		e.Msg = fmt.Sprintf("corrupt gzip data: %v", err)
	default:
		e.Msg = fmt.Sprintf("read error: %v", err)
	}
	d.stats.Records++
	d.countReject(e)
	return e
}

// countReject records a rejected record in Stats and the log.
func (d *Decoder) countReject(e *RecordError) {
	d.stats.Rejected++
	if len(d.stats.Errors) < maxKeptErrors {
		d.stats.Errors = append(d.stats.Errors, e)
	}
	log := d.opts.Logger
	if log == nil {
		return
	}
	switch n := d.stats.Rejected; {
	case n <= maxKeptErrors:
		log.Warn("audit record rejected", "file", e.File, "line", e.Line, "item", e.Item, "field", e.Field, "error", e.Msg)
		if n == maxKeptErrors {
			log.Warn("further rejected audit records are logged as a count", "every", logEveryRejects)
		}
	case n%logEveryRejects == 0:
		log.Warn("audit records rejected", "count", n, "last", e.Error())
	}
}

// reject counts a rejected record; in Strict mode it returns it.
func (d *Decoder) reject(e *RecordError) error {
	d.stats.Records++
	d.countReject(e)
	if d.opts.Strict {
		return e
	}
	return nil
}

// emit applies the stage filter and deduplication to the parsed event in
// d.req, redacts its bodies and calls fn. buf holds the parsed value.
func (d *Decoder) emit(buf []byte, fn func(*event.APIRequest) error) error {
	d.stats.Records++
	r := &d.req
	if !d.opts.AllStages {
		switch r.Stage {
		case event.StageResponseComplete, event.StagePanic:
			d.finish()
		case event.StageResponseStarted:
			d.finish()
			// A failed authentication is written once, at
			// ResponseStarted with code 401 (the apiserver's
			// WithFailedAuthenticationAudit filter): keep it.
			if !longRunning(r) && r.Code != 401 {
				d.stats.SkippedStages++
				return nil
			}
		default:
			d.stats.SkippedStages++
			return nil
		}
		if !d.seen.add(d.fingerprint()) {
			d.stats.Duplicates++
			return nil
		}
	} else {
		d.finish()
	}
	if d.opts.KeepObjects && (d.opts.KeepObjectsOf == nil || d.opts.KeepObjectsOf(r)) {
		secret := r.Resource == "secrets"
		for k, sp := range [2]span{d.rec.reqObj, d.rec.respObj} {
			if sp.empty() {
				continue
			}
			d.bodies[k] = d.red.redact(d.bodies[k][:0], buf[sp.start:sp.end], secret)
			if k == 0 {
				r.RequestObject = d.bodies[k]
			} else {
				r.ResponseObject = d.bodies[k]
			}
		}
	}
	d.stats.Delivered++
	return fn(r)
}

// longRunning mirrors the kube-apiserver's long-running request check, the
// only requests for which it writes a ResponseStarted stage: verbs watch and
// proxy; subresources attach, exec, log, portforward and proxy; non-resource
// paths under /debug/pprof/ (k8s.io/apiserver/pkg/server/filters
// BasicLongRunningRequestCheck, configured in
// pkg/controlplane/apiserver/config.go). Exec and attach appear with verb
// create (or get for the older GET-upgrade clients).
func longRunning(r *event.APIRequest) bool {
	switch r.Verb {
	case "watch", "proxy":
		return true
	}
	if r.Resource != "" {
		switch r.Subresource {
		case "attach", "exec", "log", "portforward", "proxy":
			return true
		}
		return false
	}
	return len(r.Path) > len("/debug/pprof/") && r.Path[:len("/debug/pprof/")] == "/debug/pprof/"
}

// fingerprint identifies the request for deduplication. The auditID alone is
// not enough: clients may set it (the Audit-ID request header, see
// k8s.io/apiserver/pkg/endpoints/filters/with_auditid.go), so a client could
// otherwise hide its requests behind an earlier auditID. Every stage and
// every copy of one request share the receive time, user, verb and URI too.
// The hash is keyed with a per-Decoder random seed, so collisions cannot be
// crafted.
func (d *Decoder) fingerprint() uint64 {
	r := &d.req
	// Each part is hashed in place (no copy) and the keyed hashes are
	// chained through multiply-xor steps, so that swapping parts changes
	// the result.
	const k = 0x9e3779b97f4a7c15
	h := maphash.String(d.seed, r.AuditID)
	h = (h*k ^ maphash.String(d.seed, r.RequestURI)) * k
	h = (h ^ maphash.String(d.seed, r.User.Username)) * k
	h = (h ^ maphash.String(d.seed, r.Verb)) * k
	h = (h ^ uint64(timeKey(r.Received))) * k
	return h ^ h>>29
}

func timeKey(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()*1e9 + int64(t.Nanosecond())
}
