//go:build unix

package delta

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user+system) this process has used, so
// that benchmarks can report throughput per CPU-second, which stays
// meaningful on a machine shared with other jobs.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
