package delta

import (
	"slices"
	"strings"
)

// Labels that controllers set per pod or per rollout or run: a selector
// on them would stop matching at the next rollout, the next Job run or for
// the workload's other replicas. Sources: apps/v1 (DefaultDeploymentUniqueLabelKey,
// ControllerRevisionHashLabelKey, StatefulSetPodNameLabel, PodIndexLabel),
// the DaemonSet controller's pod-template-generation, batch/v1 (JobNameLabel,
// ControllerUidLabel, JobCompletionIndexAnnotation as a label since 1.28)
// and their pre-1.27 unprefixed forms.
var perRunLabels = []string{
	"pod-template-hash",
	"controller-revision-hash",
	"pod-template-generation",
	"job-name",
	"controller-uid",
	"batch.kubernetes.io/job-name",
	"batch.kubernetes.io/controller-uid",
}

var perPodLabels = []string{
	"statefulset.kubernetes.io/pod-name",
	"apps.kubernetes.io/pod-index",
	"batch.kubernetes.io/job-completion-index",
}

// volatileLabel reports whether a label key changes per pod, rollout or
// run.
func volatileLabel(k string) bool {
	return slices.Contains(perRunLabels, k) || slices.Contains(perPodLabels, k) ||
		strings.HasPrefix(k, "batch.kubernetes.io/")
}

// StableLabels returns the labels of a pod that every pod of its workload
// keeps across rollouts and runs: labels is copied without the keys
// controllers set per pod (pod-template-hash, controller-revision-hash,
// statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index,
// pod-template-generation, job-name, controller-uid and every
// batch.kubernetes.io/ key).
func StableLabels(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		if !volatileLabel(k) {
			out[k] = v
		}
	}
	return out
}

// variantKey is how pods of one workload are told apart for policy
// evaluation: by every label except those that change per rollout or run
// (a policy may still select one StatefulSet pod by name, so per-pod labels
// are kept).
func variantKey(workload, namespace string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	n := len(workload) + len(namespace) + 2
	for k, v := range labels {
		if slices.Contains(perRunLabels, k) {
			continue
		}
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(workload)
	b.WriteByte(0)
	b.WriteString(namespace)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
	return b.String()
}
