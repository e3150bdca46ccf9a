package proc

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Fuzz tests: the decoders survive any input, keep their counters
// consistent, and the scanner fast path agrees with the encoding/json
// reference on every record it accepts (and never accepts a record the
// reference rejects).

// fuzzDecode runs the whole input through a decoder of the given format.
func fuzzDecode(t *testing.T, format Format, data []byte) {
	t.Helper()
	for _, strict := range []bool{false, true} {
		d := NewDecoder(Options{Format: format, Strict: strict})
		err := d.Decode(bytes.NewReader(data), "fuzz", func(e *event.Exec) error {
			if e.Source == "" || e.Time.IsZero() {
				t.Fatalf("delivered an event without source or time: %+v", e)
			}
			if e.Source == "tetragon" && e.Executable == "" {
				t.Fatalf("delivered a Tetragon event without binary: %+v", e)
			}
			return nil
		})
		if err == nil {
			checkInvariant(t, d.Stats())
		}
	}
}

// pathResult is what one decoding path made of one record.
type pathResult struct {
	st  status
	fe  *fieldError
	sum string
}

func (r pathResult) String() string {
	if r.fe != nil {
		return "error " + r.fe.field + ": " + r.fe.msg
	}
	if r.st == stSkip {
		return "skip"
	}
	return r.sum
}

// comparePaths decodes line with the fast path and with the reference and
// fails when the fast path accepted the record and the results differ.
func comparePaths(t *testing.T, line []byte, fast func(*Decoder, []byte) bool, ref func(*Decoder, []byte) *fieldError, build func(*Decoder) (status, *fieldError)) {
	t.Helper()
	fd := NewDecoder(Options{})
	if !fast(fd, line) {
		return // the reference decides alone
	}
	var fr pathResult
	fr.st, fr.fe = build(fd)
	fr.sum = summary(&fd.exec)

	rd := NewDecoder(Options{})
	var rr pathResult
	if rr.fe = ref(rd, line); rr.fe == nil {
		rr.st, rr.fe = build(rd)
		rr.sum = summary(&rd.exec)
	}
	if fr.String() != rr.String() {
		t.Fatalf("%q:\n fast: %s\n  ref: %s", line, fr, rr)
	}
	if fr.fe == nil && fr.st == stDeliver && !fd.exec.Time.Equal(rd.exec.Time) {
		t.Fatalf("%q: time %v, reference %v", line, fd.exec.Time, rd.exec.Time)
	}
}

func fuzzLines(data []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

func FuzzFalco(f *testing.F) {
	// Seeds stay short: the fuzzer minimizes every new input, and a 1.5 KB
	// fixture line takes it minutes. The fixtures are covered by TestGolden.
	f.Add([]byte(`{"hostname":"n1","priority":"Notice","rule":"Terminal shell in container","source":"syscall","tags":["a"],"time":"2024-05-01T12:00:00.123456789Z","output_fields":{"container.id":"3ad7b26ded6d","container.image.repository":"nginx","container.image.tag":"1.25","k8s.ns.name":"shop","k8s.pod.name":"web-1","proc.cmdline":"bash -i","proc.exepath":"/usr/bin/bash","proc.name":"bash","proc.pid":41877,"proc.pname":"runc","user.uid":0}}`))
	f.Add([]byte(`{"time":"2024-05-01T12:00:00Z","output_fields":{"proc.name":"sh","proc.pid":"12","user.uid":-1,"evt.time":"x","container.image.tag":1e3,"proc.exe":true}}`))
	f.Add([]byte(`{"output_fields":{"proc.name":"a\u00e9\ud83d\ude00","evt.time.iso8601":"2024-05-01T12:00:00+02:00","PROC.NAME":"b"},"output_fields":null}`))
	f.Add([]byte(`{"time":"2024-05-01T12:00:00Z","output_fields":{"proc.cmdline":"sh -c 'a b' \"c\\\" d\" e\\ f","proc.name":"<NA>","k8s.pod.name":"\u003cNA>"},"time":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, FormatFalco, data)
		for _, line := range fuzzLines(data) {
			if line[0] != '{' {
				continue
			}
			comparePaths(t, line, (*Decoder).fastFalco, (*Decoder).refFalco, (*Decoder).falcoExec)
		}
	})
}

func FuzzTetragon(f *testing.F) {
	f.Add([]byte(`{"process_exec":{"process":{"exec_id":"x","pid":52699,"uid":0,"cwd":"/","binary":"/usr/bin/curl","arguments":"-c \"a b\"","start_time":"2023-10-06T22:03:57.7Z","pod":{"namespace":"default","name":"xwing","container":{"id":"containerd://551e","name":"spaceship","image":{"id":"i","name":"netperf:latest"}},"pod_labels":{"class":"xwing"},"workload":"xwing","workload_kind":"Pod"},"docker":"551e"},"parent":{"binary":"/bin/bash"}},"node_name":"gke-1","time":"2023-10-06T22:03:57.700326678Z"}`))
	f.Add([]byte(`{"process_exec":{"process":{"pid":1,"uid":4294967295,"binary":"/bin/sh","arguments":" \"a b\" c","pod":{"pod_labels":{"a":"1","a":null,"b\u00e9":"2"}}},"process":{"cwd":"/"}},"time":"2024-05-01T12:00:00Z"}`))
	f.Add([]byte(`{"process_exec":null,"process_exec":{"process":null,"process":{"binary":"/x","start_time":"2024-05-01T12:00:00.1+01:00","pod":null}},"node_name":"n"}`))
	f.Add([]byte(`{"process_exit":{"process":{"pid":1}},"node_name":"n","time":"2024-05-01T12:00:00Z","Process_Exec":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, FormatTetragon, data)
		for _, line := range fuzzLines(data) {
			comparePaths(t, line, (*Decoder).fastTetragon, (*Decoder).refTetragon, (*Decoder).tetraExec)
		}
	})
}

// FuzzDetect: format detection on arbitrary input never panics and keeps
// the counters consistent.
func FuzzDetect(f *testing.F) {
	f.Add([]byte("Falco version 0.38\n{\"rule\":\"r\"}\n"))
	f.Add([]byte("[1]\n"))
	f.Add([]byte("{\"node_name\":\"x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, FormatDetect, data)
	})
}

// FuzzSplit: both splitters invert their producer's join for every argv
// the join can represent, and never lose a non-separator byte.
func FuzzSplit(f *testing.F) {
	f.Add("sh\x00-c\x00echo \"a b\" | wc")
	f.Add("it's\x00back\\slash\x00 lead\x00trail \x00\"q\"")
	f.Fuzz(func(t *testing.T, joined string) {
		argv := strings.Split(joined, "\x00")
		if got := splitShell(quoteShell(argv)); !slices.Equal(got, argv) {
			t.Fatalf("splitShell(quoteShell(%q)) = %q", argv, got)
		}
		// Tetragon's join is reversible for arguments that are not empty
		// and hold no double quote.
		if !slices.Contains(argv, "") && !strings.Contains(joined, `"`) {
			if got := splitTetragon(joinTetragon(argv)); !slices.Equal(got, argv) {
				t.Fatalf("splitTetragon(joinTetragon(%q)) = %q", argv, got)
			}
		}
		// Any string: words hold no separator and nothing else is lost.
		for _, w := range splitTetragon(joined) {
			if w == "" || (strings.Contains(w, " ") && !strings.Contains(joined, `"`+w+`"`)) {
				t.Fatalf("splitTetragon(%q): bad word %q", joined, w)
			}
		}
		_ = splitShell(joined)
	})
}

// FuzzFromAudit: any request URI converts without panicking, the command
// words are the command= parameters in order.
func FuzzFromAudit(f *testing.F) {
	f.Add("/api/v1/namespaces/shop/pods/web-1/exec?command=sh&command=-c&command=cat%20%2Fetc%2Fshadow&container=web&stdin=true&stdout=true&tty=true", "exec")
	f.Add("/api/v1/namespaces/a%2Fb/pods/%zz/attach?container=c", "attach")
	f.Fuzz(func(t *testing.T, uri, sub string) {
		r := &event.APIRequest{Resource: "pods", Subresource: sub, RequestURI: uri}
		e, ok := FromAudit(r)
		if ok != (sub == "exec" || sub == "attach") {
			t.Fatalf("ok=%v for subresource %q", ok, sub)
		}
		if !ok {
			return
		}
		_, q, _ := strings.Cut(uri, "?")
		n := 0
		for _, kv := range strings.Split(q, "&") {
			if k, _, _ := strings.Cut(kv, "="); k == "command" {
				n++
			}
		}
		words := len(e.Args)
		if e.Executable != "" || len(e.Args) > 0 {
			words++
		}
		if sub == "exec" && n > 0 && (len(e.Args) != n-1) {
			t.Fatalf("%q: %d command params, args %q", uri, n, e.Args)
		}
		if sub == "attach" && words != 0 {
			t.Fatalf("attach with a command: %+v", e)
		}
	})
}

// TestFastPath: the fixtures' records take the fast path (it is not
// silently bypassed), and both paths agree on them.
func TestFastPath(t *testing.T) {
	for _, file := range []string{"falco.jsonl", "falcosidekick.jsonl", "tetragon.jsonl"} {
		for i, line := range fuzzLines(readTestdata(t, file)) {
			if line[0] != '{' {
				continue
			}
			d := NewDecoder(Options{})
			fast, ref, build := (*Decoder).fastFalco, (*Decoder).refFalco, (*Decoder).falcoExec
			if strings.HasPrefix(file, "tetragon") {
				fast, ref, build = (*Decoder).fastTetragon, (*Decoder).refTetragon, (*Decoder).tetraExec
			}
			if !fast(d, line) {
				t.Errorf("%s:%d: the fast path gave up on a well-formed record", file, i+1)
			}
			comparePaths(t, line, fast, ref, build)
		}
	}
}
