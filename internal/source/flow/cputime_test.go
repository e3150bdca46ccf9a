package flow

import (
	"time"

	"github.com/kubedelta/kubedelta/internal/cputime"
)

// cpuTime is the CPU time the process has used (see internal/cputime).
func cpuTime() time.Duration { return cputime.Now() }
