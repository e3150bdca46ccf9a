package flow

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// benchDecode decodes input b.N times with one long-lived decoder (as a
// server or CLI run would) and reports records per second.
func benchDecode(b *testing.B, format Format, input []byte) {
	b.Helper()
	d := NewDecoder(Options{Format: format})
	var n int64
	sink := func(f *event.Flow) error {
		n += int64(f.Dst.Port)
		return nil
	}
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if err := d.Decode(bytes.NewReader(input), "bench", sink); err != nil {
			b.Fatal(err)
		}
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	st := d.Stats()
	if st.Rejected != 0 {
		b.Fatalf("rejected records: %v", st.Errors)
	}
	b.ReportMetric(float64(st.Records)/elapsed.Seconds(), "records/s")
	if cpu > 0 {
		b.ReportMetric(float64(st.Records)/cpu.Seconds(), "records/cpu-s")
	}
	_ = n
}

func BenchmarkHubble(b *testing.B) {
	var input []byte
	for _, f := range []string{"basic-sample-10-flows.json", "basic-sample-400-tcp-flows.json", "basic-sample-400-udp-flows.json"} {
		data, err := os.ReadFile(filepath.Join(fixtureDir, "hubble", f))
		if err != nil {
			b.Skipf("fixture missing: %v", err)
		}
		input = append(input, data...)
	}
	benchDecode(b, FormatHubble, bytes.Repeat(input, 4))
}

// Synthetic inputs: 200 pods talking to 50 services, varied ports.
const benchRecords = 100_000

func BenchmarkGeneric(b *testing.B) { benchDecode(b, FormatGeneric, genericInput()) }

var genericInput = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	for i := 0; i < benchRecords; i++ {
		fmt.Fprintf(&buf, `{"time":"2024-05-01T12:%02d:%02d.%06dZ","src_ip":"10.244.%d.%d","src_port":%d,"dst_ip":"10.96.0.%d","dst_port":%d,"protocol":"TCP","bytes":%d,"packets":%d,"verdict":"FORWARDED","src_namespace":"team-%d","src_pod":"web-%d","dst_namespace":"team-%d","dst_pod":"api-%d"}`+"\n",
			i/60000%60, i/1000%60, i%1000000, i%200/250, i%200, 32768+i%28000, i%50, 8000+i%50, 100+i%5000, 1+i%30, i%10, i%200, i%50%10, i%50)
	}
	return buf.Bytes()
})

func BenchmarkVPC(b *testing.B) { benchDecode(b, FormatVPC, vpcInput()) }

var vpcInput = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	buf.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
	for i := 0; i < benchRecords; i++ {
		fmt.Fprintf(&buf, "2 123456789010 eni-0a1b2c3d4e5f%05d 10.0.%d.%d 10.1.%d.%d %d %d 6 %d %d %d %d ACCEPT OK\n",
			i%300, i%200/250, i%200, i%50/250, i%50, 32768+i%28000, 443+i%50, 1+i%30, 100+i%5000, 1700000000+i/10, 1700000060+i/10)
	}
	return buf.Bytes()
})

func BenchmarkConntrack(b *testing.B) { benchDecode(b, FormatConntrack, conntrackInput()) }

var conntrackInput = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	for i := 0; i < benchRecords/2; i++ {
		sec := 1700000000 + i/100
		sport := 32768 + i%28000
		fmt.Fprintf(&buf, "[%d.%06d]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.%d.%d dst=10.96.0.%d sport=%d dport=80 [UNREPLIED] src=10.244.9.%d dst=10.244.%d.%d sport=8080 dport=%d\n",
			sec, i%1000000, i%200/250, i%200, i%50, sport, i%50, i%200/250, i%200, sport)
		fmt.Fprintf(&buf, "[%d.%06d]\t[DESTROY] ipv4     2 tcp      6 src=10.244.%d.%d dst=10.96.0.%d sport=%d dport=80 packets=%d bytes=%d src=10.244.9.%d dst=10.244.%d.%d sport=8080 dport=%d packets=4 bytes=3100 [ASSURED] mark=0 delta-time=1 use=1\n",
			sec+1, i%1000000, i%200/250, i%200, i%50, sport, 1+i%30, 100+i%5000, i%50, i%200/250, i%200, sport)
	}
	return buf.Bytes()
})
