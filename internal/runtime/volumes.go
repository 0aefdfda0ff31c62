package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Volumes: a desktop's root and user volumes are the directories
// DATA/runtime/desktops/ACCOUNT/REGION/ID/{root,user}; a snapshot is a full
// copy of both in .../snapshots/NAME/{root,user} (NAME sorts by time); an
// image captured from a desktop is a copy of its root volume in
// DATA/runtime/images/ACCOUNT/REGION/IMAGEID.

func (m *Manager) snapshotDir(key, name string) string {
	return filepath.Join(m.desktopDir(key), "snapshots", name)
}

// ImageDir is the directory a captured image's root volume is kept in.
func (m *Manager) ImageDir(account, region, imageID string) string {
	return filepath.Join(m.o.Dir, "images", account, region, imageID)
}

// HasImage reports whether an image's root volume was captured.
func (m *Manager) HasImage(account, region, imageID string) bool {
	_, err := os.Stat(m.ImageDir(account, region, imageID))
	return err == nil
}

// sealed reports whether a desktop's volume is kept encrypted.
func (m *Manager) sealed(key, vol string) bool {
	_, err := os.Stat(filepath.Join(m.desktopDir(key), vol+".enc"))
	return err == nil
}

// Snapshot copies a desktop's volumes into snapshot name (replacing one of
// that name) and keeps the newest keep snapshots. An encrypted volume's
// snapshot is sealed under its data key, like the volume.
func (m *Manager) Snapshot(key, name string, keep int) error {
	dst := m.snapshotDir(key, name)
	tmp := dst + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("runtime: snapshot %s: %w", key, err)
	}
	m.mu.Lock()
	var work map[string]string
	var keys map[string][]byte
	if g := m.guests[key]; g != nil && g.state != StateExited && g.state != StateFailed {
		work, keys = g.work, g.spec.Keys
	}
	m.mu.Unlock()
	for _, v := range []string{"root", "user"} {
		if w := work[v]; w != "" {
			if err := sealDir(w, filepath.Join(tmp, v+".enc"), keys[v]); err != nil {
				os.RemoveAll(tmp)
				return fmt.Errorf("runtime: snapshot the %s volume of %s: %w", v, key, err)
			}
			continue
		}
		if enc := filepath.Join(m.desktopDir(key), v+".enc"); m.sealed(key, v) {
			if err := copyFile(enc, filepath.Join(tmp, v+".enc"), 0o600); err != nil {
				os.RemoveAll(tmp)
				return fmt.Errorf("runtime: snapshot the %s volume of %s: %w", v, key, err)
			}
			continue
		}
		src := filepath.Join(m.desktopDir(key), v)
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Join(tmp, v), 0o700); err != nil {
				return fmt.Errorf("runtime: snapshot %s: %w", key, err)
			}
			continue
		}
		if err := copyTree(src, filepath.Join(tmp, v)); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("runtime: snapshot the %s volume of %s: %w", v, key, err)
		}
	}
	os.RemoveAll(dst)
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("runtime: snapshot %s: %w", key, err)
	}
	names, _ := m.Snapshots(key)
	for len(names) > keep && keep > 0 {
		os.RemoveAll(m.snapshotDir(key, names[0]))
		names = names[1:]
	}
	return nil
}

// Snapshots lists a desktop's snapshot names, oldest first.
func (m *Manager) Snapshots(key string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(m.desktopDir(key), "snapshots"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: list the snapshots of %s: %w", key, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// latest returns the newest snapshot name not after upTo ("" none).
func (m *Manager) latest(key, upTo string) (string, error) {
	names, err := m.Snapshots(key)
	if err != nil {
		return "", err
	}
	for i := len(names) - 1; i >= 0; i-- {
		if upTo == "" || names[i] <= upTo {
			return names[i], nil
		}
	}
	return "", nil
}

// Rebuild recreates the root volume from image (a directory, "" for an
// empty one) and the user volume from the newest snapshot not after upTo.
// The guest must not run.
func (m *Manager) Rebuild(key, image, upTo string) error {
	root := m.RootDir(key)
	os.Remove(root + ".enc") // a rebuilt root volume has a new data key
	if err := os.RemoveAll(root); err != nil {
		return fmt.Errorf("runtime: rebuild %s: %w", key, err)
	}
	if image != "" {
		if err := copyTree(image, root); err != nil {
			return fmt.Errorf("runtime: rebuild the root volume of %s: %w", key, err)
		}
	} else if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("runtime: rebuild %s: %w", key, err)
	}
	return m.restoreVolume(key, "user", upTo)
}

// Restore returns both volumes to the newest snapshot not after upTo.
// The guest must not run.
func (m *Manager) Restore(key, upTo string) error {
	for _, v := range []string{"root", "user"} {
		if err := m.restoreVolume(key, v, upTo); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) restoreVolume(key, v, upTo string) error {
	name, err := m.latest(key, upTo)
	if err != nil {
		return err
	}
	dst := filepath.Join(m.desktopDir(key), v)
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("runtime: restore the %s volume of %s: %w", v, key, err)
	}
	if name == "" {
		if m.sealed(key, v) {
			return nil // an encrypted volume without a snapshot stays as it is
		}
		return os.MkdirAll(dst, 0o700)
	}
	if enc := filepath.Join(m.snapshotDir(key, name), v+".enc"); fileExists(enc) {
		if err := copyFile(enc, dst+".enc", 0o600); err != nil {
			return fmt.Errorf("runtime: restore the %s volume of %s from %s: %w", v, key, name, err)
		}
		return nil
	}
	os.Remove(dst + ".enc")
	if err := copyTree(filepath.Join(m.snapshotDir(key, name), v), dst); err != nil {
		return fmt.Errorf("runtime: restore the %s volume of %s from %s: %w", v, key, name, err)
	}
	return nil
}

// Capture copies a desktop's root volume into an image.
func (m *Manager) Capture(key, account, region, imageID string) error {
	dst := m.ImageDir(account, region, imageID)
	os.RemoveAll(dst)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("runtime: capture %s: %w", key, err)
	}
	src := m.RootDir(key)
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dst, 0o700)
	}
	if err := copyTree(src, dst); err != nil {
		return fmt.Errorf("runtime: capture the root volume of %s: %w", key, err)
	}
	return nil
}

// RemoveImage deletes a captured image.
func (m *Manager) RemoveImage(account, region, imageID string) error {
	return os.RemoveAll(m.ImageDir(account, region, imageID))
}

// copyTree copies regular files, directories and symbolic links from src
// to dst (created).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case info.Mode().IsRegular():
			return copyFile(p, target, info.Mode().Perm())
		}
		return nil // sockets, fifos: not part of a volume's content
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
