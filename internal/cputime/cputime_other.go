//go:build !unix

package cputime

import "time"

// Now returns 0: this platform has no getrusage.
func Now() time.Duration { return 0 }
