package sim

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/audit"
	"github.com/kubedelta/kubedelta/internal/source/flow"
	procsrc "github.com/kubedelta/kubedelta/internal/source/proc"
)

// outputs are the streams of one simulation, in memory.
type outputs struct {
	sum                                      Summary
	cluster, audit, flows, exec, groundTruth bytes.Buffer
}

// small is a cluster small enough for unit tests: three namespaces over six
// hours, attacks in the last three.
func small(seed uint64, attacks ...string) Config {
	return Config{Seed: seed, Namespaces: 3, Days: 0.25, Attacks: attacks}
}

func simulate(t testing.TB, cfg Config, execFormat string) *outputs {
	t.Helper()
	o := &outputs{}
	sum, err := Generate(cfg, Writers{Cluster: &o.cluster, Audit: &o.audit, Flows: &o.flows, Exec: &o.exec, ExecFormat: execFormat, GroundTruth: &o.groundTruth})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	o.sum = sum
	return o
}

// auditEvents decodes the audit stream with kubedelta's decoder, bodies
// kept, every stage delivered; it fails the test on any reject.
func (o *outputs) auditEvents(t testing.TB) []event.APIRequest {
	t.Helper()
	d := audit.NewDecoder(audit.Options{KeepObjects: true, AllStages: true})
	var out []event.APIRequest
	err := d.Decode(bytes.NewReader(o.audit.Bytes()), "audit.jsonl", func(r *event.APIRequest) error {
		c := *r
		c.RequestObject = bytes.Clone(r.RequestObject)
		c.ResponseObject = bytes.Clone(r.ResponseObject)
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	if st := d.Stats(); st.Rejected != 0 {
		t.Fatalf("audit decoder rejected %d of %d records: %v", st.Rejected, st.Records, st.Errors)
	}
	return out
}

// flowEvents decodes the flow stream (replies and repeats dropped as the
// decoder does); it fails the test on any reject.
func (o *outputs) flowEvents(t testing.TB) []event.Flow {
	t.Helper()
	d := flow.NewDecoder(flow.Options{Format: flow.FormatHubble})
	var out []event.Flow
	err := d.Decode(bytes.NewReader(o.flows.Bytes()), "flows.jsonl", func(f *event.Flow) error {
		c := *f
		c.Src.Names = append([]string(nil), f.Src.Names...)
		c.Dst.Names = append([]string(nil), f.Dst.Names...)
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatalf("flows: %v", err)
	}
	if st := d.Stats(); st.Rejected != 0 {
		t.Fatalf("flow decoder rejected %d of %d records: %v", st.Rejected, st.Records, st.Errors)
	}
	return out
}

func (o *outputs) inventory(t testing.TB) *cluster.Inventory {
	t.Helper()
	inv := &cluster.Inventory{}
	if err := cluster.LoadReader(bytes.NewReader(o.cluster.Bytes()), "cluster.yaml", inv); err != nil {
		t.Fatalf("cluster: %v", err)
	}
	return inv
}

// execRecord is the part of a process event the tests look at, from either
// format.
type execRecord struct {
	Time      time.Time
	Node      string
	Namespace string
	Pod       string
	Binary    string
	Args      string
	Rule      string
	Image     string
}

// falcoLine lists the fields of Falco's JSON output (json_output: true)
// that kubedelta reads; see falco's docs, "Outputs > Formatting".
type falcoLine struct {
	Hostname     string         `json:"hostname"`
	Output       string         `json:"output"`
	Priority     string         `json:"priority"`
	Rule         string         `json:"rule"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Time         time.Time      `json:"time"`
	OutputFields map[string]any `json:"output_fields"`
}

// tetragonProcess mirrors tetragon.Process (api/v1/tetragon/tetragon.proto)
// as protojson writes it with proto names.
type tetragonProcess struct {
	ExecID       string    `json:"exec_id"`
	PID          *uint32   `json:"pid"`
	UID          *uint32   `json:"uid"`
	Cwd          string    `json:"cwd"`
	Binary       string    `json:"binary"`
	Arguments    string    `json:"arguments"`
	Flags        string    `json:"flags"`
	StartTime    time.Time `json:"start_time"`
	Auid         *uint32   `json:"auid"`
	ParentExecID string    `json:"parent_exec_id"`
	Docker       string    `json:"docker"`
	Tid          *uint32   `json:"tid"`
	Pod          *struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
		Container struct {
			ID    string `json:"id"`
			Name  string `json:"name"`
			Image struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"image"`
			StartTime time.Time `json:"start_time"`
			PID       *uint32   `json:"pid"`
		} `json:"container"`
		PodLabels    map[string]string `json:"pod_labels"`
		Workload     string            `json:"workload"`
		WorkloadKind string            `json:"workload_kind"`
	} `json:"pod"`
}

type tetragonLine struct {
	ProcessExec *struct {
		Process *tetragonProcess `json:"process"`
		Parent  *tetragonProcess `json:"parent"`
	} `json:"process_exec"`
	NodeName string    `json:"node_name"`
	Time     time.Time `json:"time"`
}

// execEvents decodes the exec stream with kubedelta's decoder
// (internal/source/proc), failing the test on any reject or skipped record,
// and checks every line against the fields of the real format with
// encoding/json (unknown fields are errors, required fields checked).
func (o *outputs) execEvents(t testing.TB, format string) []execRecord {
	t.Helper()
	d := procsrc.NewDecoder(procsrc.Options{Format: procsrc.Format(format)})
	var out []execRecord
	err := d.Decode(bytes.NewReader(o.exec.Bytes()), "exec.jsonl", func(x *event.Exec) error {
		out = append(out, execRecord{Time: x.Time, Node: x.Node, Namespace: x.Namespace, Pod: x.Pod, Binary: x.Executable,
			Args: strings.Join(x.Args, " "), Rule: x.Rule, Image: x.Image})
		return nil
	})
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	if st := d.Stats(); st.Rejected != 0 || st.Skipped != 0 {
		t.Fatalf("exec decoder rejected %d and skipped %d of %d records: %v", st.Rejected, st.Skipped, st.Records, st.Errors)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(o.exec.Bytes(), []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		switch format {
		case ExecTetragon:
			var l tetragonLine
			if err := dec.Decode(&l); err != nil {
				t.Fatalf("exec.jsonl:%d: %v", i+1, err)
			}
			pe := l.ProcessExec
			if pe == nil || pe.Process == nil || pe.Process.ExecID == "" || pe.Process.PID == nil || pe.Process.UID == nil ||
				pe.Process.Binary == "" || pe.Process.Pod == nil || pe.Process.Pod.Container.ID == "" || pe.Process.Pod.Container.Image.Name == "" ||
				l.NodeName == "" || l.Time.IsZero() || pe.Process.StartTime.IsZero() || pe.Parent == nil || pe.Parent.ExecID != pe.Process.ParentExecID {
				t.Fatalf("exec.jsonl:%d: missing fields: %s", i+1, line)
			}
		default:
			var l falcoLine
			if err := dec.Decode(&l); err != nil {
				t.Fatalf("exec.jsonl:%d: %v", i+1, err)
			}
			for _, k := range []string{"container.id", "container.image.repository", "k8s.ns.name", "k8s.pod.name", "proc.cmdline",
				"proc.exepath", "proc.name", "proc.pname", "user.uid", "evt.time"} {
				if _, ok := l.OutputFields[k]; !ok {
					t.Fatalf("exec.jsonl:%d: output_fields.%s missing: %s", i+1, k, line)
				}
			}
			if l.Output == "" || l.Priority == "" || l.Rule == "" || l.Time.IsZero() || l.Hostname == "" || l.Source != "syscall" {
				t.Fatalf("exec.jsonl:%d: missing fields: %s", i+1, line)
			}
		}
	}
	return out
}

func addr(t testing.TB, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
