package proc

import (
	"encoding/json"
	"slices"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Tetragon's JSON export: one tetragon.GetEventsResponse per line, encoded
// by protojson with the proto field names (snake_case). The event is the
// one top-level key among process_exec, process_exit, process_kprobe,
// process_tracepoint, process_uprobe, process_lsm, ...; node_name and time
// sit beside it. Field names follow cilium/tetragon api/v1/tetragon/
// tetragon.proto (Process, Pod, Container, Image); the documented example is
// docs/content/en/docs/concepts/events.md in cilium/tetragon:
//
//	{"process_exec":{"process":{"exec_id":"...","pid":52699,"uid":0,"cwd":"/",
//	   "binary":"/usr/bin/curl","arguments":"https://ebpf.io/applications/#tetragon",
//	   "flags":"execve rootcwd","start_time":"2023-10-06T22:03:57.700327580Z","auid":4294967295,
//	   "pod":{"namespace":"default","name":"xwing","container":{"id":"containerd://551e...",
//	   "name":"spaceship","image":{"id":"docker.io/tgraf/netperf@sha256:8e86...",
//	   "name":"docker.io/tgraf/netperf:latest"},"start_time":"...","pid":49},
//	   "pod_labels":{"app.kubernetes.io/name":"xwing"},"workload":"xwing","workload_kind":"Pod"},
//	   "docker":"551e161c47d8ff0eb665438a7bcd5b4","parent_exec_id":"...","tid":52699},
//	 "parent":{"binary":"/bin/bash",...}},
//	 "node_name":"gke-john-632-default-pool-7041cac0-9s95","time":"2023-10-06T22:03:57.700326678Z"}
//
// pid and uid are google.protobuf.UInt32Value wrappers, which protojson
// writes as plain numbers.
type tetraLine struct {
	ProcessExec *tetraExec `json:"process_exec"`
	NodeName    string     `json:"node_name"`
	Time        string     `json:"time"`
}

type tetraExec struct {
	Process *tetraProcess `json:"process"`
	Parent  struct {
		Binary string `json:"binary"`
	} `json:"parent"`
}

type tetraProcess struct {
	PID       uint32   `json:"pid"`
	UID       uint32   `json:"uid"`
	Cwd       string   `json:"cwd"`
	Binary    string   `json:"binary"`
	Arguments string   `json:"arguments"`
	StartTime string   `json:"start_time"`
	Docker    string   `json:"docker"`
	Pod       tetraPod `json:"pod"`
}

type tetraPod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Container struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Image struct {
			Name string `json:"name"`
		} `json:"image"`
	} `json:"container"`
	Labels       map[string]string `json:"pod_labels"`
	Workload     string            `json:"workload"`
	WorkloadKind string            `json:"workload_kind"`
}

// parseTetragon decodes one Tetragon event into d.exec. Only process_exec
// describes a process start; every other event type is skipped.
func (d *Decoder) parseTetragon(line []byte) (status, *fieldError) {
	if !d.fastTetragon(line) {
		if fe := d.refTetragon(line); fe != nil {
			return 0, fe
		}
	}
	return d.tetraExec()
}

// refTetragon is the reference decoder: encoding/json into d.tetra, the
// labels into d.kv.
func (d *Decoder) refTetragon(line []byte) *fieldError {
	l := &d.tetra
	*l = tetraLine{}
	d.kv = d.kv[:0]
	if err := json.Unmarshal(line, l); err != nil {
		return jsonError(err)
	}
	if l.ProcessExec != nil && l.ProcessExec.Process != nil {
		for k, v := range l.ProcessExec.Process.Pod.Labels {
			d.kv = append(d.kv, label{k, v})
		}
	}
	return nil
}

// label is one pod label as read.
type label struct{ k, v string }

// tetraExec builds d.exec from d.tetra and d.kv.
func (d *Decoder) tetraExec() (status, *fieldError) {
	l := &d.tetra
	x := l.ProcessExec
	if x == nil {
		return stSkip, nil
	}
	p := x.Process
	if p == nil {
		return 0, errField("process_exec.process", "missing")
	}
	if p.Binary == "" {
		return 0, errField("process_exec.process.binary", "missing")
	}
	e := &d.exec
	*e = event.Exec{Source: "tetragon", Node: l.NodeName}
	switch {
	case l.Time != "":
		t, fe := parseTime("time", l.Time)
		if fe != nil {
			return 0, fe
		}
		e.Time = t
	case p.StartTime != "":
		t, fe := parseTime("process_exec.process.start_time", p.StartTime)
		if fe != nil {
			return 0, fe
		}
		e.Time = t
	default:
		return 0, errField("time", "missing (and no process_exec.process.start_time)")
	}
	pod := &p.Pod
	e.Namespace, e.Pod = pod.Namespace, pod.Name
	e.Container, e.ContainerID = pod.Container.Name, first(pod.Container.ID, p.Docker)
	e.Image = pod.Container.Image.Name
	e.Workload, e.WorkloadKind = pod.Workload, pod.WorkloadKind
	if len(d.kv) > 0 {
		e.Labels = make([]string, len(d.kv))
		for i, kv := range d.kv {
			d.scratch = append(append(append(d.scratch[:0], kv.k...), '='), kv.v...)
			e.Labels[i] = d.in.bytes(d.scratch)
		}
		slices.Sort(e.Labels)
	}
	e.PID, e.UID, e.Cwd = p.PID, p.UID, p.Cwd
	e.Executable = p.Binary
	e.Args = splitTetragon(p.Arguments)
	e.Parent = x.Parent.Binary
	return stDeliver, nil
}
