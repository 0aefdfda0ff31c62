package cloudtrail

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteLinesAsBuffered writes the same batches of lines (empty ones,
// lines past the file's size, batches past the most vectors one write
// takes) to two rotating files, one with writeRun and one with
// writeBuffered: every file, rotated ones too, holds the same bytes.
func TestWriteLinesAsBuffered(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	open := func(buffered bool) (*rotatingFile, string) {
		dir := t.TempDir()
		r, err := openRotating(filepath.Join(dir, "events.jsonl"), 1<<20, 3)
		if err != nil {
			t.Fatal(err)
		}
		r.buffered = buffered
		return r, dir
	}
	a, adir := open(false)
	b, bdir := open(true)
	for batch := range 60 {
		n := rng.IntN(40)
		if batch%10 == 9 {
			n = 3000 // more than iovMax vectors
		}
		lines := make([][]byte, n)
		for i := range lines {
			l := make([]byte, rng.IntN(900))
			if n < 100 && rng.IntN(50) == 0 {
				l = make([]byte, 1100<<10) // past the file's size
			}
			for j := range l {
				l[j] = byte('a' + rng.IntN(26))
			}
			lines[i] = l
		}
		if err := a.WriteLines(lines); err != nil {
			t.Fatal(err)
		}
		if err := b.WriteLines(lines); err != nil {
			t.Fatal(err)
		}
		if a.size != b.size {
			t.Fatalf("batch %d: sizes %d and %d", batch, a.size, b.size)
		}
	}
	a.Close()
	b.Close()
	for _, name := range []string{"events.jsonl", "events.jsonl.1", "events.jsonl.2", "events.jsonl.3"} {
		x, errx := os.ReadFile(filepath.Join(adir, name))
		y, erry := os.ReadFile(filepath.Join(bdir, name))
		if errx != nil || erry != nil {
			t.Fatalf("%s: %v, %v", name, errx, erry)
		}
		if !bytes.Equal(x, y) {
			t.Fatalf("%s differs: %d and %d bytes", name, len(x), len(y))
		}
	}
}
