package sim

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Versions the simulated cluster runs. The commits are those of the real
// releases (git describe --abbrev=7), as components put them in their user
// agents.
const (
	k8sVersion     = "v1.34.2"
	k8sCommit      = "8cc511e"
	ciliumVersion  = "v1.18.3"
	clusterName    = "default" // Cilium's cluster name
	clusterDomain  = "cluster.local"
	apiServerPort  = 6443
	kubernetesSvc  = "10.96.0.1"
	kubeDNSSvc     = "10.96.0.10"
	vpcResolverIP  = "10.0.0.2" // where CoreDNS forwards external names
	ciRunnerIP     = "198.51.100.23"
	attackerIP     = "203.0.113.66"
	attackerC2Port = 4444
)

var (
	uaKubelet   = "kubelet/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit
	uaKCM       = "kube-controller-manager/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit
	uaScheduler = "kube-scheduler/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit + "/scheduler"
	uaAPIServer = "kube-apiserver/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit
	uaKubectl   = "kubectl/" + k8sVersion + " (linux/amd64) kubernetes/" + k8sCommit
	uaKubectlV  = "kubectl/v1.31.4 (darwin/arm64) kubernetes/a78aa47"
)

func clientGoUA(binary string) string { return binary + "/v0.0.0 (linux/amd64) kubernetes/$Format" }

// world is the simulated cluster: every object the dump shows and every
// fact the streams refer to.
type world struct {
	cfg                  Config
	start, end, learnEnd int64 // Unix nanoseconds
	created              int64 // when the cluster was bootstrapped

	nodes      []*node
	namespaces []*namespace // every namespace, system ones first
	apps       []*namespace // application namespaces
	sas        []*serviceAccount
	workloads  []*workload
	services   []*service
	pods       []*pod // every pod of the window, by creation time
	people     []*person

	roles        []obj
	clusterRoles []obj
	roleBindings []obj
	crbs         []obj
	netpols      []obj
	extra        []obj // objects of kinds the inventory does not keep (webhooks, CSRs)

	svcIPs        map[uint32]bool
	identities    map[string]int
	identityTaken map[int]bool

	// Well-known workloads.
	coredns, cilium, ciliumOp, ingress, certManager, prometheus, backupOp *workload
	ciDeployer                                                            *serviceAccount

	rollouts []*rollout
	attacks  []*attack
}

type node struct {
	idx          int
	name, uid    string
	ip           uint32
	podNet       uint32 // the node's /24 pod range
	controlPlane bool
	certSHA      string
	machineID    string
	bootID       string
	created      int64

	// Planning state.
	used    [256]bool
	load    int
	nextPID uint32
	nextEP  int
}

type namespace struct {
	name, uid string
	team      string
	labels    map[string]string
	created   int64
	app       bool
	netpol    bool // default-deny ingress with allow rules
	// apps of an application namespace.
	web, api, worker, db, cache *workload
	cron                        []*workload
	// calls to other namespaces' APIs.
	peers []*namespace
}

type serviceAccount struct {
	ns, name, uid string
	created       int64
	// legacyToken names a long-lived token Secret in use (CI).
	legacyToken string
}

func (s *serviceAccount) username() string {
	return "system:serviceaccount:" + s.ns + ":" + s.name
}

type port struct {
	name  string
	port  int
	proto string
}

type execProbe struct {
	cmd    []string
	period time.Duration
}

type containerSpec struct {
	name     string
	repo     string // image without tag
	tag      string // fixed tag, or "" for the workload's version
	ports    []port
	command  []string // the process the container starts (argv)
	cwd      string
	uid      int
	probe    *execProbe
	cpu, mem string
}

// Workload kinds.
const (
	kindDeployment  = "Deployment"
	kindStatefulSet = "StatefulSet"
	kindDaemonSet   = "DaemonSet"
	kindCronJob     = "CronJob"
	kindStatic      = "Static" // a static pod of the control plane
)

// Application roles.
const (
	roleWeb     = "web"
	roleAPI     = "api"
	roleWorker  = "worker"
	roleDB      = "db"
	roleCache   = "cache"
	roleCron    = "cron"
	roleSystem  = "system"
	roleAttack  = "attack"
	roleIngress = "ingress"
)

type workload struct {
	kind, role    string
	ns            *namespace
	name, uid     string
	labels        map[string]string
	sa            *serviceAccount
	noToken       bool
	containers    []containerSpec
	replicas      int
	hostNetwork   bool
	controlPlane  bool
	created       int64
	schedule      time.Duration // CronJob period
	schedOffset   time.Duration
	runFor        [2]time.Duration // CronJob run time range
	svc           *service
	metricsPort   int
	usesAPI       bool   // reads its ConfigMap or Secret through the API
	configMap     string // the ConfigMap it reads
	apiReason     string // authorization reason of its API calls
	overGranted   bool   // bound to far more than it uses
	privileged    bool
	hostRoot      bool // hostPath / mounted
	hostPID       bool
	attack        string
	version       int
	revisions     []*revision // ReplicaSets / ControllerRevisions, oldest first
	pods          []*pod
	live          []*pod // runtime: pods alive now
	egress        []external
	priorityClass string
}

// revision is a ReplicaSet of a Deployment or a ControllerRevision of a
// StatefulSet or DaemonSet.
type revision struct {
	name, uid, hash string
	number          int
	version         string
	created         int64
	replicas        int // at the end of the window
	by              *workload
}

type service struct {
	ns          *namespace
	name, uid   string
	ip          uint32
	ports       []port
	selector    map[string]string
	w           *workload
	created     int64
	targetPorts []int
}

// external is an address outside the cluster a workload talks to.
type external struct {
	name string
	ip   string
	port int
}

type person struct {
	name    string
	groups  []string
	ip      string
	ua      string
	certSHA string
	// namespaces the person works in; empty for cluster-wide roles.
	namespaces []*namespace
	reason     string
	admin      bool
	sessions   float64 // kubectl sessions per working day
	execs      float64 // chance a session execs into a pod
}

// appNames name application namespaces; past the list, names get a number.
var appNames = []string{
	"shop", "payments", "catalog", "checkout", "search", "accounts", "notifications", "inventory",
	"shipping", "reviews", "recommendations", "analytics", "billing", "auth", "media", "orders",
	"support", "pricing", "loyalty", "ads", "fraud", "ledger", "gateway", "reporting",
}

var teams = []string{"storefront", "money", "discovery", "platform-data", "growth", "identity", "ops"}

// externals are the outside services applications call. The addresses are
// illustrative public ones; what matters is that they are outside the
// cluster and Hubble knows their DNS names.
var externals = []external{
	{"api.stripe.com", "54.187.174.169", 443},
	{"hooks.slack.com", "18.159.197.225", 443},
	{"api.sendgrid.com", "167.89.118.52", 443},
	{"s3.eu-central-1.amazonaws.com", "52.219.170.66", 443},
	{"sqs.eu-central-1.amazonaws.com", "3.120.71.4", 443},
	{"api.github.com", "140.82.121.6", 443},
}

func ip4(a, b, c, d int) uint32 { return uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d) }

func ipString(ip uint32) string {
	b := make([]byte, 0, 15)
	b = strconv.AppendUint(b, uint64(ip>>24), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>16&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>8&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip&0xff), 10)
	return string(b)
}

// newWorld builds the cluster's objects and the plan of every pod.
func newWorld(cfg Config) *world {
	w := &world{
		cfg:           cfg,
		start:         cfg.Start.UnixNano(),
		svcIPs:        map[uint32]bool{},
		identities:    map[string]int{},
		identityTaken: map[int]bool{},
	}
	w.end = w.start + int64(cfg.Days*float64(24*time.Hour))
	w.learnEnd = w.start + int64(cfg.LearningPeriod)
	w.created = w.start - int64(97*24*time.Hour) - int64(5*time.Hour+14*time.Minute)
	r := newRNG(cfg.Seed, "world")

	w.addSystemNamespaces(&r)
	for i := 0; i < cfg.Namespaces; i++ {
		w.addAppNamespace(&r, i)
	}
	w.addPeers(&r)
	w.addNodes(&r)
	w.addPeople(&r)
	w.addRBAC(&r)
	w.addNetworkPolicies()
	w.planAttacks()
	w.plan()
	return w
}

func (w *world) newNamespace(r *rng, name string, created int64, labels map[string]string) *namespace {
	ns := &namespace{name: name, uid: r.uuid(), created: created, labels: map[string]string{"kubernetes.io/metadata.name": name}}
	for k, v := range labels {
		ns.labels[k] = v
	}
	w.namespaces = append(w.namespaces, ns)
	w.newSA(r, ns, "default", created)
	return ns
}

func (w *world) newSA(r *rng, ns *namespace, name string, created int64) *serviceAccount {
	sa := &serviceAccount{ns: ns.name, name: name, uid: r.uuid(), created: created}
	w.sas = append(w.sas, sa)
	return sa
}

func (w *world) findSA(ns, name string) *serviceAccount {
	for _, s := range w.sas {
		if s.ns == ns && s.name == name {
			return s
		}
	}
	return nil
}

// day returns a time d days and some hours after the cluster was created.
func (w *world) day(d float64) int64 { return w.created + int64(d*float64(24*time.Hour)) }

func (w *world) addSystemNamespaces(r *rng) {
	c := w.created
	for _, n := range []string{"default", "kube-node-lease", "kube-public", "kube-system"} {
		w.newNamespace(r, n, c, nil)
	}
	ks := w.namespaces[3]
	for _, ctl := range kcmControllers {
		w.newSA(r, ks, ctl, c+int64(14*time.Second))
	}
	mon := w.newNamespace(r, "monitoring", w.day(2.1), map[string]string{"team": "sre"})
	ing := w.newNamespace(r, "ingress-nginx", w.day(1.2), map[string]string{"app.kubernetes.io/name": "ingress-nginx"})
	cm := w.newNamespace(r, "cert-manager", w.day(1.3), nil)
	plat := w.newNamespace(r, "platform", w.day(9.4), map[string]string{"team": "platform"})
	ci := w.newNamespace(r, "ci", w.day(14.2), map[string]string{"team": "platform"})
	w.ciDeployer = w.newSA(r, ci, "deployer", w.day(14.21))
	w.ciDeployer.legacyToken = "deployer-token"

	img := func(repo, tag string) containerSpec { return containerSpec{repo: repo, tag: tag} }
	// kube-system.
	w.coredns = w.addWorkload(r, &workload{kind: kindDeployment, role: roleSystem, ns: ks, name: "coredns", replicas: 2,
		labels: map[string]string{"k8s-app": "kube-dns"}, created: c + int64(4*time.Second), priorityClass: "system-cluster-critical"},
		spec(img("registry.k8s.io/coredns/coredns", "v1.12.1"), "coredns", []string{"/coredns", "-conf", "/etc/coredns/Corefile"},
			port{"dns", 53, "UDP"}, port{"dns-tcp", 53, "TCP"}, port{"metrics", 9153, "TCP"}))
	w.coredns.metricsPort = 9153
	w.coredns.apiReason = crbReason("system:coredns", "system:coredns", saSubj("kube-system", "coredns"))
	w.addService(r, ks, "kube-dns", w.coredns, ipFromString(kubeDNSSvc), port{"dns", 53, "UDP"}, port{"dns-tcp", 53, "TCP"}, port{"metrics", 9153, "TCP"})
	w.cilium = w.addWorkload(r, &workload{kind: kindDaemonSet, role: roleSystem, ns: ks, name: "cilium", hostNetwork: true, controlPlane: true,
		labels: map[string]string{"k8s-app": "cilium"}, created: c + int64(3*time.Minute), priorityClass: "system-node-critical"},
		spec(img("quay.io/cilium/cilium", ciliumVersion), "cilium-agent", []string{"/usr/bin/cilium-agent", "--config-dir=/tmp/cilium/config-map"}))
	w.cilium.apiReason = crbReason("cilium", "cilium", saSubj("kube-system", "cilium"))
	w.ciliumOp = w.addWorkload(r, &workload{kind: kindDeployment, role: roleSystem, ns: ks, name: "cilium-operator", replicas: 1, hostNetwork: true,
		labels: map[string]string{"io.cilium/app": "operator", "name": "cilium-operator"}, created: c + int64(3*time.Minute), priorityClass: "system-cluster-critical"},
		spec(img("quay.io/cilium/operator-generic", ciliumVersion), "cilium-operator", []string{"cilium-operator-generic", "--config-dir=/tmp/cilium/config-map"}))
	w.ciliumOp.apiReason = crbReason("cilium-operator", "cilium-operator", saSubj("kube-system", "cilium-operator"))
	for _, s := range []struct{ name, repo, cmd string }{
		{"etcd", "registry.k8s.io/etcd", "etcd"},
		{"kube-apiserver", "registry.k8s.io/kube-apiserver", "kube-apiserver"},
		{"kube-controller-manager", "registry.k8s.io/kube-controller-manager", "kube-controller-manager"},
		{"kube-scheduler", "registry.k8s.io/kube-scheduler", "kube-scheduler"},
	} {
		tag := k8sVersion
		if s.name == "etcd" {
			tag = "3.6.4-0"
		}
		st := w.addWorkload(r, &workload{kind: kindStatic, role: roleSystem, ns: ks, name: s.name, replicas: 1, hostNetwork: true, controlPlane: true,
			labels: map[string]string{"component": s.name, "tier": "control-plane"}, created: c - int64(20*time.Second), noToken: true, priorityClass: "system-node-critical"},
			spec(img(s.repo, tag), s.name, []string{s.cmd}))
		st.sa = nil
	}

	// Add-ons.
	w.prometheus = w.addWorkload(r, &workload{kind: kindStatefulSet, role: roleSystem, ns: mon, name: "prometheus", replicas: 1,
		labels: map[string]string{"app": "prometheus"}, created: mon.created + int64(21*time.Second)},
		spec(img("quay.io/prometheus/prometheus", "v3.5.0"), "prometheus", []string{"/bin/prometheus", "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"},
			port{"web", 9090, "TCP"}))
	w.prometheus.apiReason = crbReason("prometheus", "prometheus", saSubj("monitoring", "prometheus"))
	w.addService(r, mon, "prometheus", w.prometheus, 0, port{"web", 9090, "TCP"})
	w.ingress = w.addWorkload(r, &workload{kind: kindDeployment, role: roleIngress, ns: ing, name: "ingress-nginx-controller", replicas: 2,
		labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}, created: ing.created + int64(40*time.Second)},
		spec(img("registry.k8s.io/ingress-nginx/controller", "v1.13.3"), "controller", []string{"/nginx-ingress-controller", "--election-id=ingress-nginx-leader", "--controller-class=k8s.io/ingress-nginx"},
			port{"http", 80, "TCP"}, port{"https", 443, "TCP"}, port{"metrics", 10254, "TCP"}))
	w.ingress.metricsPort = 10254
	w.ingress.apiReason = crbReason("ingress-nginx", "ingress-nginx", saSubj("ingress-nginx", "ingress-nginx-controller"))
	w.addService(r, ing, "ingress-nginx-controller", w.ingress, 0, port{"http", 80, "TCP"}, port{"https", 443, "TCP"})
	w.certManager = w.addWorkload(r, &workload{kind: kindDeployment, role: roleSystem, ns: cm, name: "cert-manager", replicas: 1,
		labels: map[string]string{"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"}, created: cm.created + int64(33*time.Second)},
		spec(img("quay.io/jetstack/cert-manager-controller", "v1.18.2"), "cert-manager-controller", []string{"/app/cmd/controller/controller", "--leader-election-namespace=kube-system"},
			port{"http-metrics", 9402, "TCP"}))
	w.certManager.metricsPort = 9402
	w.certManager.apiReason = crbReason("cert-manager-controller-certificates", "cert-manager-controller-certificates", saSubj("cert-manager", "cert-manager"))
	w.backupOp = w.addWorkload(r, &workload{kind: kindDeployment, role: roleSystem, ns: plat, name: "backup-operator", replicas: 1,
		labels: map[string]string{"app": "backup-operator"}, created: plat.created + int64(2*time.Hour), usesAPI: true, overGranted: true},
		spec(img("ghcr.io/acme/backup-operator", "2.3.1"), "operator", []string{"/manager", "--leader-elect"}, port{"metrics", 8080, "TCP"}))
	w.backupOp.metricsPort = 8080
	w.backupOp.apiReason = crbReason("backup-operator", "backup-operator", saSubj("platform", "backup-operator"))
	w.backupOp.egress = []external{externals[3]}
}

// kcmControllers are the controllers kube-controller-manager runs with their
// own service account credentials (--use-service-account-credentials).
var kcmControllers = []string{
	"attachdetach-controller", "certificate-controller", "clusterrole-aggregation-controller",
	"cronjob-controller", "daemon-set-controller", "deployment-controller", "disruption-controller",
	"endpoint-controller", "endpointslice-controller", "endpointslicemirroring-controller",
	"ephemeral-volume-controller", "expand-controller", "generic-garbage-collector", "horizontal-pod-autoscaler",
	"job-controller", "legacy-service-account-token-cleaner", "namespace-controller", "node-controller",
	"persistent-volume-binder", "pod-garbage-collector", "pv-protection-controller", "pvc-protection-controller",
	"replicaset-controller", "replication-controller", "resource-claim-controller", "resourcequota-controller",
	"root-ca-cert-publisher", "route-controller", "service-account-controller", "service-controller",
	"statefulset-controller", "ttl-after-finished-controller", "ttl-controller", "validatingadmissionpolicy-status-controller",
}

func spec(c containerSpec, name string, command []string, ports ...port) containerSpec {
	c.name, c.command, c.ports = name, command, ports
	c.cwd = "/"
	c.cpu, c.mem = "100m", "128Mi"
	return c
}

func ipFromString(s string) uint32 {
	var parts [4]int
	i := 0
	for _, c := range s {
		if c == '.' {
			i++
			continue
		}
		parts[i] = parts[i]*10 + int(c-'0')
	}
	return ip4(parts[0], parts[1], parts[2], parts[3])
}

// addWorkload registers wl with its containers, service account and first
// revision.
func (w *world) addWorkload(r *rng, wl *workload, containers ...containerSpec) *workload {
	wl.uid = r.uuid()
	wl.containers = containers
	if wl.labels == nil {
		wl.labels = map[string]string{"app": wl.name}
	}
	if wl.kind != kindStatic && wl.sa == nil {
		name := wl.name
		if wl.role == roleCron || wl.role == roleDB || wl.role == roleCache {
			name = "default"
		}
		if wl.kind == kindDeployment && wl.role == roleIngress {
			name = "ingress-nginx-controller"
		}
		wl.sa = w.findSA(wl.ns.name, name)
		if wl.sa == nil {
			wl.sa = w.newSA(r, wl.ns, name, wl.created-int64(time.Second))
		}
	}
	wl.version = 1
	w.workloads = append(w.workloads, wl)
	return wl
}

func (w *world) addService(r *rng, ns *namespace, name string, wl *workload, ip uint32, ports ...port) *service {
	if ip == 0 {
		for {
			// 10.96.0.0/12, above the addresses kubeadm reserves.
			ip = ip4(10, 96, 0, 0) + 20 + uint32(r.intn(1<<20-40))
			if !w.svcIPs[ip] {
				break
			}
		}
	}
	w.svcIPs[ip] = true
	s := &service{ns: ns, name: name, uid: r.uuid(), ip: ip, ports: ports, w: wl, created: wl.created}
	if wl != nil {
		s.selector = wl.labels
		wl.svc = s
	}
	w.services = append(w.services, s)
	return s
}

// addAppNamespace adds one application namespace with its workloads: a web
// front end and an API everywhere, and a mix of workers, databases, caches
// and CronJobs.
func (w *world) addAppNamespace(r *rng, i int) {
	name := appNames[i%len(appNames)]
	if i >= len(appNames) {
		name += "-" + strconv.Itoa(i/len(appNames)+1)
	}
	// Spread over the cluster's 97 days before the window.
	created := w.day(3 + float64(i)*min(1.7, 90/float64(w.cfg.Namespaces)) + r.float())
	team := teams[i%len(teams)]
	ns := w.newNamespace(r, name, created, map[string]string{"team": team})
	ns.app, ns.team = true, team
	// Every third namespace has NetworkPolicies (default deny ingress).
	ns.netpol = i%3 == 1
	w.apps = append(w.apps, ns)
	t := created + int64(5*time.Minute)
	appImg := func(role string) containerSpec { return containerSpec{repo: "ghcr.io/acme/" + name + "-" + role} }
	httpPorts := []port{{"http", 8080, "TCP"}, {"metrics", 9090, "TCP"}}

	ns.web = w.addWorkload(r, &workload{kind: kindDeployment, role: roleWeb, ns: ns, name: name + "-web", replicas: 2 + r.intn(2), created: t},
		spec(appImg("web"), "web", []string{"/app/web", "--listen=:8080"}, httpPorts...))
	ns.web.metricsPort = 9090
	w.addService(r, ns, name+"-web", ns.web, 0, port{"http", 80, "TCP"})
	ns.web.svc.targetPorts = []int{8080}

	ns.api = w.addWorkload(r, &workload{kind: kindDeployment, role: roleAPI, ns: ns, name: name + "-api", replicas: 2 + r.intn(2), created: t + int64(time.Minute),
		usesAPI: true, configMap: name + "-config"},
		spec(appImg("api"), "api", []string{"/app/api", "--config=/etc/" + name + "/config.yaml"}, httpPorts...))
	ns.api.metricsPort = 9090
	w.addService(r, ns, name+"-api", ns.api, 0, port{"http", 8080, "TCP"})
	if r.chance(0.5) {
		ns.api.egress = append(ns.api.egress, externals[r.intn(len(externals))])
	}
	if name == "payments" || name == "billing" || name == "checkout" {
		ns.api.egress = append(ns.api.egress, externals[0])
	}
	if name == "notifications" {
		ns.api.egress = append(ns.api.egress, externals[1], externals[2])
	}

	if r.chance(0.6) {
		ns.worker = w.addWorkload(r, &workload{kind: kindDeployment, role: roleWorker, ns: ns, name: name + "-worker", replicas: 1 + r.intn(2), created: t + int64(2*time.Minute)},
			spec(appImg("worker"), "worker", []string{"/app/worker", "--queue=" + name}, port{"metrics", 9090, "TCP"}))
		ns.worker.metricsPort = 9090
		ns.worker.egress = []external{externals[4]}
	}
	if r.chance(0.7) {
		ns.db = w.addWorkload(r, &workload{kind: kindStatefulSet, role: roleDB, ns: ns, name: name + "-db", replicas: 1, created: created + int64(2*time.Minute)},
			containerSpec{name: "postgres", repo: "docker.io/library/postgres", tag: "17.6", ports: []port{{"postgres", 5432, "TCP"}},
				command: []string{"docker-entrypoint.sh", "postgres"}, cwd: "/", uid: 999, cpu: "500m", mem: "1Gi",
				probe: &execProbe{cmd: []string{"pg_isready", "-U", "postgres"}, period: time.Minute}})
		w.addService(r, ns, name+"-db", ns.db, 0, port{"postgres", 5432, "TCP"})
	}
	if r.chance(0.5) {
		ns.cache = w.addWorkload(r, &workload{kind: kindStatefulSet, role: roleCache, ns: ns, name: name + "-cache", replicas: 1, created: created + int64(3*time.Minute)},
			containerSpec{name: "redis", repo: "docker.io/library/redis", tag: "8.2.1", ports: []port{{"redis", 6379, "TCP"}},
				command: []string{"docker-entrypoint.sh", "redis-server"}, cwd: "/data", uid: 999, cpu: "200m", mem: "256Mi",
				probe: &execProbe{cmd: []string{"redis-cli", "ping"}, period: 2 * time.Minute}})
		w.addService(r, ns, name+"-cache", ns.cache, 0, port{"redis", 6379, "TCP"})
	}
	// CronJobs: a nightly report everywhere, an hourly sync in some
	// namespaces, a 15-minute one in a few.
	cron := func(suffix string, every time.Duration, run [2]time.Duration, cmd []string) {
		cj := w.addWorkload(r, &workload{kind: kindCronJob, role: roleCron, ns: ns, name: name + "-" + suffix, created: created + int64(10*time.Minute),
			schedule: every, runFor: run},
			containerSpec{name: suffix, repo: "ghcr.io/acme/" + name + "-jobs", ports: nil, command: cmd, cwd: "/app", uid: 1000, cpu: "100m", mem: "256Mi"})
		if every == 24*time.Hour {
			cj.schedOffset = time.Duration(1+r.intn(4))*time.Hour + time.Duration(r.intn(4))*15*time.Minute
		} else {
			cj.schedOffset = time.Duration(r.intn(int(every/time.Minute))) * time.Minute
		}
		ns.cron = append(ns.cron, cj)
	}
	cron("report", 24*time.Hour, [2]time.Duration{2 * time.Minute, 9 * time.Minute}, []string{"/bin/sh", "-c", "python3 /app/report.py --daily"})
	if r.chance(0.4) {
		cron("sync", time.Hour, [2]time.Duration{20 * time.Second, 2 * time.Minute}, []string{"/app/sync", "--once"})
	}
	if i%5 == 2 {
		cron("reconcile", 15*time.Minute, [2]time.Duration{8 * time.Second, 40 * time.Second}, []string{"/app/reconcile"})
	}
}

// addPeers wires calls between namespaces: some APIs call another
// namespace's API (checkout calls payments).
func (w *world) addPeers(r *rng) {
	if len(w.apps) < 2 {
		return
	}
	for i, ns := range w.apps {
		if !r.chance(0.5) {
			continue
		}
		for k := 0; k < 1+r.intn(2); k++ {
			p := w.apps[(i+1+r.intn(len(w.apps)-1))%len(w.apps)]
			if p != ns && !p.netpol {
				ns.peers = append(ns.peers, p)
			}
		}
	}
}

// addNodes sizes the cluster: one control-plane node and enough workers for
// about 30 pods each.
func (w *world) addNodes(r *rng) {
	pods := 0
	for _, wl := range w.workloads {
		if !wl.controlPlane && wl.kind != kindDaemonSet {
			pods += max(wl.replicas, 1)
		}
	}
	workers := max(2, int(math.Ceil(float64(pods)/28)))
	if workers > 250 {
		workers = 250
	}
	add := func(i int, name string, ip uint32, cp bool, created int64) {
		w.nodes = append(w.nodes, &node{idx: i, name: name, uid: r.uuid(), ip: ip, podNet: ip4(10, 244, i, 0), controlPlane: cp,
			certSHA: r.hex(64), machineID: r.hex(32), bootID: r.uuid(), created: created, nextPID: uint32(40000 + r.intn(20000)), nextEP: 100 + r.intn(1000)})
	}
	add(0, "cp-1", ip4(10, 0, 0, 10), true, w.created-int64(30*time.Second))
	for i := 1; i <= workers; i++ {
		add(i, "worker-"+strconv.Itoa(i), ip4(10, 0, 1+(i-1)/200, 11+(i-1)%200), false, w.created+int64(8*time.Minute)+int64(i)*int64(37*time.Second))
	}
}

func (w *world) addPeople(r *rng) {
	pickNS := func(n int) []*namespace {
		var out []*namespace
		for k := 0; k < n && k < len(w.apps); k++ {
			out = append(out, w.apps[r.intn(len(w.apps))])
		}
		return out
	}
	vpn := func(i int) string { return "10.8.0." + strconv.Itoa(10+i) }
	w.people = []*person{
		{name: "alice@acme.example", groups: []string{"devs", "system:authenticated"}, ua: uaKubectlV, namespaces: pickNS(3), sessions: 4, execs: 0.08},
		{name: "bob@acme.example", groups: []string{"devs", "system:authenticated"}, ua: uaKubectl, namespaces: pickNS(2), sessions: 3, execs: 0.04},
		{name: "carol@acme.example", groups: []string{"devs", "system:authenticated"}, ua: uaKubectl, namespaces: pickNS(4), sessions: 5, execs: 0.05},
		{name: "dave@acme.example", groups: []string{"sre", "system:authenticated"}, ua: uaKubectl, admin: true, sessions: 6, execs: 0.1},
		{name: "erin@acme.example", groups: []string{"auditors", "system:authenticated"}, ua: uaKubectlV, sessions: 1, execs: 0},
	}
	for i, p := range w.people {
		p.ip = vpn(i)
		p.certSHA = r.hex(64)
		switch {
		case p.admin:
			p.reason = crbReason("sre-admins", "cluster-admin", groupSubj("sre"))
		case len(p.namespaces) == 0:
			p.reason = crbReason("auditors-view", "view", groupSubj("auditors"))
		}
	}
}

// Authorization reasons, as the RBAC authorizer words them
// (plugin/pkg/auth/authorizer/rbac/rbac.go, and the describers of
// ClusterRoleBinding and RoleBinding).
func crbReason(binding, role, subject string) string {
	return fmt.Sprintf("RBAC: allowed by ClusterRoleBinding %q of ClusterRole %q to %s", binding, role, subject)
}

func rbReason(binding, ns, roleKind, role, subject string) string {
	return fmt.Sprintf("RBAC: allowed by RoleBinding %q of %s %q to %s", binding+"/"+ns, roleKind, role, subject)
}

func saSubj(ns, name string) string { return fmt.Sprintf("ServiceAccount %q", name+"/"+ns) }
func userSubj(name string) string   { return fmt.Sprintf("User %q", name) }
func groupSubj(name string) string  { return fmt.Sprintf("Group %q", name) }

var (
	reasonDiscovery = crbReason("system:discovery", "system:discovery", groupSubj("system:authenticated"))
	reasonBasicUser = crbReason("system:basic-user", "system:basic-user", groupSubj("system:authenticated"))
)

// identity returns the Cilium security identity of a set of identity
// labels: a stable number in the range Cilium allocates cluster identities
// from.
func (w *world) identity(key string) int {
	if id, ok := w.identities[key]; ok {
		return id
	}
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	id := 256 + int(h%65000)
	for w.identityTaken[id] {
		id++
	}
	w.identityTaken[id] = true
	w.identities[key] = id
	return id
}
