package proc

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Format names an input format.
type Format string

// Formats. The empty Format detects the format of each input from its first
// JSON record.
const (
	FormatDetect   Format = ""
	FormatFalco    Format = "falco"
	FormatTetragon Format = "tetragon"
)

// Formats lists the formats a Decoder understands, for flag help texts.
func Formats() []Format { return []Format{FormatFalco, FormatTetragon} }

// Limits.
const (
	// MaxRecordBytes is the longest record (line) accepted.
	MaxRecordBytes = 4 << 20
	// maxErrors is how many record errors Stats keeps.
	maxErrors = 20
	// maxDetectLines is how many non-JSON lines (a sensor's own log messages
	// in `kubectl logs` output) may precede the first JSON record of an
	// input whose format is detected.
	maxDetectLines = 100
)

// Options configure a Decoder. The zero value detects formats and skips bad
// records.
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
}

// Stats counts what a Decoder did. After every Decode or DecodeFiles call
// that returns nil, Records == Delivered + Skipped + Rejected.
type Stats struct {
	Records   int64   // non-empty lines read
	Delivered int64   // process events passed to the callback
	Skipped   int64   // records that describe no process (other Tetragon event types, other Falco sources, alerts without process fields, sensor log lines)
	Rejected  int64   // malformed records
	Errors    []error // the first 20 record errors (*RecordError)
}

// Decoder decodes process event records. It is not safe for concurrent use.
type Decoder struct {
	opts  Options
	log   *slog.Logger
	stats Stats
	exec  event.Exec
	falco falcoAlert
	tetra tetraLine

	// Fast path state, reused.
	sc      scanner
	in      interner
	kv      []label
	scratch []byte
	fx      tetraExec
	fp      tetraProcess

	fn      func(*event.Exec) error
	format  Format
	name    string
	line    int64
	nonJSON int // non-JSON lines before the format of this input was detected
	long    []byte
	br, zbr *bufio.Reader // reused across inputs
	gz      *gzip.Reader
}

// readerSize is the read buffer; longer records are assembled in d.long.
const readerSize = 64 << 10

// NewDecoder returns a Decoder configured by opts.
func NewDecoder(opts Options) *Decoder {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Decoder{opts: opts, log: log}
}

// Stats returns the counters so far.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.Errors = append([]error(nil), d.stats.Errors...)
	return s
}

// Decode reads process event records from r, which may be gzip-compressed
// (detected by its magic bytes), and calls fn for every process event
// delivered. name is used in error messages ("name:line: ..."). The
// *event.Exec is reused: it is valid only during the call, but the strings
// and slices it holds are never modified by the decoder afterwards and may
// be kept. An error from fn stops decoding and is returned as is. Bad
// records are counted and skipped, or returned as a *RecordError when
// Options.Strict is set; a read error (such as a truncated gzip stream) is
// returned after the complete records before it were delivered.
func (d *Decoder) Decode(r io.Reader, name string, fn func(*event.Exec) error) error {
	switch d.opts.Format {
	case FormatDetect, FormatFalco, FormatTetragon:
	default:
		return fmt.Errorf("%w %q (known: falco, tetragon)", ErrUnknownFormat, d.opts.Format)
	}
	d.fn, d.name, d.line, d.format, d.nonJSON = fn, name, 0, d.opts.Format, 0
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
	d.log.Debug("decoded process input", "input", name, "format", string(d.format),
		"records", d.stats.Records-before.Records, "delivered", d.stats.Delivered-before.Delivered,
		"skipped", d.stats.Skipped-before.Skipped, "rejected", d.stats.Rejected-before.Rejected)
	return nil
}

// DecodeFiles decodes each path in turn, "-" meaning Options.Stdin.
func (d *Decoder) DecodeFiles(paths []string, fn func(*event.Exec) error) error {
	for _, p := range paths {
		if p == "-" {
			if d.opts.Stdin == nil {
				return ErrNoStdin
			}
			if err := d.Decode(d.opts.Stdin, "<stdin>", fn); err != nil {
				return err
			}
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("open process input: %w", err)
		}
		err = d.Decode(f, p, fn)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// reader returns *slot reset to read r, allocating it on first use.
func (d *Decoder) reader(slot **bufio.Reader, r io.Reader) *bufio.Reader {
	if *slot == nil {
		*slot = bufio.NewReaderSize(r, readerSize)
	} else {
		(*slot).Reset(r)
	}
	return *slot
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
	stDeliver status = iota // d.exec holds an event to deliver
	stSkip                  // not a process start
)

// utf8BOM is the byte order mark some Windows tools put before the first line.
const utf8BOM = "\xef\xbb\xbf"

func (d *Decoder) record(line []byte, tooLong bool) error {
	if tooLong {
		d.stats.Records++
		return d.reject(errField("", "record longer than "+strconv.Itoa(MaxRecordBytes)+" bytes"), ErrLineTooLong)
	}
	if d.line == 1 {
		line = bytes.TrimPrefix(line, []byte(utf8BOM))
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	d.stats.Records++
	line = stripLogTimestamp(line)
	if d.format == FormatDetect {
		if line[0] == '[' {
			d.stats.Rejected++
			return fmt.Errorf("%s:%d: %w: the first record is a JSON array; the decoder reads one JSON object per line", d.name, d.line, ErrUnknownFormat)
		}
		if line[0] != '{' {
			// A sensor's own log lines precede its JSON output in
			// `kubectl logs`; tolerate a few before the first record.
			d.nonJSON++
			if d.nonJSON > maxDetectLines {
				d.stats.Rejected++
				return fmt.Errorf("%s:%d: %w: none of the first %d records is a JSON object; set the format explicitly",
					d.name, d.line, ErrUnknownFormat, maxDetectLines+1)
			}
			d.stats.Skipped++
			return nil
		}
		d.format = detect(line)
		if d.format == FormatDetect {
			d.stats.Rejected++
			return fmt.Errorf("%s:%d: %w: the first JSON record is neither a Falco alert (output_fields, rule, priority) nor a Tetragon event (process_exec, process_exit, ..., node_name); set the format explicitly",
				d.name, d.line, ErrUnknownFormat)
		}
		d.log.Debug("detected process event format", "input", d.name, "format", string(d.format))
	}
	var (
		st status
		fe *fieldError
	)
	switch d.format {
	case FormatFalco:
		st, fe = d.parseFalco(line)
	case FormatTetragon:
		st, fe = d.parseTetragon(line)
	}
	if fe != nil {
		return d.reject(fe, ErrMalformed)
	}
	if st == stSkip {
		d.stats.Skipped++
		return nil
	}
	d.stats.Delivered++
	return d.fn(&d.exec)
}

func (d *Decoder) reject(fe *fieldError, sentinel error) error {
	d.stats.Rejected++
	e := &RecordError{File: d.name, Line: d.line, Field: fe.field, Msg: fe.msg, Err: sentinel}
	if len(d.stats.Errors) < maxErrors {
		d.stats.Errors = append(d.stats.Errors, e)
		d.log.Warn("skipping bad process record", "error", e.Error())
	}
	if d.opts.Strict {
		return e
	}
	return nil
}

// stripLogTimestamp removes the RFC 3339 timestamp `kubectl logs
// --timestamps` puts before each line, when a JSON object follows it.
func stripLogTimestamp(line []byte) []byte {
	if line[0] < '0' || line[0] > '9' {
		return line
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 20 || sp > 40 || sp+1 >= len(line) || line[sp+1] != '{' {
		return line
	}
	if _, err := time.Parse(time.RFC3339Nano, string(line[:sp])); err != nil {
		return line
	}
	return line[sp+1:]
}

// detect guesses the format of an input from the top-level keys of its
// first JSON record. It reads keys until one decides, so a record that is
// cut short still decides by the keys before the cut.
func detect(line []byte) Format {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return FormatDetect
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return FormatDetect
		}
		key, _ := t.(string)
		switch key {
		case "output_fields", "rule", "priority", "output":
			return FormatFalco
		case "process_exec", "process_exit", "process_kprobe", "process_tracepoint", "process_uprobe",
			"process_lsm", "process_loader", "process_throttle", "process_usdt", "rate_limit_info", "node_name":
			return FormatTetragon
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return FormatDetect
		}
	}
	return FormatDetect
}
