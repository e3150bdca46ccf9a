package deploy_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// This file renders the Helm chart without Helm: text/template (which Helm
// uses too) plus the handful of Helm and Sprig functions the chart may use.
// It approximates Helm (helm.sh/helm/v3 pkg/engine); `helm template` is the
// real check. The renderer is stricter in one way: a missing value is an
// error (missingkey=error) where Helm prints nothing.

const chartDir = "helm/kubedelta"

// chartMeta mirrors the Chart.yaml fields of Helm's apiVersion v2 chart
// metadata (helm.sh/helm/v3 pkg/chart/metadata.go) that a chart may set;
// decoding is strict, so a misspelt field fails.
type chartMeta struct {
	APIVersion   string            `json:"apiVersion"`
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Description  string            `json:"description,omitempty"`
	Type         string            `json:"type,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Maintainers  []map[string]any  `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Dependencies []map[string]any  `json:"dependencies,omitempty"`
}

// release is Helm's .Release as far as the chart uses it.
type release struct {
	Name, Namespace, Service string
}

var defaultRelease = release{Name: "kubedelta", Namespace: "kubedelta", Service: "Helm"}

func loadChartMeta(t *testing.T) chartMeta {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m chartMeta
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		t.Fatalf("Chart.yaml: %v", err)
	}
	return m
}

func loadValues(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	return v
}

// mergeValues sets override's leaves into base (deep, like helm --set).
func mergeValues(base, override map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range override {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// renderChart renders every template with the chart's values merged with
// overrides, and returns the output per template file (files starting with
// "_" define helpers and render nothing).
func renderChart(t *testing.T, rel release, overrides map[string]any) map[string]string {
	t.Helper()
	out, err := renderChartErr(loadChartMeta(t), mergeValues(loadValues(t), overrides), rel)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func renderChartErr(meta chartMeta, values map[string]any, rel release) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	root := template.New("chart").Option("missingkey=error")
	root.Funcs(helmFuncs(root))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if _, err := root.New(filepath.Base(f)).Parse(string(b)); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", f, err)
		}
	}
	data := map[string]any{
		"Values":  values,
		"Release": map[string]any{"Name": rel.Name, "Namespace": rel.Namespace, "Service": rel.Service},
		"Chart":   map[string]any{"Name": meta.Name, "Version": meta.Version, "AppVersion": meta.AppVersion},
	}
	out := map[string]string{}
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "_") {
			continue
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", name, err)
		}
		out[name] = buf.String()
	}
	return out, nil
}

// helmFuncs are the Helm and Sprig functions the chart may use, with their
// semantics (helm.sh/helm/v3 pkg/engine/funcs.go; Masterminds/sprig
// strings.go, defaults.go).
func helmFuncs(root *template.Template) template.FuncMap {
	indent := func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
	}
	return template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var buf bytes.Buffer
			err := root.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"toYaml": func(v any) string {
			b, err := yaml.Marshal(v)
			if err != nil {
				return "" // as Helm's toYaml
			}
			return strings.TrimSuffix(string(b), "\n")
		},
		"indent":  indent,
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"quote": func(args ...any) string {
			var out []string
			for _, a := range args {
				if a != nil {
					out = append(out, fmt.Sprintf("%q", fmt.Sprint(a)))
				}
			}
			return strings.Join(out, " ")
		},
		"default": func(d any, given ...any) any {
			if len(given) == 0 || isEmpty(given[0]) {
				return d
			}
			return given[0]
		},
		"trunc": func(c int, s string) string {
			switch {
			case c < 0 && len(s)+c > 0:
				return s[len(s)+c:]
			case c >= 0 && len(s) > c:
				return s[:c]
			}
			return s
		},
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	}
}

// isEmpty is Sprig's notion of empty, which default uses.
func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return rv.Len() == 0
	case reflect.Bool:
		return !rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return rv.Float() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// docSep splits a YAML stream into documents.
var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocs returns the documents of a stream that hold more than comments
// and blank lines.
func splitDocs(stream string) []string {
	var out []string
	for _, d := range docSep.Split(stream, -1) {
		for _, line := range strings.Split(d, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// object is a decoded manifest.
type object struct {
	Kind, Name, Namespace string
	Labels                map[string]string
	Obj                   any
}

// decodeStrict decodes one document into its k8s.io/api type, rejecting
// unknown and duplicate fields, and checks the basics every object needs.
func decodeStrict(doc string) (object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
		return object{}, err
	}
	var obj metav1.Object
	var v any
	switch tm.APIVersion + "/" + tm.Kind {
	case "v1/Namespace":
		o := &corev1.Namespace{}
		obj, v = o, o
	case "v1/ServiceAccount":
		o := &corev1.ServiceAccount{}
		obj, v = o, o
	case "v1/PersistentVolumeClaim":
		o := &corev1.PersistentVolumeClaim{}
		obj, v = o, o
	case "v1/Service":
		o := &corev1.Service{}
		obj, v = o, o
	case "apps/v1/Deployment":
		o := &appsv1.Deployment{}
		obj, v = o, o
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		o := &rbacv1.ClusterRole{}
		obj, v = o, o
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		o := &rbacv1.ClusterRoleBinding{}
		obj, v = o, o
	default:
		return object{}, fmt.Errorf("unexpected apiVersion %q kind %q", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
		return object{}, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if obj.GetName() == "" {
		return object{}, fmt.Errorf("%s without metadata.name", tm.Kind)
	}
	return object{Kind: tm.Kind, Name: obj.GetName(), Namespace: obj.GetNamespace(), Labels: obj.GetLabels(), Obj: v}, nil
}
