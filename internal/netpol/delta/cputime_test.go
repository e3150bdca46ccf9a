package delta

import (
	"time"

	"github.com/kubedelta/kubedelta/internal/cputime"
)

// processCPU is the CPU time the process has used, and whether the
// platform can tell (see internal/cputime).
func processCPU() (time.Duration, bool) {
	t := cputime.Now()
	return t, t > 0
}
