//go:build !unix

package detect

import "time"

// wkCPUTime is not measured on this platform.
func wkCPUTime() time.Duration { return 0 }
