package cluster

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func owned(kind, name string, controller bool) []metav1.OwnerReference {
	return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &controller}}
}

// The names controllers give follow upstream:
//   - Deployment → ReplicaSet "<deployment>-<pod-template-hash>", pods labelled
//     pod-template-hash (k8s.io/kubernetes pkg/controller/deployment/sync.go
//     getNewReplicaSet; apps/v1 DefaultDeploymentUniqueLabelKey);
//   - CronJob → Job "<cronjob>-<scheduled time in Unix minutes>"
//     (pkg/controller/cronjob/utils.go getJobName, getTimeHashInMinutes;
//     cronjob_controllerv2_test.go);
//   - static pod → mirror pod "<name>-<lowercased node name>" owned by its
//     Node (pkg/kubelet/config/common.go generatePodName).
func TestWorkloadOf(t *testing.T) {
	inv := &Inventory{
		ReplicaSets: []appsv1.ReplicaSet{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-6b7c8d9f", OwnerReferences: owned("Deployment", "web", true)}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orphan-abc"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "canary-5f6g7h", OwnerReferences: owned("Rollout", "canary", true)}},
		},
		Jobs: []batchv1.Job{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "report-29145600", OwnerReferences: owned("CronJob", "report", true)}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "migrate-29145600"}},
		},
		CronJobs: []batchv1.CronJob{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "tiny"}},
		},
	}
	x := NewIndex(inv)
	pod := func(name string, refs []metav1.OwnerReference, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, OwnerReferences: refs, Labels: labels}}
	}
	hash := func(h string) map[string]string { return map[string]string{"pod-template-hash": h} }
	mirror := pod("etcd-cp-1", nil, nil)
	mirror.Namespace = "kube-system"
	mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "abc"}
	mirror.Spec.NodeName = "CP-1"

	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"Deployment through its ReplicaSet", pod("web-6b7c8d9f-x2x9k", owned("ReplicaSet", "web-6b7c8d9f", true), hash("6b7c8d9f")), "Deployment/shop/web"},
		{"orphan ReplicaSet", pod("orphan-abc-q1w2e", owned("ReplicaSet", "orphan-abc", true), nil), "ReplicaSet/shop/orphan-abc"},
		{"ReplicaSet of another controller", pod("canary-5f6g7h-zz", owned("ReplicaSet", "canary-5f6g7h", true), nil), "Rollout/shop/canary"},
		{"ReplicaSet missing, hash label", pod("api-7d4b9c8f5-x2x9k", owned("ReplicaSet", "api-7d4b9c8f5", true), hash("7d4b9c8f5")), "Deployment/shop/api"},
		{"ReplicaSet missing, hash not a suffix", pod("api-x-q", owned("ReplicaSet", "api-x", true), hash("zzz")), "ReplicaSet/shop/api-x"},
		{"ReplicaSet missing, no hash label", pod("rs-q", owned("ReplicaSet", "rs", true), nil), "ReplicaSet/shop/rs"},
		{"CronJob through its Job", pod("report-29145600-abcde", owned("Job", "report-29145600", true), nil), "CronJob/shop/report"},
		{"Job without owner", pod("migrate-29145600-abcde", owned("Job", "migrate-29145600", true), nil), "Job/shop/migrate-29145600"},
		{"Job missing, scheduled name", pod("nightly-29145660-abcde", owned("Job", "nightly-29145660", true), nil), "CronJob/shop/nightly"},
		{"Job missing, CronJob known, any minutes", pod("tiny-5-abcde", owned("Job", "tiny-5", true), nil), "CronJob/shop/tiny"},
		{"Job missing, implausible minutes", pod("batch-7-abcde", owned("Job", "batch-7", true), nil), "Job/shop/batch-7"},
		{"Job missing, no number", pod("seed-db-abcde", owned("Job", "seed-db", true), nil), "Job/shop/seed-db"},
		{"StatefulSet", pod("db-0", owned("StatefulSet", "db", true), nil), "StatefulSet/shop/db"},
		{"DaemonSet", pod("agent-x7k2m", owned("DaemonSet", "agent", true), nil), "DaemonSet/shop/agent"},
		{"controller reference wins over the first", pod("p", append(owned("ConfigMap", "cm", false), owned("StatefulSet", "ss", true)...), nil), "StatefulSet/shop/ss"},
		{"first reference when none is controller", pod("p", owned("Workflow", "wf", false), nil), "Workflow/shop/wf"},
		{"static pod", func() *corev1.Pod {
			p := pod("kube-scheduler-cp-1", owned("Node", "cp-1", true), nil)
			return p
		}(), "StaticPod/shop/kube-scheduler"},
		{"mirror pod without owner reference", mirror, "StaticPod/kube-system/etcd"},
		{"no owner reference, hash label", pod("web-6b7c8d9f-x2x9k", nil, hash("6b7c8d9f")), "Deployment/shop/web"},
		{"no owner reference, job-name label", pod("report-29145600-q", nil, map[string]string{"batch.kubernetes.io/job-name": "report-29145600"}), "CronJob/shop/report"},
		{"no owner reference, legacy job-name label", pod("seed-q", nil, map[string]string{"job-name": "seed"}), "Job/shop/seed"},
		{"bare pod", pod("debug", nil, nil), "Pod/shop/debug"},
	}
	for _, tt := range tests {
		if got := x.WorkloadOf(tt.pod).String(); got != tt.want {
			t.Errorf("%s: WorkloadOf(%s) = %s, want %s", tt.name, tt.pod.Name, got, tt.want)
		}
	}
	if w := x.WorkloadOf(nil); !w.IsZero() || w.String() != "" {
		t.Errorf("WorkloadOf(nil) = %v, want zero", w)
	}
}

func TestWorkloadString(t *testing.T) {
	tests := []struct {
		w    Workload
		want string
	}{
		{Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}, "Deployment/shop/web"},
		{Workload{Kind: KindNode, Name: "node-a"}, "Node/node-a"},
		{Workload{}, ""},
	}
	for _, tt := range tests {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.w, got, tt.want)
		}
	}
}

func TestSplitScheduledJobName(t *testing.T) {
	tests := []struct {
		in      string
		cronJob string
		minutes int64
		ok      bool
	}{
		{"report-29145600", "report", 29145600, true},
		{"a-b-c-29145600", "a-b-c", 29145600, true},
		{"report", "", 0, false},
		{"report-", "", 0, false},
		{"-29145600", "", 0, false},
		{"report-2914x600", "", 0, false},
		{"report-99999999999999999999999", "", 0, false},
	}
	for _, tt := range tests {
		cj, m, ok := splitScheduledJobName(tt.in)
		if cj != tt.cronJob || m != tt.minutes || ok != tt.ok {
			t.Errorf("splitScheduledJobName(%q) = %q, %d, %v; want %q, %d, %v", tt.in, cj, m, ok, tt.cronJob, tt.minutes, tt.ok)
		}
	}
}

// Pods known only by name: a runtime sensor reported them, the dump no
// longer has them, and they carry no labels.
func TestWorkloadFromName(t *testing.T) {
	x := NewIndex(&Inventory{})
	tests := []struct{ name, want string }{
		{"billing-reconcile-29921760-nd29d", "CronJob/shop/billing-reconcile"},
		{"web-7d4b9c8f5-x2x9k", "Deployment/shop/web"},
		{"shop-web-crgtk72pdd-dtrr7", "Deployment/shop/shop-web"},
		{"node-debugger", "Pod/shop/node-debugger"},
		{"postgres-0", "Pod/shop/postgres-0"},
		// Vowels never appear in generated suffixes: a person's name stays a pod.
		{"my-debug-shell", "Pod/shop/my-debug-shell"},
		{"job-12345678-abcde", "Pod/shop/job-12345678-abcde"},
	}
	for _, tt := range tests {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: tt.name}}
		if got := x.WorkloadOf(pod).String(); got != tt.want {
			t.Errorf("WorkloadOf(%s) = %s, want %s", tt.name, got, tt.want)
		}
	}
}
