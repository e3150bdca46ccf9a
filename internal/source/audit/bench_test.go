package audit

import (
	"bytes"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// benchDecode decodes data (events JSON lines) b.N times with one Decoder,
// clearing its deduplication memory between rounds so that every round
// delivers every event, and reports events/s and allocations per event.
func benchDecode(b *testing.B, data []byte, opts Options) {
	events := bytes.Count(data, []byte{'\n'})
	d := NewDecoder(opts)
	var sink int
	fn := func(r *event.APIRequest) error {
		sink += r.Code + len(r.RequestObject) + len(r.ResponseObject)
		return nil
	}
	round := func() {
		d.seen.young.clear() // forget the previous round, keep the memory
		d.seen.old.clear()
		if err := d.Decode(bytes.NewReader(data), "bench", fn); err != nil {
			b.Fatal(err)
		}
	}
	round() // warm the intern tables and buffers
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		round()
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	if st := d.Stats(); st.Rejected != 0 || st.Delivered == 0 {
		b.Fatalf("stats %+v", st)
	}
	total := float64(events) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		// Throughput per second of CPU time used by the process (GC
		// included): meaningful on a machine shared with other work.
		b.ReportMetric(total/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/event")
	b.ReportMetric(float64(len(data))/float64(events), "bytes/event")
	_ = sink
}

func BenchmarkDecodeMetadata(b *testing.B) {
	benchDecode(b, genEvents(20000, 1, false), Options{})
}

func BenchmarkDecodeRequestResponse(b *testing.B) {
	benchDecode(b, genEvents(5000, 2, true), Options{KeepObjects: true})
}

// benchEvent is what a straightforward decoder would read with
// encoding/json: the fields kubedelta uses.
type benchEvent struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Level      string `json:"level"`
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string   `json:"username"`
		UID      string   `json:"uid"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	SourceIPs []string `json:"sourceIPs"`
	UserAgent string   `json:"userAgent"`
	ObjectRef *struct {
		Resource, Namespace, Name, APIGroup, APIVersion, Subresource string
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code    int    `json:"code"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp time.Time         `json:"requestReceivedTimestamp"`
	StageTimestamp           time.Time         `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations"`
}

// BenchmarkEncodingJSONBaseline is the comparison point: encoding/json into
// a struct, line by line.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	data := genEvents(20000, 1, false)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		for _, l := range lines {
			var e benchEvent
			if err := json.Unmarshal(l, &e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
