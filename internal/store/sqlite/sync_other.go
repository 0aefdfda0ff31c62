//go:build !linux

package sqlite

import "os"

// syncFile flushes f to disk.
func syncFile(f *os.File) error { return f.Sync() }
