//go:build !unix

package rbac

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
