package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// genEvents writes n realistic audit.k8s.io/v1 events as JSON lines, shaped
// like the kube-apiserver log backend's output (see the shared fixture):
// a mix of controllers, nodes, service accounts and humans; get, list,
// watch, update, create, patch, delete; core and group resources; some
// non-resource URLs; about one in five forbidden or failed. With bodies, the
// events are at RequestResponse level and carry request and response
// objects of a few KiB.
func genEvents(n int, seed uint64, bodies bool) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	users := []struct{ name, uid, groups, ua string }{
		{"system:kube-controller-manager", "", `["system:authenticated"]`, "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/e2c1b2f/leader-election"},
		{"system:kube-scheduler", "", `["system:authenticated"]`, "kube-scheduler/v1.37.2 (linux/amd64) kubernetes/e2c1b2f/scheduler"},
		{"system:apiserver", "db0e8b17-ed49-4d2d-943b-2f50aef83533", `["system:authenticated","system:masters"]`, "kube-apiserver/v1.37.2 (linux/amd64) kubernetes/e2c1b2f"},
		{"system:node:worker-1", "", `["system:nodes","system:authenticated"]`, "kubelet/v1.37.2 (linux/amd64) kubernetes/e2c1b2f"},
		{"system:node:worker-2", "", `["system:nodes","system:authenticated"]`, "kubelet/v1.37.2 (linux/amd64) kubernetes/e2c1b2f"},
		{"system:serviceaccount:kube-system:coredns", "5f1c0c2e-7d6b-4a7e-9a53-2b1d8f0c6e11", `["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"]`, "coredns/v1.12.0 (linux/amd64) kubernetes/$Format"},
		{"system:serviceaccount:monitoring:prometheus", "a3b9e7d4-1c2f-4e5a-8b6d-0f9e8d7c6b5a", `["system:serviceaccounts","system:serviceaccounts:monitoring","system:authenticated"]`, "prometheus/3.5.0"},
		{"alice@example.com", "", `["dev-team","system:authenticated"]`, "kubectl/v1.37.2 (darwin/arm64) kubernetes/e2c1b2f"},
		{"bob@example.com", "", `["ops","system:authenticated"]`, "kubectl/v1.36.1 (linux/amd64) kubernetes/a1b2c3d"},
	}
	resources := []struct{ group, version, res string }{
		{"", "v1", "pods"}, {"", "v1", "configmaps"}, {"", "v1", "secrets"}, {"", "v1", "services"},
		{"", "v1", "endpoints"}, {"", "v1", "nodes"}, {"", "v1", "events"}, {"apps", "v1", "deployments"},
		{"apps", "v1", "replicasets"}, {"coordination.k8s.io", "v1", "leases"},
		{"discovery.k8s.io", "v1", "endpointslices"}, {"rbac.authorization.k8s.io", "v1", "rolebindings"},
	}
	namespaces := []string{"kube-system", "default", "monitoring", "payments", "frontend", "ingress-nginx"}
	verbs := []string{"get", "get", "get", "list", "watch", "update", "update", "create", "patch", "delete"}
	base := time.Date(2026, 11, 24, 2, 3, 42, 0, time.UTC)

	var buf bytes.Buffer
	for k := range n {
		u := users[rng.IntN(len(users))]
		r := resources[rng.IntN(len(resources))]
		verb := verbs[rng.IntN(len(verbs))]
		ns := namespaces[rng.IntN(len(namespaces))]
		name := fmt.Sprintf("%s-%d", strings.TrimSuffix(r.res, "s"), rng.IntN(50))
		prefix := "/api/" + r.version
		if r.group != "" {
			prefix = "/apis/" + r.group + "/" + r.version
		}
		uri := fmt.Sprintf("%s/namespaces/%s/%s/%s", prefix, ns, r.res, name)
		objectRef := fmt.Sprintf(`{"resource":%q,"namespace":%q,"name":%q,"apiGroup":%q,"apiVersion":%q}`, r.res, ns, name, r.group, r.version)
		switch verb {
		case "list":
			uri = fmt.Sprintf("%s/namespaces/%s/%s?limit=500\\u0026resourceVersion=0", prefix, ns, r.res)
			objectRef = fmt.Sprintf(`{"resource":%q,"namespace":%q,"apiGroup":%q,"apiVersion":%q}`, r.res, ns, r.group, r.version)
		case "watch":
			uri = fmt.Sprintf("%s/%s?allowWatchBookmarks=true\\u0026resourceVersion=%d\\u0026timeout=7m%ds\\u0026timeoutSeconds=%d\\u0026watch=true", prefix, r.res, 100000+k, rng.IntN(60), 420+rng.IntN(60))
			objectRef = fmt.Sprintf(`{"resource":%q,"apiGroup":%q,"apiVersion":%q}`, r.res, r.group, r.version)
		}
		if rng.IntN(25) == 0 {
			verb, uri, objectRef = "get", "/healthz?timeout=32s", ""
		}
		status, decision, reason := `{"metadata":{},"code":200}`, "allow", ""
		switch {
		case verb == "create":
			status = `{"metadata":{},"code":201}`
		case rng.IntN(8) == 0:
			decision = "forbid"
			status = fmt.Sprintf(`{"metadata":{},"status":"Failure","message":"%s \"%s\" is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the namespace \"%s\"","reason":"Forbidden","details":{"name":"%s","kind":"%s"},"code":403}`,
				r.res, name, u.name, verb, r.res, r.group, ns, name, r.res)
		case rng.IntN(10) == 0:
			status = fmt.Sprintf(`{"metadata":{},"status":"Failure","message":"%s \"%s\" not found","reason":"NotFound","details":{"name":"%s","kind":"%s"},"code":404}`, r.res, name, name, r.res)
		}
		if decision == "allow" && strings.HasPrefix(u.name, "system:serviceaccount:") {
			reason = `RBAC: allowed by ClusterRoleBinding \"system:` + r.res + `\" of ClusterRole \"view\" to ServiceAccount \"x\"`
		}
		recv := base.Add(time.Duration(k) * 997 * time.Microsecond)
		stage := recv.Add(time.Duration(200+rng.IntN(5000)) * time.Microsecond)
		auditID := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), 0x8000|rng.IntN(1<<14), rng.Uint64()&(1<<48-1))
		level := "Metadata"
		if bodies {
			level = "RequestResponse"
		}

		buf.WriteString(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"`)
		buf.WriteString(level)
		fmt.Fprintf(&buf, `","auditID":%q,"stage":"ResponseComplete","requestURI":"%s","verb":%q,"user":{"username":%q,`, auditID, uri, verb, u.name)
		if u.uid != "" {
			fmt.Fprintf(&buf, `"uid":%q,`, u.uid)
		}
		fmt.Fprintf(&buf, `"groups":%s`, u.groups)
		if strings.HasPrefix(u.name, "system:serviceaccount:") {
			buf.WriteString(`,"extra":{"authentication.kubernetes.io/credential-id":["JTI=0b7c8d2e-5f3a-4b1c-9d6e-7a8b9c0d1e2f"],"authentication.kubernetes.io/node-name":["worker-1"],"authentication.kubernetes.io/pod-name":["pod-7d9f8b6c5d-x2v4q"]}`)
		}
		fmt.Fprintf(&buf, `},"sourceIPs":["10.0.%d.%d"],"userAgent":%q,`, rng.IntN(4), 2+rng.IntN(20), u.ua)
		if objectRef != "" {
			fmt.Fprintf(&buf, `"objectRef":%s,`, objectRef)
		}
		fmt.Fprintf(&buf, `"responseStatus":%s,`, status)
		if bodies && objectRef != "" {
			obj := genObject(rng, r.res, ns, name)
			if verb == "create" || verb == "update" || verb == "patch" {
				fmt.Fprintf(&buf, `"requestObject":%s,`, obj)
			}
			fmt.Fprintf(&buf, `"responseObject":%s,`, obj)
		}
		fmt.Fprintf(&buf, `"requestReceivedTimestamp":%q,"stageTimestamp":%q,"annotations":{"authorization.k8s.io/decision":%q,"authorization.k8s.io/reason":"%s"}}`,
			recv.Format("2006-01-02T15:04:05.000000Z"), stage.Format("2006-01-02T15:04:05.000000Z"), decision, reason)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// genObject returns a JSON object of a few KiB shaped like a Kubernetes
// object; secrets carry data.
func genObject(rng *rand.Rand, res, ns, name string) string {
	labels := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": ns, "pod-template-hash": fmt.Sprintf("%x", rng.Uint32())}
	obj := map[string]any{
		"kind":       strings.ToUpper(res[:1]) + strings.TrimSuffix(res[1:], "s"),
		"apiVersion": "v1",
		"metadata": map[string]any{
			"name": name, "namespace": ns, "uid": fmt.Sprintf("%x", rng.Uint64()), "resourceVersion": fmt.Sprint(rng.IntN(1e7)),
			"labels": labels, "annotations": map[string]string{"deployment.kubernetes.io/revision": "3"},
			"managedFields": []any{map[string]any{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
				"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:metadata": map[string]any{"f:labels": map[string]any{".": map[string]any{}, "f:app": map[string]any{}}}}}},
		},
		"spec": map[string]any{
			"containers": []any{map[string]any{"name": "main", "image": "registry.example.com/app:v1.2.3",
				"args": []string{"--port=8080", "--log-level=info"}, "resources": map[string]any{"limits": map[string]string{"cpu": "500m", "memory": "256Mi"}},
				"env": []any{map[string]string{"name": "MODE", "value": "production"}}}},
			"nodeName": "worker-1", "serviceAccountName": "default",
		},
		"status": map[string]any{"phase": "Running", "podIP": "10.244.1.17", "conditions": []any{map[string]string{"type": "Ready", "status": "True"}}},
	}
	if res == "secrets" {
		obj["kind"] = "Secret"
		obj["data"] = map[string]string{"password": "c3VwZXJzZWNyZXQ=", "tls.key": "LS0tLS1CRUdJTi"}
		delete(obj, "spec")
		delete(obj, "status")
	}
	b, _ := json.Marshal(obj)
	return string(b)
}
