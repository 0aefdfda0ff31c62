package cloudtrail

import (
	"bytes"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestWriteLinesAsBuffered writes the same batches of random lines (empty
// ones, long ones, batches past maxLinesPerWrite) through writev and
// through one buffer, with rotation at sizes that cut batches in the
// middle: every file, rotated or not, is the same byte for byte.
func TestWriteLinesAsBuffered(t *testing.T) {
	rnd := mrand.New(mrand.NewPCG(15, 19))
	for _, max := range []int64{1 << 30, 64 << 10, 5000, 700} {
		var batches [][][]byte
		for range 12 {
			n := rnd.IntN(1300)
			if rnd.IntN(4) == 0 {
				n = rnd.IntN(3)
			}
			var b [][]byte
			for range n {
				l := rnd.IntN(400)
				if rnd.IntN(20) == 0 {
					l = 0
				}
				line := bytes.Repeat([]byte{byte('a' + rnd.IntN(26))}, l)
				if l > 0 {
					line[rnd.IntN(l)] = '{'
				}
				b = append(b, line)
			}
			batches = append(batches, b)
		}
		write := func(buffered bool) map[string]string {
			dir := t.TempDir()
			f, err := openRotating(filepath.Join(dir, "events.jsonl"), max, 3)
			if err != nil {
				t.Fatal(err)
			}
			f.buffered = buffered
			for _, b := range batches {
				if err := f.WriteLines(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			files := map[string]string{}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				c, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				files[e.Name()] = string(c)
			}
			return files
		}
		got, want := write(false), write(true)
		if len(got) != len(want) {
			t.Fatalf("max %d: files %d, want %d", max, len(got), len(want))
		}
		for name, w := range want {
			if g, ok := got[name]; !ok || g != w {
				t.Fatalf("max %d: %s: %d bytes (%d lines), want %d (%d lines)", max, name, len(g), strings.Count(g, "\n"), len(w), strings.Count(w, "\n"))
			}
		}
		if want["events.jsonl"] == "" {
			t.Fatalf("max %d: nothing written", max)
		}
	}
}

// TestAdvance drops a short write's bytes from the vectors at every
// count: what is left is the rest of their bytes in order.
func TestAdvance(t *testing.T) {
	parts := []string{"abc", "\n", "de", "\n", "", "fghij", "\n"}
	all := strings.Join(parts, "")
	for n := 0; n <= len(all); n++ {
		var iov []syscall.Iovec
		for _, p := range parts {
			if p == "" {
				continue
			}
			b := []byte(p)
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			iov = append(iov, v)
		}
		iov = advance(iov, uintptr(n))
		var rest []byte
		for _, v := range iov {
			rest = append(rest, unsafeBytes(v)...)
		}
		if string(rest) != all[n:] {
			t.Fatalf("after %d bytes: %q, want %q", n, rest, all[n:])
		}
	}
}

func unsafeBytes(v syscall.Iovec) []byte { return unsafe.Slice(v.Base, v.Len) }
