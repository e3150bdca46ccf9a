package cluster

// Placeholder imports so go.mod requires what the loader will use; the
// loader replaces this file.
import (
	_ "k8s.io/api/apps/v1"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/apimachinery/pkg/labels"
	_ "k8s.io/apimachinery/pkg/util/intstr"
	_ "sigs.k8s.io/yaml"
)
