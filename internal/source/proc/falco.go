package proc

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Falco alerts, one JSON object per line, as Falco writes them with
// json_output: true (https://falco.org/docs/concepts/outputs/formatting/)
// and as Falcosidekick forwards them (falcosidekick types.FalcoPayload: the
// same keys plus "uuid", priority as its name):
//
//	{"hostname":"node-1","output":"...","priority":"Warning","rule":"Terminal shell in container",
//	 "source":"syscall","tags":["container","shell"],"time":"2024-05-01T12:00:00.123456789Z",
//	 "output_fields":{"container.id":"3ad7b26ded6d","proc.cmdline":"sh -c id","proc.pid":4242,...}}
//
// output_fields holds exactly the fields the rule's output string names
// (plus the append_output ones), so every field may be missing; a field
// without a value is null or "<NA>". The field names are those of
// https://falco.org/docs/reference/rules/supported-fields/.
type falcoAlert struct {
	Time     string      `json:"time"`
	Rule     string      `json:"rule"`
	Priority string      `json:"priority"`
	Source   string      `json:"source"`
	Hostname string      `json:"hostname"`
	Fields   falcoFields `json:"output_fields"`
}

type falcoFields struct {
	EvtTime     jtime `json:"evt.time"`
	EvtTimeISO  jtime `json:"evt.time.iso8601"`
	EvtRawTime  jtime `json:"evt.rawtime"`
	EvtHostname jstr  `json:"evt.hostname"`

	ContainerID   jstr `json:"container.id"`
	ContainerName jstr `json:"container.name"`
	Image         jstr `json:"container.image"`
	ImageRepo     jstr `json:"container.image.repository"`
	ImageTag      jstr `json:"container.image.tag"`

	Namespace     jstr `json:"k8s.ns.name"`
	Pod           jstr `json:"k8s.pod.name"`
	MetaNamespace jstr `json:"k8smeta.ns.name"`
	MetaPod       jstr `json:"k8smeta.pod.name"`

	Cmdline  jstr `json:"proc.cmdline"`
	Args     jstr `json:"proc.args"`
	Exepath  jstr `json:"proc.exepath"`
	Exe      jstr `json:"proc.exe"`
	Name     jstr `json:"proc.name"`
	PID      jint `json:"proc.pid"`
	Cwd      jstr `json:"proc.cwd"`
	PExepath jstr `json:"proc.pexepath"`
	PName    jstr `json:"proc.pname"`
	UID      jint `json:"user.uid"`
}

// parseFalco decodes one Falco alert into d.exec. Alerts of other event
// sources (k8s_audit, cloudtrail, ...) and alerts whose output names no
// process field are skipped, as are lines that are not JSON objects
// (Falco's own log messages, interleaved with the alerts on stdout).
func (d *Decoder) parseFalco(line []byte) (status, *fieldError) {
	if line[0] != '{' {
		return stSkip, nil
	}
	if !d.fastFalco(line) {
		if fe := d.refFalco(line); fe != nil {
			return 0, fe
		}
	}
	return d.falcoExec()
}

// refFalco is the reference decoder: encoding/json into d.falco.
func (d *Decoder) refFalco(line []byte) *fieldError {
	a := &d.falco
	*a = falcoAlert{}
	if err := json.Unmarshal(line, a); err != nil {
		return jsonError(err)
	}
	return nil
}

// falcoExec builds d.exec from d.falco.
func (d *Decoder) falcoExec() (status, *fieldError) {
	a := &d.falco
	// Older Falco versions wrote no source; everything was syscall.
	if a.Source != "" && a.Source != "syscall" {
		return stSkip, nil
	}
	f := &a.Fields
	if f.Exepath == "" && f.Exe == "" && f.Name == "" && f.Cmdline == "" && f.Args == "" && !f.PID.ok {
		return stSkip, nil
	}

	e := &d.exec
	*e = event.Exec{Source: "falco", Rule: a.Rule, Priority: a.Priority}
	switch {
	case a.Time != "":
		t, fe := parseTime("time", a.Time)
		if fe != nil {
			return 0, fe
		}
		e.Time = t
	case !f.EvtTime.t.IsZero():
		e.Time = f.EvtTime.t
	case !f.EvtTimeISO.t.IsZero():
		e.Time = f.EvtTimeISO.t
	case !f.EvtRawTime.t.IsZero():
		e.Time = f.EvtRawTime.t
	default:
		return 0, errField("time", "missing (and no evt.time in output_fields)")
	}
	e.Node = first(a.Hostname, string(f.EvtHostname))
	e.Namespace = first(string(f.Namespace), string(f.MetaNamespace))
	e.Pod = first(string(f.Pod), string(f.MetaPod))
	// container.id and container.name are "host" for a process outside any
	// container.
	if id := string(f.ContainerID); id != "host" {
		e.ContainerID = id
		e.Container = string(f.ContainerName)
	}
	e.Image = d.falcoImage(string(f.ImageRepo), string(f.ImageTag), string(f.Image))

	if f.PID.ok {
		if f.PID.v < 0 || f.PID.v > math.MaxUint32 {
			return 0, errField("output_fields.proc.pid", "process ID out of range: "+formatInt(f.PID.v))
		}
		e.PID = uint32(f.PID.v)
	}
	// user.uid is unsigned in Falco; -1 (and its 32-bit form) is how older
	// versions and the kernel print "no user": leave it unset.
	if f.UID.ok && f.UID.v >= 0 && f.UID.v < math.MaxUint32 {
		e.UID = uint32(f.UID.v)
	} else if f.UID.ok && f.UID.v != -1 && f.UID.v != math.MaxUint32 {
		return 0, errField("output_fields.user.uid", "user ID out of range: "+formatInt(f.UID.v))
	}
	e.Cwd = string(f.Cwd)

	name := string(f.Name)
	switch {
	case f.Exepath != "":
		e.Executable = string(f.Exepath)
	case strings.HasPrefix(string(f.Exe), "/"):
		e.Executable = string(f.Exe)
	default:
		e.Executable = first(name, string(f.Exe))
	}
	e.Args = falcoArgs(string(f.Cmdline), name, string(f.Args))
	e.Parent = first(string(f.PExepath), string(f.PName))
	return stDeliver, nil
}

// falcoArgs returns argv[1:] from proc.cmdline, which is proc.name, a
// space and proc.args. The name is cut off as a prefix when it is known (a
// process may name itself with spaces), else as the first word. proc.args
// alone is used when the output has no proc.cmdline.
func falcoArgs(cmdline, name, args string) []string {
	if cmdline == "" {
		if args == "" {
			return nil
		}
		return splitShell(args)
	}
	if name != "" && strings.HasPrefix(cmdline, name) && (len(cmdline) == len(name) || cmdline[len(name)] == ' ') {
		return nilIfEmpty(splitShell(cmdline[len(name):]))
	}
	words := splitShell(cmdline)
	if len(words) <= 1 {
		return nil
	}
	return words[1:]
}

// falcoImage joins container.image.repository and container.image.tag;
// container.image (repository:tag as the runtime reports it) is the
// fallback.
func (d *Decoder) falcoImage(repo, tag, image string) string {
	switch {
	case repo != "" && tag != "":
		d.scratch = append(append(append(d.scratch[:0], repo...), ':'), tag...)
		return d.in.bytes(d.scratch)
	case repo != "":
		return repo
	}
	return image
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }
