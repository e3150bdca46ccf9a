package rbaccmd_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	rbacv1 "k8s.io/api/rbac/v1"
)

// The bundled example is the golden scenario: its story (examples/README.md)
// says what must be found.
const (
	exampleCluster = "../../../examples/cluster"
	exampleAudit   = "../../../examples/audit.jsonl.gz"
)

func TestUnusedExampleGolden(t *testing.T) {
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			out, errs, code := run(t, "", "rbac", "unused", "--cluster", exampleCluster, "--audit", exampleAudit, "-o", format)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			golden(t, filepath.Join("testdata", "unused-example."+format+".golden"), out)
		})
	}
}

func TestUnusedExampleFindings(t *testing.T) {
	out, errs, code := run(t, "", "rbac", "unused", "--cluster", exampleCluster, "--audit", exampleAudit, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Window   struct{ From, To string }
		Subjects []struct {
			Kind, Name, Namespace, Risk string
			Inactive                    bool
			Unused                      []struct{ Verbs, Resources []string }
			Denied                      []struct{ Verb, Resource string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Window.From == "" || rep.Window.To == "" {
		t.Errorf("window not set: %+v", rep.Window)
	}
	bySubject := map[string]int{}
	for i, s := range rep.Subjects {
		bySubject[s.Kind+":"+s.Namespace+":"+s.Name] = i
	}
	get := func(key string) int {
		i, ok := bySubject[key]
		if !ok {
			t.Fatalf("subject %s missing from the report", key)
		}
		return i
	}
	// The CI bot bound to cluster-admin is the critical finding.
	if s := rep.Subjects[get("ServiceAccount:ci:deployer")]; s.Risk != "critical" || len(s.Unused) == 0 {
		t.Errorf("ci/deployer: risk %s, %d unused; want critical", s.Risk, len(s.Unused))
	}
	if s := rep.Subjects[get("User::carol")]; !s.Inactive {
		t.Errorf("carol has grants and no activity: want inactive")
	}
	if s := rep.Subjects[get("ServiceAccount:shop:cart")]; len(s.Denied) == 0 {
		t.Errorf("shop/cart's stolen token was denied: want its denials listed")
	}
	if rep.Subjects[0].Risk != "critical" {
		t.Errorf("ranked by risk: first subject is %s", rep.Subjects[0].Risk)
	}
}

func TestSuggestExampleGolden(t *testing.T) {
	args := []string{"rbac", "suggest", "--cluster", exampleCluster, "--audit", exampleAudit}
	out, errs, code := run(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, filepath.Join("testdata", "suggest-example.golden"), out)
	// Every document is a valid RBAC object.
	for i, doc := range strings.Split(out, "\n---\n")[1:] {
		var obj struct {
			Kind  string
			Rules []rbacv1.PolicyRule
		}
		if err := yaml.UnmarshalStrict([]byte(stripComments(doc)), &obj, yaml.DisallowUnknownFields); err != nil && !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("document %d: %v", i, err)
		}
		if obj.Kind == "" {
			t.Errorf("document %d has no kind:\n%s", i, doc)
		}
	}
	diff, errs, code := run(t, "", append(args, "--diff", "--subject", "ServiceAccount:ci:deployer")...)
	if code != 0 {
		t.Fatalf("--diff exit %d: %s", code, errs)
	}
	golden(t, filepath.Join("testdata", "suggest-diff-example.golden"), diff)
}

func stripComments(doc string) string {
	var keep []string
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(l, "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
