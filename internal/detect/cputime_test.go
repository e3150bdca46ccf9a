package detect

import (
	"time"

	"github.com/kubedelta/kubedelta/internal/cputime"
)

// apiProcessCPU and wkCPUTime are the CPU time the process has used (see
// internal/cputime).
func apiProcessCPU() (time.Duration, bool) {
	t := cputime.Now()
	return t, t > 0
}

func wkCPUTime() time.Duration { return cputime.Now() }
