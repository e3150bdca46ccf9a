package detect

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// WorkloadOfWrite names what an audited write of a pod-carrying resource
// (pods, deployments, daemonsets, statefulsets, replicasets, jobs,
// cronjobs, replicationcontrollers) is part of, the way the inventory rules
// judge it: "Kind/namespace/name" of the object, or of its controller when
// the body names one (a pod of a ReplicaSet with a pod-template-hash label
// belongs to the Deployment, a Job of a CronJob to the CronJob), and the
// images it runs. ok is false for anything else and for failed requests.
// The pipeline should record exactly these with
// baseline.Profiles.ObserveWorkload, so that detector and baseline agree.
func WorkloadOfWrite(r *event.APIRequest) (workload string, images []string, ok bool) {
	kind := specWorkloadKind(r.APIGroup, r.Resource)
	if kind == "" || r.Subresource != "" || !specWriteVerb(r.Verb) || !specJudged(r) {
		return "", nil, false
	}
	var objs []specObject
	if len(r.RequestObject) > 0 && (r.Name == "" || specMayHold(r.RequestObject, `"image"`, `"ownerReferences"`, `"path"`)) {
		objs, _ = specDecodeBody(r.RequestObject)
	}
	return specOwnerWorkload(kind, r, objs), specImagesOf(r.Resource, objs), true
}

// specImagesOf lists the distinct images of decoded objects of resource.
func specImagesOf(resource string, objs []specObject) []string {
	var images []string
	for i := range objs {
		for _, ps := range objs[i].podSpecs(resource) {
			images = specAppendImages(images, ps)
		}
	}
	return images
}

// specOwnerWorkload resolves an object to its controller's workload from
// the owner references in its body.
func specOwnerWorkload(kind string, r *event.APIRequest, objs []specObject) string {
	for i := range objs {
		m := &objs[i].Metadata
		for _, o := range m.Owners {
			if o.Controller == nil || !*o.Controller || o.Name == "" {
				continue
			}
			switch o.Kind {
			case "ReplicaSet":
				if h := m.Labels["pod-template-hash"]; h != "" {
					if base, ok := strings.CutSuffix(o.Name, "-"+h); ok && base != "" {
						return "Deployment/" + r.Namespace + "/" + base
					}
				}
				return "ReplicaSet/" + r.Namespace + "/" + o.Name
			case "Job":
				// A CronJob names its Jobs "<cronjob>-<scheduled minutes>".
				if base, n, ok := specCutScheduledSuffix(o.Name); ok && n > 0 {
					return "CronJob/" + r.Namespace + "/" + base
				}
				return "Job/" + r.Namespace + "/" + o.Name
			case "CronJob", "Deployment", "DaemonSet", "StatefulSet", "ReplicationController":
				return o.Kind + "/" + r.Namespace + "/" + o.Name
			}
		}
	}
	return kind + "/" + r.Namespace + "/" + specName(r, objs)
}

// specCutScheduledSuffix splits "name-29012345" into "name" and the minutes.
func specCutScheduledSuffix(job string) (string, int64, bool) {
	i := strings.LastIndexByte(job, '-')
	if i <= 0 || len(job)-i-1 < 7 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(job[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return job[:i], n, true
}

// specNamespaceAge is a namespace's first sighting and event count, from
// its workloads: what its warm-up is judged on.
func specNamespaceAge(np *baseline.NamespaceProfile) (first time.Time, n uint64) {
	if np == nil {
		return time.Time{}, 0
	}
	for _, st := range np.Workloads {
		if first.IsZero() || st.First.Before(first) {
			first = st.First
		}
		n += st.Count
	}
	return first, n
}

// specKnownWorkload reports whether the baseline has ever seen workload.
func specKnownWorkload(p *baseline.Profiles, namespace, workload string) bool {
	if p.Workloads[workload] != nil {
		return true
	}
	np := p.Namespaces[namespace]
	return np != nil && np.Workloads[workload] != nil
}

// inventory is workload.first-seen, image.first-seen and
// image.untrusted-registry for one decoded pod-carrying write.
func (d *specWorkloadDetector) inventory(s *State, r *event.APIRequest, kind string, objs []specObject, emit Emit) {
	wl := specOwnerWorkload(kind, r, objs)
	subject := r.Actor().Username
	src := func(detail string) Evidence { return specAuditEvidence(r, specRequestLine(r)+detail) }
	if r.Verb == "create" && !specKnownWorkload(s.Profiles, r.Namespace, wl) {
		d.firstSeen(s, r.Time, r.Namespace, wl, subject, "created by "+specActorText(r), src(""), emit)
	}
	for _, img := range specImagesOf(r.Resource, objs) {
		d.image(s, r.Time, r.Namespace, wl, subject, img, src(": image "+img), emit)
	}
}

func (d *specWorkloadDetector) Flow(s *State, f *Flow, emit Emit) {
	for _, p := range [2]*baseline.Peer{&f.Src, &f.Dst} {
		if p.Kind != baseline.PeerWorkload || p.Workload == "" || specKnownWorkload(s.Profiles, p.Namespace, p.Workload) {
			continue
		}
		ev := Evidence{Kind: "flow", Time: f.Time, Detail: netFlowText(f)}
		d.firstSeen(s, f.Time, p.Namespace, p.Workload, "", "seen on the network at "+p.IP.String(), ev, emit)
	}
}

func (d *specWorkloadDetector) Exec(s *State, e *event.Exec, emit Emit) {
	var buf [128]byte
	wl := appendExecWorkload(buf[:0], e)
	if len(wl) == 0 {
		return
	}
	// The common case, a known workload running a known image, is decided
	// without allocating.
	known := specKnownWorkload(s.Profiles, e.Namespace, string(wl))
	if known && (e.Image == "" || specImageKnown(s.Profiles, e.Namespace, e.Image)) {
		return
	}
	w := string(wl)
	ev := Evidence{Kind: "exec", Time: e.Time, Ref: e.ContainerID, Detail: procExecText(e)}
	if !known {
		d.firstSeen(s, e.Time, e.Namespace, w, "", "seen running "+e.Executable+" in pod "+e.Pod, ev, emit)
	}
	if e.Image != "" {
		d.image(s, e.Time, e.Namespace, w, "", e.Image, ev, emit)
	}
}

// specImageKnown reports whether image's registry and exact version are in
// the baseline (nothing to report).
func specImageKnown(p *baseline.Profiles, ns, image string) bool {
	ref := baseline.ParseImage(image)
	if p.Registries[ref.Registry] == nil {
		return false
	}
	np := p.Namespaces[ns]
	if np == nil {
		return false
	}
	versions := np.Images[baseline.ImageKey{Registry: ref.Registry, Repository: ref.Repository}]
	return versions != nil && versions[ref.Version()] != nil
}

func (d *specWorkloadDetector) firstSeen(s *State, t time.Time, ns, wl, subject, how string, ev Evidence, emit Emit) {
	np := s.Profiles.Namespace(ns)
	first, n := specNamespaceAge(np)
	if !specNovel(s, t, first, n) {
		return // learning, or the namespace itself is new and warming up
	}
	sev, score := Low, 10.0
	kind, _, _ := strings.Cut(wl, "/")
	switch {
	case specSystemNamespace(ns):
		sev, score = Medium, 40
	case kind == "Pod":
		sev, score = Medium, 20 // no controller: typical of kubectl run
	case kind == "DaemonSet":
		score = 30
	}
	emit(Alert{
		Time: t, Rule: RuleWorkloadFirstSeen, Category: CategoryWorkload, Severity: sev, Score: score,
		Subject: subject, Namespace: ns, Workload: wl,
		Message: wl + " is new in namespace " + ns + " (" + how + "): the namespace has run " +
			strconv.Itoa(len(np.Workloads)) + " other workloads since " + first.UTC().Format("2006-01-02"),
		Evidence: []Evidence{ev},
		MITRE:    []string{"T1610"},
		Key:      "workload " + wl,
	})
}

func (d *specWorkloadDetector) image(s *State, t time.Time, ns, wl, subject, image string, ev Evidence, emit Emit) {
	p := s.Profiles
	ref := baseline.ParseImage(image)
	if p.Registries[ref.Registry] == nil && specNovel(s, t, p.Start, math.MaxUint64) {
		emit(Alert{
			Time: t, Rule: RuleImageUntrustedRegistry, Category: CategoryImage, Severity: High, Score: 50,
			Subject: subject, Namespace: ns, Workload: wl,
			Message: wl + " runs " + image + " from registry " + ref.Registry + ", which no workload of the cluster pulled from since " +
				p.Start.UTC().Format("2006-01-02") + ": an unvetted image source",
			Evidence: []Evidence{ev},
			MITRE:    []string{"T1204.003", "T1610"},
			Key:      "registry " + ref.Registry,
		})
	}
	np := p.Namespace(ns)
	first, n := specNamespaceAge(np)
	if np == nil || !specNovel(s, t, first, n) {
		return
	}
	repo := ref.Registry + "/" + ref.Repository
	versions := np.Images[baseline.ImageKey{Registry: ref.Registry, Repository: ref.Repository}]
	switch {
	case versions == nil:
		emit(Alert{
			Time: t, Rule: RuleImageFirstSeen, Category: CategoryImage, Severity: Medium, Score: 30,
			Subject: subject, Namespace: ns, Workload: wl,
			Message: wl + " runs " + image + ": repository " + repo + " was never run in namespace " + ns +
				" (" + strconv.Itoa(len(np.Images)) + " repositories known)",
			Evidence: []Evidence{ev},
			MITRE:    []string{"T1610"},
			Key:      "image " + repo,
		})
	case versions[ref.Version()] == nil:
		// A new version of a known repository, rolled out by an identity
		// whose baseline already deploys workloads in this namespace, is a
		// routine release: recorded (info), not worth a look. Versions fold
		// into one alert per workload and repository.
		sev, score, why := Low, 10.0, ""
		if specRoutineDeployer(s, subject, ns) {
			sev, score, why = Info, 5, "; "+subject+" deploys here routinely"
		}
		emit(Alert{
			Time: t, Rule: RuleImageFirstSeen, Category: CategoryImage, Severity: sev, Score: score,
			Subject: subject, Namespace: ns, Workload: wl,
			Message: wl + " runs " + image + ": a version of " + repo + " never run in namespace " + ns +
				" (" + strconv.Itoa(len(versions)) + " known versions)" + why,
			Evidence: []Evidence{ev},
			MITRE:    []string{"T1525"},
			Key:      "image " + repo + " new version",
		})
	}
}

// specRoutineDeployer reports whether subject's baseline has writes of
// pod-template workloads in namespace ns.
func specRoutineDeployer(s *State, subject, ns string) bool {
	if subject == "" || s.Profiles == nil {
		return false
	}
	sp := s.Profiles.Subject(subject)
	if sp == nil {
		return false
	}
	for k := range sp.Calls {
		if k.Namespace == ns && k.APIGroup == "apps" && k.Subresource == "" &&
			(k.Verb == "patch" || k.Verb == "update" || k.Verb == "create") &&
			(k.Resource == "deployments" || k.Resource == "statefulsets" || k.Resource == "daemonsets") {
			return true
		}
	}
	return false
}
