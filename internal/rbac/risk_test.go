package rbac

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func riskMap(risks []Risk) map[string]Severity {
	m := map[string]Severity{}
	for _, r := range risks {
		m[r.ID] = r.Severity
	}
	return m
}

func TestRulesRisks(t *testing.T) {
	tests := []struct {
		name      string
		rule      rbacv1.PolicyRule
		namespace string
		want      map[string]Severity // must be present with this severity
		absent    []string
	}{
		{"list secrets cluster-wide is critical", rule("list", "", "secrets", ""), "",
			map[string]Severity{"secrets-list": SeverityCritical}, []string{"secrets-get"}},
		{"list secrets in a namespace is high", rule("watch", "", "secrets", ""), "team-a",
			map[string]Severity{"secrets-list": SeverityHigh}, nil},
		{"kube-system counts as cluster-wide", rule("get", "", "secrets", ""), "kube-system",
			map[string]Severity{"secrets-get": SeverityHigh}, nil},
		{"wildcards grant the specific risks", rule("*", "*", "*", ""), "",
			map[string]Severity{"wildcard-all": SeverityCritical, "secrets-list": SeverityCritical, "pods-exec": SeverityCritical,
				"rbac-escalate": SeverityCritical, "impersonate-users": SeverityCritical, "nodes-proxy": SeverityCritical,
				"admission-webhooks-write": SeverityCritical, "workloads-create": SeverityCritical}, nil},
		{"star verb on secrets", rule("*", "", "secrets", ""), "ns",
			map[string]Severity{"secrets-list": SeverityHigh, "secrets-get": SeverityMedium, "wildcard-verbs": SeverityLow}, []string{"wildcard-all", "pods-exec"}},
		{"star group still needs the resource", rule("create", "*", "deployments", ""), "",
			map[string]Severity{"workloads-create": SeverityCritical, "wildcard-apigroups": SeverityMedium}, []string{"pods-create"}},
		{"*/exec grants exec", rule("create", "", "*/exec", ""), "",
			map[string]Severity{"pods-exec": SeverityCritical}, []string{"pods-attach"}},
		{"exec by get (websocket)", rule("get", "", "pods/exec", ""), "ns",
			map[string]Severity{"pods-exec": SeverityHigh}, nil},
		{"cluster-scoped risks are not granted in a namespace", rule("*", "*", "*", ""), "team-a",
			map[string]Severity{"wildcard-all": SeverityHigh, "secrets-list": SeverityHigh},
			[]string{"nodes-proxy", "impersonate-users", "admission-webhooks-write", "persistentvolumes-create"}},
		{"resourceNames lower severity", withNames(rule("get", "", "secrets", ""), "db-password"), "",
			map[string]Severity{"secrets-get": SeverityMedium}, []string{"secrets-list"}},
		{"impersonate a named user", withNames(rule("impersonate", "", "users", ""), "jane"), "",
			map[string]Severity{"impersonate-users": SeverityHigh}, nil},
		{"userextras subresource", rule("impersonate", "authentication.k8s.io", "userextras/scopes", ""), "",
			map[string]Severity{"impersonate-uids-extras": SeverityMedium}, nil},
		{"signers approve", withNames(rule("approve", "certificates.k8s.io", "signers", ""), "kubernetes.io/kube-apiserver-client"), "",
			map[string]Severity{"signers-approve": SeverityMedium}, nil},
		{"configmaps write matters in kube-system only", rule("update", "", "configmaps", ""), "kube-system",
			map[string]Severity{"kube-system-configmaps-write": SeverityHigh}, nil},
		{"configmaps write elsewhere is not a risk", rule("update", "", "configmaps", ""), "team-a", nil,
			[]string{"kube-system-configmaps-write"}},
		{"non-resource wildcard", rule("get", "", "", "*"), "",
			map[string]Severity{"nonresource-wildcard": SeverityLow}, []string{"wildcard-verbs", "wildcard-all"}},
		{"read-only workload access is not a risk", rule("get,list,watch", "apps", "deployments,statefulsets", ""), "", nil,
			[]string{"workloads-create", "workloads-update"}},
		{"update daemonsets", rule("patch", "apps", "daemonsets", ""), "ns",
			map[string]Severity{"workloads-update": SeverityHigh}, []string{"workloads-create"}},
		{"ephemeral containers", rule("patch", "", "pods/ephemeralcontainers", ""), "",
			map[string]Severity{"pods-ephemeralcontainers": SeverityCritical}, nil},
		{"token requests", rule("create", "", "serviceaccounts/token", ""), "ns",
			map[string]Severity{"serviceaccounts-token": SeverityHigh}, nil},
		{"csr approval", rule("update", "certificates.k8s.io", "certificatesigningrequests/approval", ""), "",
			map[string]Severity{"csr-approve": SeverityHigh}, []string{"csr-create"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			risks := RulesRisks(tt.rule, tt.namespace)
			got := riskMap(risks)
			for id, sev := range tt.want {
				if s, ok := got[id]; !ok || s != sev {
					t.Errorf("%s: got %v (present %v), want %v; all: %+v", id, s, ok, sev, risks)
				}
			}
			for _, id := range tt.absent {
				if _, ok := got[id]; ok {
					t.Errorf("%s should not be granted; all: %+v", id, risks)
				}
			}
			if !slices.IsSortedFunc(risks, func(a, b Risk) int { return int(b.Severity) - int(a.Severity) }) {
				t.Errorf("risks not sorted by severity: %+v", risks)
			}
			for _, r := range risks {
				if !strings.Contains(r.Reason, scopeText(tt.namespace)) {
					t.Errorf("reason %q does not state the scope", r.Reason)
				}
			}
		})
	}
}

func TestCatalogue(t *testing.T) {
	cat := Catalogue()
	seen := map[string]bool{}
	for _, d := range cat {
		if d.ID == "" || d.What == "" || d.Why == "" {
			t.Errorf("incomplete entry %+v", d)
		}
		if seen[d.ID] {
			t.Errorf("duplicate id %s", d.ID)
		}
		seen[d.ID] = true
		if (d.structural == nil) == (len(d.probes) == 0) {
			t.Errorf("%s: needs exactly one of probes or structural", d.ID)
		}
		if !d.ClusterScoped && len(d.Namespaces) == 0 && d.NamespacedSeverity > d.Severity {
			t.Errorf("%s: namespaced severity above cluster-wide", d.ID)
		}
	}
	// the brief's minimum
	for _, id := range []string{"rbac-escalate", "rbac-bind", "impersonate-users", "impersonate-serviceaccounts", "impersonate-uids-extras",
		"secrets-list", "secrets-get", "pods-exec", "pods-attach", "pods-portforward", "pods-ephemeralcontainers", "pods-create",
		"workloads-create", "workloads-update", "nodes-proxy", "serviceaccounts-token", "csr-create", "csr-approve", "signers-approve",
		"admission-webhooks-write", "wildcard-verbs", "wildcard-resources", "wildcard-apigroups", "persistentvolumes-create", "nodes-status"} {
		if !seen[id] {
			t.Errorf("catalogue lacks %s", id)
		}
	}
	// Catalogue returns a copy
	cat[0].ID = "changed"
	if Catalogue()[0].ID == "changed" {
		t.Error("Catalogue returned shared data")
	}

	// docs/rbac-risks.md documents every entry with its severities
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "rbac-risks.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Catalogue() {
		row := "| `" + d.ID + "` |"
		i := strings.Index(string(doc), row)
		if i < 0 {
			t.Errorf("docs/rbac-risks.md has no row for %s", d.ID)
			continue
		}
		line, _, _ := strings.Cut(string(doc[i:]), "\n")
		if !strings.Contains(line, d.Severity.String()) {
			t.Errorf("docs/rbac-risks.md row for %s does not state severity %s: %s", d.ID, d.Severity, line)
		}
	}
}

func TestSeverity(t *testing.T) {
	for s := SeverityInfo; s <= SeverityCritical; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v → %s → %v, %v", s, b, back, err)
		}
		if p, err := ParseSeverity(strings.ToUpper(s.String())); err != nil || p != s {
			t.Errorf("ParseSeverity(%q) = %v, %v", strings.ToUpper(s.String()), p, err)
		}
	}
	if _, err := ParseSeverity("severe"); !errors.Is(err, ErrInvalidSeverity) {
		t.Errorf("ParseSeverity(severe) error %v", err)
	}
	if _, err := Severity(9).MarshalText(); err == nil {
		t.Error("MarshalText(9) should fail")
	}
	b, err := json.Marshal(Risk{ID: "x", Severity: SeverityHigh})
	if err != nil || !strings.Contains(string(b), `"severity":"high"`) {
		t.Errorf("json: %s, %v", b, err)
	}
	if SeverityInfo.lower() != SeverityInfo || SeverityHigh.lower() != SeverityMedium {
		t.Error("lower")
	}
}
