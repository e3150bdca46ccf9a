package proc

import "strconv"

// fastTetragon is the scanner fast path of refTetragon: it fills d.tetra
// and d.kv exactly as encoding/json would, or reports false to leave the
// record to refTetragon. Pod labels (the map) are collected as pairs, a
// repeated key replacing the earlier value as in a map.
func (d *Decoder) fastTetragon(line []byte) bool {
	s := &d.sc
	s.reset(line)
	l := &d.tetra
	*l = tetraLine{}
	d.kv = d.kv[:0]
	if !s.open() {
		return false
	}
	for first := true; ; first = false {
		k, end, ok := s.member(first)
		switch {
		case !ok:
			return false
		case end:
			return s.end()
		}
		switch string(k) {
		case "process_exec":
			if s.null() {
				l.ProcessExec = nil
				continue
			}
			if l.ProcessExec == nil {
				d.fx = tetraExec{}
				l.ProcessExec = &d.fx
			}
			ok = d.fastTetraExec(l.ProcessExec)
		case "node_name":
			ok = d.fastString(&l.NodeName, true)
		case "time":
			ok = d.fastString(&l.Time, false)
		default:
			ok = s.other(k)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) fastTetraExec(x *tetraExec) bool {
	s := &d.sc
	if !s.open() {
		return false
	}
	for first := true; ; first = false {
		k, end, ok := s.member(first)
		switch {
		case !ok:
			return false
		case end:
			return true
		}
		switch string(k) {
		case "process":
			if s.null() {
				x.Process = nil
				d.kv = d.kv[:0]
				continue
			}
			if x.Process == nil {
				d.fp = tetraProcess{}
				d.kv = d.kv[:0]
				x.Process = &d.fp
			}
			ok = d.fastTetraProcess(x.Process)
		case "parent":
			ok = d.fastParent(&x.Parent.Binary)
		default:
			ok = s.other(k)
		}
		if !ok {
			return false
		}
	}
}

// fastParent reads the binary of the parent process (a struct: null is no
// change).
func (d *Decoder) fastParent(binary *string) bool {
	s := &d.sc
	if s.null() {
		return true
	}
	if !s.open() {
		return false
	}
	for first := true; ; first = false {
		k, end, ok := s.member(first)
		switch {
		case !ok:
			return false
		case end:
			return true
		}
		if string(k) == "binary" {
			ok = d.fastString(binary, true)
		} else {
			ok = s.other(k)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) fastTetraProcess(p *tetraProcess) bool {
	s := &d.sc
	if !s.open() {
		return false
	}
	for first := true; ; first = false {
		k, end, ok := s.member(first)
		switch {
		case !ok:
			return false
		case end:
			return true
		}
		switch string(k) {
		case "pid":
			ok = d.fastUint32(&p.PID)
		case "uid":
			ok = d.fastUint32(&p.UID)
		case "cwd":
			ok = d.fastString(&p.Cwd, true)
		case "binary":
			ok = d.fastString(&p.Binary, true)
		case "arguments":
			ok = d.fastString(&p.Arguments, false)
		case "start_time":
			ok = d.fastString(&p.StartTime, false)
		case "docker":
			ok = d.fastString(&p.Docker, true)
		case "pod":
			ok = d.fastPod(&p.Pod)
		default:
			ok = s.other(k)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) fastPod(pod *tetraPod) bool {
	s := &d.sc
	if s.null() {
		return true
	}
	if !s.open() {
		return false
	}
	for first := true; ; first = false {
		k, end, ok := s.member(first)
		switch {
		case !ok:
			return false
		case end:
			return true
		}
		switch string(k) {
		case "namespace":
			ok = d.fastString(&pod.Namespace, true)
		case "name":
			ok = d.fastString(&pod.Name, true)
		case "container":
			ok = d.fastContainer(pod)
		case "pod_labels":
			ok = d.fastLabels()
		case "workload":
			ok = d.fastString(&pod.Workload, true)
		case "workload_kind":
			ok = d.fastString(&pod.WorkloadKind, true)
		default:
			ok = s.other(k)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) fastContainer(pod *tetraPod) bool {
	s := &d.sc
	if s.null() {
		return true
	}
	if !s.open() {
		return false
	}
	c := &pod.Container
	for first := true; ; first = false {
		k, end, ok := s.member(first)
		switch {
		case !ok:
			return false
		case end:
			return true
		}
		switch string(k) {
		case "id":
			ok = d.fastString(&c.ID, true)
		case "name":
			ok = d.fastString(&c.Name, true)
		case "image":
			ok = d.fastImage(&c.Image.Name)
		default:
			ok = s.other(k)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) fastImage(name *string) bool {
	s := &d.sc
	if s.null() {
		return true
	}
	if !s.open() {
		return false
	}
	for first := true; ; first = false {
		k, end, ok := s.member(first)
		switch {
		case !ok:
			return false
		case end:
			return true
		}
		if string(k) == "name" {
			ok = d.fastString(name, true)
		} else {
			ok = s.other(k)
		}
		if !ok {
			return false
		}
	}
}

// fastLabels reads pod_labels (map[string]string): null empties the map,
// keys are taken as written (maps do not fold case), a null value is "".
func (d *Decoder) fastLabels() bool {
	s := &d.sc
	if s.null() {
		d.kv = d.kv[:0]
		return true
	}
	if !s.open() {
		return false
	}
	for first := true; ; first = false {
		s.ws()
		c := s.peek()
		if c == '}' {
			s.i++
			return true
		}
		if !first {
			if c != ',' {
				return false
			}
			s.i++
			s.ws()
		}
		if s.peek() != '"' {
			return false
		}
		kb, ok := s.strBytes()
		if !ok {
			return false
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		var v string
		if !s.null() {
			if s.peek() != '"' {
				return false
			}
			vb, ok := s.strBytes()
			if !ok {
				return false
			}
			v = d.in.bytes(vb)
		}
		k := d.in.bytes(kb)
		replaced := false
		for i := range d.kv {
			if d.kv[i].k == k {
				d.kv[i].v, replaced = v, true
				break
			}
		}
		if !replaced {
			d.kv = append(d.kv, label{k, v})
		}
	}
}

// fastString reads a string field: null leaves it unchanged, any other
// non-string is left to encoding/json. intern shares repeating values.
func (d *Decoder) fastString(dst *string, intern bool) bool {
	s := &d.sc
	switch s.peek() {
	case 'n':
		return s.null()
	case '"':
		b, ok := s.strBytes()
		if !ok {
			return false
		}
		if intern {
			*dst = d.in.bytes(b)
		} else {
			*dst = string(b)
		}
		return true
	}
	return false
}

// fastUint32 reads a uint32 field: null leaves it unchanged; a number that
// is not an integer in range is left to encoding/json.
func (d *Decoder) fastUint32(dst *uint32) bool {
	s := &d.sc
	if s.null() {
		return true
	}
	lit, ok := s.num()
	if !ok {
		return false
	}
	v, err := strconv.ParseUint(string(lit), 10, 32)
	if err != nil {
		return false
	}
	*dst = uint32(v)
	return true
}
