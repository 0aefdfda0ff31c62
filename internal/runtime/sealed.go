package runtime

import (
	"archive/tar"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Encrypted volumes: a volume with a data key (Spec.Keys) is kept at rest
// as VOLUME.enc — a tar archive of its files sealed with AES-256-GCM under
// the volume's EBS data key — and never as plaintext in the data dir. While
// the guest runs, a decrypted working copy lives in a tmpfs (/dev/shm when
// present); it is sealed back into VOLUME.enc when the guest exits, and
// removed.

const sealMagic = "DPVOL1\n"

// tmpfsRoot is where the working copies of encrypted volumes live.
func tmpfsRoot() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// sealDir archives dir and encrypts the archive under key into file.
func sealDir(dir, file string, key []byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.IsDir() && !info.Mode().IsRegular() {
			return nil
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("seal %s: %w", file, err)
	}
	out := append([]byte(sealMagic), nonce...)
	out = gcm.Seal(out, nonce, buf.Bytes(), []byte(sealMagic))
	clear(buf.Bytes())
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return fmt.Errorf("seal %s: %w", file, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("seal %s: %w", file, err)
	}
	return nil
}

// openSealed decrypts file under key and extracts it into dir (created).
func openSealed(file, dir string, key []byte) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	if !bytes.HasPrefix(b, []byte(sealMagic)) {
		return fmt.Errorf("open %s: not a sealed volume", file)
	}
	b = b[len(sealMagic):]
	gcm, err := newGCM(key)
	if err != nil {
		return err
	}
	if len(b) < gcm.NonceSize() {
		return fmt.Errorf("open %s: truncated", file)
	}
	pt, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], []byte(sealMagic))
	if err != nil {
		return fmt.Errorf("open %s: the volume's data key does not open it: %w", file, err)
	}
	defer clear(pt)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	tr := tar.NewReader(bytes.NewReader(pt))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", file, err)
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) || strings.Contains(h.Name, "\\") {
			return fmt.Errorf("open %s: entry %q leaves the volume", file, h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode).Perm()|0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
}

// newGCM is AES-256-GCM under the SHA-256 of the volume's data key (EBS
// data keys have 64 bytes).
func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("a volume data key has at least 32 bytes, not %d", len(key))
	}
	k := sha256.Sum256(key)
	defer clear(k[:])
	blk, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("volume cipher: %w", err)
	}
	return cipher.NewGCM(blk)
}

// openVolumes prepares the working copies of g's encrypted volumes; m.mu is
// not held. It returns the paths the guest sees for root and user.
func (m *Manager) openVolumes(g *guest, root, user string) (string, string, error) {
	paths := map[string]string{"root": root, "user": user}
	for vol, key := range g.spec.Keys {
		plain, ok := paths[vol]
		if !ok {
			return "", "", fmt.Errorf("unknown volume %q", vol)
		}
		work := filepath.Join(tmpfsRoot(), fmt.Sprintf("deskplane-%d-%s", os.Getpid(), strings.ReplaceAll(g.spec.Key, "/", "_")), vol)
		if err := os.RemoveAll(work); err != nil {
			return "", "", err
		}
		enc := filepath.Join(m.desktopDir(g.spec.Key), vol+".enc")
		if _, err := os.Stat(enc); err == nil {
			if err := openSealed(enc, work, key); err != nil {
				return "", "", err
			}
		} else if _, err := os.Stat(plain); err == nil {
			if err := copyTree(plain, work); err != nil {
				return "", "", fmt.Errorf("encrypt the %s volume: %w", vol, err)
			}
		} else if err := os.MkdirAll(work, 0o700); err != nil {
			return "", "", err
		}
		if g.work == nil {
			g.work = map[string]string{}
		}
		g.work[vol] = work
		paths[vol] = work
	}
	return paths["root"], paths["user"], nil
}

// sealVolumes writes g's encrypted working copies back to VOLUME.enc and
// removes them and any plaintext copy left in the data dir.
func (m *Manager) sealVolumes(g *guest) error {
	var errs []error
	for vol, work := range g.work {
		enc := filepath.Join(m.desktopDir(g.spec.Key), vol+".enc")
		if err := sealDir(work, enc, g.spec.Keys[vol]); err != nil {
			errs = append(errs, fmt.Errorf("seal the %s volume of %s: %w", vol, g.spec.WorkspaceID, err))
			continue
		}
		os.RemoveAll(filepath.Dir(work) + "/" + vol)
		os.RemoveAll(filepath.Join(m.desktopDir(g.spec.Key), vol))
	}
	if len(g.work) > 0 {
		os.Remove(filepath.Dir(firstValue(g.work)))
	}
	for _, k := range g.spec.Keys {
		clear(k)
	}
	return errors.Join(errs...)
}

func firstValue(m map[string]string) string {
	for _, v := range m {
		return v
	}
	return ""
}
