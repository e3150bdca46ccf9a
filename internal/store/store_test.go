package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// openTest opens a store in a fresh directory and closes it at cleanup.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	return openAt(t, t.TempDir(), opts)
}

func openAt(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustVersion(t *testing.T, s *Store) int {
	t.Helper()
	v, err := s.schemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// setRaw writes a key behind the store's back (to fake old or future data).
func setRaw(t *testing.T, dir string, key, value []byte) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebbleFormat})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(key, value, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSchemaVersion(t *testing.T) {
	t.Run("v0 (empty) is initialized to the current version", func(t *testing.T) {
		s := openTest(t, Options{})
		if got := mustVersion(t, s); got != schemaVersion {
			t.Fatalf("schema version = %d, want %d", got, schemaVersion)
		}
	})
	t.Run("current version reopens", func(t *testing.T) {
		dir := t.TempDir()
		s := openAt(t, dir, Options{})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openAt(t, dir, Options{})
		if got := mustVersion(t, s); got != schemaVersion {
			t.Fatalf("schema version = %d, want %d", got, schemaVersion)
		}
	})
	t.Run("future version is refused", func(t *testing.T) {
		dir := t.TempDir()
		setRaw(t, dir, keyVersion, binary.BigEndian.AppendUint32(nil, schemaVersion+1))
		_, err := Open(dir, Options{})
		if !errors.Is(err, ErrSchema) {
			t.Fatalf("Open = %v, want ErrSchema", err)
		}
		for _, want := range []string{dir, "schema version 2", "supports up to 1", "newer kubedelta"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})
	t.Run("malformed version is refused", func(t *testing.T) {
		dir := t.TempDir()
		setRaw(t, dir, keyVersion, []byte("x"))
		if _, err := Open(dir, Options{}); !errors.Is(err, ErrSchema) {
			t.Fatalf("Open = %v, want ErrSchema", err)
		}
	})
}

func TestOpenRunsMigrations(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A hypothetical v1 → v2 migration that reads through the batch and
	// rewrites a key.
	var ran []int
	migs := append(defaultMigrations(),
		func(b *pebble.Batch) error {
			v, closer, err := b.Get(keyVersion)
			if err != nil {
				return err
			}
			ran = append(ran, int(binary.BigEndian.Uint32(v)))
			closer.Close()
			return b.Set([]byte("x/migrated"), []byte("yes"), nil)
		})
	s, err := open(dir, Options{}, migs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if len(ran) != 1 || ran[0] != 1 {
		t.Fatalf("migration saw versions %v, want [1]", ran)
	}
	if got := mustVersion(t, s); got != 2 {
		t.Fatalf("schema version after migration = %d, want 2", got)
	}
	v, closer, err := s.db.Get([]byte("x/migrated"))
	if err != nil || !bytes.Equal(v, []byte("yes")) {
		t.Fatalf("migrated key = %q, %v", v, err)
	}
	closer.Close()

	t.Run("a failing migration leaves the version alone", func(t *testing.T) {
		dir := t.TempDir()
		s := openAt(t, dir, Options{})
		_ = s.Close()
		boom := errors.New("boom")
		migs := append(defaultMigrations(), func(*pebble.Batch) error { return boom })
		if _, err := open(dir, Options{}, migs); !errors.Is(err, boom) || !strings.Contains(err.Error(), "migrate schema 1 to 2") {
			t.Fatalf("open = %v, want boom naming the step", err)
		}
		s = openAt(t, dir, Options{})
		if got := mustVersion(t, s); got != 1 {
			t.Fatalf("version = %d, want 1", got)
		}
	})
}

func TestOpenIsExclusive(t *testing.T) {
	dir := t.TempDir()
	openAt(t, dir, Options{})
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "another kubedelta") {
		t.Fatalf("second Open = %v, want a lock error", err)
	}
}

func TestClose(t *testing.T) {
	s := openTest(t, Options{})
	if _, err := s.Append([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	checks := map[string]error{}
	_, checks["Append"] = s.Append([]byte("b"))
	checks["Replay"] = s.Replay(0, func(uint64, []byte) error { return nil })
	checks["Release"] = s.Release(1)
	checks["SaveSnapshot"] = s.SaveSnapshot(snapshotAt(0))
	_, _, checks["LoadSnapshot"] = s.LoadSnapshot()
	checks["PutAlerts"] = s.PutAlerts(testAlerts()[:1])
	_, checks["ListAlerts"] = s.ListAlerts(filterAll())
	checks["AckAlert"] = s.AckAlert("x", "me", time.Now())
	checks["PutEvents"] = s.PutEvents("audit", []rawEvent{{ID: "x"}})
	_, checks["PruneEvents"] = s.PruneEvents(time.Now())
	for op, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", op, err)
		}
	}
}

func TestCloseWaitsForReplayThatCallsTheStore(t *testing.T) {
	// A processor that saves snapshots from inside Replay must not deadlock
	// with a concurrent Close.
	s := openTest(t, Options{})
	for range 50 {
		if _, err := s.Append([]byte("r")); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	err := s.Replay(0, func(seq uint64, _ []byte) error {
		if seq == 10 {
			go func() { closed <- s.Close() }()
			time.Sleep(20 * time.Millisecond) // let Close start waiting
		}
		if seq >= 10 {
			// Calls started after Close began fail fast instead of blocking.
			if err := s.SaveSnapshot(snapshotAt(seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Replay = %v, want ErrClosed", err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}

func TestSyncPolicy(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    SyncPolicy
		str     string
		wantErr bool
	}{
		{"always", SyncAlways, "always", false},
		{"", SyncAlways, "always", false},
		{"batch", SyncBatch, "batch", false},
		{"never", 0, "", true},
	} {
		got, err := ParseSyncPolicy(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseSyncPolicy(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil && got.String() != tc.str {
			t.Errorf("%d.String() = %q, want %q", int(got), got.String(), tc.str)
		}
	}
	if got := SyncPolicy(9).String(); got != "SyncPolicy(9)" {
		t.Errorf("String of an unknown policy = %q", got)
	}
	if _, err := Open(t.TempDir(), Options{Sync: SyncPolicy(9)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open with a bad policy = %v, want ErrInvalid", err)
	}
	s := openTest(t, Options{Sync: SyncBatch})
	if seq, err := s.Append([]byte("x")); err != nil || seq != 1 {
		t.Fatalf("Append under SyncBatch = %d, %v", seq, err)
	}
}
