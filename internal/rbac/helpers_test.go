package rbac

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// loadList reads a `kind: List` YAML file of RBAC objects into o. It is a
// test helper; the real loader is internal/cluster.
func loadList(t testing.TB, path string, o *Objects) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := yaml.Unmarshal(data, &list); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if list.Kind != "List" {
		t.Fatalf("%s: kind %q, want List", path, list.Kind)
	}
	for i, raw := range list.Items {
		var tm metav1.TypeMeta
		if err := json.Unmarshal(raw, &tm); err != nil {
			t.Fatalf("%s: items[%d]: %v", path, i, err)
		}
		var target any
		switch tm.Kind {
		case "Role":
			o.Roles = append(o.Roles, rbacv1.Role{})
			target = &o.Roles[len(o.Roles)-1]
		case "ClusterRole":
			o.ClusterRoles = append(o.ClusterRoles, rbacv1.ClusterRole{})
			target = &o.ClusterRoles[len(o.ClusterRoles)-1]
		case "RoleBinding":
			o.RoleBindings = append(o.RoleBindings, rbacv1.RoleBinding{})
			target = &o.RoleBindings[len(o.RoleBindings)-1]
		case "ClusterRoleBinding":
			o.ClusterRoleBindings = append(o.ClusterRoleBindings, rbacv1.ClusterRoleBinding{})
			target = &o.ClusterRoleBindings[len(o.ClusterRoleBindings)-1]
		default:
			t.Fatalf("%s: items[%d]: unexpected kind %q", path, i, tm.Kind)
		}
		if err := json.Unmarshal(raw, target); err != nil {
			t.Fatalf("%s: items[%d]: %v", path, i, err)
		}
	}
}

// bootstrapObjects returns the default RBAC policy of a Kubernetes cluster
// (testdata/bootstrap, see its README).
func bootstrapObjects(t testing.TB) Objects {
	t.Helper()
	var o Objects
	for _, f := range []string{"cluster-roles.yaml", "cluster-role-bindings.yaml", "namespace-roles.yaml", "namespace-role-bindings.yaml"} {
		loadList(t, filepath.Join("testdata", "bootstrap", f), &o)
	}
	return o
}

// rule builds a PolicyRule from comma-separated lists ("" = none, but an empty
// groups list of a resource rule is the core group), in the
// style of newRule in k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/rbac_test.go.
func rule(verbs, groups, resources, urls string) rbacv1.PolicyRule {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	pr := rbacv1.PolicyRule{Verbs: split(verbs), APIGroups: split(groups), Resources: split(resources), NonResourceURLs: split(urls)}
	if groups == "" && resources != "" {
		pr.APIGroups = []string{""} // the core group
	}
	return pr
}

func withNames(r rbacv1.PolicyRule, names ...string) rbacv1.PolicyRule {
	r.ResourceNames = names
	return r
}

func clusterRole(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func role(ns, name string, rules ...rbacv1.PolicyRule) rbacv1.Role {
	return rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
}

// subjects parses "Kind:name" or "ServiceAccount:ns/name" (ns may be empty).
func subjects(specs ...string) []rbacv1.Subject {
	out := make([]rbacv1.Subject, len(specs))
	for i, s := range specs {
		kind, name, _ := strings.Cut(s, ":")
		out[i] = rbacv1.Subject{Kind: kind, Name: name}
		switch kind {
		case rbacv1.ServiceAccountKind:
			ns, n, ok := strings.Cut(name, "/")
			if !ok {
				panic(fmt.Sprintf("service account %q: want ns/name", s))
			}
			out[i].Namespace, out[i].Name = ns, n
		case rbacv1.UserKind, rbacv1.GroupKind:
			out[i].APIGroup = rbacv1.GroupName
		}
	}
	return out
}

func crb(name, roleName string, subs ...string) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: KindClusterRole, Name: roleName},
		Subjects:   subjects(subs...),
	}
}

func rb(ns, name, roleKind, roleName string, subs ...string) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: roleKind, Name: roleName},
		Subjects:   subjects(subs...),
	}
}

// res builds a resource request; "pods/exec" sets the subresource.
func res(user, groups, verb, group, resource, ns, name string) Request {
	r := Request{User: user, Verb: verb, APIGroup: group, Namespace: ns, Name: name}
	r.Resource, r.Subresource, _ = strings.Cut(resource, "/")
	if groups != "" {
		r.Groups = strings.Split(groups, ",")
	}
	return r
}

func nonRes(user, groups, verb, path string) Request {
	r := Request{User: user, Verb: verb, Path: path}
	if groups != "" {
		r.Groups = strings.Split(groups, ",")
	}
	return r
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the output (go test -run %s -update rewrites it); got:\n%s", path, t.Name(), got)
	}
}
