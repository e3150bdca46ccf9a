package detect

import (
	"net/netip"
	"path"
	"slices"
	"strings"
)

// Command classes ClassifyCommand reports.
const (
	CmdReverseShell     = "reverse-shell"
	CmdTTYUpgrade       = "tty-upgrade"
	CmdDownloadExec     = "download-exec"
	CmdDecodeExec       = "decode-exec"
	CmdEscapeToHost     = "escape-to-host"
	CmdCredentialFile   = "credential-file"
	CmdCloudMetadata    = "cloud-metadata"
	CmdMiner            = "miner"
	CmdHistoryTamper    = "history-tamper"
	CmdToolTransfer     = "tool-transfer"
	CmdInteractiveShell = "interactive-shell"
)

// CommandMatch is one reason a command line is suspicious.
type CommandMatch struct {
	Class    string
	Severity Severity
	MITRE    []string
	// Why says what matched, for messages: "shell redirected to
	// /dev/tcp/10.0.0.5/4444".
	Why string
}

// maxCommandBytes bounds how much of a command line is examined.
const maxCommandBytes = 8 << 10

// ClassifyCommand says why a command (argv[0] and its arguments) looks like
// an attacker's, worst first; nil when nothing matched. It is a pure
// function of argv.
//
// Every class but two is about what the command does wherever it runs.
// CmdInteractiveShell (a shell started without a script) and
// CmdToolTransfer (a download from a non-local URL) are only meaningful for
// a person's exec through the API: containers start shells and fetch URLs
// all the time, so process-event callers drop those two. A shell with a
// script ("sh -c 'exec nginx'", how many images start) is judged by its
// script alone.
func ClassifyCommand(argv []string) []CommandMatch {
	if len(argv) == 0 {
		return nil
	}
	c := newAPICmdLine(argv)
	var out []CommandMatch
	add := func(class string, sev Severity, why string, mitre ...string) {
		for _, m := range out {
			if m.Class == class {
				return
			}
		}
		out = append(out, CommandMatch{Class: class, Severity: sev, MITRE: mitre, Why: why})
	}
	c.reverseShell(add)
	c.download(add)
	c.decode(add)
	c.escape(add)
	c.secrets(add)
	c.misc(add)
	slices.SortStableFunc(out, func(a, b CommandMatch) int { return int(b.Severity) - int(a.Severity) })
	return out
}

// apiCmdLine is a command prepared for matching: the joined line (raw and
// lower-cased) and its words split at shell punctuation, with base names.
type apiCmdLine struct {
	line, lower string
	words       []string
	bases       []string
	argv        []string
}

func newAPICmdLine(argv []string) *apiCmdLine {
	line := apiClip(strings.Join(argv, " "), maxCommandBytes)
	c := &apiCmdLine{line: line, lower: strings.ToLower(line), argv: argv}
	c.words = strings.FieldsFunc(line, func(r rune) bool {
		switch r {
		case ' ', '\t', '\n', '\r', ';', '|', '&', '(', ')', '<', '>', '\'', '"', '`', '$', '{', '}':
			return true
		}
		return false
	})
	c.bases = make([]string, len(c.words))
	for i, w := range c.words {
		c.bases[i] = path.Base(w)
	}
	return c
}

// has reports whether the lower-cased line contains any of subs.
func (c *apiCmdLine) has(subs ...string) (string, bool) {
	for _, s := range subs {
		if strings.Contains(c.lower, s) {
			return s, true
		}
	}
	return "", false
}

// word returns the index of the first word whose base name is one of
// names, or -1.
func (c *apiCmdLine) word(names ...string) int {
	for i, b := range c.bases {
		if slices.Contains(names, b) {
			return i
		}
	}
	return -1
}

// fragment is the line from the first occurrence of sub, clipped.
func (c *apiCmdLine) fragment(sub string) string {
	i := strings.Index(c.lower, sub)
	if i < 0 {
		return sub
	}
	end := i + len(sub)
	for end < len(c.line) && end-i < 60 && c.line[end] != ' ' && c.line[end] != ';' && c.line[end] != '|' {
		end++
	}
	return c.line[i:end]
}

// apiIsShell reports whether a base name is a shell (busybox included: its
// applets are one).
func apiIsShell(b string) bool {
	switch b {
	case "sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "tcsh", "csh", "fish", "busybox":
		return true
	}
	return false
}

// apiIsInterpreter reports whether a base name runs scripts: python3.11,
// perl, ruby, php8.2, node, lua5.4, awk.
func apiIsInterpreter(b string) bool {
	for _, p := range [...]string{"python", "perl", "ruby", "php", "node", "lua", "awk", "gawk", "mawk", "nawk"} {
		if strings.HasPrefix(b, p) {
			return true
		}
	}
	return false
}

func (c *apiCmdLine) reverseShell(add func(string, Severity, string, ...string)) {
	for _, dev := range [...]string{"/dev/tcp/", "/dev/udp/"} {
		if i := strings.Index(c.lower, dev); i >= 0 {
			host, _, _ := strings.Cut(c.lower[i+len(dev):], "/")
			switch host {
			case "localhost", "127.0.0.1", "::1", "0.0.0.0":
				// A port check (readiness probes do this), not a shell.
			default:
				add(CmdReverseShell, Critical, "shell I/O redirected to "+c.fragment(dev), "T1059.004")
			}
		}
	}
	if i := c.word("nc", "ncat", "netcat", "nc.traditional", "nc.openbsd"); i >= 0 {
		for _, w := range c.words[i+1:] {
			if w == "-e" || w == "-c" || strings.HasPrefix(w, "--exec") || strings.HasPrefix(w, "--sh-exec") ||
				strings.HasPrefix(w, "--lua-exec") || (len(w) > 2 && w[0] == '-' && w[1] != '-' && strings.ContainsAny(w, "ec")) {
				add(CmdReverseShell, Critical, "netcat hands a program to a network peer ("+c.words[i]+" "+w+")", "T1059.004")
				break
			}
		}
	}
	if c.word("socat") >= 0 {
		if s, ok := c.has("exec:", "system:"); ok {
			add(CmdReverseShell, Critical, "socat connects a program to the network ("+c.fragment(s)+")", "T1059.004")
		}
	}
	if c.word("mkfifo", "mknod") >= 0 && c.word("nc", "ncat", "netcat", "telnet", "openssl", "socat") >= 0 {
		add(CmdReverseShell, Critical, "named pipe between a shell and a network client", "T1059.004")
	}
	if i := c.word("telnet", "openssl"); i >= 0 && c.pipesInto(c.words[i], apiRunsStdin) {
		add(CmdReverseShell, Critical, c.bases[i]+" piped into a shell", "T1059.004")
	}
	if c.interpreter() {
		_, sock := c.has("socket", "fsockopen")
		_, spawn := c.has("dup2", "pty", "subprocess", "child_process", "/bin/sh", "/bin/bash", "exec(", "exec ",
			"system(", "popen", "os.execute", "spawn")
		if sock && spawn {
			add(CmdReverseShell, Critical, "scripting one-liner joins a socket to a shell", "T1059")
		} else if strings.Contains(c.lower, "/inet/tcp/") {
			add(CmdReverseShell, Critical, "awk network one-liner (/inet/tcp/)", "T1059")
		}
	}
	if _, ok := c.has("zsh/net/tcp", "ztcp "); ok {
		add(CmdReverseShell, Critical, "zsh TCP module", "T1059.004")
	}
	if s, ok := c.has("pty.spawn", "script -qc", "script /dev/null", "script -q /dev/null"); ok {
		add(CmdTTYUpgrade, High, "gives a remote shell a terminal ("+c.fragment(s)+")", "T1059")
	}
}

// interpreter reports whether any word runs a scripting language.
func (c *apiCmdLine) interpreter() bool {
	for _, b := range c.bases {
		if apiIsInterpreter(b) {
			return true
		}
	}
	return false
}

// pipesInto reports whether, after the first occurrence of word, a pipe
// feeds a command that run accepts (given the command's base name and its
// arguments; sudo, env and exec are skipped).
func (c *apiCmdLine) pipesInto(word string, run func(base string, args []string) bool) bool {
	rest := c.line
	if i := strings.Index(rest, word); i >= 0 {
		rest = rest[i+len(word):]
	}
	for {
		i := strings.IndexByte(rest, '|')
		if i < 0 {
			return false
		}
		rest = rest[i+1:]
		if strings.HasPrefix(rest, "|") { // "||" is not a pipe
			rest = rest[1:]
			continue
		}
		seg := rest
		if j := strings.IndexAny(seg, "|;&"); j >= 0 {
			seg = seg[:j]
		}
		f := strings.Fields(seg)
		for len(f) > 0 {
			b := path.Base(strings.Trim(f[0], `'"()`))
			if b != "sudo" && b != "env" && b != "exec" {
				break
			}
			f = f[1:]
		}
		if len(f) > 0 && run(path.Base(strings.Trim(f[0], `'"()`)), f[1:]) {
			return true
		}
	}
}

// apiRunsStdin reports whether a command runs the program it reads on
// stdin: a shell without -c, or an interpreter without a script or module
// argument ("python3", "perl -", not "python -m json.tool").
func apiRunsStdin(base string, args []string) bool {
	if apiIsShell(base) {
		return !slices.Contains(args, "-c")
	}
	if apiIsInterpreter(base) {
		return len(args) == 0 || args[0] == "-"
	}
	return false
}

// decode reports an encoded payload decoded straight into a shell:
// "echo … | base64 -d | sh", how droppers hide their script.
func (c *apiCmdLine) decode(add func(string, Severity, string, ...string)) {
	i := c.word("base64", "xxd", "openssl", "gzip", "gunzip", "zcat", "uudecode")
	if i < 0 {
		return
	}
	decoding := c.bases[i] == "gunzip" || c.bases[i] == "zcat" || c.bases[i] == "uudecode"
	for _, w := range c.words[i+1:] {
		if w == "-d" || w == "--decode" || w == "-D" || w == "-r" || w == "-a" || w == "-base64" {
			decoding = true
			break
		}
	}
	if decoding && c.pipesInto(c.words[i], apiRunsStdin) {
		add(CmdDecodeExec, High, c.bases[i]+" output piped into an interpreter (an encoded payload)", "T1027", "T1059.004")
	}
}

func (c *apiCmdLine) download(add func(string, Severity, string, ...string)) {
	dl := c.word("curl", "wget", "fetch", "tftp", "aria2c")
	if dl < 0 {
		if c.word("busybox") >= 0 && c.word("wget") >= 0 {
			dl = c.word("wget")
		} else {
			return
		}
	}
	switch {
	case c.pipesInto(c.words[dl], apiRunsStdin):
		add(CmdDownloadExec, High, c.bases[dl]+" output piped into an interpreter", "T1105", "T1059.004")
	case strings.Contains(c.lower, "$("+c.bases[dl]) || strings.Contains(c.lower, "`"+c.bases[dl]) || strings.Contains(c.lower, "<("+c.bases[dl]):
		add(CmdDownloadExec, High, "runs what "+c.bases[dl]+" downloads", "T1105", "T1059.004")
	default:
		if s, ok := c.has("chmod +x", "chmod 7", "chmod 07", "chmod u+x", "chmod a+x", "chmod 5", "chmod 05"); ok {
			add(CmdDownloadExec, High, c.bases[dl]+" download made executable ("+c.fragment(s)+")", "T1105")
		}
	}
	for _, w := range c.words[dl+1:] {
		lw := strings.ToLower(w)
		rest, ok := "", false
		for _, scheme := range [...]string{"http://", "https://", "ftp://"} {
			if j := strings.Index(lw, scheme); j >= 0 {
				rest, ok = lw[j+len(scheme):], true
				break
			}
		}
		if !ok {
			continue
		}
		host := rest
		if j := strings.IndexAny(host, "/?#"); j >= 0 {
			host = host[:j]
		}
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		if !apiCmdLocalHost(host) {
			add(CmdToolTransfer, Medium, c.bases[dl]+" fetches "+apiClip(w, 80), "T1105")
			return
		}
	}
}

// apiCmdLocalHost reports whether a URL host (with port) is this machine, a
// private address or a cluster-local name: health checks and debugging,
// not tool transfer.
func apiCmdLocalHost(hostport string) bool {
	h := hostport
	if strings.HasPrefix(h, "[") {
		h, _, _ = strings.Cut(h[1:], "]")
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	switch h {
	case "localhost", "127.0.0.1", "::1", "0.0.0.0", "":
		return true
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return !apiPublicAddr(ip)
	}
	if !strings.Contains(h, ".") {
		return true // a cluster DNS short name: "http://api:8080"
	}
	// Cluster DNS, and ".internal" names (cloud VPC DNS and the metadata
	// service, which has its own class).
	return strings.HasSuffix(h, ".svc") || strings.HasSuffix(h, ".cluster.local") || strings.HasSuffix(h, ".internal")
}

func (c *apiCmdLine) escape(add func(string, Severity, string, ...string)) {
	if i := c.word("nsenter"); i >= 0 {
		for j, w := range c.words[i+1:] {
			next := ""
			if i+2+j < len(c.words) {
				next = c.words[i+2+j]
			}
			if w == "--target=1" || w == "-t1" || ((w == "-t" || w == "--target") && next == "1") {
				add(CmdEscapeToHost, Critical, "nsenter into PID 1's namespaces: a shell on the node", "T1611")
				break
			}
		}
	}
	if i := c.word("chroot"); i >= 0 && i+1 < len(c.words) && c.words[i+1] != "/" {
		add(CmdEscapeToHost, High, "chroot into "+c.words[i+1]+" (a host filesystem mount?)", "T1611")
	}
	if s, ok := c.has("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock"); ok {
		add(CmdEscapeToHost, High, "talks to the container runtime socket ("+s+")", "T1611")
	} else if i := c.word("crictl", "ctr", "nerdctl"); i >= 0 {
		add(CmdEscapeToHost, High, c.bases[i]+" drives the node's container runtime", "T1611")
	}
	if s, ok := c.has("release_agent", "notify_on_release", "/proc/sysrq-trigger", "core_pattern"); ok {
		add(CmdEscapeToHost, Critical, "touches a host kernel hook ("+s+")", "T1611")
	}
	if strings.Contains(c.lower, "/proc/1/root") {
		add(CmdEscapeToHost, High, "reaches the host through /proc/1/root", "T1611")
	}
	if c.word("mount") >= 0 {
		if s, ok := c.has("/dev/sd", "/dev/nvme", "/dev/vd", "/dev/xvd", "/dev/mapper/", "/dev/dm-"); ok {
			add(CmdEscapeToHost, High, "mounts a host disk ("+c.fragment(s)+")", "T1611")
		}
	}
}

func (c *apiCmdLine) secrets(add func(string, Severity, string, ...string)) {
	if s, ok := c.has("serviceaccount/token", "/var/run/secrets/azure/tokens", "/var/run/secrets/tokens/"); ok {
		add(CmdCredentialFile, High, "reads a service account token ("+c.fragment(s)+")", "T1552.001", "T1528")
	}
	if s, ok := c.has("/etc/shadow", "/etc/gshadow"); ok {
		add(CmdCredentialFile, High, "reads password hashes ("+s+")", "T1003.008")
	}
	if s, ok := c.has("/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/kubelet.conf",
		"/etc/kubernetes/pki", "/var/lib/kubelet/pki", "/var/lib/kubelet/kubeconfig", "/.kube/config",
		"/.aws/credentials", "/.docker/config.json", "/.ssh/id_", "/.config/gcloud"); ok {
		add(CmdCredentialFile, High, "reads a credential file ("+c.fragment(s)+")", "T1552.001")
	}
	if s, ok := c.has("169.254.169.254", "fd00:ec2::254", "metadata.google.internal", "169.254.170.2", "100.100.100.200"); ok {
		add(CmdCloudMetadata, High, "queries the cloud metadata service ("+c.fragment(s)+"): node credentials", "T1552.005")
	}
}

func (c *apiCmdLine) misc(add func(string, Severity, string, ...string)) {
	if i := c.word("xmrig", "minerd", "cpuminer", "xmr-stak", "t-rex", "nbminer", "ethminer", "lolminer", "phoenixminer", "nanominer"); i >= 0 {
		add(CmdMiner, High, "cryptocurrency miner "+c.bases[i], "T1496")
	} else if s, ok := c.has("stratum+tcp://", "stratum+ssl://", "stratum2+tcp://"); ok {
		add(CmdMiner, High, "mining pool protocol ("+c.fragment(s)+")", "T1496")
	}
	if s, ok := c.has("history -c", "unset histfile", "histfile=/dev/null", "histsize=0", ".bash_history"); ok {
		if s != ".bash_history" || c.word("rm", "shred", "truncate", "ln", "unlink") >= 0 || strings.Contains(c.line, "> ") {
			add(CmdHistoryTamper, Medium, "erases shell history ("+s+")", "T1070.003")
		}
	}
	if strings.Contains(c.lower, "/var/log") && c.word("shred", "truncate") >= 0 {
		add(CmdHistoryTamper, Medium, "erases logs under /var/log", "T1070.002")
	}
	if len(c.argv) > 0 {
		b := path.Base(c.argv[0])
		args := c.argv[1:]
		if b == "busybox" && len(args) > 0 && apiIsShell(args[0]) {
			b, args = args[0], args[1:]
		}
		if apiIsShell(b) && b != "busybox" && !slices.Contains(args, "-c") && !apiCmdHasScript(args) {
			add(CmdInteractiveShell, Medium, "interactive "+b, "T1059.004")
		}
	}
}

// apiCmdHasScript reports whether shell arguments name a script file or a
// -c-style flag cluster ("-ec", "-xc"): anything but interactive flags.
func apiCmdHasScript(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return true
		}
		if !strings.HasPrefix(a, "--") && strings.Contains(a, "c") {
			return true
		}
	}
	return false
}
