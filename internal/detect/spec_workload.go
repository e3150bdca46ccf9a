package detect

import (
	"cmp"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/kubedelta/kubedelta/internal/event"
)

// specWorkloadDetector judges what runs: workload.risky-spec (pods and pod
// templates that give a container the node, workloads created in
// kube-system by people, services opened outside the cluster) and the
// inventory rules workload.first-seen, image.first-seen and
// image.untrusted-registry (what a namespace never ran, from audited
// writes, flows and process events). One detector, so that a write's body
// is decoded once for both.
type specWorkloadDetector struct {
	sys *specIdentities
	log *slog.Logger
}

func (d *specWorkloadDetector) Rules() []Rule {
	return []Rule{
		{ID: RuleWorkloadRiskySpec, Category: CategoryWorkload, Severity: Critical,
			MITRE:   []string{"T1610", "T1611", "T1133", "T1557"},
			Summary: "a pod or pod template written with privileged containers, host namespaces, sensitive hostPath volumes, dangerous capabilities, root, or a kube-system controller's service account; a workload created in kube-system by a non-system identity; a NodePort, LoadBalancer or externalIPs service"},
		{ID: RuleWorkloadFirstSeen, Category: CategoryWorkload, Severity: Medium, MITRE: []string{"T1610"},
			Summary: "a workload never seen in its namespace (from pod and workload creates, flows and process events), after learning and the namespace's warm-up"},
		{ID: RuleImageFirstSeen, Category: CategoryImage, Severity: Medium, MITRE: []string{"T1610", "T1525"},
			Summary: "an image repository never seen in the namespace (medium), or a new tag or digest of a known one (low), after learning and the namespace's warm-up"},
		{ID: RuleImageUntrustedRegistry, Category: CategoryImage, Severity: High, MITRE: []string{"T1204.003", "T1610"},
			Summary: "an image from a registry no workload of the cluster ever pulled from, after learning"},
	}
}

// specWorkloadKind is the kind of the pod-carrying resources judged, by API
// group and resource; "" for anything else.
func specWorkloadKind(group, resource string) string {
	switch resource {
	case "pods":
		if group == "" {
			return "Pod"
		}
	case "replicationcontrollers":
		if group == "" {
			return "ReplicationController"
		}
	case "deployments":
		if group == "apps" || group == "extensions" {
			return "Deployment"
		}
	case "daemonsets":
		if group == "apps" || group == "extensions" {
			return "DaemonSet"
		}
	case "replicasets":
		if group == "apps" || group == "extensions" {
			return "ReplicaSet"
		}
	case "statefulsets":
		if group == "apps" {
			return "StatefulSet"
		}
	case "jobs":
		if group == "batch" {
			return "Job"
		}
	case "cronjobs":
		if group == "batch" {
			return "CronJob"
		}
	}
	return ""
}

// specSystemNamespace reports the namespaces of the control plane.
func specSystemNamespace(ns string) bool {
	return ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease"
}

func (d *specWorkloadDetector) API(s *State, r *event.APIRequest, emit Emit) {
	if !specWriteVerb(r.Verb) {
		return
	}
	kind := specWorkloadKind(r.APIGroup, r.Resource)
	if kind == "" {
		if r.Resource == "services" && r.APIGroup == "" && r.Subresource == "" {
			d.service(r, emit)
		}
		return
	}
	ephemeral := kind == "Pod" && r.Subresource == "ephemeralcontainers"
	if r.Subresource != "" && !ephemeral || !specJudged(r) {
		return // status, scale, binding, eviction: no pod spec
	}
	// One decode serves both the spec and the inventory rules.
	objs, note := d.decode(r)
	actor := r.Actor().Username
	if !(specPodTemplateController(r.User.Username) && specPodTemplateController(actor) ||
		r.User.Username == "system:apiserver") {
		d.risky(r, kind, objs, note, ephemeral, emit)
	}
	if !ephemeral {
		d.inventory(s, r, kind, objs, emit)
	}
}

// decode returns the objects of a pod-carrying write's body, skipping the
// decode when a byte scan shows nothing either family of rules reads;
// note says why the body could not be judged.
func (d *specWorkloadDetector) decode(r *event.APIRequest) ([]specObject, string) {
	body := r.RequestObject
	if len(body) == 0 {
		return nil, specBodyMissing
	}
	// Without any field either family reads, only a generated name would
	// need the body.
	if r.Name != "" && !specMayHold(body, `"privileged"`, `"host`, `"capabilities"`, `"allowPrivilegeEscalation"`,
		`"runAsUser"`, `"path"`, `"image"`, `"ownerReferences"`, `"serviceAccountName"`) {
		return nil, ""
	}
	objs, err := specDecodeBody(body)
	if err != nil {
		d.log.Debug("workload rules: undecodable request body", "auditID", r.AuditID, "err", err)
		return nil, "request body could not be decoded: " + specClip(err.Error(), 120)
	}
	return objs, ""
}

// risky is workload.risky-spec for one decoded write.
func (d *specWorkloadDetector) risky(r *event.APIRequest, kind string, objs []specObject, note string, ephemeral bool, emit Emit) {
	actor := r.Actor().Username
	var fs specFindings
	var images []string
	for i := range objs {
		for _, ps := range objs[i].podSpecs(r.Resource) {
			if ephemeral {
				// The body is the whole pod; only the ephemeral containers
				// are new (everything else is immutable).
				ps = &specPodSpec{EphemeralContainers: ps.EphemeralContainers}
			}
			specPodFindings(ps, &fs)
			images = specAppendImages(images, ps)
			if r.Namespace == "kube-system" && !d.sys.system(actor) && specControllerAccount(ps.ServiceAccountName) {
				sa := ps.ServiceAccountName
				fs.add(specFinding{id: "serviceAccount:" + sa, sev: High,
					text: "the service account of the " + sa + " (a controller's permissions, in a pod a person wrote)"})
			}
		}
	}
	if r.Verb == "create" && specSystemNamespace(r.Namespace) && !d.sys.system(actor) {
		fs.add(specFinding{id: "namespace:" + r.Namespace, sev: Medium,
			text: "a non-system identity writing into " + r.Namespace})
	}
	if len(fs) == 0 {
		return
	}
	name := specName(r, objs)
	wl := kind + "/" + r.Namespace + "/" + name
	sev, score, escape := fs.rank()
	what := "a workload that runs next to the control plane"
	if escape {
		what = "a container that can take over its node"
	}
	msg := specActorText(r) + " " + specPastTense(r.Verb) + " " + kind + " " + r.Namespace + "/" + name +
		": " + fs.summary(4) + " — " + what
	ev := []Evidence{specAuditEvidence(r, specRequestLine(r))}
	if len(images) > 0 {
		ev = append(ev, Evidence{Kind: "audit", Time: r.Time, Ref: r.AuditID, Detail: "images: " + specJoinMax(images, 4)})
	}
	if note != "" {
		ev = append(ev, Evidence{Kind: "audit", Time: r.Time, Ref: r.AuditID, Detail: note})
	}
	mitre := []string{"T1610"}
	if escape {
		mitre = append(mitre, "T1611")
	}
	emit(Alert{
		Time: r.Time, Rule: RuleWorkloadRiskySpec, Category: CategoryWorkload,
		Severity: sev, Score: score, Subject: actor, Namespace: r.Namespace, Workload: wl,
		Message: msg, Evidence: ev, MITRE: mitre, Key: fs.key(),
	})
}

// service judges Services opened outside the cluster.
func (d *specWorkloadDetector) service(r *event.APIRequest, emit Emit) {
	if len(r.RequestObject) == 0 || !specJudged(r) {
		return // the type is only in the body; services are written all the time
	}
	actor := r.Actor().Username
	if d.sys.system(r.User.Username) && d.sys.system(actor) {
		return
	}
	objs, err := specDecodeBody(r.RequestObject)
	if err != nil {
		d.log.Debug("workload.risky-spec: undecodable service body", "auditID", r.AuditID, "err", err)
		return
	}
	var fs specFindings
	mitre := []string{"T1133"}
	for i := range objs {
		sp := &objs[i].Spec
		switch sp.Type {
		case "NodePort", "LoadBalancer":
			var ports []string
			for _, p := range sp.Ports {
				if p.NodePort != 0 {
					ports = append(ports, strconv.Itoa(int(p.NodePort)))
				} else if p.Port != 0 {
					ports = append(ports, strconv.Itoa(int(p.Port)))
				}
			}
			text := "type " + sp.Type
			if len(ports) > 0 {
				text += " (ports " + specJoinMax(ports, 4) + ")"
			}
			fs.add(specFinding{id: "type:" + sp.Type, sev: Medium, text: text})
		}
		if len(sp.ExternalIPs) > 0 {
			fs.add(specFinding{id: "externalIPs", sev: High,
				text: "externalIPs " + specJoinMax(sp.ExternalIPs, 3) + " (intercepts traffic to those addresses cluster-wide, CVE-2020-8554)"})
			mitre = append(mitre, "T1557")
		}
	}
	if len(fs) == 0 {
		return
	}
	name := specName(r, objs)
	sev, score, _ := fs.rank()
	emit(Alert{
		Time: r.Time, Rule: RuleWorkloadRiskySpec, Category: CategoryWorkload,
		Severity: sev, Score: score, Subject: actor, Namespace: r.Namespace,
		Workload: "Service/" + r.Namespace + "/" + name,
		Message: specActorText(r) + " " + specPastTense(r.Verb) + " Service " + r.Namespace + "/" + name +
			": " + fs.summary(3) + " — reachable from outside the cluster",
		Evidence: []Evidence{specAuditEvidence(r, specRequestLine(r))},
		MITRE:    mitre, Key: fs.key(),
	})
}

// specFinding is one risky property of an object.
type specFinding struct {
	// id is stable across writes of the same object ("privileged:app").
	id   string
	sev  Severity
	text string
	// escape marks properties that reach the node (MITRE T1611).
	escape bool
}

type specFindings []specFinding

func (fs *specFindings) add(f specFinding) {
	for i := range *fs {
		if (*fs)[i].id == f.id {
			if f.sev > (*fs)[i].sev {
				(*fs)[i] = f
			}
			return
		}
	}
	*fs = append(*fs, f)
}

// rank sorts the findings worst first and returns the alert's severity,
// score (0–99 inside the severity: more and worse findings first) and
// whether any reaches the node.
func (fs specFindings) rank() (Severity, float64, bool) {
	slices.SortStableFunc(fs, func(a, b specFinding) int {
		if c := cmp.Compare(b.sev, a.sev); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	score, escape := 0.0, false
	for _, f := range fs {
		score += [...]float64{Info: 1, Low: 4, Medium: 10, High: 20, Critical: 35}[f.sev]
		escape = escape || f.escape
	}
	return fs[0].sev, min(score, 99), escape
}

// summary lists the first n findings' texts (after rank).
func (fs specFindings) summary(n int) string {
	texts := make([]string, 0, min(len(fs), n))
	for i, f := range fs {
		if i == n {
			break
		}
		texts = append(texts, f.text)
	}
	s := strings.Join(texts, ", ")
	if len(fs) > n {
		s += " and " + strconv.Itoa(len(fs)-n) + " more"
	}
	return s
}

// key is the sorted finding ids: the same object written again with the
// same risks folds into one alert.
func (fs specFindings) key() string {
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = f.id
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// specCapability rates an added Linux capability (without "CAP_", upper
// case); ok is false for capabilities not worth reporting.
func specCapability(c string, hostPID bool) (sev Severity, escape, ok bool) {
	switch c {
	case "SYS_MODULE":
		return Critical, true, true // load a kernel module: the host kernel
	case "ALL", "SYS_ADMIN", "DAC_READ_SEARCH", "SYS_RAWIO", "BPF":
		return High, true, true
	case "SYS_PTRACE":
		if hostPID {
			return High, true, true // ptrace the node's processes
		}
		return Medium, true, true
	case "NET_ADMIN", "SYS_BOOT", "PERFMON":
		return Medium, false, true
	case "NET_RAW", "SYSLOG":
		return Low, false, true
	}
	return 0, false, false
}

// specHostPathRisk is one sensitive host directory or socket.
type specHostPathRisk struct {
	path string
	sev  Severity
	// children: paths under it are as sensitive (/proc/sys, /root/.ssh).
	children bool
	// socket: a runtime socket; read-only does not protect it.
	socket bool
	why    string
}

// specHostPathTable lists the sensitive host paths: mounting one of them,
// a parent of one (mounting /var/run exposes /var/run/docker.sock), or —
// where children is set — anything under one, is reported.
func specHostPathTable() []specHostPathRisk {
	const (
		dockerSock     = "the Docker socket: start a privileged container on the node"
		containerdSock = "the containerd socket: start a privileged container on the node"
		crioSock       = "the CRI-O socket: start a privileged container on the node"
	)
	return []specHostPathRisk{
		{path: "/", sev: Critical, why: "the node's whole filesystem"},
		{path: "/var/run/docker.sock", sev: Critical, socket: true, why: dockerSock},
		{path: "/run/docker.sock", sev: Critical, socket: true, why: dockerSock},
		{path: "/var/run/cri-dockerd.sock", sev: Critical, socket: true, why: dockerSock},
		{path: "/run/containerd/containerd.sock", sev: Critical, socket: true, why: containerdSock},
		{path: "/var/run/containerd/containerd.sock", sev: Critical, socket: true, why: containerdSock},
		{path: "/run/k3s/containerd/containerd.sock", sev: Critical, socket: true, why: containerdSock},
		{path: "/var/run/crio/crio.sock", sev: Critical, socket: true, why: crioSock},
		{path: "/run/crio/crio.sock", sev: Critical, socket: true, why: crioSock},
		{path: "/etc/kubernetes/manifests", sev: Critical, children: true, why: "the kubelet's static pod manifests: run any pod on the node, past admission"},
		{path: "/etc/kubernetes", sev: High, children: true, why: "the node's kubeconfigs and PKI"},
		{path: "/var/lib/kubelet", sev: High, children: true, why: "the kubelet's credentials and the secrets of every pod on the node"},
		{path: "/var/lib/docker", sev: High, children: true, why: "every container's filesystem on the node"},
		{path: "/var/lib/containerd", sev: High, children: true, why: "every container's filesystem on the node"},
		{path: "/proc", sev: High, children: true, why: "the node's processes and kernel settings"},
		{path: "/root", sev: High, children: true, why: "root's home on the node: SSH keys, cloud credentials"},
		{path: "/etc", sev: High, why: "the node's configuration: shadow, sudoers, kubelet"},
		{path: "/dev", sev: High, why: "the node's devices, raw disks included"},
		{path: "/boot", sev: High, children: true, why: "the node's kernel and boot loader"},
		{path: "/home/admin", sev: Medium, children: true, why: "the node administrator's home"},
		{path: "/home", sev: Medium, why: "the node's home directories"},
		{path: "/sys", sev: Medium, why: "the node's kernel interfaces"},
		{path: "/var/log", sev: Medium, why: "the node's logs (symlinks there are followed by the kubelet's log reader)"},
	}
}

// specHostPath rates a hostPath volume; ok is false when it is not
// sensitive. A read-only mount lowers the severity by one, except for
// runtime sockets (connecting to a socket needs no write access).
func specHostPath(p string, readOnly bool) (sev Severity, why string, ok bool) {
	if p == "" || p[0] != '/' {
		return 0, "", false
	}
	p = path.Clean(p)
	var best *specHostPathRisk
	table := specHostPathTable()
	for i := range table {
		h := &table[i]
		hit := p == h.path || p == "/" || strings.HasPrefix(h.path, p+"/") ||
			h.children && strings.HasPrefix(p, h.path+"/")
		if hit && (best == nil || h.sev > best.sev) {
			best = h
		}
	}
	if best == nil {
		return 0, "", false
	}
	sev, why = best.sev, best.why
	if p != best.path && (p == "/" || strings.HasPrefix(best.path, p+"/")) {
		why = "holds " + best.path + ", " + why
	}
	if readOnly && !best.socket {
		sev = specLower(sev)
	}
	return sev, why, true
}

// specPodFindings adds the risky properties of one pod spec to fs.
func specPodFindings(ps *specPodSpec, fs *specFindings) {
	if ps.HostPID {
		fs.add(specFinding{id: "hostPID", sev: High, escape: true, text: "hostPID (sees and signals the node's processes)"})
	}
	if ps.HostIPC {
		fs.add(specFinding{id: "hostIPC", sev: Medium, escape: true, text: "hostIPC"})
	}
	if ps.HostNetwork {
		fs.add(specFinding{id: "hostNetwork", sev: Medium, text: "hostNetwork (the node's interfaces and local ports)"})
	}
	if sc := ps.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		fs.add(specFinding{id: "runAsUser0", sev: Low, text: "runAsUser 0"})
	}
	privileged := false
	for _, list := range [...][]specContainer{ps.Containers, ps.InitContainers, ps.EphemeralContainers} {
		for i := range list {
			privileged = specContainerFindings(&list[i], ps.HostPID, fs) || privileged
		}
	}
	if privileged && ps.HostPID {
		fs.add(specFinding{id: "privileged+hostPID", sev: Critical, escape: true,
			text: "privileged with hostPID (one nsenter away from a root shell on the node)"})
	}
	for _, v := range ps.Volumes {
		if v.HostPath == nil {
			continue
		}
		sev, why, ok := specHostPath(v.HostPath.Path, specVolumeReadOnly(ps, v.Name))
		if !ok {
			continue
		}
		fs.add(specFinding{id: "hostPath:" + path.Clean(v.HostPath.Path), sev: sev, escape: sev >= High,
			text: "hostPath " + path.Clean(v.HostPath.Path) + " (" + why + ")"})
	}
}

// specContainerFindings adds one container's risky settings and reports
// whether it is privileged.
func specContainerFindings(c *specContainer, hostPID bool, fs *specFindings) bool {
	sc := c.SecurityContext
	if sc == nil {
		return false
	}
	name := strconv.Quote(c.Name)
	privileged := sc.Privileged != nil && *sc.Privileged
	if privileged {
		fs.add(specFinding{id: "privileged:" + c.Name, sev: High, escape: true,
			text: "privileged container " + name})
	} else if sc.AllowPrivilegeEscalation != nil && *sc.AllowPrivilegeEscalation {
		fs.add(specFinding{id: "allowPrivilegeEscalation:" + c.Name, sev: Low,
			text: "allowPrivilegeEscalation in " + name})
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		fs.add(specFinding{id: "runAsUser0:" + c.Name, sev: Low, text: "container " + name + " runs as root (runAsUser 0)"})
	}
	if sc.Capabilities != nil {
		for _, raw := range sc.Capabilities.Add {
			capName := strings.TrimPrefix(strings.ToUpper(raw), "CAP_")
			sev, escape, ok := specCapability(capName, hostPID)
			if !ok {
				continue
			}
			fs.add(specFinding{id: "cap:" + capName + ":" + c.Name, sev: sev, escape: escape,
				text: "capability " + capName + " in " + name})
		}
	}
	return privileged
}

// specVolumeReadOnly reports whether every mount of volume is read-only
// (and there is at least one): an unmounted volume is judged writable, the
// worst case, since a patch may add the mount later.
func specVolumeReadOnly(ps *specPodSpec, volume string) bool {
	mounted := false
	for _, list := range [...][]specContainer{ps.Containers, ps.InitContainers, ps.EphemeralContainers} {
		for _, c := range list {
			for _, m := range c.VolumeMounts {
				if m.Name != volume {
					continue
				}
				if !m.ReadOnly {
					return false
				}
				mounted = true
			}
		}
	}
	return mounted
}

// specAppendImages appends the distinct images of a pod spec.
func specAppendImages(dst []string, ps *specPodSpec) []string {
	for _, list := range [...][]specContainer{ps.Containers, ps.InitContainers, ps.EphemeralContainers} {
		for _, c := range list {
			if c.Image != "" && !slices.Contains(dst, c.Image) {
				dst = append(dst, c.Image)
			}
		}
	}
	return dst
}

// specName is the written object's name: from the object reference, else
// the body (generateName gets a "*").
func specName(r *event.APIRequest, objs []specObject) string {
	if r.Name != "" {
		return r.Name
	}
	for i := range objs {
		if n := objs[i].Metadata.Name; n != "" {
			return n
		}
	}
	for i := range objs {
		if g := objs[i].Metadata.GenerateName; g != "" {
			return g + "*"
		}
	}
	return "(unnamed)"
}

// specActorText names who made a request: "alice", or "alice as bob".
func specActorText(r *event.APIRequest) string {
	if r.Impersonated.IsZero() || r.Impersonated.Username == r.User.Username {
		return r.User.Username
	}
	return r.User.Username + " (as " + r.Impersonated.Username + ")"
}

func specPastTense(verb string) string {
	switch verb {
	case "create":
		return "created"
	case "update":
		return "updated"
	case "patch":
		return "patched"
	case "delete":
		return "deleted"
	case "deletecollection":
		return "deleted all of"
	}
	return verb
}

// specJoinMax joins up to n items, counting the rest.
func specJoinMax(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + " and " + strconv.Itoa(len(items)-n) + " more"
}

// specControllerAccount reports the kube-system service accounts of the
// kube-controller-manager's controllers (the bootstrap policy's
// system:controller:* bindings): a pod running as one holds that
// controller's cluster-wide permissions.
func specControllerAccount(sa string) bool {
	switch sa {
	case "generic-garbage-collector", "horizontal-pod-autoscaler", "persistent-volume-binder",
		"pod-garbage-collector", "root-ca-cert-publisher", "legacy-service-account-token-cleaner",
		"bootstrap-signer", "token-cleaner", "cloud-provider":
		return true
	}
	return strings.HasSuffix(sa, "-controller")
}
