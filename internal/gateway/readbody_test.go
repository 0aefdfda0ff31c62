package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"
)

// TestReadBodyAsReadAll: readBody reads what io.ReadAll of the body cut at
// limit+1 bytes reads, with the same error, whatever the declared length
// says (exact, short, long, unknown, over the limit) and however the
// reader hands out its bytes, and whether or not a small buffer is given
// (of sizes below, at and above the declared length).
func TestReadBodyAsReadAll(t *testing.T) {
	const limit = 64
	errBroken := errors.New("broken")
	for _, size := range []int{0, 1, 10, 63, 64, 65, 100, 1000} {
		body := bytes.Repeat([]byte("x"), size)
		for _, declared := range []int64{-1, 0, int64(size), int64(size) - 1, int64(size) + 1, limit, limit + 1, 5000} {
			for name, wrap := range map[string]func(io.Reader) io.Reader{
				"whole":    func(r io.Reader) io.Reader { return r },
				"one byte": iotest.OneByteReader,
				"eof":      iotest.DataErrReader,
				"broken":   func(r io.Reader) io.Reader { return io.MultiReader(r, iotest.ErrReader(errBroken)) },
			} {
				for _, small := range []int{0, 1, 11, 64, 65, 66, 256} {
					r, _ := http.NewRequest(http.MethodPost, "/", nil)
					r.Body = io.NopCloser(wrap(bytes.NewReader(body)))
					r.ContentLength = declared
					buf := bytes.Repeat([]byte{'?'}, small) // not zero: a stale byte would show
					got, gerr := readBody(r, limit, buf)
					want, werr := io.ReadAll(io.LimitReader(wrap(bytes.NewReader(body)), limit+1))
					if !bytes.Equal(got, want) || !errors.Is(gerr, werr) {
						t.Fatalf("size %d, declared %d, %s, small buffer %d: got %d bytes, %v; want %d bytes, %v", size, declared, name, small, len(got), gerr, len(want), werr)
					}
				}
			}
		}
	}
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	if b, err := readBody(r, limit, nil); err != nil || len(b) != 0 {
		t.Fatalf("no body: %q, %v", b, err)
	}
	r, _ = http.NewRequest(http.MethodPost, "/", strings.NewReader("abc"))
	if b, err := readBody(r, limit, make([]byte, 8)); err != nil || string(b) != "abc" {
		t.Fatalf("a body of declared length: %q, %v", b, err)
	}
}

// TestCallActionFollowsTheOperation: the action Service.Add builds is the
// one Call.Action returns, and an operation changed after it was added (or
// never added) gets its action built anew.
func TestCallActionFollowsTheOperation(t *testing.T) {
	svc := &Service{Name: "workspaces", ActionPrefix: "workspaces"}
	op := &Operation{Name: "DescribeWorkspaces"}
	named := &Operation{Name: "CreateWorkspaces", Action: "CreateWorkspacesX"}
	svc.Add(op, named)
	c := &Call{Service: svc, Op: op}
	if got := c.Action(); got != "workspaces:DescribeWorkspaces" {
		t.Fatalf("action %q", got)
	}
	if got := (&Call{Service: svc, Op: named}).Action(); got != "workspaces:CreateWorkspacesX" {
		t.Fatalf("declared action %q", got)
	}
	op.Action = "Other"
	if got := c.Action(); got != "workspaces:Other" {
		t.Fatalf("after the operation's action changed: %q", got)
	}
	other := &Service{Name: "x", ActionPrefix: "x"}
	if got := (&Call{Service: other, Op: named}).Action(); got != "x:CreateWorkspacesX" {
		t.Fatalf("in another service: %q", got)
	}
	if got := (&Call{Service: svc, Op: &Operation{Name: "Unadded"}}).Action(); got != "workspaces:Unadded" {
		t.Fatalf("an operation never added: %q", got)
	}
}

// TestCallStateFillsItsClass: the per-call allocation, with the 8 bytes of
// its header of pointer bits, is its size class (1,408 bytes on 64-bit
// platforms): smallBody takes what the other members leave, no more and no
// less (a member added to callState must come out of it).
func TestCallStateFillsItsClass(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the size class is figured for 64-bit platforms")
	}
	if n := unsafe.Sizeof(callState{}) + 8; n > 1408 || n <= 1408-8 {
		t.Fatalf("callState with its header is %d bytes (smallBody %d), its size class 1,408", n, smallBody)
	}
}
