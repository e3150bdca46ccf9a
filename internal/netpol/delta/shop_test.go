package delta

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// shopCluster is a small cluster: shop (web ×2, api; no policy), data (db
// behind a default deny, admitting shop's web on 5432 and all of shop on
// its metrics port), kube-system (CoreDNS), two nodes.
func shopCluster() *cluster.Inventory {
	return &cluster.Inventory{
		Namespaces: namespaces("shop", "data", "kube-system"),
		Nodes:      []corev1.Node{node("n1", "10.0.0.11", "10.244.1.0/24"), node("n2", "10.0.0.12", "10.244.2.0/24")},
		Pods: []corev1.Pod{
			deployPod("shop", "web", "10.244.1.10", map[string]string{"app": "web"}, namedPort("http", 8080)),
			deployPod("shop", "web", "10.244.2.10", map[string]string{"app": "web"}, namedPort("http", 8080)),
			deployPod("shop", "api", "10.244.1.20", map[string]string{"app": "api"}, namedPort("http", 8080)),
			deployPod("data", "db", "10.244.1.30", map[string]string{"app": "db"}, namedPort("postgres", 5432), namedPort("metrics", 9187)),
			deployPod("kube-system", "coredns", "10.244.1.2", map[string]string{"k8s-app": "kube-dns"},
				corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}),
		},
		Services: []corev1.Service{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "data", Name: "db"},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "db"}, ClusterIP: "10.96.0.50", ClusterIPs: []string{"10.96.0.50"},
				Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("postgres")}},
			},
		}},
		NetworkPolicies: []networkingv1.NetworkPolicy{
			policy("data", "deny-all", sel(), ingressOnly, nil, nil),
			policy("data", "allow-web", sel("app", "db"), ingressOnly, []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "shop"), PodSelector: sel("app", "web")}},
				Ports: []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolTCP, intstr.FromInt32(5432))},
			}}, nil),
			policy("data", "allow-shop-metrics", sel("app", "db"), ingressOnly, []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "shop")}},
				Ports: []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolTCP, intstr.FromString("metrics"))},
			}}, nil),
		},
	}
}

const (
	web1    = "10.244.1.10"
	web2    = "10.244.2.10"
	api     = "10.244.1.20"
	db      = "10.244.1.30"
	dns     = "10.244.1.2"
	dbSvc   = "10.96.0.50"
	node1   = "10.0.0.11"
	goneWeb = "10.244.2.99" // a web pod gone before the dump; Hubble names it
	ghost   = "10.244.2.77" // in the pod network, held by no known pod
)

// hinted names the source pod as Hubble does.
func hinted(f event.Flow, ns, pod string, labels ...string) event.Flow {
	f.Src.Namespace, f.Src.Pod, f.Src.Labels = ns, pod, labels
	return f
}

// shopFlows is a day of the shop cluster.
func shopFlows() []event.Flow {
	fs := []event.Flow{
		tcp(web1, db, 5432, 1), tcp(web1, db, 5432, 2), tcp(web2, db, 5432, 3),
		tcp(api, db, 5432, 4), // denied by data's default deny; the CNI did not drop it
		hinted(tcp(goneWeb, db, 5432, 5), "shop", "web-5d8f7c9b4-gone1", "app=web", "pod-template-hash=5d8f7c9b4"),
		tcp(ghost, db, 5432, 6),
		tcp(web1, "93.184.216.34", 443, 7), tcp(web2, "93.184.216.35", 443, 8),
		udp(web1, dns, 53, 9),
		tcp(node1, web1, 8080, 10),
		tcp(api, dbSvc, 80, 11), // through the Service: to db's postgres port
	}
	dropped := tcp(api, db, 9999, 12)
	dropped.Verdict = event.VerdictDropped
	return append(fs, dropped)
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
