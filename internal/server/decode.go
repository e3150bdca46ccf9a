package server

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/audit"
	"github.com/kubedelta/kubedelta/internal/source/flow"
	"github.com/kubedelta/kubedelta/internal/source/proc"
)

// ErrFormat reports an unknown ?format= value.
var ErrFormat = errors.New("unknown format")

// checkFormat validates the format of a flows or exec request.
func checkFormat(k Kind, f string) error {
	switch k {
	case KindFlows:
		if f == "" {
			return nil
		}
		for _, x := range flow.Formats() {
			if string(x) == f {
				return nil
			}
		}
		return fmt.Errorf("%w %q: flows take hubble, generic, vpc or conntrack (or no format, detected)", ErrFormat, f)
	case KindExec:
		if f == "" {
			return nil
		}
		for _, x := range proc.Formats() {
			if string(x) == f {
				return nil
			}
		}
		return fmt.Errorf("%w %q: process events take falco or tetragon (or no format, detected)", ErrFormat, f)
	}
	if f != "" {
		return fmt.Errorf("%w %q: the audit webhook takes an audit.k8s.io/v1 EventList only", ErrFormat, f)
	}
	return nil
}

// validation is what checking a body found.
type validation struct {
	// events are the valid events (every stage of audit events).
	events int64
	// rejected are malformed records (items of an EventList, lines).
	rejected int64
	// reason describes the first rejected record for the log: position
	// and field, never the value.
	reason string
	// err is set when the body as a whole is unusable.
	err error
}

// validators keeps decoders for request validation, one per concurrent
// request: decoders are not safe for concurrent use and are worth reusing
// (buffers, interned strings).
type validators struct {
	audit sync.Pool
	flows sync.Map // flow.Format → *sync.Pool
	exec  sync.Map // proc.Format → *sync.Pool
}

func poolFor(m *sync.Map, key string, mk func() any) *sync.Pool {
	if p, ok := m.Load(key); ok {
		return p.(*sync.Pool)
	}
	p, _ := m.LoadOrStore(key, &sync.Pool{New: mk})
	return p.(*sync.Pool)
}

// validate decodes body without keeping anything and counts its events.
func (v *validators) validate(k Kind, format string, body []byte) validation {
	noop := func(*event.APIRequest) error { return nil }
	switch k {
	case KindAudit:
		d, _ := v.audit.Get().(*audit.Decoder)
		if d == nil {
			d = audit.NewDecoder(audit.Options{AllStages: true})
		}
		defer v.audit.Put(d)
		before := d.Stats()
		err := d.DecodeEventList(body, "body", noop)
		after := d.Stats()
		out := validation{events: after.Delivered - before.Delivered, rejected: after.Rejected - before.Rejected}
		if out.rejected > 0 && len(after.Errors) > 0 {
			out.reason = auditReason(after.Errors[len(after.Errors)-1])
		}
		if err != nil {
			out.err = err
			out.reason = auditReason(err)
		}
		return out
	case KindFlows:
		pool := poolFor(&v.flows, format, func() any {
			return flow.NewDecoder(flow.Options{Format: flow.Format(format), DedupWindow: -1})
		})
		d := pool.Get().(*flow.Decoder)
		defer pool.Put(d)
		before := d.Stats()
		err := d.Decode(bytes.NewReader(body), "body", func(*event.Flow) error { return nil })
		after := d.Stats()
		out := validation{rejected: after.Rejected - before.Rejected}
		out.events = after.Records - before.Records - out.rejected
		if out.rejected > 0 && len(after.Errors) > 0 {
			out.reason = lineReason(after.Errors[len(after.Errors)-1])
		}
		if err != nil {
			out.err, out.reason = err, lineReason(err)
		}
		return out
	case KindExec:
		pool := poolFor(&v.exec, format, func() any {
			return proc.NewDecoder(proc.Options{Format: proc.Format(format)})
		})
		d := pool.Get().(*proc.Decoder)
		defer pool.Put(d)
		before := d.Stats()
		err := d.Decode(bytes.NewReader(body), "body", func(*event.Exec) error { return nil })
		after := d.Stats()
		out := validation{rejected: after.Rejected - before.Rejected}
		out.events = after.Records - before.Records - out.rejected
		if out.rejected > 0 && len(after.Errors) > 0 {
			out.reason = lineReason(after.Errors[len(after.Errors)-1])
		}
		if err != nil {
			out.err, out.reason = err, lineReason(err)
		}
		return out
	}
	return validation{err: fmt.Errorf("unknown kind %d", k)}
}

// auditReason describes an audit decoding error by position, field and
// kind of fault, without the offending value.
func auditReason(err error) string {
	var re *audit.RecordError
	if !errors.As(err, &re) {
		return "unreadable body"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "line %d", re.Line)
	if re.Item >= 0 {
		fmt.Fprintf(&b, ", item %d", re.Item)
	}
	if re.Field != "" {
		fmt.Fprintf(&b, ", field %s", re.Field)
	}
	if re.Err != nil {
		b.WriteString(": " + re.Err.Error())
	}
	return b.String()
}

// lineReason does the same for flow and process records.
func lineReason(err error) string {
	var fe *flow.RecordError
	var pe *proc.RecordError
	switch {
	case errors.As(err, &fe):
		return fieldReason(fe.Line, fe.Field, fe.Err)
	case errors.As(err, &pe):
		return fieldReason(pe.Line, pe.Field, pe.Err)
	case errors.Is(err, flow.ErrUnknownFormat), errors.Is(err, proc.ErrUnknownFormat):
		return "format not recognized"
	}
	return "unreadable body"
}

func fieldReason(line int64, field string, sentinel error) string {
	s := fmt.Sprintf("line %d", line)
	if field != "" {
		s += ", field " + field
	}
	if sentinel != nil {
		s += ": " + sentinel.Error()
	}
	return s
}

// errorMessage is the text of a 400 answer: the decoder's message, which
// names the position and field and quotes at most a short excerpt of the
// sender's own bytes.
func errorMessage(err error) string {
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return msg
}

// decoders are the processor's decoders, long-lived so that they reuse
// their buffers and interned strings. The audit decoder delivers every
// stage: the stage filter and deduplication are the processor's, so that
// they survive restarts. It keeps only the bodies the pipeline judges
// (analyze.WantBody), as `kubedelta analyze` does.
type decoders struct {
	audit *audit.Decoder
	flows map[string]*flow.Decoder
	exec  map[string]*proc.Decoder
	log   *slog.Logger
}

func newDecoders(log *slog.Logger) decoders {
	return decoders{
		audit: audit.NewDecoder(audit.Options{AllStages: true, KeepObjects: true, KeepObjectsOf: analyze.WantBody}),
		flows: map[string]*flow.Decoder{},
		exec:  map[string]*proc.Decoder{},
		log:   log,
	}
}

func (d *decoders) flow(format string) *flow.Decoder {
	x := d.flows[format]
	if x == nil {
		x = flow.NewDecoder(flow.Options{Format: flow.Format(format)})
		d.flows[format] = x
	}
	return x
}

func (d *decoders) proc(format string) *proc.Decoder {
	x := d.exec[format]
	if x == nil {
		x = proc.NewDecoder(proc.Options{Format: proc.Format(format)})
		d.exec[format] = x
	}
	return x
}

// subjectKind classifies the user of a denied request for
// kubedelta_audit_denials_total.
func subjectKind(user string) string {
	switch {
	case user == "system:anonymous" || user == "":
		return "anonymous"
	case strings.HasPrefix(user, "system:serviceaccount:"):
		return "serviceaccount"
	}
	return "user"
}

// processAudit feeds one audit record's events to the pipeline.
func (p *processor) processAudit(rec *record, name string) {
	m := p.s.metrics
	var processed, stage, dups int64
	err := p.dec.audit.DecodeEventList(rec.Body, name, func(r *event.APIRequest) error {
		if !stageDelivered(r) {
			stage++
			return nil
		}
		if !p.dedup.add(r) {
			dups++
			return nil
		}
		processed++
		if r.Code == 403 {
			m.denials.with(subjectKind(r.User.Username)).Add(1)
		}
		p.pipe.API(r)
		p.seen(r.Time)
		return nil
	})
	if err != nil {
		// Validated when accepted: only a record written by a build that
		// validated differently can get here.
		p.s.log.Warn("an accepted audit batch no longer decodes", "record", name, "reason", auditReason(err))
	}
	m.processed.with("audit").Add(processed)
	addDropped(m, "audit", "stage", stage)
	addDropped(m, "audit", "duplicate", dups)
	addDropped(m, "audit", "malformed", int64(rec.Events)-processed-stage-dups)
}

// processFlows feeds one flows record to the pipeline.
func (p *processor) processFlows(rec *record, name string) {
	m := p.s.metrics
	d := p.dec.flow(rec.Format)
	before := d.Stats()
	var processed int64
	err := d.Decode(bytes.NewReader(rec.Body), name, func(f *event.Flow) error {
		processed++
		p.pipe.Flow(f)
		p.seen(f.Time)
		return nil
	})
	if err != nil {
		p.s.log.Warn("an accepted flows batch no longer decodes", "record", name, "reason", lineReason(err))
	}
	after := d.Stats()
	m.processed.with("flows").Add(processed)
	reply, dup := after.Replies-before.Replies, after.Duplicates-before.Duplicates
	addDropped(m, "flows", "reply", reply)
	addDropped(m, "flows", "duplicate", dup)
	addDropped(m, "flows", "skipped", int64(rec.Events)-processed-reply-dup)
}

// processExec feeds one process events record to the pipeline.
func (p *processor) processExec(rec *record, name string) {
	m := p.s.metrics
	d := p.dec.proc(rec.Format)
	var processed int64
	err := d.Decode(bytes.NewReader(rec.Body), name, func(e *event.Exec) error {
		processed++
		p.pipe.Exec(e)
		p.seen(e.Time)
		return nil
	})
	if err != nil {
		p.s.log.Warn("an accepted process events batch no longer decodes", "record", name, "reason", lineReason(err))
	}
	m.processed.with("exec").Add(processed)
	addDropped(m, "exec", "skipped", int64(rec.Events)-processed)
}

func addDropped(m *metrics, kind, reason string, n int64) {
	if n > 0 {
		m.dropped.with(kind, reason).Add(n)
	}
}
