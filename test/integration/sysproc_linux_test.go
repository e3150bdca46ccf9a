package integration

import "syscall"

// sysProcAttr makes the kernel kill a neighbour when the test process
// dies, so that a crashed or timed-out test leaves no Prometheus behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
