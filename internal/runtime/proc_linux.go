package runtime

import "syscall"

// sysProcAttr puts a guest in a process group of its own (Stop signals the
// whole group) and kills it when the server dies, so no guest outlives it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func signalGroup(pid int, sig syscall.Signal) {
	if pid > 0 {
		syscall.Kill(-pid, sig)
	}
}
