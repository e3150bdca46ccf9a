package cluster

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Workload kinds besides the owner kinds themselves (Deployment,
// StatefulSet, DaemonSet, CronJob, Job, ReplicaSet, or a custom
// controller's kind).
const (
	// KindPod is a bare pod: no controller.
	KindPod = "Pod"
	// KindNode is a node: its addresses and the hostNetwork pods on it.
	KindNode = "Node"
	// KindStaticPod is a kubelet static pod, named without the node suffix
	// the kubelet appends to its mirror pod, so that the same manifest on
	// every control-plane node is one workload.
	KindStaticPod = "StaticPod"
)

// Workload is the identity that outlives a pod: the controller that
// (re)creates it, or the pod itself when nothing does.
type Workload struct {
	Kind, Namespace, Name string
}

// String returns "Kind/namespace/name", or "Kind/name" for cluster-scoped
// workloads (nodes), or "" for the zero Workload.
func (w Workload) String() string {
	switch {
	case w.Kind == "":
		return ""
	case w.Namespace == "":
		return w.Kind + "/" + w.Name
	}
	return w.Kind + "/" + w.Namespace + "/" + w.Name
}

// IsZero reports whether w names nothing.
func (w Workload) IsZero() bool { return w.Kind == "" }

// nsName keys namespaced objects.
type nsName struct{ namespace, name string }

// owners holds the controller objects WorkloadOf walks. It is built once by
// NewIndex and not changed afterwards, so reading it needs no lock.
type owners struct {
	replicaSets map[nsName]*appsv1.ReplicaSet
	jobs        map[nsName]*batchv1.Job
	cronJobs    map[nsName]*batchv1.CronJob
}

func newOwners(inv *Inventory) owners {
	o := owners{
		replicaSets: make(map[nsName]*appsv1.ReplicaSet, len(inv.ReplicaSets)),
		jobs:        make(map[nsName]*batchv1.Job, len(inv.Jobs)),
		cronJobs:    make(map[nsName]*batchv1.CronJob, len(inv.CronJobs)),
	}
	for i := range inv.ReplicaSets {
		rs := &inv.ReplicaSets[i]
		o.replicaSets[nsName{rs.Namespace, rs.Name}] = rs
	}
	for i := range inv.Jobs {
		j := &inv.Jobs[i]
		o.jobs[nsName{j.Namespace, j.Name}] = j
	}
	for i := range inv.CronJobs {
		cj := &inv.CronJobs[i]
		o.cronJobs[nsName{cj.Namespace, cj.Name}] = cj
	}
	return o
}

// WorkloadOf returns the workload a pod belongs to, following controller
// owner references: ReplicaSet to its Deployment (or other owner), Job to
// its CronJob; StatefulSet, DaemonSet and any other controller are the
// workload themselves. When the owner object is not in the inventory it
// falls back on the names controllers give: a Deployment's ReplicaSet is
// "<deployment>-<pod-template-hash>", a CronJob's Job is
// "<cronjob>-<scheduled time in Unix minutes>". A mirror pod of a static pod
// is a StaticPod workload; a pod without owner is a Pod workload.
//
// A hostNetwork pod still belongs to its controller here; only IP lookups
// (ResolveIP) see it as its node.
func (x *Index) WorkloadOf(pod *corev1.Pod) Workload {
	if pod == nil {
		return Workload{}
	}
	return x.owners.workloadOf(pod)
}

func (o *owners) workloadOf(pod *corev1.Pod) Workload {
	ns := pod.Namespace
	ref := controllerRef(pod.OwnerReferences)
	if ref == nil {
		// No owner reference (stripped by an export tool, or a bare
		// pod): labels the controllers set are the next best evidence.
		if hash := pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; hash != "" {
			if dep, ok := trimHashSuffix(pod.Name, hash); ok {
				return Workload{Kind: "Deployment", Namespace: ns, Name: dep}
			}
		}
		if job := jobNameLabel(pod.Labels); job != "" {
			return o.jobWorkload(ns, job)
		}
		if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			return staticPodWorkload(pod, pod.Spec.NodeName)
		}
		if w, ok := o.workloadFromName(ns, pod.Name); ok {
			return w
		}
		return Workload{Kind: KindPod, Namespace: ns, Name: pod.Name}
	}
	switch ref.Kind {
	case "ReplicaSet":
		return o.replicaSetWorkload(ns, ref.Name, pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey])
	case "Job":
		return o.jobWorkload(ns, ref.Name)
	case "Node":
		return staticPodWorkload(pod, ref.Name)
	}
	return Workload{Kind: ref.Kind, Namespace: ns, Name: ref.Name}
}

func (o *owners) replicaSetWorkload(ns, name, hash string) Workload {
	if rs, ok := o.replicaSets[nsName{ns, name}]; ok {
		if ref := controllerRef(rs.OwnerReferences); ref != nil {
			return Workload{Kind: ref.Kind, Namespace: ns, Name: ref.Name}
		}
		return Workload{Kind: "ReplicaSet", Namespace: ns, Name: name}
	}
	if hash != "" {
		if dep, ok := strings.CutSuffix(name, "-"+hash); ok && dep != "" {
			return Workload{Kind: "Deployment", Namespace: ns, Name: dep}
		}
	}
	return Workload{Kind: "ReplicaSet", Namespace: ns, Name: name}
}

func (o *owners) jobWorkload(ns, name string) Workload {
	if job, ok := o.jobs[nsName{ns, name}]; ok {
		if ref := controllerRef(job.OwnerReferences); ref != nil {
			return Workload{Kind: ref.Kind, Namespace: ns, Name: ref.Name}
		}
		return Workload{Kind: "Job", Namespace: ns, Name: name}
	}
	if cj, minutes, ok := splitScheduledJobName(name); ok {
		if _, known := o.cronJobs[nsName{ns, cj}]; known || plausibleScheduleMinutes(minutes) {
			return Workload{Kind: "CronJob", Namespace: ns, Name: cj}
		}
	}
	return Workload{Kind: "Job", Namespace: ns, Name: name}
}

// controllerRef returns the owner reference marked controller, else the
// first one, else nil.
func controllerRef(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if c := refs[i].Controller; c != nil && *c {
			return &refs[i]
		}
	}
	if len(refs) > 0 {
		return &refs[0]
	}
	return nil
}

// trimHashSuffix cuts "-<hash>-<random>" off a Deployment pod's name
// ("web-7d4b9c8f5-x2x9k" with hash 7d4b9c8f5 gives "web").
func trimHashSuffix(podName, hash string) (string, bool) {
	i := strings.LastIndex(podName, "-"+hash+"-")
	if i <= 0 {
		return "", false
	}
	return podName[:i], true
}

// jobNameLabel returns the Job a pod belongs to by the labels the Job
// controller sets (batch.kubernetes.io/job-name, or job-name before 1.27).
func jobNameLabel(labels map[string]string) string {
	if j := labels[batchv1.JobNameLabel]; j != "" {
		return j
	}
	return labels["job-name"]
}

// splitScheduledJobName splits "<cronjob>-<unix minutes>", the name the
// CronJob controller gives the Job it creates for a scheduled time.
func splitScheduledJobName(job string) (cronJob string, minutes int64, ok bool) {
	i := strings.LastIndexByte(job, '-')
	if i <= 0 || i == len(job)-1 {
		return "", 0, false
	}
	digits := job[i+1:]
	for j := 0; j < len(digits); j++ {
		if digits[j] < '0' || digits[j] > '9' {
			return "", 0, false
		}
	}
	m, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return job[:i], m, true
}

// Unix minutes from 2010-01-01 to 2100-01-01: a Job suffix outside this
// range is not taken for a CronJob schedule unless the CronJob is known.
const (
	minScheduleMinutes = 1262304000 / 60
	maxScheduleMinutes = 4102444800 / 60
)

func plausibleScheduleMinutes(m int64) bool {
	return m >= minScheduleMinutes && m < maxScheduleMinutes
}

// staticPodWorkload names a mirror pod's static pod: the kubelet names the
// mirror pod "<manifest name>-<lowercased node name>".
func staticPodWorkload(pod *corev1.Pod, node string) Workload {
	name := pod.Name
	if node != "" {
		if base, ok := strings.CutSuffix(name, "-"+strings.ToLower(node)); ok && base != "" {
			name = base
		}
	}
	return Workload{Kind: KindStaticPod, Namespace: pod.Namespace, Name: name}
}

// safeAlphabet is the alphabet of the random suffixes and pod-template
// hashes controllers put in pod names (k8s.io/apimachinery
// pkg/util/rand.SafeEncodeString: no vowels, no 0, 1 or 3).
const safeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func inAlphabet(s, alphabet string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	return s != ""
}

// workloadFromName names the workload of a pod known only by its name (a
// runtime sensor reported it; the dump no longer holds it, and it carried
// no labels), from the names controllers generate:
// "<cronjob>-<unix minutes>-<5 random>" is a CronJob's Job's pod, and
// "<deployment>-<pod-template-hash>-<5 random>" a Deployment's pod (the
// hash and suffix drawn from safeAlphabet). Anything else stays a Pod.
func (o *owners) workloadFromName(ns, name string) (Workload, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || len(name)-i-1 != 5 || !inAlphabet(name[i+1:], safeAlphabet) {
		return Workload{}, false
	}
	rest := name[:i]
	j := strings.LastIndexByte(rest, '-')
	if j <= 0 {
		return Workload{}, false
	}
	prefix, mid := rest[:j], rest[j+1:]
	if len(mid) >= 8 && inAlphabet(mid, "0123456789") {
		return o.jobWorkload(ns, rest), true
	}
	if len(mid) >= 6 && len(mid) <= 10 && inAlphabet(mid, safeAlphabet) {
		return Workload{Kind: "Deployment", Namespace: ns, Name: prefix}, true
	}
	return Workload{}, false
}
