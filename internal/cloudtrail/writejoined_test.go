package cloudtrail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLines is how the events file was written before the lines were
// joined as they were built (one buffer filled at the batch's end): the
// reference WriteJoined is held to.
func (r *rotatingFile) writeLines(lines [][]byte) error {
	var buf bytes.Buffer
	flush := func() error {
		if buf.Len() == 0 {
			return nil
		}
		n, err := r.f.Write(buf.Bytes())
		r.size += int64(n)
		buf.Reset()
		return err
	}
	for _, l := range lines {
		if pending := r.size + int64(buf.Len()); pending > 0 && pending+int64(len(l))+1 > r.max {
			if err := flush(); err != nil {
				return err
			}
			if err := r.rotate(); err != nil {
				return err
			}
		}
		buf.Write(l)
		buf.WriteByte('\n')
	}
	return flush()
}

// TestWriteJoinedAsWriteLines writes the same batches of random lines
// (empty ones, long ones, empty batches) joined and line by line, with
// rotation at sizes that cut batches in the middle and at every line:
// every file, rotated or not, is the same byte for byte.
func TestWriteJoinedAsWriteLines(t *testing.T) {
	rnd := mrand.New(mrand.NewPCG(15, 19))
	for _, max := range []int64{1 << 30, 64 << 10, 5000, 700, 1, 102} {
		var batches [][][]byte
		if max == 102 {
			// Lines of 51 bytes with their newline: two fill a file
			// exactly, a third starts the next one (these batches
			// alone: random ones would rotate them out).
			l := bytes.Repeat([]byte{'x'}, 50)
			batches = append(batches, [][]byte{l, l, l}, [][]byte{l}, [][]byte{l, l, l, l, l})
		}
		random := 12
		if max == 102 {
			random = 0
		}
		for range random {
			n := rnd.IntN(300)
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
		write := func(joined bool) map[string]string {
			dir := t.TempDir()
			f, err := openRotating(filepath.Join(dir, "events.jsonl"), max, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range batches {
				if joined {
					var buf []byte
					var lens []int
					for _, l := range b {
						buf = append(append(buf, l...), '\n')
						lens = append(lens, len(l)+1)
					}
					err = f.WriteJoined(buf, lens)
				} else {
					err = f.writeLines(b)
				}
				if err != nil {
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
		got, want := write(true), write(false)
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

// TestEventsFileHoldsEveryRow records events whose resources are in 0 to
// 3 other accounts: the events file has each event's line and then its
// copies for the other accounts (sorted), in the order recorded.
func TestEventsFileHoldsEveryRow(t *testing.T) {
	dir := t.TempDir()
	tr, err := New(Options{Dir: dir, MaxBatch: 7})
	if err != nil {
		t.Fatal(err)
	}
	svc := &gateway.Service{Name: "kms", EventSource: "kms.amazonaws.com"}
	p := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDAEXAMPLE", AccessKeyID: "AKIAEXAMPLE"}
	var want []string
	for i := range 60 {
		e := &gateway.Event{RequestID: fmt.Sprintf("r-%d", i), Time: time.Unix(1700000000+int64(i), 0), Service: svc, Operation: "Decrypt",
			Region: "us-east-1", Account: "111122223333", Principal: p, ReadOnly: true}
		want = append(want, fmt.Sprintf("r-%d 111122223333", i))
		for k := range i % 4 {
			acct := fmt.Sprintf("99990000%04d", 3-k)
			e.Resources = append(e.Resources, gateway.Check{Resource: "arn:aws:kms:us-east-1:" + acct + ":key/k", ResourceAccount: acct})
		}
		for k := i%4 - 1; k >= 0; k-- {
			want = append(want, fmt.Sprintf("r-%d 99990000%04d", i, 3-k))
		}
		tr.Record(context.Background(), e)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var r struct{ RequestID, RecipientAccountID string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, r.RequestID+" "+r.RecipientAccountID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events file:\n%v\nwant\n%v", got, want)
	}
}
