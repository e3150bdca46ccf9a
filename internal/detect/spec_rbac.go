package detect

import (
	"cmp"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

const (
	specRBACGroup = "rbac.authorization.k8s.io"
	specCertGroup = "certificates.k8s.io"
)

// specEscalationDetector is rbac.escalation: writes that hand out more
// power than the writer is expected to — bindings to high-risk roles,
// roles with escalation-grade rules, changes to the built-in system:
// objects, impersonation of privileged identities, service-account tokens
// minted by people, client certificates requested or approved, and the
// kubelet API reached through nodes/proxy.
type specEscalationDetector struct {
	sys *specIdentities
	log *slog.Logger
}

func (d *specEscalationDetector) Rules() []Rule {
	return []Rule{{
		ID: RuleRBACEscalation, Category: CategoryRBAC, Severity: Critical,
		MITRE:   []string{"T1098", "T1098.006", "T1134", "T1078", "T1552.007", "T1528", "T1649", "T1611", "T1609"},
		Summary: "a binding to cluster-admin or another high-risk role; a role written with wildcards, escalate, bind, impersonate or exec rules; a system: role or binding changed by a non-system identity; impersonation of a privileged identity; a service-account token, client certificate or CSR approval requested by a person; nodes/proxy access",
	}}
}

func (d *specEscalationDetector) API(s *State, r *event.APIRequest, emit Emit) {
	if !r.Impersonated.IsZero() {
		d.impersonation(s, r, emit)
	}
	switch r.Resource {
	case "rolebindings", "clusterrolebindings":
		if r.APIGroup == specRBACGroup && r.Subresource == "" && specRBACVerb(r.Verb) {
			d.binding(s, r, emit)
		}
	case "roles", "clusterroles":
		if r.APIGroup == specRBACGroup && r.Subresource == "" && specRBACVerb(r.Verb) {
			d.role(s, r, emit)
		}
	case "serviceaccounts":
		if r.Subresource == "token" && r.Verb == "create" && r.APIGroup == "" {
			d.token(s, r, emit)
		}
	case "certificatesigningrequests":
		if r.APIGroup != specCertGroup {
			return
		}
		switch {
		case r.Subresource == "" && r.Verb == "create":
			d.csrCreate(r, emit)
		case r.Subresource == "approval" && (r.Verb == "update" || r.Verb == "patch"):
			d.csrApprove(r, emit)
		}
	case "nodes":
		if r.Subresource == "proxy" && r.APIGroup == "" {
			d.nodeProxy(s, r, emit)
		}
	}
}

func specRBACVerb(verb string) bool { return specWriteVerb(verb) || verb == "delete" }

// systemRequest reports whether both the authenticated and the effective
// identity are control-plane identities.
func (ids *specIdentities) systemRequest(r *event.APIRequest) bool {
	return ids.system(r.User.Username) && (r.Impersonated.IsZero() || ids.system(r.Impersonated.Username))
}

// specSystemObject reports the built-in roles and bindings (named system:*)
// whose change alters Kubernetes' own permissions. system:coredns is
// installed by cluster tooling under an admin identity, not by the API
// server, and is left out.
func specSystemObject(name string) bool {
	return strings.HasPrefix(name, "system:") && name != "system:coredns"
}

func (d *specEscalationDetector) binding(s *State, r *event.APIRequest, emit Emit) {
	if d.sys.systemRequest(r) || !specJudged(r) {
		return
	}
	kind := rbac.KindRoleBinding
	scope := r.Namespace
	if r.Resource == "clusterrolebindings" {
		kind, scope = rbac.KindClusterRoleBinding, ""
	}
	var fs specFindings
	if specSystemObject(r.Name) {
		fs.add(specFinding{id: "system-object", sev: High,
			text: "a built-in system: binding (Kubernetes' own permissions) " + specPastTense(r.Verb)})
	}
	var ev []Evidence
	if r.Verb != "delete" {
		ref, subjects, note := d.bindingBody(r)
		if note != "" {
			ev = append(ev, specAuditEvidence(r, note))
		}
		switch {
		case ref != nil:
			sev, reasons, known := specRoleRisk(s, *ref, scope)
			raise, who := specBroadSubjects(subjects)
			text := "binding " + ref.Kind + " " + ref.Name
			if len(subjects) > 0 {
				text += " to " + specSubjectsText(subjects)
			}
			switch {
			case !known && (raise > 0 || specKnownCall(s, r, r.Actor().Username) == nil):
				fs.add(specFinding{id: "role:" + ref.Kind + "/" + ref.Name, sev: specRaise(Low, raise),
					text: text + " (its rules are not in the inventory)" + who})
			case sev >= High || raise > 0 && sev >= Low:
				fs.add(specFinding{id: "role:" + ref.Kind + "/" + ref.Name, sev: specRaise(sev, raise),
					text: text + " (" + strings.Join(reasons, "; ") + ")" + who})
			}
		case note == specBodyMissing && specKnownCall(s, r, r.Actor().Username) == nil:
			// Unjudged writes are worth a look the first time an identity
			// makes them, not at every GitOps sync.
			fs.add(specFinding{id: "unjudged", sev: Low, text: "a binding whose role is unknown"})
		}
	}
	if len(fs) == 0 {
		return
	}
	d.emit(r, emit, kind, fs, ev, []string{"T1098", "T1098.006"})
}

// bindingBody returns the role a binding write references and its
// subjects: from the request body, else (patches rarely carry the
// immutable roleRef) from the response body.
func (d *specEscalationDetector) bindingBody(r *event.APIRequest) (*specRoleRef, []specSubject, string) {
	if len(r.RequestObject) == 0 && len(r.ResponseObject) == 0 {
		return nil, nil, specBodyMissing
	}
	var ref *specRoleRef
	var subjects []specSubject
	note := ""
	for _, body := range [2][]byte{r.RequestObject, r.ResponseObject} {
		if len(body) == 0 || ref != nil {
			continue
		}
		objs, err := specDecodeBody(body)
		if err != nil {
			d.log.Debug("rbac.escalation: undecodable binding body", "auditID", r.AuditID, "err", err)
			note = "binding body could not be decoded: " + specClip(err.Error(), 120)
			continue
		}
		for i := range objs {
			if objs[i].RoleRef != nil && objs[i].RoleRef.Name != "" {
				ref = objs[i].RoleRef
			}
			for _, sj := range objs[i].Subjects {
				if !slices.Contains(subjects, sj) {
					subjects = append(subjects, sj)
				}
			}
		}
	}
	return ref, subjects, note
}

// specRoleRisk rates what a binding in scope ("" cluster-wide) to ref
// grants: from the role's effective rules when the inventory has them
// (rbac.RulesRisks), else from the default roles' known reach. known is
// false when the role cannot be judged.
func specRoleRisk(s *State, ref specRoleRef, scope string) (sev Severity, reasons []string, known bool) {
	if ref.Kind == rbac.KindClusterRole && ref.Name == "cluster-admin" {
		return Critical, []string{"cluster-admin: every verb on every resource"}, true
	}
	if s.Authorizer != nil {
		roleNS := scope
		if ref.Kind == rbac.KindClusterRole {
			roleNS = ""
		}
		if rules, ok := s.Authorizer.EffectiveRules(rbac.Ref{Kind: ref.Kind, Namespace: roleNS, Name: ref.Name}); ok {
			sev, reasons = specRulesRisk(rules, scope, nil)
			return sev, reasons, true
		}
	}
	if ref.Kind == rbac.KindClusterRole {
		switch ref.Name {
		case "admin", "edit":
			sev = High
			if scope == "" || scope == "kube-system" {
				sev = Critical
			}
			return sev, []string{ref.Name + ": secrets, pods/exec and every workload" + specScopeText(scope)}, true
		case "view":
			return Low, []string{"view: read-only, no secrets"}, true
		}
	}
	return Info, nil, false
}

func specScopeText(scope string) string {
	if scope == "" {
		return " cluster-wide"
	}
	return " in " + scope
}

// specRulesRisk rates rules granted in scope with rbac.RulesRisks: the
// worst severity and up to three distinct reasons, worst first. keep, when
// set, limits the catalogue entries considered.
func specRulesRisk(rules []rbacv1.PolicyRule, scope string, keep func(id string) bool) (Severity, []string) {
	var all []rbac.Risk
	for _, rule := range rules {
		for _, rk := range rbac.RulesRisks(rule, scope) {
			if keep != nil && !keep(rk.ID) {
				continue
			}
			if !slices.ContainsFunc(all, func(x rbac.Risk) bool { return x.ID == rk.ID }) {
				all = append(all, rk)
			}
		}
	}
	if len(all) == 0 {
		return Info, nil
	}
	slices.SortStableFunc(all, func(a, b rbac.Risk) int { return cmp.Compare(b.Severity, a.Severity) })
	reasons := make([]string, 0, 3)
	for i, rk := range all {
		if i == 3 {
			reasons = append(reasons, strconv.Itoa(len(all)-3)+" more")
			break
		}
		reasons = append(reasons, rk.ID+": "+rk.Reason)
	}
	return all[0].Severity, reasons
}

// specBroadSubjects reports how much binding to subjects widens a grant:
// 2 for everyone (anonymous, unauthenticated), 1 for every authenticated
// user or every service account, with the words to say so.
func specBroadSubjects(subjects []specSubject) (int, string) {
	raise, who := 0, ""
	for _, sj := range subjects {
		switch {
		case sj.Kind == rbacv1.GroupKind && sj.Name == rbac.GroupUnauthenticated,
			sj.Kind == rbacv1.UserKind && sj.Name == "system:anonymous":
			raise, who = 2, ": granted to anonymous requests"
		case raise < 1 && sj.Kind == rbacv1.GroupKind && sj.Name == rbac.GroupAuthenticated:
			raise, who = 1, ": granted to every authenticated user"
		case raise < 1 && sj.Kind == rbacv1.GroupKind && sj.Name == rbac.GroupServiceAccounts:
			raise, who = 1, ": granted to every service account"
		}
	}
	return raise, who
}

func specSubjectsText(subjects []specSubject) string {
	texts := make([]string, 0, len(subjects))
	for _, sj := range subjects {
		t := sj.Kind + " "
		if sj.Namespace != "" {
			t += sj.Namespace + "/"
		}
		texts = append(texts, t+sj.Name)
	}
	return specJoinMax(texts, 3)
}

// specEscalationRisk is the part of the risk catalogue that makes a role an
// escalation path: wildcards, escalate, bind, impersonation, running code
// in other containers, minting credentials, the kubelet API, admission.
func specEscalationRisk(id string) bool {
	switch id {
	case "wildcard-all", "wildcard-verbs", "wildcard-resources", "wildcard-apigroups",
		"rbac-escalate", "rbac-bind",
		"impersonate-users", "impersonate-serviceaccounts", "impersonate-uids-extras",
		"pods-exec", "pods-attach", "pods-ephemeralcontainers",
		"serviceaccounts-token", "nodes-proxy", "csr-approve", "signers-approve", "signers-sign",
		"admission-webhooks-write":
		return true
	}
	return false
}

func (d *specEscalationDetector) role(s *State, r *event.APIRequest, emit Emit) {
	if d.sys.systemRequest(r) || !specJudged(r) {
		return
	}
	kind, scope := rbac.KindRole, r.Namespace
	if r.Resource == "clusterroles" {
		kind, scope = rbac.KindClusterRole, "" // may be bound anywhere: rate it cluster-wide
	}
	var fs specFindings
	var ev []Evidence
	if specSystemObject(r.Name) {
		fs.add(specFinding{id: "system-object", sev: High,
			text: "a built-in system: role (Kubernetes' own permissions) " + specPastTense(r.Verb)})
	}
	if r.Verb != "delete" {
		switch {
		case len(r.RequestObject) == 0:
			if specKnownCall(s, r, r.Actor().Username) == nil {
				fs.add(specFinding{id: "unjudged", sev: Low, text: "rules unknown"})
				ev = append(ev, specAuditEvidence(r, specBodyMissing))
			}
		default:
			objs, err := specDecodeBody(r.RequestObject)
			if err != nil {
				d.log.Debug("rbac.escalation: undecodable role body", "auditID", r.AuditID, "err", err)
				ev = append(ev, specAuditEvidence(r, "role body could not be decoded: "+specClip(err.Error(), 120)))
			}
			var rules []rbacv1.PolicyRule
			aggregated := ""
			for i := range objs {
				rules = append(rules, objs[i].Rules...)
				for k, v := range objs[i].Metadata.Labels {
					if to, ok := strings.CutPrefix(k, "rbac.authorization.k8s.io/aggregate-to-"); ok && v == "true" {
						aggregated = to
					}
				}
			}
			if sev, reasons := specRulesRisk(rules, scope, specEscalationRisk); len(reasons) > 0 {
				text := "rules granting " + strings.Join(reasons, "; ")
				if aggregated != "" {
					sev = specRaise(sev, 1)
					text += ", aggregated into the " + aggregated + " role (every holder of " + aggregated + " gets them)"
				}
				fs.add(specFinding{id: "rules", sev: sev, text: text})
			}
		}
	}
	if len(fs) == 0 {
		return
	}
	d.emit(r, emit, kind, fs, ev, []string{"T1098", "T1098.006"})
}

// emit reports one RBAC object write.
func (d *specEscalationDetector) emit(r *event.APIRequest, emit Emit, kind string, fs specFindings, ev []Evidence, mitre []string) {
	sev, score, _ := fs.rank()
	obj := kind + " " + r.Name
	if r.Namespace != "" {
		obj = kind + " " + r.Namespace + "/" + r.Name
	}
	why := "hands out more power than it should"
	switch {
	case kind == rbac.KindRole || kind == rbac.KindClusterRole:
		why = "an escalation path for whoever it is bound to"
	case sev >= High:
		why = "grants high-risk permissions"
	}
	ev = append([]Evidence{specAuditEvidence(r, specRequestLine(r))}, ev...)
	emit(Alert{
		Time: r.Time, Rule: RuleRBACEscalation, Category: CategoryRBAC, Severity: sev, Score: score,
		Subject: r.Actor().Username, Namespace: r.Namespace,
		Message:  specActorText(r) + " " + specPastTense(r.Verb) + " " + obj + ": " + fs.summary(3) + " — " + why,
		Evidence: ev, MITRE: mitre,
		Key: kind + "/" + r.Namespace + "/" + r.Name + " " + fs.key(),
	})
}

// specPrivilegedIdentity says why an identity is privileged ("" if not).
// Without the inventory only names and groups decide; with it, an identity
// holding escalation-grade permissions cluster-wide is privileged too.
func specPrivilegedIdentity(s *State, id event.Identity, namespace string) (Severity, string) {
	u := id.Username
	switch {
	case slices.Contains(id.Groups, rbac.GroupMasters):
		return Critical, "a member of system:masters, which bypasses RBAC"
	case u == "system:admin" || u == "kubernetes-admin" || u == "cluster-admin" ||
		slices.Contains(id.Groups, "kubeadm:cluster-admins") || slices.Contains(id.Groups, "system:cluster-admins"):
		return Critical, "a cluster administrator identity"
	case strings.HasPrefix(u, "system:serviceaccount:kube-system:"):
		return Critical, "a kube-system service account (the controllers' credentials)"
	case u == "system:kube-controller-manager" || u == "system:kube-scheduler" || u == "system:apiserver" || u == "system:kube-proxy":
		return Critical, "a control-plane component"
	case strings.HasPrefix(u, "system:node:") || slices.Contains(id.Groups, "system:nodes"):
		return High, "a node identity (reads the secrets of every pod on its node)"
	}
	if s.Authorizer == nil {
		return Info, ""
	}
	var rules []rbacv1.PolicyRule
	for _, g := range s.Authorizer.GrantsFor(u, id.Groups, namespace) {
		if g.Namespace == "" {
			rules = append(rules, g.Rule)
		}
	}
	if sev, reasons := specRulesRisk(rules, "", specEscalationRisk); sev >= High {
		return sev, "an identity holding " + strings.Join(reasons, "; ")
	}
	return Info, ""
}

func (d *specEscalationDetector) impersonation(s *State, r *event.APIRequest, emit Emit) {
	imp := r.Impersonated
	if imp.Username == r.User.Username || d.sys.system(r.User.Username) || !specJudged(r) {
		return
	}
	sev, why := specPrivilegedIdentity(s, imp, r.Namespace)
	if why == "" {
		return
	}
	what := r.Verb + " " + specObjectText(r)
	if !r.IsResource() {
		what = r.Verb + " " + r.Path
	}
	emit(Alert{
		Time: r.Time, Rule: RuleRBACEscalation, Category: CategoryRBAC, Severity: sev, Score: 50,
		Subject: r.User.Username, Namespace: r.Namespace,
		Message: r.User.Username + " impersonated " + imp.Username + ", " + why + ", to " + what +
			": acting with another identity's privileges",
		Evidence: []Evidence{specAuditEvidence(r, specRequestLine(r)),
			specAuditEvidence(r, "impersonated groups: "+specJoinMax(imp.Groups, 5))},
		MITRE: []string{"T1134", "T1078"},
		Key:   "impersonate " + imp.Username,
	})
}

func (d *specEscalationDetector) token(s *State, r *event.APIRequest, emit Emit) {
	// Kubelets mint their pods' projected tokens; controllers and the API
	// server their own.
	if d.sys.systemRequest(r) || !specJudged(r) {
		return
	}
	actor := r.Actor().Username
	target := rbac.ServiceAccountUserPrefix + r.Namespace + ":" + r.Name
	sev, score := High, 40.0
	why := "whoever holds the token acts as that service account"
	if r.Namespace == "kube-system" {
		sev, why = Critical, "a kube-system account (the control plane's), whose permissions the token carries"
	}
	if s.Authorizer != nil {
		var rules []rbacv1.PolicyRule
		var scope []string
		for _, g := range s.Authorizer.GrantsFor(target, nil, r.Namespace) {
			if g.System && g.Subject.Kind == rbacv1.GroupKind {
				continue // what every service account may do
			}
			rules = append(rules, g.Rule)
			scope = append(scope, g.Namespace)
		}
		worst, reasons := Info, []string(nil)
		for i := range rules {
			if rs, why := specRulesRisk(rules[i:i+1], scope[i], nil); rs > worst {
				worst, reasons = rs, why
			}
		}
		if worst >= High {
			sev = specRaise(sev, 1)
			why += "; it holds " + strings.Join(reasons, "; ")
		}
	}
	ev := []Evidence{specAuditEvidence(r, specRequestLine(r))}
	if sp := s.Profiles.Subject(actor); sp != nil {
		if st := sp.Calls[baseline.CallKey{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: r.Namespace}]; st != nil {
			sev, score = specLower(sev), 10
			ev = append(ev, Evidence{Kind: "baseline", Time: st.Last, Detail: actor + " requested tokens in " + r.Namespace + " " +
				strconv.FormatUint(st.Count, 10) + " times before (first " + st.First.UTC().Format("2006-01-02 15:04") + ")"})
		}
	}
	if actor == target {
		sev = specLower(sev) // a service account renewing its own token
	}
	emit(Alert{
		Time: r.Time, Rule: RuleRBACEscalation, Category: CategoryRBAC, Severity: sev, Score: score,
		Subject: actor, Namespace: r.Namespace,
		Message:  specActorText(r) + " requested a token for service account " + r.Namespace + "/" + r.Name + ": " + why,
		Evidence: ev, MITRE: []string{"T1552.007", "T1528"},
		Key: "token " + r.Namespace + "/" + r.Name,
	})
}

// specCSRSubject decodes the subject of a base64 PEM certificate request.
func specCSRSubject(b64 string) (cn string, orgs []string, ok bool) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, false
	}
	blk, _ := pem.Decode(der)
	if blk == nil {
		return "", nil, false
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return "", nil, false
	}
	return csr.Subject.CommonName, csr.Subject.Organization, true
}

// specCSRRisk rates a CSR body: which signer, and which identity the
// certificate would carry.
func specCSRRisk(objs []specObject) (Severity, string) {
	sev, text := Medium, "a certificate"
	for i := range objs {
		sp := &objs[i].Spec
		signer := sp.SignerName
		cn, orgs, ok := specCSRSubject(sp.Request)
		switch {
		case ok && slices.Contains(orgs, rbac.GroupMasters):
			return Critical, "a client certificate for " + cn + " in group system:masters (unrestricted, bypasses RBAC, cannot be revoked)"
		case ok && (strings.HasPrefix(cn, "system:node:") || slices.Contains(orgs, "system:nodes")):
			sev, text = High, "a node client certificate for "+cn
		case signer == "kubernetes.io/kube-apiserver-client":
			sev, text = High, "a client certificate for the API server"
			if ok {
				text += " as " + cn
				if len(orgs) > 0 {
					text += " (groups " + strings.Join(orgs, ", ") + ")"
				}
			}
		case signer != "":
			text = "a certificate from signer " + signer
		}
	}
	return sev, text
}

func (d *specEscalationDetector) csrCreate(r *event.APIRequest, emit Emit) {
	actor := r.Actor().Username
	if d.sys.systemRequest(r) || strings.HasPrefix(actor, "system:bootstrap:") || !specJudged(r) {
		return // kubelets and bootstrap tokens (joining nodes) request their own
	}
	sev, text := Medium, "a certificate (body not logged)"
	var objs []specObject
	if len(r.RequestObject) > 0 {
		objs, _ = specDecodeBody(r.RequestObject)
		sev, text = specCSRRisk(objs)
	}
	name := specName(r, objs)
	emit(Alert{
		Time: r.Time, Rule: RuleRBACEscalation, Category: CategoryRBAC, Severity: sev, Score: 20,
		Subject: actor,
		Message: specActorText(r) + " requested " + text + " (CertificateSigningRequest " + name +
			"): once approved, a credential that outlives any token revocation",
		Evidence: []Evidence{specAuditEvidence(r, specRequestLine(r))},
		MITRE:    []string{"T1649", "T1098"},
		Key:      "csr-create " + name,
	})
}

func (d *specEscalationDetector) csrApprove(r *event.APIRequest, emit Emit) {
	if d.sys.systemRequest(r) || !specJudged(r) {
		return // the CSR approving controller approves kubelet certificates
	}
	sev, text := High, "a certificate"
	body := r.RequestObject
	if len(body) == 0 {
		body = r.ResponseObject
	}
	if len(body) > 0 {
		objs, err := specDecodeBody(body)
		if err == nil {
			approved := false
			for i := range objs {
				for _, c := range objs[i].Status.Conditions {
					approved = approved || c.Type == "Approved"
				}
			}
			if !approved {
				return // denied, or a condition other than approval
			}
			if s, t := specCSRRisk(objs); s > Medium {
				sev, text = s, t
			}
		}
	}
	emit(Alert{
		Time: r.Time, Rule: RuleRBACEscalation, Category: CategoryRBAC, Severity: sev, Score: 40,
		Subject: r.Actor().Username,
		Message: specActorText(r) + " approved CertificateSigningRequest " + r.Name + " for " + text +
			": whoever holds the key signs in with that identity until the certificate expires",
		Evidence: []Evidence{specAuditEvidence(r, specRequestLine(r))},
		MITRE:    []string{"T1649", "T1098"},
		Key:      "csr-approve " + r.Name,
	})
}

// specKubeletEndpoint classifies the kubelet API path reached through
// nodes/proxy: what it can do and how bad that is.
func specKubeletEndpoint(uri string) (class string, sev Severity) {
	_, rest, ok := strings.Cut(uri, "/proxy/")
	if !ok {
		return "root", Medium
	}
	rest, _, _ = strings.Cut(rest, "?")
	seg, _, _ := strings.Cut(rest, "/")
	switch seg {
	case "exec", "run", "attach", "portForward", "cri":
		return seg, Critical
	case "containerLogs", "logs", "debug", "pods", "runningpods", "checkpoint":
		return seg, High
	case "metrics", "stats", "healthz", "configz", "spec":
		return seg, Low
	}
	return "other", Medium
}

func (d *specEscalationDetector) nodeProxy(s *State, r *event.APIRequest, emit Emit) {
	if d.sys.systemRequest(r) || !specJudged(r) {
		return
	}
	actor := r.Actor().Username
	class, sev := specKubeletEndpoint(r.RequestURI)
	var ev []Evidence
	if sp := s.Profiles.Subject(actor); sp != nil {
		if st := sp.Calls[baseline.CallKey{Verb: r.Verb, Resource: "nodes", Subresource: "proxy"}]; st != nil {
			if sev <= Low {
				return // a metrics scraper doing what it always does
			}
			sev = specLower(sev)
			ev = append(ev, Evidence{Kind: "baseline", Time: st.Last, Detail: actor + " used nodes/proxy " +
				strconv.FormatUint(st.Count, 10) + " times before"})
		}
	}
	why := "the kubelet API, beyond the API server's authorization and audit of what is done there"
	mitre := []string{"T1611"}
	if sev == Critical || class == "exec" || class == "run" || class == "attach" {
		why = "runs commands in the node's containers through the kubelet: the API server's audit never sees the command"
		mitre = append(mitre, "T1609")
	}
	emit(Alert{
		Time: r.Time, Rule: RuleRBACEscalation, Category: CategoryRBAC, Severity: sev, Score: 30,
		Subject: actor,
		Message: specActorText(r) + " reached the kubelet of node " + r.Name + " through nodes/proxy (" +
			class + "): " + why,
		Evidence: append([]Evidence{specAuditEvidence(r, specRequestLine(r)+" "+specClip(r.RequestURI, 160))}, ev...),
		MITRE:    mitre,
		Key:      "nodes/proxy " + r.Name + " " + class,
	})
}
