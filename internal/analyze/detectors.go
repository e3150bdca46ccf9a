package analyze

import (
	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/detect"
)

// DefaultDetectors returns every detector with its default options.
func DefaultDetectors() []detect.Detector {
	var ds []detect.Detector
	ds = append(ds, detect.APIDetectors(detect.APIOptions{})...)
	ds = append(ds, detect.SpecDetectors(detect.SpecOptions{})...)
	ds = append(ds, detect.NetworkDetectors(detect.NetOptions{})...)
	ds = append(ds, detect.ProcessDetectors(detect.ProcOptions{})...)
	return ds
}

// ArgShape is the argument shape the process baseline keys on.
func ArgShape(args []string) string { return baseline.ArgShape(args) }
