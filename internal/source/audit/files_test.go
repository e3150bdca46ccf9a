package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

// TestDecodeFilesRotation decodes a rotated log set (the API server's
// --audit-log-maxbackup naming, one backup gzipped by logrotate) whose files
// overlap, in every order and with one file read from stdin: each request is
// delivered exactly once whatever the order.
func TestDecodeFilesRotation(t *testing.T) {
	lines := bytes.SplitAfter(genEvents(300, 5, false), []byte{'\n'})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Lines 0-139, 120-229 (gzipped), 200-299: two overlaps of 20 and 30.
	older := write("audit-2026-11-24T01-00-00.000.log", bytes.Join(lines[0:140], nil))
	middle := write("audit-2026-11-24T02-00-00.000.log.gz", gzipped(t, string(bytes.Join(lines[120:230], nil))))
	current := bytes.Join(lines[200:300], nil)
	currentPath := write("audit.log", current)

	var want []string
	for _, r := range decodeString(t, NewDecoder(Options{}), string(bytes.Join(lines, nil))) {
		want = append(want, r.AuditID)
	}
	slices.Sort(want)
	if len(want) != 300 {
		t.Fatalf("reference decode delivered %d events, want 300", len(want))
	}

	orders := [][]string{
		{older, middle, currentPath},
		{currentPath, middle, older},
		{middle, "-", older}, // audit.log piped on stdin
		{older, older, middle, currentPath, middle},
	}
	for _, paths := range orders {
		d := NewDecoder(Options{Stdin: bytes.NewReader(current)})
		var got []string
		if err := d.DecodeFiles(paths, func(r *event.APIRequest) error {
			got = append(got, r.AuditID)
			return nil
		}); err != nil {
			t.Fatalf("DecodeFiles(%v): %v", paths, err)
		}
		slices.Sort(got)
		st := d.Stats()
		wantDup := int64(50)
		if len(paths) == 5 {
			wantDup = 50 + 140 + 110
		}
		if !slices.Equal(got, want) || st.Duplicates != wantDup || st.Rejected != 0 {
			t.Errorf("order %v: delivered %d distinct of %d, stats %+v, want %d duplicates",
				names(paths), len(slices.Compact(got)), len(want), st, wantDup)
		}
	}
}

func names(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func TestDecodeFilesErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	if err := os.WriteFile(good, genEvents(5, 1, false), 0o600); err != nil {
		t.Fatal(err)
	}
	full := gzipped(t, string(genEvents(2000, 2, false)))
	broken := filepath.Join(dir, "broken.log.gz")
	if err := os.WriteFile(broken, full[:len(full)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	nop := func(*event.APIRequest) error { return nil }

	err := NewDecoder(Options{}).DecodeFiles([]string{good, filepath.Join(dir, "missing.log")}, nop)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.log") {
		t.Errorf("missing file: %v, want a not-exist error naming the file", err)
	}
	if err := NewDecoder(Options{}).DecodeFiles([]string{"-"}, nop); err == nil || !strings.Contains(err.Error(), "Options.Stdin") {
		t.Errorf(`"-" without Stdin: %v`, err)
	}

	// A truncated file is reported, and the next file is still read.
	d := NewDecoder(Options{})
	err = d.DecodeFiles([]string{broken, good}, nop)
	if !errors.Is(err, ErrTruncated) || !strings.HasPrefix(err.Error(), broken+":") {
		t.Errorf("truncated file: %v, want ErrTruncated naming %s", err, broken)
	}
	if st := d.Stats(); st.Rejected != 1 || st.Delivered < 5+100 {
		t.Errorf("stats %+v: want 1 reject and the events of both files", st)
	}
	// Strict stops there.
	d = NewDecoder(Options{Strict: true})
	if err := d.DecodeFiles([]string{broken, good}, nop); !errors.Is(err, ErrTruncated) {
		t.Errorf("Strict: %v", err)
	}
	if st := d.Stats(); st.Delivered > 2000 {
		t.Errorf("Strict decoded past the truncated file: %+v", st)
	}
}

// recorder is a slog.Handler that keeps the records.
type recorder struct{ recs []slog.Record }

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	h.recs = append(h.recs, r)
	return nil
}
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recorder) WithGroup(string) slog.Handler      { return h }

// TestRejectLogging checks that rejects are logged with file and line, one
// by one for the first 20, then as a count every 1000, and that Stats keeps
// the first 20.
func TestRejectLogging(t *testing.T) {
	h := &recorder{}
	d := NewDecoder(Options{Logger: slog.New(h)})
	input := strings.Repeat("{not json}\n", 2500)
	decodeString(t, d, input)
	st := d.Stats()
	if st.Rejected != 2500 || len(st.Errors) != 20 {
		t.Fatalf("stats: %d rejected, %d errors kept", st.Rejected, len(st.Errors))
	}
	// 20 records, the switch-over notice, and counts at 1000 and 2000.
	if len(h.recs) != 23 {
		t.Fatalf("%d log records, want 23", len(h.recs))
	}
	first := h.recs[0]
	attrs := map[string]string{}
	first.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if first.Level != slog.LevelWarn || attrs["file"] != "test" || attrs["line"] != "1" || !strings.Contains(attrs["error"], "invalid character 'n' looking for an object key") {
		t.Errorf("first log record: %v %v", first.Level, attrs)
	}
	if h.recs[22].Message != "audit records rejected" {
		t.Errorf("last log record: %q", h.recs[22].Message)
	}
}
