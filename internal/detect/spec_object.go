package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Request bodies are decoded lazily, only for the few resources the spec
// rules judge, into the minimal structs below (not the full Kubernetes
// types): unknown fields are skipped, so the same structs read whole
// objects (create, update), strategic-merge and JSON merge patches (the
// fields they set; $patch directives are ignored), and server-side apply
// configurations. A JSON patch (an array of operations) is turned into one
// object per add/replace operation, nested along its path, so that
// `{"op":"add","path":"/spec/template/spec/hostPID","value":true}` is
// judged like `{"spec":{"template":{"spec":{"hostPID":true}}}}`.

// errSpecBody marks a request body that is not a JSON object or patch.
var errSpecBody = errors.New("request body is not a JSON object or JSON patch")

// maxSpecPatchOps bounds the operations of one JSON patch that are judged.
const maxSpecPatchOps = 256

type specMeta struct {
	Name         string            `json:"name"`
	GenerateName string            `json:"generateName"`
	Namespace    string            `json:"namespace"`
	Labels       map[string]string `json:"labels"`
	Owners       []specOwnerRef    `json:"ownerReferences"`
}

type specOwnerRef struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Controller *bool  `json:"controller"`
}

type specCapabilities struct {
	Add []string `json:"add"`
}

type specSecurityContext struct {
	Privileged               *bool             `json:"privileged"`
	AllowPrivilegeEscalation *bool             `json:"allowPrivilegeEscalation"`
	RunAsUser                *int64            `json:"runAsUser"`
	Capabilities             *specCapabilities `json:"capabilities"`
}

type specVolumeMount struct {
	Name     string `json:"name"`
	ReadOnly bool   `json:"readOnly"`
}

type specContainer struct {
	Name            string               `json:"name"`
	Image           string               `json:"image"`
	SecurityContext *specSecurityContext `json:"securityContext"`
	VolumeMounts    []specVolumeMount    `json:"volumeMounts"`
}

type specHostPathSource struct {
	Path string `json:"path"`
}

type specVolume struct {
	Name     string              `json:"name"`
	HostPath *specHostPathSource `json:"hostPath"`
}

type specPodSecurityContext struct {
	RunAsUser *int64 `json:"runAsUser"`
}

// specPodSpec is the part of a PodSpec workload.risky-spec judges.
type specPodSpec struct {
	HostPID             bool                    `json:"hostPID"`
	HostIPC             bool                    `json:"hostIPC"`
	HostNetwork         bool                    `json:"hostNetwork"`
	SecurityContext     *specPodSecurityContext `json:"securityContext"`
	Volumes             []specVolume            `json:"volumes"`
	Containers          []specContainer         `json:"containers"`
	InitContainers      []specContainer         `json:"initContainers"`
	EphemeralContainers []specContainer         `json:"ephemeralContainers"`
	ServiceAccountName  string                  `json:"serviceAccountName"`
}

type specTemplate struct {
	Metadata specMeta    `json:"metadata"`
	Spec     specPodSpec `json:"spec"`
}

type specJobTemplate struct {
	Spec struct {
		Template *specTemplate `json:"template"`
	} `json:"spec"`
}

type specServicePort struct {
	Port     int32 `json:"port"`
	NodePort int32 `json:"nodePort"`
}

// specSpec holds the spec fields of every judged kind: a Pod's spec inline,
// a workload's pod template, a CronJob's job template, a Service's type and
// addresses, a CertificateSigningRequest's signer and request.
type specSpec struct {
	specPodSpec
	Template    *specTemplate    `json:"template"`
	JobTemplate *specJobTemplate `json:"jobTemplate"`

	Type        string            `json:"type"`
	ExternalIPs []string          `json:"externalIPs"`
	Ports       []specServicePort `json:"ports"`

	SignerName string `json:"signerName"`
	// Request is the PEM-encoded CSR, base64 (decoded on demand: a redacted
	// or malformed value must not fail the whole body).
	Request string `json:"request"`
}

type specRoleRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type specSubject struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

type specWebhook struct {
	Name          string `json:"name"`
	FailurePolicy string `json:"failurePolicy"`
}

// specObject is every field any spec rule reads.
type specObject struct {
	Metadata specMeta `json:"metadata"`
	Spec     specSpec `json:"spec"`

	RoleRef  *specRoleRef        `json:"roleRef"`
	Subjects []specSubject       `json:"subjects"`
	Rules    []rbacv1.PolicyRule `json:"rules"`

	Webhooks []specWebhook `json:"webhooks"`

	Status struct {
		Conditions []struct {
			Type string `json:"type"`
		} `json:"conditions"`
	} `json:"status"`
}

// podSpecs returns the pod specs an object of resource carries: the Pod's
// own, a workload's template, a CronJob's job template.
func (o *specObject) podSpecs(resource string) []*specPodSpec {
	switch resource {
	case "pods":
		return []*specPodSpec{&o.Spec.specPodSpec}
	case "cronjobs":
		if jt := o.Spec.JobTemplate; jt != nil && jt.Spec.Template != nil {
			return []*specPodSpec{&jt.Spec.Template.Spec}
		}
		return nil
	}
	if o.Spec.Template != nil {
		return []*specPodSpec{&o.Spec.Template.Spec}
	}
	return nil
}

// specDecodeBody decodes a request or response body: an object, a merge
// patch, or a JSON patch (one object per add/replace operation).
func specDecodeBody(b []byte) ([]specObject, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	switch b[0] {
	case '{':
		var o specObject
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, fmt.Errorf("decode request body: %w", err)
		}
		return []specObject{o}, nil
	case '[':
		return specDecodeJSONPatch(b)
	}
	return nil, errSpecBody
}

type specPatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// specDecodeJSONPatch judges what a JSON patch (RFC 6902) adds or
// replaces: each add or replace becomes an object holding the value at the
// operation's path. Array indexes become one-element arrays; remove, move,
// copy and test operations add nothing to judge. Operations whose value
// does not fit the minimal structs are skipped, not fatal.
func specDecodeJSONPatch(b []byte) ([]specObject, error) {
	var ops []specPatchOp
	if err := json.Unmarshal(b, &ops); err != nil {
		return nil, fmt.Errorf("decode JSON patch: %w", err)
	}
	var out []specObject
	for i, op := range ops {
		if i == maxSpecPatchOps {
			break
		}
		if op.Op != "add" && op.Op != "replace" || len(op.Value) == 0 {
			continue
		}
		doc, ok := specNestPatchValue(op.Path, op.Value)
		if !ok {
			continue
		}
		var o specObject
		if json.Unmarshal(doc, &o) == nil {
			out = append(out, o)
		}
	}
	return out, nil
}

// specNestPatchValue wraps value in the objects and arrays a JSON pointer
// names: "/spec/hostPID", true → {"spec":{"hostPID":true}}.
func specNestPatchValue(pointer string, value json.RawMessage) ([]byte, bool) {
	if pointer == "" || pointer[0] != '/' {
		return nil, false
	}
	segs := strings.Split(pointer[1:], "/")
	if len(segs) > 32 {
		return nil, false
	}
	var head, tail bytes.Buffer
	for _, s := range segs {
		if s == "-" || specIsIndex(s) {
			head.WriteByte('[')
			tail.WriteByte(']')
			continue
		}
		s = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
		k, err := json.Marshal(s)
		if err != nil {
			return nil, false
		}
		head.WriteByte('{')
		head.Write(k)
		head.WriteByte(':')
		tail.WriteByte('}')
	}
	out := make([]byte, 0, head.Len()+len(value)+tail.Len())
	out = append(out, head.Bytes()...)
	out = append(out, value...)
	// Closers in reverse order of the openers.
	t := tail.Bytes()
	for i := len(t) - 1; i >= 0; i-- {
		out = append(out, t[i])
	}
	if !json.Valid(out) {
		return nil, false
	}
	return out, true
}

func specIsIndex(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// specMayHold reports whether a JSON body may hold any of keys (given with
// their quotes, e.g. `"hostPID"`): a cheap scan that spares decoding the
// bodies that cannot matter. A body with \u escapes may spell a key
// differently and always qualifies.
func specMayHold(body []byte, keys ...string) bool {
	if bytes.Contains(body, []byte(`\u`)) {
		return true
	}
	for _, k := range keys {
		if bytes.Contains(body, []byte(k)) {
			return true
		}
	}
	return false
}
