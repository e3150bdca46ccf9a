package detect

import (
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// ProcOptions tune the process detector. The zero value means the defaults.
type ProcOptions struct {
	// ArgShape is the argument shape the pipeline keys the process baseline
	// on (analyze.Options.ArgShape); nil means argShape, the baseline's.
	// The detector only uses it to find the exact key fast in large process
	// baselines: whether a binary is new is decided on (container,
	// executable), whatever the shape.
	ArgShape func(args []string) string
}

// ProcessDetectors returns the detectors of process events:
// exec.novel-command. They keep no state and are safe for concurrent use.
func ProcessDetectors(opts ProcOptions) []Detector {
	shape := opts.ArgShape
	if shape == nil {
		shape = argShape
	}
	return []Detector{&procDetector{shape: shape}}
}

// argShape is the shape of a process's arguments the process baseline keys
// on: flags kept, numbers, hex ids, UUIDs, IP addresses and paths under
// /tmp replaced by placeholders (baseline.ArgShape, so that detector and
// baseline agree on keys).
func argShape(args []string) string { return baseline.ArgShape(args) }

// procScanMax is the process-baseline size up to which scanning it is
// cheaper than shaping the arguments to look the exact key up.
const procScanMax = 32

type procDetector struct {
	shape func([]string) string
}

func (d *procDetector) Rules() []Rule {
	return []Rule{{
		ID: RuleExecNovelCommand, Category: CategoryExec, Severity: Critical,
		MITRE:   []string{"T1059", "T1059.004", "T1105", "T1046", "T1040", "T1611", "T1609", "T1496", "T1027.004"},
		Summary: "a binary a workload's container never ran, after the workload's process warm-up; higher for binaries in /tmp or /dev/shm, package managers, compilers, downloaders, network and container tools, escape tools and miners",
	}}
}

// appendExecWorkload appends the workload a process event belongs to as
// the pipeline keys it ("Kind/namespace/name"); nothing when unknown.
func appendExecWorkload(dst []byte, e *event.Exec) []byte {
	switch {
	case e.Workload == "":
		return dst
	case e.WorkloadKind != "" && e.Namespace != "" && !strings.Contains(e.Workload, "/"):
		dst = append(dst, e.WorkloadKind...)
		dst = append(dst, '/')
		dst = append(dst, e.Namespace...)
		dst = append(dst, '/')
	}
	return append(dst, e.Workload...)
}

func (d *procDetector) Exec(s *State, e *event.Exec, emit Emit) {
	if e.Executable == "" {
		return
	}
	var buf [128]byte
	wl := appendExecWorkload(buf[:0], e)
	if len(wl) == 0 {
		return
	}
	wp := s.Profiles.Workloads[string(wl)]
	if wp == nil || len(wp.Processes) == 0 {
		return // no process baseline yet: everything would look new
	}
	k := baseline.ProcessKey{Container: e.Container, Executable: e.Executable}
	if wp.Processes[k] != nil {
		return
	}
	// Novelty is decided on (container, executable) by the scan below; for
	// workloads with many process shapes, the exact key (one shape
	// computation) usually answers first.
	if len(e.Args) > 0 && len(wp.Processes) > procScanMax {
		k.ArgShape = d.shape(e.Args)
		if wp.Processes[k] != nil {
			return
		}
	}
	var first time.Time
	var n uint64
	for pk, st := range wp.Processes {
		if pk.Executable == e.Executable && (pk.Container == e.Container || e.Container == "") {
			return // a known binary with new arguments
		}
		if first.IsZero() || st.First.Before(first) {
			first = st.First
		}
		n += st.Count
	}
	if !specNovel(s, e.Time, first, n) {
		return // the workload's process baseline is warming up
	}
	sev, why, mitre := procClassify(e.Executable)
	score := 20.0
	if e.UID == 0 {
		score += 10
	}
	if e.Rule != "" {
		score += 20 // the sensor flagged it too
	}
	w := string(wl)
	container := ""
	if e.Container != "" {
		container = " in container " + strconv.Quote(e.Container)
	}
	ev := []Evidence{{Kind: "exec", Time: e.Time, Ref: e.ContainerID, Detail: procExecText(e)},
		{Kind: "baseline", Time: first, Detail: strconv.Itoa(len(wp.Processes)) + " known process shapes in " + w + " since " + first.UTC().Format("2006-01-02 15:04")}}
	if e.Rule != "" {
		ev = append(ev, Evidence{Kind: "exec", Time: e.Time, Ref: e.Source, Detail: "sensor rule: " + e.Rule + " (" + e.Priority + ")"})
	}
	emit(Alert{
		Time: e.Time, Rule: RuleExecNovelCommand, Category: CategoryExec, Severity: sev, Score: score,
		Namespace: e.Namespace, Workload: w,
		Message: w + " ran " + e.Executable + container + ", a binary it never ran in " + netAge(e.Time, first) +
			" of baseline: " + why,
		Evidence: ev, MITRE: mitre,
		Key: e.Container + " " + e.Executable,
	})
}

// procClassify rates a binary no container of the workload ran before, by
// where it lives and what it is.
func procClassify(exe string) (Severity, string, []string) {
	sev, why, mitre := Medium, "a new program in a container that normally runs a fixed set", []string{"T1059"}
	switch base := strings.ToLower(path.Base(exe)); base {
	case "xmrig", "xmr-stak", "minerd", "cpuminer", "ccminer", "t-rex", "nbminer", "ethminer", "lolminer", "phoenixminer", "bfgminer", "cgminer":
		sev, why, mitre = Critical, "a cryptocurrency miner", []string{"T1496"}
	case "nsenter", "insmod", "modprobe":
		sev, why, mitre = Critical, "a tool to break out to the node (namespaces, kernel modules)", []string{"T1611"}
	case "unshare", "chroot", "mount", "capsh", "debugfs":
		sev, why, mitre = High, "a tool used to escape the container", []string{"T1611"}
	case "apt", "apt-get", "dpkg", "apk", "yum", "dnf", "rpm", "zypper", "pip", "pip3", "npm", "gem":
		sev, why, mitre = High, "a package manager: software installed at run time", []string{"T1105"}
	case "gcc", "cc", "g++", "c++", "clang", "make", "ld", "as", "tcc", "rustc":
		sev, why, mitre = High, "a compiler: code built inside the container", []string{"T1027.004"}
	case "curl", "wget", "tftp", "ftp", "scp", "sftp", "rsync", "fetch":
		sev, why, mitre = High, "a downloader: tools or payloads fetched into the container", []string{"T1105"}
	case "nc", "ncat", "netcat", "socat", "telnet":
		sev, why, mitre = High, "a raw network tool, the usual reverse shell", []string{"T1059.004", "T1105"}
	case "nmap", "masscan", "zmap", "zgrab", "nping":
		sev, why, mitre = High, "a network scanner", []string{"T1046"}
	case "tcpdump", "tshark", "dumpcap":
		sev, why, mitre = High, "a packet sniffer", []string{"T1040"}
	case "kubectl", "crictl", "ctr", "docker", "nerdctl", "podman", "helm", "kubeadm":
		sev, why, mitre = High, "a cluster or container administration tool", []string{"T1609"}
	case "sh", "bash", "ash", "dash", "zsh", "ksh", "busybox":
		why, mitre = "a shell", []string{"T1059.004"}
	case "python", "python2", "python3", "perl", "ruby", "php", "node", "lua":
		why = "a script interpreter"
	}
	switch {
	case strings.HasPrefix(exe, "/dev/shm/") || strings.HasPrefix(exe, "memfd:") || strings.HasSuffix(exe, "(deleted)"):
		sev, why = Critical, why+", run from memory or /dev/shm (nothing left on disk)"
	case strings.HasPrefix(exe, "/tmp/") || strings.HasPrefix(exe, "/var/tmp/") || strings.Contains(exe, "/."):
		sev, why = max(sev, High), why+", run from a temporary or hidden directory"
	}
	return sev, why, mitre
}

// procSecretFlag reports flags whose value is a credential.
func procSecretFlag(a string) bool {
	a = strings.ToLower(strings.TrimLeft(a, "-"))
	switch a {
	case "p", "password", "passwd", "pass", "token", "secret", "key", "apikey", "api-key", "auth":
		return true
	}
	return strings.Contains(a, "password") || strings.Contains(a, "token") || strings.Contains(a, "secret")
}

// procExecText is a process event's evidence line: the command (arguments
// clipped, credential flags' values redacted), pid, uid, parent, pod.
func procExecText(e *event.Exec) string {
	var b strings.Builder
	b.WriteString(e.Executable)
	redactNext := false
	for i, a := range e.Args {
		if i == 12 || b.Len() > 240 {
			b.WriteString(" …")
			break
		}
		b.WriteByte(' ')
		switch {
		case redactNext:
			a, redactNext = "<redacted>", false
		case strings.HasPrefix(a, "-"):
			if k, _, ok := strings.Cut(a, "="); ok && procSecretFlag(k) {
				a = k + "=<redacted>"
			} else if !ok && procSecretFlag(a) {
				redactNext = true
			}
		}
		b.WriteString(specClip(a, 64))
	}
	b.WriteString(" (pid " + strconv.FormatUint(uint64(e.PID), 10) + ", uid " + strconv.FormatUint(uint64(e.UID), 10))
	if e.Parent != "" {
		b.WriteString(", parent " + e.Parent)
	}
	if e.Pod != "" {
		b.WriteString(", pod " + e.Namespace + "/" + e.Pod)
	}
	if e.Image != "" {
		b.WriteString(", image " + e.Image)
	}
	if e.Node != "" {
		b.WriteString(", node " + e.Node)
	}
	b.WriteByte(')')
	return b.String()
}
