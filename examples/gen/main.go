// Command gen writes kubedelta's bundled example: a small production-like
// cluster (examples/cluster/*.yaml), one day of its API server audit log
// (examples/audit.jsonl.gz) and one day of its Cilium Hubble flows
// (examples/flows.jsonl).
//
// Everything is derived from one model of the cluster (model.go) and a fixed
// seed, so the three outputs agree on every name, UID, IP address and time,
// and every run writes the same bytes:
//
//	go run ./examples/gen            # from the repository root
//	go run ./examples/gen -dir /tmp/example
//
// The copies of the Kubernetes default RBAC policy
// (examples/cluster/00-default-*.yaml) are not generated and not touched.
//
// Only the standard library is used, so the generator keeps working whatever
// happens to the module's dependencies.
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// seed drives every random choice. Change it and every name suffix, UID,
// timestamp jitter and port number changes with it.
const seed = 0x6b75626564656c74 // "kubedelt"

// The recorded day, in UTC. The cluster dump is taken right after it.
var (
	dayStart = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	dayEnd   = dayStart.Add(24 * time.Hour)
)

func main() {
	dir := flag.String("dir", "examples", "directory to write cluster/, audit.jsonl.gz and flows.jsonl into")
	flag.Parse()
	if err := run(*dir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string, log io.Writer) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("output directory %q does not exist (run from the repository root, or pass -dir): %w", dir, errors.Join(err, os.ErrNotExist))
	}
	m := newModel(seed)

	files, err := clusterFiles(m)
	if err != nil {
		return err
	}
	clusterDir := filepath.Join(dir, "cluster")
	if err := os.MkdirAll(clusterDir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(clusterDir, f.name), f.data, log); err != nil {
			return err
		}
	}

	events, err := auditLog(m)
	if err != nil {
		return err
	}
	gz, err := gzipBytes(events)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "audit.jsonl.gz"), gz, log); err != nil {
		return err
	}

	flows, err := flowLog(m)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "flows.jsonl"), flows, log)
}

// gzipBytes compresses b with a fixed header (no name, no time) so that the
// output depends on the content only.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeFile replaces path with data through a temporary file, so that an
// interrupted run never leaves a truncated example behind.
func writeFile(path string, data []byte, log io.Writer) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote %s (%d bytes)\n", path, len(data))
	return nil
}
