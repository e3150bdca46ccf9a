package flow

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Format names an input format.
type Format string

// Formats. The empty Format detects the format of each input from its first
// non-empty line.
const (
	FormatDetect    Format = ""
	FormatHubble    Format = "hubble"
	FormatGeneric   Format = "generic"
	FormatVPC       Format = "vpc"
	FormatConntrack Format = "conntrack"
)

// Formats lists the formats a Decoder understands, for flag help texts.
func Formats() []Format {
	return []Format{FormatHubble, FormatGeneric, FormatVPC, FormatConntrack}
}

// Defaults and limits.
const (
	// DefaultDedupWindow is how close in time two observations of the same
	// flow must be to count once (Options.DedupWindow).
	DefaultDedupWindow = 2 * time.Second
	// DefaultConntrackHold is how long a conntrack connection waits for its
	// DESTROY event before it is delivered without byte counts
	// (Options.ConntrackHold).
	DefaultConntrackHold = 5 * time.Minute
	// MaxRecordBytes is the longest record (line) accepted.
	MaxRecordBytes = 4 << 20
	// maxErrors is how many record errors Stats keeps.
	maxErrors = 20
)

// Options configure a Decoder. The zero value detects formats, skips bad
// records and deduplicates with DefaultDedupWindow.
type Options struct {
	// Format forces one format for every input; empty detects it per input.
	Format Format
	// Strict makes the first bad record a fatal error instead of being
	// counted and skipped.
	Strict bool
	// Stdin is read for the path "-" in DecodeFiles.
	Stdin io.Reader
	// Logger receives a warning per bad record (the first 20) and a debug
	// summary per input. Nil discards.
	Logger *slog.Logger
	// DedupWindow: observations of the same flow (same addresses, ports,
	// protocol and verdict) closer in time than this count once. It applies
	// to hubble, vpc and conntrack input, where one flow is routinely seen
	// from two vantage points; generic records are taken as given. Zero
	// means DefaultDedupWindow, negative disables deduplication.
	DedupWindow time.Duration
	// ConntrackHold: a conntrack NEW event is held until its DESTROY event
	// (which carries the byte counters) for at most this long, measured in
	// event time. Zero means DefaultConntrackHold.
	ConntrackHold time.Duration
}

// Stats counts what a Decoder did. After every Decode or DecodeFiles call
// that returns nil, Records == Delivered + Replies + Duplicates + Skipped +
// Rejected. (After an error, held conntrack connections are not yet counted;
// the next successful call delivers them.)
type Stats struct {
	Records    int64   // non-empty lines read
	Delivered  int64   // flows passed to the callback
	Replies    int64   // records dropped as the reply direction of a flow
	Duplicates int64   // records dropped as a repeat observation of a flow
	Skipped    int64   // records that are not L3/L4 flows (L7, no IP, NODATA, headers, conntrack updates)
	Rejected   int64   // malformed records
	Errors     []error // the first 20 record errors (*RecordError)
}

// Decoder decodes flow records. It keeps state across inputs (interned
// strings, the dedup window, held conntrack connections) and is not safe
// for concurrent use.
type Decoder struct {
	opts  Options
	log   *slog.Logger
	stats Stats
	in    interner
	dd    dedup
	js    jscan
	hub   hubbleRec
	vpc   vpcState
	ct    conntrackState
	flow  event.Flow

	fn      func(*event.Flow) error
	format  Format
	name    string
	line    int64
	long    []byte
	br, zbr *bufio.Reader // reused across inputs
	gz      *gzip.Reader
}

// readerSize is the read buffer; longer records are assembled in d.long.
const readerSize = 32 << 10

// reader returns *slot reset to read r, allocating it on first use.
func (d *Decoder) reader(slot **bufio.Reader, r io.Reader) *bufio.Reader {
	if *slot == nil {
		*slot = bufio.NewReaderSize(r, readerSize)
	} else {
		(*slot).Reset(r)
	}
	return *slot
}

// NewDecoder returns a Decoder configured by opts.
func NewDecoder(opts Options) *Decoder {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	window := opts.DedupWindow
	if window == 0 {
		window = DefaultDedupWindow
	}
	hold := opts.ConntrackHold
	if hold <= 0 {
		hold = DefaultConntrackHold
	}
	return &Decoder{
		opts: opts,
		log:  log,
		in:   newInterner(),
		dd:   newDedup(int64(window)),
		ct:   newConntrackState(int64(hold)),
	}
}

// Stats returns the counters so far.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.Errors = append([]error(nil), d.stats.Errors...)
	return s
}

// Decode reads flow records from r, which may be gzip-compressed (detected
// by its magic bytes), and calls fn for every flow delivered. name is used
// in error messages ("name:line: ..."). The *event.Flow is reused: it is
// valid only during the call, but the strings and slices it holds are
// immutable and may be kept (they are shared between flows; never modify
// them). An error from fn stops decoding and is returned as is. Bad records
// are counted and skipped, or returned as a *RecordError when
// Options.Strict is set; a read error (such as a truncated gzip stream) is
// returned after the complete records before it were delivered.
func (d *Decoder) Decode(r io.Reader, name string, fn func(*event.Flow) error) error {
	if err := d.decode(r, name, fn); err != nil {
		return err
	}
	return d.flushConntrack()
}

// DecodeFiles decodes each path in turn, "-" meaning Options.Stdin. Held
// conntrack connections carry over from one file to the next (rotated
// files of one capture) and are delivered at the end.
func (d *Decoder) DecodeFiles(paths []string, fn func(*event.Flow) error) error {
	if err := d.decodeFiles(paths, fn); err != nil {
		return err
	}
	return d.flushConntrack()
}

func (d *Decoder) decodeFiles(paths []string, fn func(*event.Flow) error) error {
	for _, p := range paths {
		if p == "-" {
			if d.opts.Stdin == nil {
				return errors.New(`flow input "-": no standard input configured`)
			}
			if err := d.decode(d.opts.Stdin, "<stdin>", fn); err != nil {
				return err
			}
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("open flow input: %w", err)
		}
		err = d.decode(f, p, fn)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *Decoder) decode(r io.Reader, name string, fn func(*event.Flow) error) error {
	switch d.opts.Format {
	case FormatDetect, FormatHubble, FormatGeneric, FormatVPC, FormatConntrack:
	default:
		return fmt.Errorf("%w %q (known: hubble, generic, vpc, conntrack)", ErrUnknownFormat, d.opts.Format)
	}
	d.fn, d.name, d.line, d.format = fn, name, 0, d.opts.Format
	d.vpc.reset()
	// Each input keeps its own clock for the conntrack hold time: files of
	// several nodes covering the same period are read one after the other,
	// and the second must not look stale against the end of the first.
	d.ct.newest = math.MinInt64
	before := d.stats

	br := d.reader(&d.br, r)
	defer d.release()
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		if d.gz == nil {
			d.gz = new(gzip.Reader)
		}
		if err := d.gz.Reset(br); err != nil {
			return fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer d.gz.Close()
		br = d.reader(&d.zbr, d.gz)
	}
	for {
		line, tooLong, err := d.readLine(br)
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s: read after line %d: %w", name, d.line, err)
		}
		if len(line) > 0 || tooLong {
			d.line++
			if rerr := d.record(line, tooLong); rerr != nil {
				return rerr
			}
			if cap(d.long) > 1<<20 {
				d.long = nil // do not keep a buffer for one huge record
			}
		}
		if err == io.EOF {
			break
		}
	}
	d.log.Debug("decoded flow input", "input", name, "format", string(d.format),
		"records", d.stats.Records-before.Records, "delivered", d.stats.Delivered-before.Delivered,
		"replies", d.stats.Replies-before.Replies, "duplicates", d.stats.Duplicates-before.Duplicates,
		"skipped", d.stats.Skipped-before.Skipped, "rejected", d.stats.Rejected-before.Rejected)
	return nil
}

// release drops the references the read buffers hold to the input.
func (d *Decoder) release() {
	if d.br != nil {
		d.br.Reset(nil)
	}
	if d.zbr != nil {
		d.zbr.Reset(nil)
	}
}

// readLine returns the next line including its newline. Lines longer than
// the reader's buffer are assembled in d.long; past MaxRecordBytes the rest
// of the line is discarded and tooLong is set.
func (d *Decoder) readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, false, err
	}
	d.long = append(d.long[:0], line...)
	for err == bufio.ErrBufferFull {
		line, err = br.ReadSlice('\n')
		if len(d.long)+len(line) > MaxRecordBytes {
			tooLong = true
			d.long = d.long[:0]
		} else if !tooLong {
			d.long = append(d.long, line...)
		}
	}
	if tooLong {
		return nil, true, err
	}
	return d.long, false, err
}

// status is what a parser decided about one record.
type status uint8

const (
	stDeliver status = iota // d.flow holds a flow to deliver
	stReply                 // the reply direction of a flow
	stSkip                  // not an L3/L4 flow record
	stHeld                  // held for later delivery (conntrack NEW)
)

// utf8BOM is the byte order mark some Windows tools put before the first line.
const utf8BOM = "\xef\xbb\xbf"

func (d *Decoder) record(line []byte, tooLong bool) error {
	if tooLong {
		d.stats.Records++
		return d.reject(&fieldError{msg: "record longer than " + strconv.Itoa(MaxRecordBytes) + " bytes"}, ErrLineTooLong)
	}
	if d.line == 1 {
		line = bytes.TrimPrefix(line, []byte(utf8BOM))
	}
	line = trimSpace(line)
	if len(line) == 0 {
		return nil
	}
	d.stats.Records++
	if d.format == FormatDetect {
		d.format = d.detect(line)
		if d.format == FormatDetect {
			d.stats.Rejected++
			return fmt.Errorf("%s:%d: %w: the first record is neither JSON (hubble, generic), an AWS VPC flow log record nor conntrack event text; set the format explicitly",
				d.name, d.line, ErrUnknownFormat)
		}
		d.log.Debug("detected flow format", "input", d.name, "format", string(d.format))
	}
	var (
		st   status
		fe   *fieldError
		err  error
		uniq = true
	)
	switch d.format {
	case FormatHubble:
		st, fe = d.parseHubble(line)
	case FormatGeneric:
		st, fe = d.parseGeneric(line)
		uniq = false
	case FormatVPC:
		st, fe = d.parseVPC(line)
	case FormatConntrack:
		st, fe, err = d.parseConntrack(line)
		if err != nil {
			return err
		}
	}
	if fe != nil {
		return d.reject(fe, ErrMalformed)
	}
	switch st {
	case stDeliver:
		return d.emit(&d.flow, uniq)
	case stReply:
		d.stats.Replies++
	case stSkip:
		d.stats.Skipped++
	}
	return nil
}

// emit delivers f unless it repeats a recent observation.
func (d *Decoder) emit(f *event.Flow, dedupe bool) error {
	if dedupe && d.dd.duplicate(f) {
		d.stats.Duplicates++
		return nil
	}
	d.stats.Delivered++
	return d.fn(f)
}

func (d *Decoder) reject(fe *fieldError, sentinel error) error {
	d.stats.Rejected++
	e := &RecordError{File: d.name, Line: d.line, Field: fe.field, Msg: fe.msg, Err: sentinel}
	if len(d.stats.Errors) < maxErrors {
		d.stats.Errors = append(d.stats.Errors, e)
		d.log.Warn("skipping bad flow record", "error", e.Error())
	}
	if d.opts.Strict {
		return e
	}
	return nil
}

// detect guesses the format of an input from its first record.
func (d *Decoder) detect(line []byte) Format {
	switch c := line[0]; {
	case c == '{':
		return d.detectJSON(line)
	case c == '[':
		if isConntrackLine(line) {
			return FormatConntrack
		}
	case isVPCHeader(line):
		return FormatVPC
	case c >= '0' && c <= '9':
		if countFields(line) >= 10 {
			return FormatVPC
		}
	}
	return FormatDetect
}

// detectJSON tells generic records (top-level src_ip / dst_ip) from Hubble
// ones by looking at top-level keys only.
func (d *Decoder) detectJSON(line []byte) Format {
	s := &d.js
	s.reset(line)
	if _, ok := s.obj(""); !ok {
		return FormatHubble // let the Hubble parser report the syntax error
	}
	for first := true; ; first = false {
		k, ok := s.member(first)
		if !ok || k == nil {
			return FormatHubble
		}
		switch string(k) {
		case "src_ip", "dst_ip", "src_port", "dst_port":
			return FormatGeneric
		case "flow", "IP", "l4", "verdict", "node_status", "lost_events", "Type":
			return FormatHubble
		}
		if !s.skip("") {
			return FormatHubble
		}
	}
}

func countFields(line []byte) int {
	n, in := 0, false
	for _, c := range line {
		if c == ' ' || c == '\t' {
			in = false
		} else if !in {
			in = true
			n++
		}
	}
	return n
}
