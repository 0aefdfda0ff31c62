package secrets

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// PrivateDir prepares a data directory that holds keys and databases: it is
// created with mode 0700 when missing; an existing one that its group or
// other users can write is refused (they could replace the keys or the
// database under the server); and what earlier versions left readable by
// others inside it is made private (directories 0700, files 0600).
func PrivateDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create the data dir: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("data dir: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("data dir %s is not a directory", dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("data dir %s is writable by other users (mode %04o): it holds keys and credentials; "+
			"make it private (chmod 700 %s) or choose another --data-dir", dir, fi.Mode().Perm(), dir)
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, info.Mode().Perm()&want); err != nil {
				return fmt.Errorf("data dir: make %s private: %w", p, err)
			}
		}
		return nil
	})
}
