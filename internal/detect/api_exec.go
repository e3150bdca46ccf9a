package detect

import (
	"encoding/json"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// apiExecDetector raises exec.into-pod for exec, attach, port-forward and
// debug containers through the API, and exec.suspicious-command for the
// commands such a request, or a process event, runs.
type apiExecDetector struct {
	ids        *apiIdentities
	privileged []string
}

// Rules implements Detector.
func (*apiExecDetector) Rules() []Rule {
	return []Rule{
		{ID: RuleExecIntoPod, Category: CategoryExec, Severity: Critical, MITRE: []string{"T1609", "T1610", "T1572"},
			Summary: "someone ran a command in (exec), attached to, port-forwarded to, or added a debug container to a running pod"},
		{ID: RuleExecSuspicious, Category: CategoryExec, Severity: Critical,
			MITRE:   []string{"T1059.004", "T1105", "T1027", "T1611", "T1552.001", "T1552.005", "T1003.008", "T1528", "T1496", "T1070.003", "T1609"},
			Summary: "a command run in a container is a shell, a reverse shell, a download-and-run, a container escape, a credential or metadata read, a miner or history tampering"},
	}
}

// apiExecRequest is what an exec, attach or port-forward URI carries.
type apiExecRequest struct {
	Command   []string
	Container string
	Ports     []string
	TTY       bool
}

// maxExecArgs bounds the command words kept from one request URI.
const maxExecArgs = 256

// apiParseExecQuery reads the query of an exec, attach or port-forward
// request URI: the repeated command= parameters in order, container=,
// ports= and tty=. Names and values are URL-decoded ("+" is a space), as
// the API server's own query parsing does; a value that does not decode is
// kept as written.
func apiParseExecQuery(uri string) apiExecRequest {
	var x apiExecRequest
	_, q, ok := strings.Cut(uri, "?")
	if !ok {
		return x
	}
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if strings.ContainsAny(k, "%+") {
			// The API server unescapes names too: "c%6Fmmand" is a command.
			if d, err := url.QueryUnescape(k); err == nil {
				k = d
			}
		}
		switch k {
		case "command", "container", "ports", "port", "tty":
		default:
			continue
		}
		if d, err := url.QueryUnescape(v); err == nil {
			v = d
		}
		switch k {
		case "command":
			if len(x.Command) < maxExecArgs {
				x.Command = append(x.Command, v)
			}
		case "container":
			x.Container = v
		case "ports", "port":
			if len(x.Ports) < maxExecArgs {
				x.Ports = append(x.Ports, v)
			}
		case "tty":
			x.TTY = v == "true" || v == "1"
		}
	}
	return x
}

// apiShellQuote renders argv the way a person would type it.
func apiShellQuote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`|&;<>(){}*?!#~") {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

// API implements APIDetector.
func (d *apiExecDetector) API(s *State, r *event.APIRequest, emit Emit) {
	if r.Resource != "pods" || r.APIGroup != "" {
		return
	}
	switch r.Subresource {
	case "exec", "attach", "portforward":
	case "ephemeralcontainers":
		if r.Verb != "patch" && r.Verb != "update" {
			return
		}
	default:
		return
	}
	if baseline.OutcomeOf(r) != baseline.OutcomeAuthorized {
		return // denied: rbac.denied
	}
	kind := d.ids.kind(r.Actor())
	x := apiParseExecQuery(r.RequestURI)
	var debug []apiDebugContainer
	if r.Subresource == "ephemeralcontainers" {
		debug = apiDebugContainers(r.RequestObject)
		for _, c := range debug {
			x.Command = append(append(x.Command, c.Command...), c.Args...)
		}
	}
	workload, pod := apiTargetOf(s, r.Namespace, r.Name)

	sev, score := Medium, 10.0
	var why []string
	switch r.Subresource {
	case "portforward":
		sev = Low
	case "ephemeralcontainers":
		score += 10
	}
	if apiPrivilegedNamespace(s, d.privileged, r.Namespace) {
		sev, score = apiBump(sev, 1), score+10
		why = append(why, r.Namespace+" is a privileged namespace")
	}
	if kind == apiServiceAccount {
		sev, score = apiBump(sev, 1), score+10
		why = append(why, "a service account does it: automation should not need a shell")
	}
	if p := apiPodPrivilege(pod); p != "" {
		sev, score = apiBump(sev, 1), score+10
		why = append(why, "the pod runs "+p)
	}
	for _, c := range debug {
		if c.Privileged {
			sev, score = apiBump(sev, 1), score+10
			why = append(why, "the debug container is privileged")
			break
		}
	}
	target := "pod " + r.Namespace + "/" + r.Name
	if x.Container != "" {
		target += " (container " + x.Container + ")"
	}
	var did string
	mitre := []string{"T1609"}
	switch r.Subresource {
	case "exec":
		did = "ran `" + apiClip(apiShellQuote(x.Command), 200) + "` in " + target
		if x.TTY {
			did += " with a terminal"
		}
	case "attach":
		did = "attached to " + target
	case "portforward":
		did = "port-forwarded to " + target
		if len(x.Ports) > 0 {
			did += " (ports " + strings.Join(x.Ports, ", ") + ")"
		}
		mitre = []string{"T1572"}
	case "ephemeralcontainers":
		did = "added a debug container to " + target
		var imgs []string
		for _, c := range debug {
			imgs = append(imgs, c.Image)
		}
		if len(imgs) > 0 {
			did += " (image " + strings.Join(imgs, ", ") + ")"
		}
		mitre = append(mitre, "T1610")
	}
	base := apiActorName(r) + " (" + apiKindWord(kind) + ") " + did + " through the API"
	if len(why) > 0 {
		base += "; " + strings.Join(why, "; ")
	}
	key := apiJoinNonEmpty(r.Subresource, x.Container, apiClip(apiShellQuote(x.Command), 200))

	if ms := ClassifyCommand(x.Command); len(ms) > 0 && (s.Config == nil || s.Config.Enabled(RuleExecSuspicious)) {
		// The command says more than the exec: one alert, the worse of both.
		top := ms[0]
		sev := max(top.Severity, sev)
		if len(ms) == 1 && top.Class == CmdInteractiveShell && kind == apiUser && apiExecRoutine(s, r) {
			// A person who debugs with kubectl exec as part of their
			// baseline opening a shell again: recorded, not paged.
			sev = min(sev, Low)
			base += " (this person's baseline has exec sessions)"
		}
		emit(Alert{
			Time:      apiTime(r),
			Rule:      RuleExecSuspicious,
			Category:  CategoryExec,
			Severity:  sev,
			Score:     score + apiCmdScore(ms),
			Subject:   r.Actor().Username,
			Namespace: r.Namespace,
			Workload:  workload,
			Message:   base + " — " + apiCmdSummary(ms),
			Evidence:  []Evidence{apiEvidence(r, did)},
			MITRE:     apiCmdMITRE(ms, "T1609"),
			Key:       top.Class + " " + key,
		})
		return
	}
	emit(Alert{
		Time:      apiTime(r),
		Rule:      RuleExecIntoPod,
		Category:  CategoryExec,
		Severity:  sev,
		Score:     score,
		Subject:   r.Actor().Username,
		Namespace: r.Namespace,
		Workload:  workload,
		Message:   base,
		Evidence:  []Evidence{apiEvidence(r, did)},
		MITRE:     mitre,
		Key:       key,
	})
}

// Exec implements ExecDetector: the same classifier over process events
// from runtime sensors. Events the pipeline made from audit exec requests
// (Source "audit") are skipped: API already judged them, with their user.
func (d *apiExecDetector) Exec(s *State, e *event.Exec, emit Emit) {
	if e.Source == "audit" || e.Executable == "" {
		return
	}
	argv := make([]string, 0, 1+len(e.Args))
	argv = append(argv, e.Executable)
	argv = append(argv, e.Args...)
	ms := slices.DeleteFunc(ClassifyCommand(argv), func(m CommandMatch) bool {
		// Containers start shells and fetch URLs all the time; only
		// what a command does is judged here.
		return m.Class == CmdInteractiveShell || m.Class == CmdToolTransfer
	})
	if len(ms) == 0 {
		return
	}
	top := ms[0]
	workload := apiExecWorkload(s, e)
	where := "on node " + e.Node
	if e.Pod != "" {
		where = "in pod " + e.Namespace + "/" + e.Pod
		if e.Container != "" {
			where += " (container " + e.Container + ")"
		}
	}
	msg := "a process " + where + " ran `" + apiClip(apiShellQuote(argv), 200) + "`"
	if e.Parent != "" {
		msg += " (parent " + path.Base(e.Parent) + ")"
	}
	if e.Image != "" {
		msg += " in image " + e.Image
	}
	emit(Alert{
		Time:      e.Time,
		Rule:      RuleExecSuspicious,
		Category:  CategoryExec,
		Severity:  top.Severity,
		Score:     apiCmdScore(ms),
		Namespace: e.Namespace,
		Workload:  workload,
		Message:   msg + " — " + apiCmdSummary(ms),
		Evidence: []Evidence{{Kind: "exec", Time: e.Time, Ref: e.ContainerID,
			Detail: e.Source + ": pid " + strconv.FormatUint(uint64(e.PID), 10) + " uid " + strconv.FormatUint(uint64(e.UID), 10) + " " + apiClip(apiShellQuote(argv), 300)}},
		MITRE: apiCmdMITRE(ms),
		Key:   apiJoinNonEmpty(top.Class, path.Base(e.Executable), apiClip(strings.Join(e.Args, " "), 200)),
	})
}

// apiJoinNonEmpty joins the non-empty parts with spaces.
func apiJoinNonEmpty(parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " ")
}

// apiCmdSummary is "reverse shell: shell I/O redirected to …; also
// cloud metadata".
func apiCmdSummary(ms []CommandMatch) string {
	s := strings.ReplaceAll(ms[0].Class, "-", " ") + ": " + ms[0].Why
	if len(ms) > 1 {
		var also []string
		for _, m := range ms[1:] {
			also = append(also, strings.ReplaceAll(m.Class, "-", " "))
		}
		s += "; also " + strings.Join(also, ", ")
	}
	return s
}

// apiCmdScore ranks within a severity: more reasons, higher.
func apiCmdScore(ms []CommandMatch) float64 { return float64(10 * len(ms)) }

// apiCmdMITRE is the union of the matches' techniques plus extra.
func apiCmdMITRE(ms []CommandMatch, extra ...string) []string {
	var out []string
	for _, m := range ms {
		for _, t := range m.MITRE {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	for _, t := range extra {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// apiTargetOf is the workload of the pod ns/name ("Kind/ns/name"), and the
// pod when the inventory has it.
func apiTargetOf(s *State, ns, name string) (string, *corev1.Pod) {
	if s.Index != nil {
		if p, ok := s.Index.Pod(ns, name); ok {
			if w := s.Index.WorkloadOf(p).String(); w != "" {
				return w, p
			}
			return "Pod/" + ns + "/" + name, p
		}
	}
	if name == "" {
		return "", nil
	}
	return "Pod/" + ns + "/" + name, nil
}

// apiExecWorkload is a process event's workload: the sensor's own owner
// resolution, else the inventory's, else the pod or the node.
func apiExecWorkload(s *State, e *event.Exec) string {
	switch {
	case e.WorkloadKind != "" && e.Workload != "":
		return e.WorkloadKind + "/" + e.Namespace + "/" + e.Workload
	case e.Pod != "":
		w, _ := apiTargetOf(s, e.Namespace, e.Pod)
		return w
	case e.Node != "":
		return "Node/" + e.Node
	}
	return ""
}

// apiPodPrivilege says how a pod reaches its node ("a privileged container",
// "in the host PID namespace", …), or "".
func apiPodPrivilege(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	for _, c := range p.Spec.Containers {
		if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
			return "a privileged container"
		}
	}
	switch {
	case p.Spec.HostPID:
		return "in the host PID namespace"
	case p.Spec.HostNetwork:
		return "in the host network"
	case p.Spec.HostIPC:
		return "in the host IPC namespace"
	}
	for _, v := range p.Spec.Volumes {
		if v.HostPath != nil {
			return "with a hostPath volume (" + v.HostPath.Path + ")"
		}
	}
	return ""
}

// apiDebugContainer is what a pods/ephemeralcontainers body says about one
// debug container.
type apiDebugContainer struct {
	Name, Image   string
	Command, Args []string
	Privileged    bool
}

// apiDebugContainers reads the ephemeral containers of a request body
// (Request level and above; nil at Metadata level or when unreadable).
func apiDebugContainers(body []byte) []apiDebugContainer {
	if len(body) == 0 {
		return nil
	}
	var obj struct {
		Spec struct {
			EphemeralContainers []struct {
				Name            string   `json:"name"`
				Image           string   `json:"image"`
				Command         []string `json:"command"`
				Args            []string `json:"args"`
				SecurityContext *struct {
					Privileged *bool `json:"privileged"`
				} `json:"securityContext"`
			} `json:"ephemeralContainers"`
		} `json:"spec"`
	}
	if json.Unmarshal(body, &obj) != nil {
		return nil
	}
	var out []apiDebugContainer
	for _, c := range obj.Spec.EphemeralContainers {
		dc := apiDebugContainer{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args}
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil {
			dc.Privileged = *c.SecurityContext.Privileged
		}
		out = append(out, dc)
	}
	return out
}

// apiExecRoutine reports whether the actor's baseline already has exec
// sessions into pods (after learning: during learning, everything is new).
func apiExecRoutine(s *State, r *event.APIRequest) bool {
	if s.Profiles == nil {
		return false
	}
	sp := s.Profiles.Subject(r.Actor().Username)
	if sp == nil {
		return false
	}
	for k := range sp.Calls {
		if k.Resource == "pods" && (k.Subresource == "exec" || k.Subresource == "attach") {
			return true
		}
	}
	return false
}
