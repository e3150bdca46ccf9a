//go:build !unix

package detect

import "time"

func apiProcessCPU() (time.Duration, bool) { return 0, false }
