package cluster

// Keeps k8s.io/apimachinery/pkg/util/intstr in the build so go.mod's
// requirements stay stable under `go mod tidy`; nothing in the package uses
// it yet (Service and NetworkPolicy ports reach it through k8s.io/api).
import _ "k8s.io/apimachinery/pkg/util/intstr"
