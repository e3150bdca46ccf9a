package main

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"
)

// Versions of what the example cluster runs. The user-agent commits are
// those of the real releases (git describe --abbrev=7).
const (
	k8sVersion    = "v1.34.1"
	k8sCommit     = "93248f9"
	ciliumVersion = "v1.17.6"
	clusterName   = "default" // Cilium's cluster name; "default" keeps node names unprefixed
	serviceCIDR   = "10.96.0.0/12"
	apiServerIP   = "10.0.0.10"
	apiServerPort = 6443
)

// model is the example cluster: every object the dump shows and every fact
// the audit log and the flows refer to.
type model struct {
	seed       uint64
	created    time.Time // when kubeadm init ran
	nodes      []*node
	namespaces []*namespace
	sas        []*serviceAccount
	workloads  []*workload
	pods       []*pod
	services   []*service
	// identities maps a Cilium identity key (namespace and identity labels)
	// to its numeric identity.
	identities map[string]int
	// policyUIDs are the NetworkPolicies' UIDs by "namespace/name"; Hubble
	// names the policy that allowed a flow with it.
	policyUIDs map[string]string
}

type node struct {
	Name, IP, PodCIDR, UID string
	ControlPlane           bool
	// CertSHA is the SHA-256 of the kubelet's client certificate, which the
	// API server reports as the credential ID.
	CertSHA                       string
	MachineID, SystemUUID, BootID string
	Created                       time.Time
}

type namespace struct {
	Name, UID string
	Labels    map[string]string
	Created   time.Time
}

type serviceAccount struct {
	Namespace, Name, UID string
	Created              time.Time
}

// Username is the name the API server authenticates the account as.
func (s *serviceAccount) Username() string {
	return "system:serviceaccount:" + s.Namespace + ":" + s.Name
}

type port struct {
	Name  string
	Port  int
	Proto string // TCP or UDP
}

type container struct {
	Name, Image string
	Ports       []port
	Args        []string
	CPU, Memory string
}

// placement is where one replica runs.
type placement struct{ Node, IP string }

type workload struct {
	Kind            string // Deployment, StatefulSet, DaemonSet, CronJob, Static
	Namespace, Name string
	// Labels are the selector labels, which every pod carries.
	Labels     map[string]string
	SA         string
	NoToken    bool // automountServiceAccountToken: false
	Containers []container
	Placement  []placement
	// HostNetwork pods share their node's address.
	HostNetwork   bool
	ControlPlane  bool // tolerates the control-plane taint
	PriorityClass string
	Created       time.Time // the workload object
	Rollout       time.Time // when the current pods were created
	Revision      int
	UID           string
	Hash          string // pod-template-hash or controller-revision-hash
	OwnerUID      string // ReplicaSet or Job that owns the pods
	OwnerName     string
	Schedule      string // CronJob only
}

type pod struct {
	W                 *workload
	Name, Namespace   string
	Node, IP, UID     string
	Created, Started  time.Time
	Finished          time.Time // Succeeded pods only
	Phase             string
	Labels            map[string]string
	ContainerIDs      []string
	EndpointID, IfIdx int
	MAC, LXC, HostMAC string
	TokenVolume       string // kube-api-access-xxxxx
}

// port returns the container port named name, or false.
func (p *pod) port(name string) (port, bool) {
	for _, c := range p.W.Containers {
		for _, pt := range c.Ports {
			if pt.Name == name {
				return pt, true
			}
		}
	}
	return port{}, false
}

type servicePort struct {
	Name   string
	Port   int
	Target any // int or port name
	Proto  string
}

type service struct {
	Namespace, Name, UID string
	ClusterIP, Type      string
	LBIP                 string
	Selector             map[string]string
	Ports                []servicePort
	Created              time.Time
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func newModel(seed uint64) *model {
	r := newRNG(seed, "model")
	m := &model{seed: seed, created: at("2026-03-02T09:14:05Z"), identities: map[string]int{}}

	for _, n := range []struct {
		name, ip, cidr string
		cp             bool
		created        string
	}{
		{"cp-1", "10.0.0.10", "10.244.0.0/24", true, "2026-03-02T09:13:51Z"},
		{"worker-1", "10.0.0.11", "10.244.1.0/24", false, "2026-03-02T09:21:37Z"},
		{"worker-2", "10.0.0.12", "10.244.2.0/24", false, "2026-03-02T09:22:04Z"},
	} {
		m.nodes = append(m.nodes, &node{
			Name: n.name, IP: n.ip, PodCIDR: n.cidr, ControlPlane: n.cp, UID: r.uuid(),
			CertSHA: r.hex(64), MachineID: r.hex(32), SystemUUID: r.uuid(), BootID: r.uuid(),
			Created: at(n.created),
		})
	}

	for _, ns := range []struct {
		name    string
		created string
		labels  map[string]string
	}{
		{"default", "2026-03-02T09:14:05Z", nil},
		{"kube-node-lease", "2026-03-02T09:14:05Z", nil},
		{"kube-public", "2026-03-02T09:14:05Z", nil},
		{"kube-system", "2026-03-02T09:14:05Z", nil},
		{"shop", "2026-03-04T13:02:41Z", map[string]string{"team": "storefront"}},
		{"data", "2026-03-04T13:02:44Z", map[string]string{"team": "platform-data"}},
		{"monitoring", "2026-03-05T08:47:10Z", map[string]string{"team": "sre"}},
		{"ci", "2026-04-14T10:31:26Z", map[string]string{"team": "platform"}},
	} {
		labels := map[string]string{"kubernetes.io/metadata.name": ns.name}
		maps.Copy(labels, ns.labels)
		m.namespaces = append(m.namespaces, &namespace{Name: ns.name, UID: r.uuid(), Labels: labels, Created: at(ns.created)})
	}

	// Service accounts: every namespace's default, the controller-manager's
	// per-controller accounts, and the applications'.
	for _, ns := range m.namespaces {
		m.addSA(r, ns.Name, "default", ns.Created)
	}
	for _, c := range kcmControllers {
		m.addSA(r, "kube-system", c, m.created.Add(14*time.Second))
	}
	for _, sa := range []struct{ ns, name, created string }{
		{"kube-system", "coredns", "2026-03-02T09:14:09Z"},
		{"kube-system", "cilium", "2026-03-02T09:16:40Z"},
		{"kube-system", "cilium-operator", "2026-03-02T09:16:40Z"},
		{"shop", "web", "2026-03-04T13:05:12Z"},
		{"shop", "cart", "2026-03-04T13:05:12Z"},
		{"shop", "payments", "2026-03-04T13:05:13Z"},
		{"data", "backup-operator", "2026-05-19T15:22:08Z"},
		{"monitoring", "prometheus", "2026-03-05T08:47:31Z"},
		{"ci", "deployer", "2026-04-14T10:33:02Z"},
		{"ci", "old-pipeline", "2026-04-14T10:33:02Z"},
	} {
		m.addSA(r, sa.ns, sa.name, at(sa.created))
	}

	m.addWorkloads(r)
	m.addServices(r)
	m.policyUIDs = map[string]string{}
	for _, p := range networkPolicies() {
		md := p["metadata"].(obj)
		m.policyUIDs[md["namespace"].(string)+"/"+md["name"].(string)] = r.uuid()
	}
	return m
}

// kcmControllers are the controllers kube-controller-manager runs with their
// own service account credentials (--use-service-account-credentials), as in
// a kubeadm cluster without a cloud provider.
var kcmControllers = []string{
	"attachdetach-controller", "bootstrap-signer", "certificate-controller", "clusterrole-aggregation-controller",
	"cronjob-controller", "daemon-set-controller", "deployment-controller", "disruption-controller",
	"endpoint-controller", "endpointslice-controller", "endpointslicemirroring-controller",
	"ephemeral-volume-controller", "expand-controller", "generic-garbage-collector", "horizontal-pod-autoscaler",
	"job-controller", "legacy-service-account-token-cleaner", "namespace-controller", "node-controller",
	"persistent-volume-binder", "pod-garbage-collector", "pv-protection-controller", "pvc-protection-controller",
	"replicaset-controller", "replication-controller", "resource-claim-controller", "resourcequota-controller",
	"root-ca-cert-publisher", "service-account-controller", "statefulset-controller", "token-cleaner",
	"ttl-after-finished-controller", "ttl-controller", "validatingadmissionpolicy-status-controller",
}

func (m *model) addSA(r *rng, ns, name string, created time.Time) {
	m.sas = append(m.sas, &serviceAccount{Namespace: ns, Name: name, UID: r.uuid(), Created: created})
}

// sa returns the service account ns/name; it panics on a name the model
// does not have, which is a bug in the generator.
func (m *model) sa(ns, name string) *serviceAccount {
	for _, s := range m.sas {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	panic("no service account " + ns + "/" + name)
}

func (m *model) node(name string) *node {
	for _, n := range m.nodes {
		if n.Name == name {
			return n
		}
	}
	panic("no node " + name)
}

func (m *model) ns(name string) *namespace {
	for _, n := range m.namespaces {
		if n.Name == name {
			return n
		}
	}
	panic("no namespace " + name)
}

// podsOf returns the pods of the workload ns/name, in replica order.
func (m *model) podsOf(ns, name string) []*pod {
	var out []*pod
	for _, p := range m.pods {
		if p.Namespace == ns && p.W.Name == name {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		panic("no pods for " + ns + "/" + name)
	}
	return out
}

func (m *model) service(ns, name string) *service {
	for _, s := range m.services {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	panic("no service " + ns + "/" + name)
}

func ports(spec ...any) []port {
	var out []port
	for i := 0; i < len(spec); i += 3 {
		out = append(out, port{Name: spec[i].(string), Port: spec[i+1].(int), Proto: spec[i+2].(string)})
	}
	return out
}

func (m *model) addWorkloads(r *rng) {
	ws := []*workload{
		{Kind: "Deployment", Namespace: "shop", Name: "web", Labels: map[string]string{"app": "web"}, SA: "web",
			Containers: []container{{Name: "web", Image: "ghcr.io/acme-shop/web:2.14.3", Ports: ports("http", 8080, "TCP", "metrics", 9090, "TCP"), CPU: "200m", Memory: "256Mi"}},
			Placement:  []placement{{"worker-1", "10.244.1.17"}, {"worker-2", "10.244.2.12"}, {"worker-2", "10.244.2.19"}},
			Created:    at("2026-03-04T13:05:40Z"), Rollout: at("2026-11-18T15:41:09Z"), Revision: 23},
		{Kind: "Deployment", Namespace: "shop", Name: "cart", Labels: map[string]string{"app": "cart"}, SA: "cart",
			Containers: []container{{Name: "cart", Image: "ghcr.io/acme-shop/cart:1.9.0", Ports: ports("http", 8080, "TCP", "metrics", 9090, "TCP"), CPU: "100m", Memory: "128Mi"}},
			Placement:  []placement{{"worker-1", "10.244.1.31"}, {"worker-2", "10.244.2.27"}},
			Created:    at("2026-03-04T13:05:41Z"), Rollout: at("2026-11-12T10:18:52Z"), Revision: 14},
		{Kind: "Deployment", Namespace: "shop", Name: "payments", Labels: map[string]string{"app": "payments"}, SA: "payments",
			Containers: []container{{Name: "payments", Image: "ghcr.io/acme-shop/payments:3.2.1", Ports: ports("http", 8080, "TCP", "metrics", 9090, "TCP"), CPU: "100m", Memory: "192Mi"}},
			Placement:  []placement{{"worker-1", "10.244.1.44"}, {"worker-2", "10.244.2.36"}},
			Created:    at("2026-03-04T13:05:41Z"), Rollout: at("2026-11-20T09:02:33Z"), Revision: 9},
		{Kind: "StatefulSet", Namespace: "data", Name: "postgres", Labels: map[string]string{"app": "postgres"}, SA: "default", NoToken: true,
			Containers: []container{
				{Name: "postgres", Image: "docker.io/library/postgres:17.6", Ports: ports("postgres", 5432, "TCP"), CPU: "500m", Memory: "1Gi"},
				{Name: "exporter", Image: "quay.io/prometheuscommunity/postgres-exporter:v0.17.1", Ports: ports("metrics", 9187, "TCP"), CPU: "50m", Memory: "64Mi"}},
			Placement: []placement{{"worker-1", "10.244.1.72"}},
			Created:   at("2026-03-04T13:09:15Z"), Rollout: at("2026-10-27T07:12:40Z"), Revision: 4},
		{Kind: "Deployment", Namespace: "data", Name: "redis", Labels: map[string]string{"app": "redis"}, SA: "default", NoToken: true,
			Containers: []container{
				{Name: "redis", Image: "docker.io/library/redis:7.4.5", Ports: ports("redis", 6379, "TCP"), CPU: "100m", Memory: "256Mi"},
				{Name: "exporter", Image: "docker.io/oliver006/redis_exporter:v1.74.0", Ports: ports("metrics", 9121, "TCP"), CPU: "20m", Memory: "32Mi"}},
			Placement: []placement{{"worker-2", "10.244.2.49"}},
			Created:   at("2026-03-04T13:09:16Z"), Rollout: at("2026-10-27T07:15:02Z"), Revision: 3},
		{Kind: "Deployment", Namespace: "data", Name: "backup-operator", Labels: map[string]string{"app": "backup-operator"}, SA: "backup-operator",
			Containers: []container{{Name: "operator", Image: "ghcr.io/acme-shop/backup-operator:0.6.2", Ports: ports("metrics", 9090, "TCP"), CPU: "50m", Memory: "64Mi"}},
			Placement:  []placement{{"worker-1", "10.244.1.63"}},
			Created:    at("2026-05-19T15:22:40Z"), Rollout: at("2026-10-02T11:47:19Z"), Revision: 5},
		{Kind: "Deployment", Namespace: "monitoring", Name: "prometheus", Labels: map[string]string{"app": "prometheus"}, SA: "prometheus",
			Containers: []container{{Name: "prometheus", Image: "quay.io/prometheus/prometheus:v3.5.0", Ports: ports("web", 9090, "TCP"), Args: []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.retention.time=15d"}, CPU: "500m", Memory: "2Gi"}},
			Placement:  []placement{{"worker-1", "10.244.1.58"}},
			Created:    at("2026-03-05T08:48:02Z"), Rollout: at("2026-09-15T14:30:11Z"), Revision: 6},
		{Kind: "Deployment", Namespace: "kube-system", Name: "coredns", Labels: map[string]string{"k8s-app": "kube-dns"}, SA: "coredns", ControlPlane: true, PriorityClass: "system-cluster-critical",
			Containers: []container{{Name: "coredns", Image: "registry.k8s.io/coredns/coredns:v1.12.1", Ports: ports("dns", 53, "UDP", "dns-tcp", 53, "TCP", "metrics", 9153, "TCP"), Args: []string{"-conf", "/etc/coredns/Corefile"}, CPU: "100m", Memory: "70Mi"}},
			Placement:  []placement{{"worker-1", "10.244.1.5"}, {"worker-2", "10.244.2.4"}},
			Created:    at("2026-03-02T09:14:09Z"), Rollout: at("2026-09-08T06:40:27Z"), Revision: 2},
		{Kind: "DaemonSet", Namespace: "kube-system", Name: "cilium", Labels: map[string]string{"k8s-app": "cilium"}, SA: "cilium", HostNetwork: true, ControlPlane: true, PriorityClass: "system-node-critical",
			Containers: []container{{Name: "cilium-agent", Image: "quay.io/cilium/cilium:" + ciliumVersion, Ports: ports("peer-service", 4244, "TCP", "prometheus", 9962, "TCP"), Args: []string{"--config-dir=/tmp/cilium/config-map"}, CPU: "100m", Memory: "512Mi"}},
			Placement:  []placement{{"cp-1", ""}, {"worker-1", ""}, {"worker-2", ""}},
			Created:    at("2026-03-02T09:16:41Z"), Rollout: at("2026-09-08T06:35:50Z"), Revision: 3},
		{Kind: "Deployment", Namespace: "kube-system", Name: "cilium-operator", Labels: map[string]string{"io.cilium/app": "operator", "name": "cilium-operator"}, SA: "cilium-operator", HostNetwork: true, ControlPlane: true, PriorityClass: "system-cluster-critical",
			Containers: []container{{Name: "cilium-operator", Image: "quay.io/cilium/operator-generic:" + ciliumVersion, Ports: ports("prometheus", 9963, "TCP"), Args: []string{"--config-dir=/tmp/cilium/config-map"}, CPU: "50m", Memory: "128Mi"}},
			Placement:  []placement{{"cp-1", ""}},
			Created:    at("2026-03-02T09:16:41Z"), Rollout: at("2026-09-08T06:35:48Z"), Revision: 3},
		{Kind: "CronJob", Namespace: "ci", Name: "nightly-report", Labels: map[string]string{"app": "nightly-report"}, SA: "default", NoToken: true, Schedule: "0 2 * * *",
			Containers: []container{{Name: "report", Image: "ghcr.io/acme-shop/nightly-report:1.3.0", Args: []string{"--since=24h", "--notify=slack"}, CPU: "100m", Memory: "128Mi"}},
			Placement:  []placement{{"worker-2", "10.244.2.88"}},
			Created:    at("2026-06-30T16:20:05Z"), Rollout: dayStart.Add(2 * time.Hour), Revision: 1},
	}
	for _, c := range []struct{ name, image string }{
		{"etcd", "registry.k8s.io/etcd:3.6.4-0"},
		{"kube-apiserver", "registry.k8s.io/kube-apiserver:" + k8sVersion},
		{"kube-controller-manager", "registry.k8s.io/kube-controller-manager:" + k8sVersion},
		{"kube-scheduler", "registry.k8s.io/kube-scheduler:" + k8sVersion},
	} {
		ws = append(ws, &workload{Kind: "Static", Namespace: "kube-system", Name: c.name,
			Labels: map[string]string{"component": c.name, "tier": "control-plane"}, HostNetwork: true, ControlPlane: true,
			PriorityClass: "system-node-critical", Containers: []container{{Name: c.name, Image: c.image, Args: staticArgs[c.name], CPU: "100m"}},
			Placement: []placement{{"cp-1", ""}}, Created: at("2026-09-08T06:21:14Z"), Rollout: at("2026-09-08T06:21:14Z")})
	}
	m.workloads = ws

	for _, w := range ws {
		w.UID = r.uuid()
		switch w.Kind {
		case "Deployment":
			w.Hash = r.suffix(10)
			w.OwnerName, w.OwnerUID = w.Name+"-"+w.Hash, r.uuid()
		case "StatefulSet":
			w.Hash = w.Name + "-" + r.suffix(10)
		case "DaemonSet":
			w.Hash = r.suffix(10)
		case "CronJob":
			w.OwnerName, w.OwnerUID = fmt.Sprintf("%s-%d", w.Name, w.Rollout.Unix()/60), r.uuid()
		}
		for i, pl := range w.Placement {
			p := &pod{W: w, Namespace: w.Namespace, Node: pl.Node, IP: pl.IP, UID: r.uuid(), Phase: "Running",
				Created: w.Rollout.Add(time.Duration(i) * 1300 * time.Millisecond), Labels: maps.Clone(w.Labels)}
			if w.HostNetwork {
				p.IP = m.node(pl.Node).IP
			}
			switch w.Kind {
			case "Deployment":
				p.Name = w.OwnerName + "-" + r.suffix(5)
				p.Labels["pod-template-hash"] = w.Hash
			case "StatefulSet":
				p.Name = fmt.Sprintf("%s-%d", w.Name, i)
				p.Labels["apps.kubernetes.io/pod-index"] = fmt.Sprint(i)
				p.Labels["controller-revision-hash"] = w.Hash
				p.Labels["statefulset.kubernetes.io/pod-name"] = p.Name
			case "DaemonSet":
				p.Name = w.Name + "-" + r.suffix(5)
				p.Labels["controller-revision-hash"] = w.Hash
				p.Labels["pod-template-generation"] = fmt.Sprint(w.Revision)
			case "CronJob":
				p.Name = w.OwnerName + "-" + r.suffix(5)
				p.Labels["batch.kubernetes.io/controller-uid"] = w.OwnerUID
				p.Labels["batch.kubernetes.io/job-name"] = w.OwnerName
				p.Labels["controller-uid"] = w.OwnerUID
				p.Labels["job-name"] = w.OwnerName
				p.Phase = "Succeeded"
				p.Finished = p.Created.Add(3*time.Minute + 38*time.Second)
			case "Static":
				p.Name = w.Name + "-" + pl.Node
			}
			p.Started = p.Created.Add(time.Duration(2+r.intn(6))*time.Second + time.Duration(r.intn(1000))*time.Millisecond)
			for range w.Containers {
				p.ContainerIDs = append(p.ContainerIDs, "containerd://"+r.hex(64))
			}
			p.TokenVolume = "kube-api-access-" + r.suffix(5)
			p.EndpointID = 100 + r.intn(3900)
			p.IfIdx = 10 + r.intn(60)
			p.MAC, p.HostMAC = r.mac(), r.mac()
			p.LXC = "lxc" + r.hex(12)
			m.pods = append(m.pods, p)
		}
	}
	// Cilium identities are allocated per distinct set of identity labels.
	for _, p := range m.pods {
		if p.W.HostNetwork {
			continue
		}
		key := identityKey(m, p)
		if _, ok := m.identities[key]; !ok {
			m.identities[key] = 10000 + r.intn(55000)
		}
	}
}

var staticArgs = map[string][]string{
	"etcd": {"etcd", "--advertise-client-urls=https://10.0.0.10:2379", "--data-dir=/var/lib/etcd", "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379", "--name=cp-1"},
	"kube-apiserver": {"kube-apiserver", "--advertise-address=10.0.0.10", "--allow-privileged=true",
		"--audit-log-format=json", "--audit-log-maxage=7", "--audit-log-path=/var/log/kubernetes/audit/audit.log",
		"--audit-policy-file=/etc/kubernetes/audit-policy.yaml", "--authorization-mode=Node,RBAC",
		"--client-ca-file=/etc/kubernetes/pki/ca.crt", "--enable-admission-plugins=NodeRestriction",
		"--etcd-servers=https://127.0.0.1:2379", "--secure-port=6443",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=" + serviceCIDR},
	"kube-controller-manager": {"kube-controller-manager", "--allocate-node-cidrs=true", "--cluster-cidr=10.244.0.0/16",
		"--kubeconfig=/etc/kubernetes/controller-manager.conf", "--leader-elect=true",
		"--service-cluster-ip-range=" + serviceCIDR, "--use-service-account-credentials=true"},
	"kube-scheduler": {"kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"},
}

func (m *model) addServices(r *rng) {
	m.services = []*service{
		{Namespace: "default", Name: "kubernetes", ClusterIP: "10.96.0.1", Created: m.created,
			Ports: []servicePort{{"https", 443, 6443, "TCP"}}},
		{Namespace: "kube-system", Name: "kube-dns", ClusterIP: "10.96.0.10", Created: m.created.Add(4 * time.Second),
			Selector: map[string]string{"k8s-app": "kube-dns"},
			Ports:    []servicePort{{"dns", 53, 53, "UDP"}, {"dns-tcp", 53, 53, "TCP"}, {"metrics", 9153, 9153, "TCP"}}},
		{Namespace: "shop", Name: "web", ClusterIP: "10.96.118.32", Type: "LoadBalancer", LBIP: "192.0.2.80", Created: at("2026-03-04T13:05:40Z"),
			Selector: map[string]string{"app": "web"}, Ports: []servicePort{{"http", 80, "http", "TCP"}}},
		{Namespace: "shop", Name: "cart", ClusterIP: "10.96.201.7", Created: at("2026-03-04T13:05:41Z"),
			Selector: map[string]string{"app": "cart"}, Ports: []servicePort{{"http", 8080, "http", "TCP"}}},
		{Namespace: "shop", Name: "payments", ClusterIP: "10.96.45.190", Created: at("2026-03-04T13:05:41Z"),
			Selector: map[string]string{"app": "payments"}, Ports: []servicePort{{"http", 8080, "http", "TCP"}}},
		{Namespace: "data", Name: "postgres", ClusterIP: "None", Created: at("2026-03-04T13:09:15Z"),
			Selector: map[string]string{"app": "postgres"}, Ports: []servicePort{{"postgres", 5432, "postgres", "TCP"}}},
		{Namespace: "data", Name: "redis", ClusterIP: "10.96.77.14", Created: at("2026-03-04T13:09:16Z"),
			Selector: map[string]string{"app": "redis"}, Ports: []servicePort{{"redis", 6379, "redis", "TCP"}}},
		{Namespace: "monitoring", Name: "prometheus", ClusterIP: "10.96.150.3", Created: at("2026-03-05T08:48:02Z"),
			Selector: map[string]string{"app": "prometheus"}, Ports: []servicePort{{"web", 9090, "web", "TCP"}}},
	}
	for _, s := range m.services {
		s.UID = r.uuid()
		if s.Type == "" {
			s.Type = "ClusterIP"
		}
	}
}

// identityLabels are the labels Cilium derives a pod's security identity
// from, in Hubble's "source:key=value" form and sorted: the pod's own labels
// minus the ones Cilium's default label filter ignores (pod-template-hash,
// controller-revision-hash, statefulset.kubernetes.io/*, batch.kubernetes.io/*,
// job-name, controller-uid), the namespace's labels, the service account,
// the cluster and the namespace.
func identityLabels(m *model, p *pod) []string {
	var out []string
	for k, v := range p.Labels {
		if ignoredIdentityLabel(k) {
			continue
		}
		out = append(out, "k8s:"+k+"="+v)
	}
	for k, v := range m.ns(p.Namespace).Labels {
		out = append(out, "k8s:io.cilium.k8s.namespace.labels."+k+"="+v)
	}
	sa := p.W.SA
	if sa == "" {
		sa = "default"
	}
	out = append(out,
		"k8s:io.cilium.k8s.policy.cluster="+clusterName,
		"k8s:io.cilium.k8s.policy.serviceaccount="+sa,
		"k8s:io.kubernetes.pod.namespace="+p.Namespace)
	sort.Strings(out)
	return out
}

func ignoredIdentityLabel(k string) bool {
	switch k {
	case "pod-template-hash", "controller-revision-hash", "pod-template-generation", "job-name", "controller-uid":
		return true
	}
	return strings.HasPrefix(k, "statefulset.kubernetes.io/") || strings.HasPrefix(k, "batch.kubernetes.io/") ||
		strings.HasPrefix(k, "apps.kubernetes.io/")
}

func identityKey(m *model, p *pod) string { return strings.Join(identityLabels(m, p), ",") }

// identity returns the Cilium security identity of a pod.
func (m *model) identity(p *pod) int { return m.identities[identityKey(m, p)] }

// topOwner is the workload Hubble reports for a pod (it follows owner
// references to the top: ReplicaSet to Deployment, Job to CronJob).
func topOwner(p *pod) (kind, name string) {
	if p.W.Kind == "Static" {
		return "", ""
	}
	return p.W.Kind, p.W.Name
}
