package netpol

import (
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// genCluster generates a realistic cluster for benchmarks: namespaces owned
// by teams, deployments of a few replicas sharing app/tier/team labels (plus
// a per-ReplicaSet pod-template-hash no policy looks at), some pending pods,
// a host-network DaemonSet, and a policy mix of default-deny, allow from the
// same namespace, allow from an app, allow from labelled namespaces,
// ipBlock egress, DNS egress, named ports and port ranges.
func genCluster(seed uint64, nNS, nPods, nPolicies int) ([]corev1.Namespace, []corev1.Pod, []networkingv1.NetworkPolicy) {
	rng := rand.New(rand.NewPCG(seed, 99))
	apps := []string{"web", "api", "db", "cache", "worker", "gateway", "auth", "search", "billing", "queue", "cron", "ui"}
	tiers := map[string]string{"web": "frontend", "ui": "frontend", "gateway": "frontend", "db": "data", "cache": "data", "queue": "data"}
	var nss []corev1.Namespace
	for i := range nNS {
		env := []string{"prod", "staging", "dev"}[i%3]
		nss = append(nss, mkNS(fmt.Sprintf("ns-%03d", i), fmt.Sprintf("team=team-%02d", i%25), "env="+env))
	}
	nss = append(nss, mkNS("kube-system"), mkNS("monitoring", "purpose=monitoring"))

	var pods []corev1.Pod
	ip := uint32(10<<24 | 1<<16) // 10.1.0.0
	nextIP := func() string {
		ip++
		return fmt.Sprintf("%d.%d.%d.%d", ip>>24, ip>>16&255, ip>>8&255, ip&255)
	}
	addPod := func(ns, name string, lbl map[string]string, hostNet bool) {
		p := mkPod(ns, name, nextIP(), lbl, "http:8080/TCP", "metrics:9090/TCP", "grpc:9000/TCP")
		if rng.IntN(40) == 0 {
			p.Status.Phase, p.Status.PodIP = corev1.PodPending, ""
		}
		p.Spec.HostNetwork = hostNet
		pods = append(pods, p)
	}
	for i := range 2 {
		addPod("kube-system", fmt.Sprintf("coredns-%d", i), kv("k8s-app=kube-dns"), false)
	}
	for i := range 50 {
		addPod("monitoring", fmt.Sprintf("node-exporter-%d", i), kv("app=node-exporter"), true)
	}
	addPod("monitoring", "prometheus-0", kv("app=prometheus"), false)
	for len(pods) < nPods {
		ns := nss[rng.IntN(nNS)].Name
		app := apps[rng.IntN(len(apps))]
		dep := fmt.Sprintf("%s-%d", app, rng.IntN(100))
		hash := fmt.Sprintf("%08x", rng.Uint32())
		tier := tiers[app]
		if tier == "" {
			tier = "backend"
		}
		for r := range 1 + rng.IntN(5) {
			addPod(ns, fmt.Sprintf("%s-%s-%d", dep, hash, r), kv("app="+app, "deployment="+dep, "tier="+tier, "pod-template-hash="+hash), false)
		}
	}

	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	sel := func(pairs ...string) metav1.LabelSelector { return metav1.LabelSelector{MatchLabels: kv(pairs...)} }
	port := func(p intstr.IntOrString, proto *corev1.Protocol) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Port: &p, Protocol: proto}
	}
	var pols []networkingv1.NetworkPolicy
	add := func(ns, name string, spec networkingv1.NetworkPolicySpec) {
		pols = append(pols, networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec})
	}
	ing, eg := networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress
	for i := 0; len(pols) < nPolicies; i++ {
		ns := nss[i%nNS].Name
		k := i / nNS
		app := apps[(i+k)%len(apps)]
		switch k % 10 {
		case 0:
			add(ns, "default-deny-ingress", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{ing}})
		case 1:
			add(ns, "allow-same-namespace", networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}})
		case 2:
			add(ns, "allow-"+app+"-from-web", networkingv1.NetworkPolicySpec{PodSelector: sel("app=" + app),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: kv("app=web")}}}, Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("http"), nil)}}}})
		case 3:
			add(ns, "allow-monitoring", networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: kv("purpose=monitoring")}, PodSelector: &metav1.LabelSelector{MatchLabels: kv("app=prometheus")}}},
				Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("metrics"), &tcp)}}}})
		case 4:
			add(ns, "default-deny-egress-allow-dns", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{eg},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: kv("kubernetes.io/metadata.name=kube-system")}, PodSelector: &metav1.LabelSelector{MatchLabels: kv("k8s-app=kube-dns")}}},
					Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromInt32(53), &udp), port(intstr.FromInt32(53), &tcp)}}}})
		case 5:
			add(ns, "allow-egress-same-team", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{eg},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: kv(fmt.Sprintf("team=team-%02d", i%25))}}}}}})
		case 6:
			end := int32(8090)
			p := port(intstr.FromInt32(8080), &tcp)
			p.EndPort = &end
			add(ns, "allow-frontend-from-team", networkingv1.NetworkPolicySpec{PodSelector: sel("tier=frontend"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}}}}, PodSelector: &metav1.LabelSelector{MatchLabels: kv("tier=frontend")}}}, Ports: []networkingv1.NetworkPolicyPort{p}}}})
		case 7:
			add(ns, "allow-internet-egress-"+app, networkingv1.NetworkPolicySpec{PodSelector: sel("app=" + app), PolicyTypes: []networkingv1.PolicyType{eg},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}}}},
					Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromInt32(443), &tcp)}}}})
		case 8:
			add(ns, "allow-"+app+"-from-lb", networkingv1.NetworkPolicySpec{PodSelector: sel(fmt.Sprintf("deployment=%s-%d", app, i%100)),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("192.168.%d.0/24", i%256)}}},
					Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("http"), nil), port(intstr.FromString("grpc"), nil)}}}})
		default:
			add(ns, "allow-db-from-api-"+app, networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"data"}}}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: kv("app=" + app)}}, {PodSelector: &metav1.LabelSelector{MatchLabels: kv("app=api")}}}}}})
		}
	}
	return nss, pods, pols
}
