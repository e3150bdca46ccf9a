package watch

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRing(t *testing.T) {
	names := func(cs []Change) string {
		s := ""
		for _, c := range cs {
			s += c.Name
		}
		return s
	}
	tests := []struct {
		size int
		add  string
		want string
	}{
		{size: 3, add: "", want: ""},
		{size: 3, add: "ab", want: "ab"},
		{size: 3, add: "abc", want: "abc"},
		{size: 3, add: "abcd", want: "bcd"},
		{size: 3, add: "abcdefg", want: "efg"},
		{size: 1, add: "abc", want: "c"},
		{size: 0, add: "abc", want: ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%s", tt.size, tt.add), func(t *testing.T) {
			r := newRing(tt.size)
			for _, c := range tt.add {
				r.add(Change{Name: string(c)})
			}
			got := r.all()
			if names(got) != tt.want {
				t.Errorf("all() = %q; want %q", names(got), tt.want)
			}
			if len(got) > 0 {
				got[0].Name = "mutated"
				if names(r.all()) != tt.want {
					t.Error("all() shares its slice with the ring")
				}
			}
		})
	}
}

// TestChangesRecordsWhatMatters: the initial list is not a change; adds and
// deletes are; pod status churn (conditions) is not, a new pod address is;
// a resync (same resourceVersion) is not.
func TestChangesRecordsWhatMatters(t *testing.T) {
	ctx := context.Background()
	w, client := started(t, Options{}, pod("a", "listed", "uid-l", "10.0.0.1", time.Now()), namespace("a"))
	if got := w.Changes(); len(got) != 0 {
		t.Fatalf("Changes after the initial list = %+v; want none", got)
	}
	pods := client.CoreV1().Pods("a")
	if _, err := pods.Create(ctx, pod("a", "new", "uid-n", "", time.Now()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, _ := pods.Get(ctx, "new", metav1.GetOptions{})
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Status.PodIP = "10.0.0.2"
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "listed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "four events", func() bool { _, ok := w.Index().Pod("a", "listed"); return !ok })

	// A resync of the same object is not a change either.
	spec := w.specOf(t, "Pod")
	same := pod("a", "new", "uid-n", "10.0.0.2", time.Now())
	same.ResourceVersion = "42"
	w.upsert(spec, same, same.DeepCopy(), false)

	var got []string
	for _, c := range w.Changes() {
		got = append(got, fmt.Sprintf("%s %s %s/%s", c.Op, c.Kind, c.Namespace, c.Name))
		if c.Time.IsZero() {
			t.Errorf("change %+v has no time", c)
		}
	}
	want := []string{"add Pod a/new", "update Pod a/new", "delete Pod a/listed"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Changes = %q\nwant      %q", got, want)
	}
}

// TestOnChange: called once after the first sync, once per burst of RBAC,
// NetworkPolicy or Namespace changes, never for pods. The debounce period is
// a second so that the burst is one burst even on a loaded CI machine.
func TestOnChange(t *testing.T) {
	ctx := context.Background()
	var calls counter
	_, client := started(t, Options{OnChange: calls.inc, Debounce: time.Second}, namespace("a"))
	waitFor(t, "the first OnChange", func() bool { return calls.get() == 1 })

	for i := range 5 {
		r := role("a", fmt.Sprintf("r%d", i), rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}})
		if _, err := client.RbacV1().Roles("a").Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "OnChange after the roles", func() bool { return calls.get() >= 2 })
	time.Sleep(1500 * time.Millisecond)
	if n := calls.get(); n != 2 {
		t.Errorf("OnChange calls after a burst of 5 roles = %d; want 2 (one for the sync, one for the burst)", n)
	}

	if _, err := client.CoreV1().Pods("a").Create(ctx, pod("a", "p", "uid-p", "10.0.0.3", time.Now()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := calls.get(); n != 2 {
		t.Errorf("OnChange calls after a pod = %d; want still 2", n)
	}

	if err := client.RbacV1().Roles("a").Delete(ctx, "r0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OnChange after a role delete", func() bool { return calls.get() == 3 })
}

// TestNotifyLoopBoundsDelay: a steady stream of changes, each within the
// debounce period of the previous one, still gets OnChange calls, at most
// maxDebounceFactor debounce periods apart.
func TestNotifyLoopBoundsDelay(t *testing.T) {
	var calls counter
	w := &Watcher{onChange: calls.inc, debounce: 50 * time.Millisecond, poke: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.notifyLoop(ctx); close(done) }()
	waitFor(t, "the initial call", func() bool { return calls.get() == 1 })

	stream := 3 * maxDebounceFactor * w.debounce // long enough for ~3 forced calls
	changes := 0
	for end := time.Now().Add(stream); time.Now().Before(end); {
		w.changed()
		changes++
		time.Sleep(w.debounce / 4)
	}
	during := calls.get() - 1
	// One more change after the stream always gets its trailing call (the
	// stream's own may already have fired when the machine is slow).
	w.changed()
	waitFor(t, "the trailing call", func() bool { return calls.get() > during+1 })
	cancel()
	<-done
	// A pure trailing debounce would call once, at the end of the stream;
	// the bound forces one every maxDebounceFactor periods. A loaded
	// machine may stretch the gaps between changes past the debounce
	// period (more, smaller bursts), so the upper bound only says "not one
	// call per change".
	if during < 1 {
		t.Errorf("OnChange calls during a %v stream of changes = %d; want at least 1", stream, during)
	}
	if during > changes/4 {
		t.Errorf("OnChange calls during the stream = %d for %d changes; want far fewer than one per change", during, changes)
	}
}
