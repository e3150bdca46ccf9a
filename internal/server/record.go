package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Kind is what a WAL record (and an ingest endpoint) carries.
type Kind uint8

// Kinds of records.
const (
	KindAudit Kind = 1 + iota
	KindFlows
	KindExec
)

// kinds lists every Kind, for counters.
var kinds = [...]Kind{KindAudit, KindFlows, KindExec}

// String is the kind's name in stats, metrics and the event store.
func (k Kind) String() string {
	switch k {
	case KindAudit:
		return "audit"
	case KindFlows:
		return "flows"
	case KindExec:
		return "exec"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ErrRecord reports a WAL record this build cannot read.
var ErrRecord = errors.New("malformed WAL record")

// A WAL record is a fixed header and the request body exactly as received:
//
//	offset size
//	0      1    magic 'K'
//	1      1    version (1)
//	2      1    kind (1 audit, 2 flows, 3 exec)
//	3      1    length f of the format name
//	4      8    boot: the random id of the process that accepted it
//	12     8    received time, Unix nanoseconds, big endian
//	20     4    events the body held when it was validated, big endian
//	24     f    format name (flows and exec: the ?format= of the request)
//	24+f   …    body
//
// The body is kept raw, not re-encoded: the processor decodes it with the
// same decoders that validated it, and the raw bytes are what the event
// store retains as evidence.
const (
	recordMagic   = 'K'
	recordVersion = 1
	recordHeader  = 24
)

// record is a decoded WAL record; Body aliases the stored bytes.
type record struct {
	Kind     Kind
	Boot     uint64
	Received time.Time
	Events   uint32
	Format   string
	Body     []byte
}

// appendRecord encodes r after dst.
func appendRecord(dst []byte, r *record) []byte {
	var h [recordHeader]byte
	h[0], h[1], h[2], h[3] = recordMagic, recordVersion, byte(r.Kind), byte(len(r.Format))
	binary.BigEndian.PutUint64(h[4:], r.Boot)
	binary.BigEndian.PutUint64(h[12:], uint64(r.Received.UnixNano()))
	binary.BigEndian.PutUint32(h[20:], r.Events)
	dst = append(dst, h[:]...)
	dst = append(dst, r.Format...)
	return append(dst, r.Body...)
}

// parseRecord decodes b; the record's Body aliases b.
func parseRecord(b []byte) (record, error) {
	if len(b) < recordHeader || b[0] != recordMagic {
		return record{}, fmt.Errorf("%w: no record header (%d bytes)", ErrRecord, len(b))
	}
	if b[1] != recordVersion {
		return record{}, fmt.Errorf("%w: version %d, this build reads version %d", ErrRecord, b[1], recordVersion)
	}
	k := Kind(b[2])
	if k < KindAudit || k > KindExec {
		return record{}, fmt.Errorf("%w: unknown kind %d", ErrRecord, b[2])
	}
	f := int(b[3])
	if len(b) < recordHeader+f {
		return record{}, fmt.Errorf("%w: truncated format name", ErrRecord)
	}
	return record{
		Kind:     k,
		Boot:     binary.BigEndian.Uint64(b[4:]),
		Received: time.Unix(0, int64(binary.BigEndian.Uint64(b[12:]))).UTC(),
		Events:   binary.BigEndian.Uint32(b[20:]),
		Format:   string(b[recordHeader : recordHeader+f]),
		Body:     b[recordHeader+f:],
	}, nil
}
