//go:build unix

package detect

import (
	"syscall"
	"time"
)

// wkCPUTime returns the user and system CPU time the process used so far:
// benchmarks report it beside wall time, which a shared machine inflates.
func wkCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
