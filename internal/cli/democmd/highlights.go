package democmd

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/netpol"
	ndelta "github.com/kubedelta/kubedelta/internal/netpol/delta"
	"github.com/kubedelta/kubedelta/internal/rbac"
	rdelta "github.com/kubedelta/kubedelta/internal/rbac/delta"
	"github.com/kubedelta/kubedelta/internal/sim"
)

func section(w io.Writer, title string) {
	fmt.Fprintf(w, "\n== %s ==\n", title)
}

func subjectName(kind, ns, name string) string {
	if ns != "" {
		return kind + " " + ns + "/" + name
	}
	return kind + " " + name
}

// rbacHighlights: the most over-provisioned identities and the
// least-privilege Role for the worst one that is in use.
func rbacHighlights(w io.Writer, authz *rbac.Authorizer, usage *baseline.APIUsage) {
	section(w, "RBAC: granted but never used (kubedelta rbac unused)")
	rep := rdelta.Unused(authz, usage, rdelta.Options{})
	var target *rdelta.SubjectReport
	shown := 0
	for i := range rep.Subjects {
		sr := &rep.Subjects[i]
		if len(sr.Unused) == 0 {
			continue
		}
		if shown < 5 {
			note := fmt.Sprintf("%d unused rules", len(sr.Unused))
			if sr.Inactive {
				note += ", no activity at all: remove its bindings"
			}
			fmt.Fprintf(w, "  %-8s %-50s %s\n", sr.Risk, subjectName(sr.Kind, sr.Namespace, sr.Name), note)
			if u := sr.Unused[0]; u.Risk != "info" {
				fmt.Fprintf(w, "           worst: %s — %s\n", unusedText(u), firstReason(u.Why))
			}
			shown++
		}
		if target == nil && !sr.Inactive && len(sr.Granted) > 0 {
			target = sr
		}
	}
	if target == nil {
		return
	}
	subj := rbac.Subject{Kind: target.Kind, Namespace: target.Namespace, Name: target.Name}
	sgs := rdelta.Suggest(authz, usage, rdelta.SuggestOptions{Subjects: []rbac.Subject{subj}})
	if len(sgs) == 0 {
		return
	}
	sg := sgs[0]
	fmt.Fprintf(w, "\n  Least privilege for %s (kubedelta rbac suggest), replacing %d binding(s):\n", subj, len(sg.Replaces))
	for _, r := range sg.ClusterRoles {
		for _, rule := range r.Rules {
			fmt.Fprintf(w, "    ClusterRole %-30s %s\n", r.Name, ruleText(rule))
		}
	}
	for _, r := range sg.Roles {
		for _, rule := range r.Rules {
			fmt.Fprintf(w, "    Role %-18s in %-12s %s\n", r.Name, r.Namespace, ruleText(rule))
		}
	}
}

func ruleText(r any) string {
	b, _ := yaml.Marshal(r)
	return strings.ReplaceAll(strings.TrimSpace(string(flowYAML(b))), "\n", " ")
}

// flowYAML compacts block YAML lists into one line per rule for display.
func flowYAML(b []byte) []byte {
	var m map[string][]string
	if yaml.Unmarshal(b, &m) != nil {
		return b
	}
	var parts []string
	for _, k := range []string{"verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"} {
		if v, ok := m[k]; ok {
			parts = append(parts, k+"="+strings.Join(quoteEmpty(v), ","))
		}
	}
	return []byte(strings.Join(parts, " "))
}

func quoteEmpty(v []string) []string {
	out := slices.Clone(v)
	for i, s := range out {
		if s == "" {
			out[i] = `""`
		}
	}
	return out
}

func unusedText(u rdelta.UnusedRule) string {
	what := strings.Join(u.Resources, ",")
	if len(u.NonResourceURLs) > 0 {
		what = strings.Join(u.NonResourceURLs, ",")
	}
	scope := "cluster-wide"
	if u.Namespace != "" {
		scope = "in " + u.Namespace
	}
	return strings.Join(u.Verbs, ",") + " " + what + " " + scope
}

func firstReason(why string) string {
	parts := strings.Split(why, "; ")
	if len(parts) > 1 {
		return parts[1]
	}
	return why
}

// netpolHighlights: the largest unused reach and the policy that removes it.
func netpolHighlights(w io.Writer, inv *cluster.Inventory, idx *cluster.Index, eng *netpol.Engine, edges *ndelta.Edges, s iostreams.Streams) {
	section(w, "Network: allowed but never used (kubedelta netpol unused)")
	rep := ndelta.Unused(eng, idx, edges)
	if len(rep.UnprotectedNamespaces) > 0 {
		fmt.Fprintf(w, "  %d namespaces have no NetworkPolicy at all: %s\n", len(rep.UnprotectedNamespaces), shortList(rep.UnprotectedNamespaces, 6))
	}
	for i, wr := range rep.Workloads {
		if i == 3 {
			break
		}
		fmt.Fprintf(w, "  %s\n", wr.Summary)
	}
	if len(rep.Workloads) == 0 {
		return
	}
	top := rep.Workloads[0]
	sug, err := ndelta.Suggest(inv, idx, eng, edges, ndelta.SuggestOptions{Namespaces: []string{top.Namespace}, PodNetworks: ndelta.PodNetworks(inv)})
	if err != nil {
		s.Logger.Warn("netpol suggest", "error", err)
		return
	}
	name := ndelta.PolicyName(top.Workload)
	for _, rc := range sug.Reach {
		if rc.Workload == top.Workload {
			fmt.Fprintf(w, "\n  NetworkPolicy %s/%s (kubedelta netpol suggest) cuts its reach: may reach %d→%d pods, external %s→%s; may be reached from %d→%d pods\n",
				top.Namespace, name, rc.Egress.PodsBefore, rc.Egress.PodsAfter, rc.Egress.ExternalBefore, rc.Egress.ExternalAfter,
				rc.Ingress.PodsBefore, rc.Ingress.PodsAfter)
		}
	}
	for _, pol := range sug.Policies {
		if pol.Name != name {
			continue
		}
		b, err := yaml.Marshal(pol.Spec)
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for i, l := range lines {
			if i == 30 {
				fmt.Fprintf(w, "    … (%d more lines: kubedelta netpol suggest prints it all)\n", len(lines)-30)
				break
			}
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}

func shortList(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(" and %d more", len(s)-n)
}

// alertHighlights prints the top alerts and a count per severity.
func alertHighlights(w io.Writer, alerts []detect.Alert, top int) {
	section(w, "Alerts, ranked (kubedelta analyze)")
	var bySev [5]int
	for _, a := range alerts {
		if i := int(a.Severity); i >= 0 && i < 5 {
			bySev[i]++
		}
	}
	fmt.Fprintf(w, "  %d alerts: %d critical, %d high, %d medium, %d low, %d info\n\n",
		len(alerts), bySev[4], bySev[3], bySev[2], bySev[1], bySev[0])
	t := output.NewTable(w)
	fmt.Fprintln(t, "  SEVERITY\tRULE\tWHO\tCOUNT\tMESSAGE")
	for i, a := range alerts {
		if i == top {
			break
		}
		who := a.Subject
		if who == "" {
			who = a.Workload
		}
		fmt.Fprintf(t, "  %s\t%s\t%s\t%d\t%s\n", a.Severity, a.Rule, clip(who, 44), a.Count, clip(a.Message, 90))
	}
	_ = t.Flush()
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// groundTruth says which injected attacks raised one of the alerts they
// should (around the attack's time).
func groundTruth(w io.Writer, attacks []sim.AttackTruth, alerts []detect.Alert) {
	if len(attacks) == 0 {
		return
	}
	section(w, "Injected attacks (ground truth) and what caught them")
	found := 0
	for _, at := range attacks {
		var hits []string
		for _, a := range alerts {
			if !slices.Contains(at.Rules, a.Rule) {
				continue
			}
			end := at.End
			if end.IsZero() {
				end = at.Time
			}
			if a.LastSeen.Before(at.Time.Add(-time.Minute)) || a.FirstSeen.After(end.Add(30*time.Minute)) {
				continue
			}
			if !slices.Contains(hits, a.Rule) {
				hits = append(hits, a.Rule)
			}
		}
		mark := "missed"
		if len(hits) > 0 {
			found++
			mark = "caught by " + strings.Join(hits, ", ")
		}
		fmt.Fprintf(w, "  %-22s %s  %s\n", at.Attack, at.Time.UTC().Format("Mon 15:04"), mark)
	}
	fmt.Fprintf(w, "  %d of %d attacks detected.\n", found, len(attacks))
}
