package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// keptOnReset are the data dir's files that ResetDataDir keeps: the admin
// token (so a token written down stays valid) and the embedded store's
// lock file (held while resetting).
var keptOnReset = map[string]bool{"admin-token": true, "deskplane.db.lock": true}

// ResetDataDir wipes the state kept in an embedded store's data dir (the
// databases, the audit trail, the KMS master key, volumes) so that the next
// start seeds a fresh environment. It refuses while another process holds
// the store's lock (a server serving the dir). A missing dir is not an error.
func ResetDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reset %s: %w", dir, err)
	}
	lockPath := filepath.Join(dir, "deskplane.db.lock")
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("reset %s: %w", dir, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("reset %s: another deskplane is serving this data dir (%s is locked); stop it first: %w", dir, lockPath, err)
	}
	// A server on the embedded Pebble store holds its stores' locks.
	for _, name := range []string{"deskplane", "cloudtrail"} {
		p := filepath.Join(dir, "pebble", name, "deskplane.lock")
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reset %s: %w", dir, err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return fmt.Errorf("reset %s: another deskplane is serving this data dir (%s is locked); stop it first: %w", dir, p, err)
		}
	}
	for _, e := range entries {
		if keptOnReset[e.Name()] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("reset %s: %w", dir, err)
		}
	}
	return nil
}
