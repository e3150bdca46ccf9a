package netpol

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func mkNS(name string, labels ...string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: kv(labels...)}}
}

func kv(pairs ...string) map[string]string {
	if len(pairs) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		m[k] = v
	}
	return m
}

// mkPod returns a Running pod. ports are "name:port/PROTO" or "port/PROTO".
func mkPod(ns, name, ip string, labels map[string]string, ports ...string) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
	c := corev1.Container{Name: "main"}
	for _, s := range ports {
		var cp corev1.ContainerPort
		name, rest, ok := strings.Cut(s, ":")
		if !ok {
			rest, name = name, ""
		}
		num, proto, _ := strings.Cut(rest, "/")
		var n int32
		fmt.Sscan(num, &n)
		cp.Name, cp.ContainerPort, cp.Protocol = name, n, corev1.Protocol(proto)
		c.Ports = append(c.Ports, cp)
	}
	p.Spec.Containers = []corev1.Container{c}
	return p
}

// mustPolicies decodes YAML documents separated by "---" lines.
func mustPolicies(t testing.TB, docs string) []networkingv1.NetworkPolicy {
	t.Helper()
	var out []networkingv1.NetworkPolicy
	for _, d := range strings.Split(docs, "\n---\n") {
		if !hasContent(d) {
			continue
		}
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(d), &np); err != nil {
			t.Fatalf("decoding policy: %v\n%s", err, d)
		}
		if np.Namespace == "true" || np.Namespace == "false" {
			t.Fatalf("policy %s: namespace decoded as %q: quote y/n/yes/no in YAML", np.Name, np.Namespace)
		}
		out = append(out, np)
	}
	return out
}

func refs(names ...string) []Ref {
	var out []Ref
	for _, n := range names {
		ns, name, _ := strings.Cut(n, "/")
		out = append(out, Ref{Namespace: ns, Name: name})
	}
	return out
}

// hasContent reports whether a YAML document has more than comments.
func hasContent(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return true
		}
	}
	return false
}
