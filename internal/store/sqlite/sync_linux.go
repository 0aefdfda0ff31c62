package sqlite

import (
	"os"
	"syscall"
)

// syncFile flushes f's data (and the size needed to read it back) to disk.
func syncFile(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
