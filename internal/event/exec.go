package event

import "time"

// Exec is one process started in a container (or on a node), as a runtime
// security sensor (Falco, Tetragon) or an API exec request reported it.
type Exec struct {
	Time time.Time
	// Source names the sensor: "falco", "tetragon", "audit".
	Source string
	Node   string

	Namespace   string
	Pod         string
	Container   string
	ContainerID string
	Image       string
	// Workload and WorkloadKind are the sensor's own owner resolution
	// (Tetragon carries them); enrichment fills them otherwise.
	Workload     string
	WorkloadKind string
	// Labels are the pod's labels as "key=value", when the sensor carries them.
	Labels []string

	PID uint32
	UID uint32
	Cwd string
	// Executable is the binary's path (/usr/bin/curl); Args its arguments
	// after argv[0].
	Executable string
	Args       []string
	// Parent is the parent process's executable, when known.
	Parent string

	// Rule and Priority are set when the sensor itself raised this event as
	// an alert (a Falco rule name and priority).
	Rule     string
	Priority string
}
