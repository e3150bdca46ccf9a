package deploy_test

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/servecmd"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

var update = flag.Bool("update", false, "regenerate deploy/manifests/kubedelta.yaml from the chart")

const plainManifests = "manifests/kubedelta.yaml"

// plainHeader starts the generated plain manifests.
const plainHeader = `# kubedelta server: plain manifests. GENERATED from the Helm chart in
# deploy/helm/kubedelta with its default values (release "kubedelta" in
# namespace "kubedelta") by: go test ./deploy -run TestPlainManifests -update
# Edit the chart, not this file.
#
# Before applying, create in namespace kubedelta (docs/deploy.md):
#   - Secret kubedelta-tls (type kubernetes.io/tls): the serving certificate,
#     valid for kubedelta.kubedelta.svc (and the ClusterIP if you pin one);
#   - Secret kubedelta-tokens, key "tokens": bearer tokens, one per line.
# Then: kubectl apply -f deploy/manifests/kubedelta.yaml
`

// renderAll renders the chart and decodes every document strictly.
func renderAll(t *testing.T, rel release, overrides map[string]any) (map[string]object, string) {
	t.Helper()
	files := renderChart(t, rel, overrides)
	type source struct{ file, doc, kind string }
	var docs []source
	for _, name := range slices.Sorted(maps.Keys(files)) {
		for _, doc := range splitDocs(files[name]) {
			kind := ""
			if m := kindLine.FindStringSubmatch(doc); m != nil {
				kind = m[1]
			}
			docs = append(docs, source{name, strings.TrimLeft(doc, "\n"), kind})
		}
	}
	// Helm writes (and installs) objects in kind order (helm.sh/helm/v3
	// pkg/releaseutil/kind_sorter.go InstallOrder): the Namespace first.
	slices.SortStableFunc(docs, func(a, b source) int { return installRank(a.kind) - installRank(b.kind) })
	var stream strings.Builder
	for _, d := range docs {
		stream.WriteString("---\n# Source: kubedelta/templates/" + d.file + "\n")
		stream.WriteString(d.doc)
		if !strings.HasSuffix(d.doc, "\n") {
			stream.WriteString("\n")
		}
	}
	objs := map[string]object{}
	for i, doc := range splitDocs(stream.String()) {
		o, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("document %d: %v\n%s", i+1, err, doc)
		}
		key := o.Kind + "/" + o.Name
		if _, dup := objs[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		objs[key] = o
	}
	return objs, stream.String()
}

var kindLine = regexp.MustCompile(`(?m)^kind: *(\w+)`)

// installOrder is the part of Helm's InstallOrder the chart uses.
var installOrder = []string{"Namespace", "ServiceAccount", "PersistentVolumeClaim", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment"}

func installRank(kind string) int {
	if i := slices.Index(installOrder, kind); i >= 0 {
		return i
	}
	return len(installOrder)
}

func TestChartDefaults(t *testing.T) {
	objs, _ := renderAll(t, defaultRelease, nil)
	var kinds []string
	for k := range objs {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	want := []string{"ClusterRole/kubedelta", "ClusterRoleBinding/kubedelta", "Deployment/kubedelta",
		"PersistentVolumeClaim/kubedelta-data", "Service/kubedelta", "ServiceAccount/kubedelta"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("rendered %v, want %v", kinds, want)
	}
	for _, o := range objs {
		if o.Kind != "ClusterRole" && o.Kind != "ClusterRoleBinding" && o.Namespace != "kubedelta" {
			t.Errorf("%s/%s in namespace %q", o.Kind, o.Name, o.Namespace)
		}
		if o.Labels["app.kubernetes.io/name"] != "kubedelta" || o.Labels["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("%s/%s labels %v", o.Kind, o.Name, o.Labels)
		}
	}
	d := objs["Deployment/kubedelta"].Obj.(*appsv1.Deployment)
	checkDeployment(t, d)
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--token-file=/etc/kubedelta/auth/tokens") {
		t.Error("default values: no --token-file")
	}

	svc := objs["Service/kubedelta"].Obj.(*corev1.Service)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8443 || svc.Spec.Ports[0].TargetPort.String() != "https" {
		t.Errorf("service ports %+v", svc.Spec.Ports)
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("service selector %s=%s does not select the pods (%v)", k, v, d.Spec.Template.Labels)
		}
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("deployment selector %s=%s does not match its template", k, v)
		}
	}
	pvc := objs["PersistentVolumeClaim/kubedelta-data"].Obj.(*corev1.PersistentVolumeClaim)
	if pvc.Spec.Resources.Requests.Storage().String() != "20Gi" || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
		t.Errorf("pvc spec %+v", pvc.Spec)
	}
	if vol := volume(d, "data"); vol == nil || vol.PersistentVolumeClaim == nil || vol.PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("data volume %+v does not use the claim %s", vol, pvc.Name)
	}
	crb := objs["ClusterRoleBinding/kubedelta"].Obj.(*rbacv1.ClusterRoleBinding)
	if crb.RoleRef.Name != "kubedelta" || crb.Subjects[0].Name != d.Spec.Template.Spec.ServiceAccountName || crb.Subjects[0].Namespace != "kubedelta" {
		t.Errorf("binding %+v does not bind the pod's service account %s", crb, d.Spec.Template.Spec.ServiceAccountName)
	}
	checkClusterRole(t, objs["ClusterRole/kubedelta"].Obj.(*rbacv1.ClusterRole))
}

// checkDeployment asserts the hardening and the serve arguments.
func checkDeployment(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("want 1 replica with the Recreate strategy (one writer on the volume): %v %v", d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	ps := d.Spec.Template.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || ps.FSGroup == nil {
		t.Errorf("pod security context %+v", ps)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(d.Spec.Template.Spec.Containers))
	}
	c := d.Spec.Template.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container security context %+v", sc)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
		t.Errorf("liveness probe %+v", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
	if c.Image != "ghcr.io/kubedelta/kubedelta:0.1.0" {
		t.Errorf("image %q: want the chart's appVersion", c.Image)
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"serve", "--data-dir=/data", "--listen=0.0.0.0:8443", "--tls-cert=/etc/kubedelta/tls/tls.crt", "--tls-key=/etc/kubedelta/tls/tls.key"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if !slices.Contains(c.Args, "--token-file=/etc/kubedelta/auth/tokens") && !slices.Contains(c.Args, "--client-ca=/etc/kubedelta/client-ca/ca.crt") {
		t.Errorf("args %q: no authentication (--token-file or --client-ca)", args)
	}
	// The arguments parse with the real command's flags: a renamed or
	// removed flag fails here, not in the cluster.
	serve := servecmd.NewCommand(iostreams.Streams{})
	if c.Args[0] != serve.Name() {
		t.Errorf("first argument %q, want the %q command", c.Args[0], serve.Name())
	}
	if err := serve.ParseFlags(c.Args[1:]); err != nil {
		t.Errorf("kubedelta serve rejects the chart's arguments %q: %v", args, err)
	}
	if strings.Contains(args, "--insecure") {
		t.Errorf("args %q: --insecure in a cluster", args)
	}
	// Every path an argument names is mounted.
	for _, a := range c.Args {
		_, path, ok := strings.Cut(a, "=/")
		if !ok {
			continue
		}
		path = "/" + path
		mounted := false
		for _, m := range c.VolumeMounts {
			if path == m.MountPath || strings.HasPrefix(path, m.MountPath+"/") {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("argument %s names a path no volume provides", a)
		}
	}
	for _, m := range c.VolumeMounts {
		if volume(d, m.Name) == nil {
			t.Errorf("mount %s has no volume", m.Name)
		}
	}
}

func volume(d *appsv1.Deployment, name string) *corev1.Volume {
	for i, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

// checkClusterRole: read-only, and never secrets or configmaps.
func checkClusterRole(t *testing.T, cr *rbacv1.ClusterRole) {
	t.Helper()
	for i, r := range cr.Rules {
		for _, v := range r.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("rule %d grants %q", i, v)
			}
		}
		for _, res := range r.Resources {
			if res == "*" || res == "secrets" || res == "configmaps" || strings.Contains(res, "/") {
				t.Errorf("rule %d grants resource %q", i, res)
			}
		}
		if slices.Contains(r.APIGroups, "*") || len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
			t.Errorf("rule %d: %+v", i, r)
		}
	}
}

func TestChartOverrides(t *testing.T) {
	tests := []struct {
		name   string
		rel    release
		values map[string]any
		check  func(t *testing.T, objs map[string]object)
	}{
		{
			name: "release name differs from the chart's",
			rel:  release{Name: "prod", Namespace: "security", Service: "Helm"},
			check: func(t *testing.T, objs map[string]object) {
				d := objs["Deployment/prod-kubedelta"].Obj.(*appsv1.Deployment)
				if d.Namespace != "security" || d.Spec.Template.Spec.ServiceAccountName != "prod-kubedelta" {
					t.Errorf("deployment %s/%s sa %s", d.Namespace, d.Name, d.Spec.Template.Spec.ServiceAccountName)
				}
				if _, ok := objs["PersistentVolumeClaim/prod-kubedelta-data"]; !ok {
					t.Error("no claim prod-kubedelta-data")
				}
			},
		},
		{
			name:   "fullnameOverride truncated to a DNS label",
			values: map[string]any{"fullnameOverride": strings.Repeat("k", 62) + "-x"},
			check: func(t *testing.T, objs map[string]object) {
				name := strings.Repeat("k", 62)
				if _, ok := objs["Deployment/"+name]; !ok {
					t.Errorf("want Deployment/%s (63 characters, trailing - trimmed)", name)
				}
			},
		},
		{
			name:   "existing claim",
			values: map[string]any{"persistence": map[string]any{"existingClaim": "my-data"}},
			check: func(t *testing.T, objs map[string]object) {
				for k := range objs {
					if strings.HasPrefix(k, "PersistentVolumeClaim/") {
						t.Errorf("rendered %s with an existing claim", k)
					}
				}
				d := objs["Deployment/kubedelta"].Obj.(*appsv1.Deployment)
				if v := volume(d, "data"); v.PersistentVolumeClaim.ClaimName != "my-data" {
					t.Errorf("claim %s", v.PersistentVolumeClaim.ClaimName)
				}
			},
		},
		{
			name: "client certificates, no tokens, extra args, pinned ClusterIP, scheduling",
			values: map[string]any{
				"auth":         map[string]any{"tokenSecretName": "", "clientCASecretName": "apiserver-ca"},
				"extraArgs":    []any{"--sink=alertmanager=http://am:9093,min-severity=high", "--retention=14d"},
				"service":      map[string]any{"clusterIP": "10.96.0.42"},
				"nodeSelector": map[string]any{"node-role.kubernetes.io/control-plane": ""},
				"tolerations":  []any{map[string]any{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}},
				"persistence":  map[string]any{"storageClassName": "fast", "keep": false},
				"podAnnotations": map[string]any{
					"prometheus.io/scrape": "true",
				},
			},
			check: func(t *testing.T, objs map[string]object) {
				d := objs["Deployment/kubedelta"].Obj.(*appsv1.Deployment)
				c := d.Spec.Template.Spec.Containers[0]
				args := strings.Join(c.Args, " ")
				if strings.Contains(args, "--token-file") || !strings.Contains(args, "--client-ca=/etc/kubedelta/client-ca/ca.crt") ||
					!strings.HasSuffix(args, "--sink=alertmanager=http://am:9093,min-severity=high --retention=14d") {
					t.Errorf("args %q", args)
				}
				if volume(d, "tokens") != nil || volume(d, "client-ca").Secret.SecretName != "apiserver-ca" {
					t.Error("volumes do not follow auth")
				}
				if len(d.Spec.Template.Spec.Tolerations) != 1 || d.Spec.Template.Annotations["prometheus.io/scrape"] != "true" {
					t.Errorf("pod spec %+v", d.Spec.Template.Spec)
				}
				if svc := objs["Service/kubedelta"].Obj.(*corev1.Service); svc.Spec.ClusterIP != "10.96.0.42" {
					t.Errorf("clusterIP %q", svc.Spec.ClusterIP)
				}
				pvc := objs["PersistentVolumeClaim/kubedelta-data"].Obj.(*corev1.PersistentVolumeClaim)
				if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "fast" || len(pvc.Annotations) != 0 {
					t.Errorf("pvc %+v", pvc.ObjectMeta)
				}
				checkDeployment(t, d)
			},
		},
		{
			name:   "no service account or RBAC",
			values: map[string]any{"serviceAccount": map[string]any{"create": false, "name": "inventory-reader"}, "rbac": map[string]any{"create": false}},
			check: func(t *testing.T, objs map[string]object) {
				for k := range objs {
					if strings.HasPrefix(k, "ServiceAccount/") || strings.HasPrefix(k, "ClusterRole") {
						t.Errorf("rendered %s", k)
					}
				}
				if sa := objs["Deployment/kubedelta"].Obj.(*appsv1.Deployment).Spec.Template.Spec.ServiceAccountName; sa != "inventory-reader" {
					t.Errorf("service account %q", sa)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := tt.rel
			if rel.Name == "" {
				rel = defaultRelease
			}
			objs, _ := renderAll(t, rel, tt.values)
			tt.check(t, objs)
		})
	}
}

// TestChartMissingValue: a template that names a value values.yaml lacks
// fails here (Helm would render it empty).
func TestChartMissingValue(t *testing.T) {
	values := loadValues(t)
	delete(values, "logLevel")
	if _, err := renderChartErr(loadChartMeta(t), values, defaultRelease); err == nil || !strings.Contains(err.Error(), "logLevel") {
		t.Errorf("err = %v, want one naming logLevel", err)
	}
}

// plainRender is what deploy/manifests/kubedelta.yaml must contain.
func plainRender(t *testing.T) string {
	t.Helper()
	rel := release{Name: "kubedelta", Namespace: "kubedelta", Service: "kubectl"}
	_, stream := renderAll(t, rel, map[string]any{"namespace": map[string]any{"create": true}})
	return plainHeader + stream
}

func TestPlainManifests(t *testing.T) {
	want := plainRender(t)
	if *update {
		if err := os.WriteFile(plainManifests, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(plainManifests)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is stale: go test ./deploy -run TestPlainManifests -update", plainManifests)
	}
	var objs []object
	for i, doc := range splitDocs(string(got)) {
		o, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("%s document %d: %v", plainManifests, i+1, err)
		}
		objs = append(objs, o)
	}
	if objs[0].Kind != "Namespace" || objs[0].Name != "kubedelta" {
		t.Fatalf("first object %s/%s: the Namespace must come first for kubectl apply", objs[0].Kind, objs[0].Name)
	}
	ns := objs[0].Obj.(*corev1.Namespace)
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace labels %v", ns.Labels)
	}
	for _, o := range objs {
		if o.Labels["app.kubernetes.io/managed-by"] != "kubectl" {
			t.Errorf("%s/%s managed-by %q", o.Kind, o.Name, o.Labels["app.kubernetes.io/managed-by"])
		}
	}
}

// TestClusterLoad loads the plain manifests and a chart rendering with
// internal/cluster, as kubedelta would read a dump, and checks with
// internal/rbac what the service account may do: read the inventory, not
// secrets, and write nothing.
func TestClusterLoad(t *testing.T) {
	_, rendered := renderAll(t, defaultRelease, nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rendered.yaml"), []byte(rendered), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{plainManifests, filepath.Join(dir, "rendered.yaml")} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			inv, err := cluster.Load([]string{path}, cluster.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Deployments) != 1 || len(inv.ServiceAccounts) != 1 || len(inv.ClusterRoles) != 1 ||
				len(inv.ClusterRoleBindings) != 1 || len(inv.Services) != 1 {
				t.Fatalf("inventory: %d deployments, %d service accounts, %d cluster roles, %d bindings, %d services",
					len(inv.Deployments), len(inv.ServiceAccounts), len(inv.ClusterRoles), len(inv.ClusterRoleBindings), len(inv.Services))
			}
			if inv.Skipped["v1/PersistentVolumeClaim"] != 1 {
				t.Errorf("skipped %v", inv.Skipped)
			}
			authz := rbac.NewAuthorizer(rbac.Objects{ClusterRoles: inv.ClusterRoles, ClusterRoleBindings: inv.ClusterRoleBindings})
			sa := "system:serviceaccount:kubedelta:kubedelta"
			groups := []string{"system:serviceaccounts", "system:serviceaccounts:kubedelta", "system:authenticated"}
			tests := []struct {
				verb, group, resource, sub, ns string
				allowed                        bool
			}{
				{"list", "", "pods", "", "", true},
				{"watch", "", "pods", "", "payments", true},
				{"get", "", "nodes", "", "", true},
				{"watch", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", true},
				{"list", "networking.k8s.io", "networkpolicies", "", "", true},
				{"watch", "apps", "replicasets", "", "", true},
				{"list", "batch", "cronjobs", "", "", true},
				{"get", "", "secrets", "", "kube-system", false},
				{"list", "", "secrets", "", "", false},
				{"get", "", "configmaps", "", "kubedelta", false},
				{"create", "", "pods", "", "default", false},
				{"create", "", "pods", "exec", "default", false},
				{"get", "", "pods", "log", "default", false},
				{"patch", "apps", "deployments", "", "kubedelta", false},
				{"create", "", "serviceaccounts", "token", "kubedelta", false},
				{"escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", false},
			}
			for _, tt := range tests {
				d := authz.Authorize(rbac.Request{User: sa, Groups: groups, Verb: tt.verb, APIGroup: tt.group, Resource: tt.resource, Subresource: tt.sub, Namespace: tt.ns})
				if d.Allowed != tt.allowed {
					t.Errorf("%s %s %s/%s in %q: allowed %v, want %v", sa, tt.verb, tt.resource, tt.sub, tt.ns, d.Allowed, tt.allowed)
				}
			}
		})
	}
}

// TestRendererSubset: text/template refuses, at parse time, a function it
// was not given, so a chart using a Helm function outside the renderer's
// subset (upper, tpl, lookup, ...) fails TestChartDefaults rather than
// being rendered wrongly.
func TestRendererSubset(t *testing.T) {
	root := template.New("x")
	root.Funcs(helmFuncs(root))
	if _, err := root.Parse(`{{ upper .Values.x }}`); err == nil || !strings.Contains(err.Error(), `"upper" not defined`) {
		t.Errorf("parse error = %v, want upper not defined", err)
	}
}
