package sim

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Process events in containers, as Falco or Tetragon report them.
//
// Falco writes one JSON alert per line with json_output: true (keys sorted,
// as its JSON library writes them): hostname, output, output_fields,
// priority, rule, source, tags, time. Falco only reports what a rule
// matches; kubedelta's deployment adds a rule for every process spawned in
// a container ("Container process spawned", priority Informational), and
// attacks also trip Falco's stock rules (Terminal shell in container,
// Redirect STDOUT/STDIN to Network Connection in Container, Detect crypto
// miners using the Stratum protocol, Launch Privileged Container).
//
// Tetragon writes process_exec events (tetragon.proto GetEventsResponse,
// protojson with proto names): {"process_exec":{"process":{...},"parent":
// {...}},"node_name":...,"time":...}.

type execFormat uint8

const (
	fmtFalco execFormat = iota
	fmtTetragon
)

// proc is one process start.
type proc struct {
	p      *pod // nil for a host process
	ci     int  // container index
	pid    uint32
	uid    int
	argv   []string // argv[0] is the executable's path
	cwd    string
	start  int64
	parent *proc
	tty    bool
	// Falco's view: the rule it trips (default: the spawned-process rule).
	rule, priority, evtType, output string
	tags                            []string
}

func (pr *proc) name() string {
	b := pr.argv[0]
	if i := strings.LastIndexByte(b, '/'); i >= 0 {
		b = b[i+1:]
	}
	if len(b) > 15 {
		b = b[:15] // the kernel's comm
	}
	return b
}

// args are the arguments as Tetragon prints them: joined with spaces, an
// argument with a space (or empty) double-quoted, with " and \ escaped.
func (pr *proc) args() string {
	var b strings.Builder
	for i, a := range pr.argv[1:] {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " \t\"\\") {
			b.WriteString(a)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(a); j++ {
			if a[j] == '"' || a[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(a[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// shim is the containerd shim of p's containers: the parent of every
// process the runtime starts in them.
func shim(p *pod, start int64) *proc {
	return &proc{pid: 1000 + uint32(p.epID)*7%60000, argv: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", p.containerIDs[0], "-address", "/run/containerd/containerd.sock"},
		cwd: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + p.containerIDs[0], start: start}
}

// newPID takes the next process ID on p's node.
func (e *engine) newPID(n *node, r *rng) uint32 {
	n.nextPID += 1 + uint32(r.intn(60))
	if n.nextPID > 4194000 {
		n.nextPID = 300
	}
	return n.nextPID
}

func execID(n *node, ktime int64, pid uint32) string {
	b := make([]byte, 0, 48)
	b = append(b, n.name...)
	b = append(b, ':')
	b = strconv.AppendInt(b, ktime, 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(pid), 10)
	return base64.StdEncoding.EncodeToString(b)
}

// execEvent renders the start of pr at t.
func (e *engine) execEvent(s *source, t int64, pr *proc) {
	if !e.enabled(stExec) {
		return
	}
	b := s.buf()
	off := len(b)
	if e.exec == fmtTetragon {
		b = e.tetragon(b, t, pr)
	} else {
		b = e.falco(b, t, pr)
	}
	s.commit(b, off, stExec, t)
}

func (e *engine) tetragonProcess(b []byte, pr *proc, n *node) []byte {
	b = append(b, `{"exec_id":"`...)
	b = append(b, execID(n, pr.start-n.created, pr.pid)...)
	b = append(b, `","pid":`...)
	b = strconv.AppendUint(b, uint64(pr.pid), 10)
	b = append(b, `,"uid":`...)
	b = appendInt(b, int64(pr.uid))
	b = append(b, `,"cwd":`...)
	b = appendStr(b, pr.cwd, false)
	b = append(b, `,"binary":`...)
	b = appendStr(b, pr.argv[0], false)
	if len(pr.argv) > 1 {
		b = append(b, `,"arguments":`...)
		b = appendStr(b, pr.args(), false)
	}
	if pr.p != nil {
		b = append(b, `,"flags":"execve clone","start_time":`...)
	} else {
		b = append(b, `,"flags":"procFS auid rootcwd","start_time":`...)
	}
	b = e.tf.proto(b, pr.start)
	b = append(b, `,"auid":4294967295`...)
	if p := pr.p; p != nil {
		b = append(b, `,"pod":`...)
		b = append(b, p.execCache(e, pr.ci).tetragonPod...)
		b = append(b, `,"docker":"`...)
		b = append(b, p.containerIDs[pr.ci][:31]...)
		b = append(b, '"')
	}
	if pr.parent != nil {
		b = append(b, `,"parent_exec_id":"`...)
		b = append(b, execID(n, pr.parent.start-n.created, pr.parent.pid)...)
		b = append(b, '"')
	}
	b = append(b, `,"tid":`...)
	b = strconv.AppendUint(b, uint64(pr.pid), 10)
	return append(b, '}')
}

func (e *engine) tetragon(b []byte, t int64, pr *proc) []byte {
	n := pr.node()
	b = append(b, `{"process_exec":{"process":`...)
	b = e.tetragonProcess(b, pr, n)
	if pr.parent != nil {
		b = append(b, `,"parent":`...)
		b = e.tetragonProcess(b, pr.parent, n)
	}
	b = append(b, `},"node_name":`...)
	b = appendStr(b, n.name, false)
	b = append(b, `,"time":`...)
	b = e.tf.proto(b, t)
	return append(b, '}')
}

func (pr *proc) node() *node {
	for q := pr; q != nil; q = q.parent {
		if q.p != nil {
			return q.p.node
		}
	}
	return nil
}

func (e *engine) falco(b []byte, t int64, pr *proc) []byte {
	p := pr.p
	n := pr.node()
	ec := p.execCache(e, pr.ci)
	user := "root"
	if pr.uid != 0 {
		user = "<NA>"
	}
	pname := "<NA>"
	if pr.parent != nil {
		pname = pr.parent.name()
	}
	rule, prio, evt := pr.rule, pr.priority, pr.evtType
	if rule == "" {
		rule, prio = "Container process spawned", "Informational"
	}
	if evt == "" {
		evt = "execve"
	}
	name := pr.name()
	tty := 0
	if pr.tty {
		tty = 34816
	}
	msg := pr.output
	if msg == "" {
		msg = "Process spawned in container"
	}
	// The output line: "<clock>: <Priority> <message> | <fields>".
	out := e.scratch[:0]
	out = append(out, e.tf.secPrefix(t)[11:]...)
	out = append(out, '.')
	out = appendFrac(out, floorMod(t, 1e9), 9)
	out = append(out, ": "...)
	out = append(out, prio...)
	out = append(out, ' ')
	out = append(out, msg...)
	out = append(out, " | evt_type="...)
	out = append(out, evt...)
	out = append(out, " user="...)
	out = append(out, user...)
	out = append(out, " user_uid="...)
	out = appendInt(out, int64(pr.uid))
	out = append(out, " process="...)
	out = append(out, name...)
	out = append(out, " proc_exepath="...)
	out = append(out, pr.argv[0]...)
	out = append(out, " parent="...)
	out = append(out, pname...)
	out = append(out, " command="...)
	cmdStart := len(out)
	out = append(out, name...)
	for _, a := range pr.argv[1:] {
		out = append(out, ' ')
		out = append(out, a...)
	}
	cmdEnd := len(out)
	out = append(out, " terminal="...)
	out = appendInt(out, int64(tty))
	out = append(out, ec.falcoInfo...)
	e.scratch = out

	b = append(b, `{"hostname":`...)
	b = appendStr(b, n.name, false)
	b = append(b, `,"output":`...)
	b = appendStr(b, out, false)
	b = append(b, `,"output_fields":{`...)
	b = append(b, ec.falcoFields...)
	b = append(b, `,"evt.time":`...)
	b = appendInt(b, t)
	b = append(b, `,"evt.type":"`...)
	b = append(b, evt...)
	b = append(b, '"')
	b = append(b, ec.falcoK8s...)
	b = append(b, `,"proc.cmdline":`...)
	b = appendStr(b, out[cmdStart:cmdEnd], false)
	b = append(b, `,"proc.cwd":`...)
	b = appendStr(b, pr.cwd, false)
	b = append(b, `,"proc.exepath":`...)
	b = appendStr(b, pr.argv[0], false)
	b = append(b, `,"proc.name":`...)
	b = appendStr(b, name, false)
	if pr.parent != nil {
		b = append(b, `,"proc.pexepath":`...)
		b = appendStr(b, pr.parent.argv[0], false)
	}
	b = append(b, `,"proc.pid":`...)
	b = strconv.AppendUint(b, uint64(pr.pid), 10)
	b = append(b, `,"proc.pname":`...)
	b = appendStr(b, pname, false)
	b = append(b, `,"proc.tty":`...)
	b = appendInt(b, int64(tty))
	b = append(b, `,"user.loginuid":-1,"user.name":`...)
	b = appendStr(b, user, false)
	b = append(b, `,"user.uid":`...)
	b = appendInt(b, int64(pr.uid))
	b = append(b, `},"priority":"`...)
	b = append(b, prio...)
	b = append(b, `","rule":`...)
	b = appendStr(b, rule, false)
	b = append(b, `,"source":"syscall","tags":`...)
	if pr.tags == nil {
		b = append(b, `["container","process"]`...)
	} else {
		b = appendStrList(b, pr.tags, false)
	}
	b = append(b, `,"time":`...)
	b = e.tf.nano(b, t)
	return append(b, '}')
}

// execCache holds what every process event of one container repeats.
type execCache struct {
	tetragonPod []byte // the Tetragon pod object
	falcoInfo   []byte // the container part of Falco's output line
	falcoFields []byte // output_fields members before evt.time
	falcoK8s    []byte // output_fields members k8s.*
}

func (p *pod) execCache(e *engine, ci int) *execCache {
	if p.exec == nil {
		p.exec = make([]*execCache, len(p.w.containers))
	}
	if c := p.exec[ci]; c != nil {
		return c
	}
	c := &execCache{}
	wl := p.w
	img := p.image(ci)
	repo, tag := img, ""
	if i := strings.LastIndexByte(img, ':'); i > strings.LastIndexByte(img, '/') {
		repo, tag = img[:i], img[i+1:]
	}
	cid := p.containerIDs[ci][:12]
	cname := wl.containers[ci].name

	b := []byte(`{"namespace":`)
	b = appendStr(b, wl.ns.name, false)
	b = append(b, `,"name":`...)
	b = appendStr(b, p.name, false)
	b = append(b, `,"container":{"id":"containerd://`...)
	b = append(b, p.containerIDs[ci]...)
	b = append(b, `","name":`...)
	b = appendStr(b, cname, false)
	b = append(b, `,"image":{"id":`...)
	b = appendStr(b, imageID(img), false)
	b = append(b, `,"name":`...)
	b = appendStr(b, img, false)
	b = append(b, `},"start_time":`...)
	b = e.tf.proto(b, p.running)
	b = append(b, `,"pid":1},"pod_labels":{`...)
	for i, kv := range p.labelPairs() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(b, kv[0], false)
		b = append(b, ':')
		b = appendStr(b, kv[1], false)
	}
	b = append(b, '}')
	kind, name := topOwner(p)
	if kind == "" {
		kind, name = "Pod", p.name
	}
	b = append(b, `,"workload":`...)
	b = appendStr(b, name, false)
	b = append(b, `,"workload_kind":`...)
	b = appendStr(b, kind, false)
	c.tetragonPod = append(b, '}')

	c.falcoInfo = []byte(" container_id=" + cid + " container_name=" + cname + " container_image_repository=" + repo +
		" container_image_tag=" + tag + " k8s_pod_name=" + p.name + " k8s_ns_name=" + wl.ns.name)
	f := []byte(`"container.id":"` + cid + `","container.image.repository":`)
	f = appendStr(f, repo, false)
	f = append(f, `,"container.image.tag":`...)
	f = appendStr(f, tag, false)
	f = append(f, `,"container.name":`...)
	c.falcoFields = appendStr(f, cname, false)
	k := []byte(`,"k8s.ns.name":`)
	k = appendStr(k, wl.ns.name, false)
	k = append(k, `,"k8s.pod.name":`...)
	c.falcoK8s = appendStr(k, p.name, false)
	p.exec[ci] = c
	return c
}

// labelPairs are the pod's labels, sorted by key.
func (p *pod) labelPairs() [][2]string {
	l := p.labels()
	var out [][2]string
	for _, k := range sortedKeys(l) {
		out = append(out, [2]string{k, l[k].(string)})
	}
	return out
}

// spawn renders a process started in container ci of p at t by parent (nil:
// the container's shim) and returns it.
func (e *engine) spawn(s *source, t int64, p *pod, ci int, parent *proc, uid int, cwd string, argv ...string) *proc {
	if parent == nil {
		parent = shim(p, p.running-int64(40e6))
	}
	pr := &proc{p: p, ci: ci, pid: e.newPID(p.node, &s.rng), uid: uid, argv: argv, cwd: cwd, start: t, parent: parent}
	e.execEvent(s, t, pr)
	return pr
}
