package store

import (
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Benchmarks write to os.TempDir(): set TMPDIR to measure another disk.
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/store/

const benchRecord = 64 << 10 // a typical webhook EventList batch

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

func BenchmarkAppendSync(b *testing.B) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncBatch} {
		b.Run(policy.String(), func(b *testing.B) {
			s := openTest(b, Options{MaxWALBytes: 1 << 40, Sync: policy})
			rec := make([]byte, benchRecord)
			lat := make([]time.Duration, 0, b.N)
			b.SetBytes(benchRecord)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				t := time.Now()
				if _, err := s.Append(rec); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
			reportLatency(b, lat)
		})
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncBatch} {
		b.Run(policy.String(), func(b *testing.B) {
			s := openTest(b, Options{MaxWALBytes: 1 << 40, Sync: policy})
			var (
				mu  sync.Mutex
				lat = make([]time.Duration, 0, b.N)
			)
			b.SetBytes(benchRecord)
			b.SetParallelism(8) // 8 × GOMAXPROCS concurrent webhook handlers
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				rec := make([]byte, benchRecord)
				var mine []time.Duration
				for pb.Next() {
					t := time.Now()
					if _, err := s.Append(rec); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
			reportLatency(b, lat)
		})
	}
}

// BenchmarkReplay reads b.N records written and flushed to sstables before
// a restart, as the processor does after a crash with a backlog. It also
// reports how long Open takes to rebuild the WAL accounting.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	s := openAt(b, dir, Options{MaxWALBytes: 1 << 40})
	rec := make([]byte, benchRecord)
	for i := 0; i < b.N; {
		batch := s.db.NewBatch()
		for j := 0; j < 64 && i < b.N; j++ {
			i++
			_ = batch.Set(walKey(uint64(i)), rec, nil)
			_ = batch.Set(walSizeKey(uint64(i)), binary.BigEndian.AppendUint32(nil, benchRecord), nil)
		}
		if err := batch.Commit(pebble.NoSync); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	t := time.Now()
	s = openAt(b, dir, Options{MaxWALBytes: 1 << 40})
	open := time.Since(t)
	if _, r := s.Pending(); r != int64(b.N) {
		b.Fatalf("Pending = %d records, want %d", r, b.N)
	}
	b.SetBytes(benchRecord)
	b.ResetTimer()
	n := 0
	if err := s.Replay(0, func(uint64, []byte) error { n++; return nil }); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if n != b.N {
		b.Fatalf("replayed %d records, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(open.Microseconds())/1000, "open-ms")
}
