package proc

import (
	"strconv"
	"time"
)

// fastFalco is the scanner fast path of refFalco: it fills d.falco exactly
// as encoding/json would, or reports false to leave the record to
// refFalco.
func (d *Decoder) fastFalco(line []byte) bool {
	s := &d.sc
	s.reset(line)
	a := &d.falco
	*a = falcoAlert{}
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
		case "time":
			ok = d.fastString(&a.Time, false)
		case "rule":
			ok = d.fastString(&a.Rule, true)
		case "priority":
			ok = d.fastString(&a.Priority, true)
		case "source":
			ok = d.fastString(&a.Source, true)
		case "hostname":
			ok = d.fastString(&a.Hostname, true)
		case "output_fields":
			ok = d.fastFalcoFields(&a.Fields)
		default:
			ok = s.other(k)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) fastFalcoFields(f *falcoFields) bool {
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
		case "evt.time":
			ok = d.fastJtime(&f.EvtTime)
		case "evt.time.iso8601":
			ok = d.fastJtime(&f.EvtTimeISO)
		case "evt.rawtime":
			ok = d.fastJtime(&f.EvtRawTime)
		case "evt.hostname":
			ok = d.fastJstr(&f.EvtHostname, true)
		case "container.id":
			ok = d.fastJstr(&f.ContainerID, true)
		case "container.name":
			ok = d.fastJstr(&f.ContainerName, true)
		case "container.image":
			ok = d.fastJstr(&f.Image, true)
		case "container.image.repository":
			ok = d.fastJstr(&f.ImageRepo, true)
		case "container.image.tag":
			ok = d.fastJstr(&f.ImageTag, true)
		case "k8s.ns.name":
			ok = d.fastJstr(&f.Namespace, true)
		case "k8s.pod.name":
			ok = d.fastJstr(&f.Pod, true)
		case "k8smeta.ns.name":
			ok = d.fastJstr(&f.MetaNamespace, true)
		case "k8smeta.pod.name":
			ok = d.fastJstr(&f.MetaPod, true)
		case "proc.cmdline":
			ok = d.fastJstr(&f.Cmdline, false)
		case "proc.args":
			ok = d.fastJstr(&f.Args, false)
		case "proc.exepath":
			ok = d.fastJstr(&f.Exepath, true)
		case "proc.exe":
			ok = d.fastJstr(&f.Exe, true)
		case "proc.name":
			ok = d.fastJstr(&f.Name, true)
		case "proc.pid":
			ok = d.fastJint(&f.PID)
		case "proc.cwd":
			ok = d.fastJstr(&f.Cwd, true)
		case "proc.pexepath":
			ok = d.fastJstr(&f.PExepath, true)
		case "proc.pname":
			ok = d.fastJstr(&f.PName, true)
		case "user.uid":
			ok = d.fastJint(&f.UID)
		default:
			ok = s.other(k)
		}
		if !ok {
			return false
		}
	}
}

// fastJstr mirrors jstr.UnmarshalJSON.
func (d *Decoder) fastJstr(dst *jstr, intern bool) bool {
	s := &d.sc
	switch c := s.peek(); {
	case c == '"':
		b, ok := s.strBytes()
		if !ok {
			return false
		}
		switch {
		case string(b) == naMarker:
			*dst = ""
		case intern:
			*dst = jstr(d.in.bytes(b))
		default:
			*dst = jstr(b)
		}
		return true
	case c == 'n':
		*dst = ""
		return s.null()
	case c == 't' || c == 'f':
		start := s.i
		if !s.skip(0) {
			return false
		}
		*dst = jstr(d.in.bytes(s.b[start:s.i]))
		return true
	case c == '-' || c >= '0' && c <= '9':
		lit, ok := s.num()
		if !ok {
			return false
		}
		*dst = jstr(d.in.bytes(lit))
		return true
	}
	return false
}

// fastJint mirrors jint.UnmarshalJSON.
func (d *Decoder) fastJint(dst *jint) bool {
	s := &d.sc
	*dst = jint{}
	var lit []byte
	switch c := s.peek(); {
	case c == 'n':
		return s.null()
	case c == '"':
		b, ok := s.strBytes()
		if !ok {
			return false
		}
		if len(b) == 0 || string(b) == naMarker {
			return true
		}
		lit = b
	case c == '-' || c >= '0' && c <= '9':
		b, ok := s.num()
		if !ok {
			return false
		}
		lit = b
	default:
		return false
	}
	v, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		return false
	}
	*dst = jint{v: v, ok: true}
	return true
}

// fastJtime mirrors jtime.UnmarshalJSON.
func (d *Decoder) fastJtime(dst *jtime) bool {
	s := &d.sc
	dst.t = time.Time{}
	switch c := s.peek(); {
	case c == '"':
		b, ok := s.strBytes()
		if !ok {
			return false
		}
		if t, err := time.Parse(time.RFC3339Nano, string(b)); err == nil && !t.Before(unixEpoch) {
			dst.t = t
		}
		return true
	case c >= '0' && c <= '9':
		lit, ok := s.num()
		if !ok {
			return false
		}
		if ns, err := strconv.ParseInt(string(lit), 10, 64); err == nil && ns > 0 {
			dst.t = time.Unix(0, ns).UTC()
		}
		return true
	}
	return s.skip(0)
}
