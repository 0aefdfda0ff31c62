package workspaces

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
)

// TestCreateValidFastIsOn: the v tags of CreateWorkspaces' input are the
// ones ValidFast was written for, so it is on. A changed tag fails this
// test: update ValidFast and createValidTags to the new constraint.
func TestCreateValidFastIsOn(t *testing.T) {
	if !createValid.on {
		t.Fatal("ValidFast is off: a v tag of createWorkspacesIn's types is not in createValidTags")
	}
	var in createWorkspacesIn
	if err := awsproto.DecodeJSON(createRequestBody(), &in, "ValidationException"); err != nil || !in.ValidFast() {
		t.Fatalf("the benchmark's request: %v, ValidFast %v", err, in.ValidFast())
	}
}

// randCreateString makes strings around the input's constraints: ids with
// and without their prefixes, lengths about their bounds, characters from
// the patterns' classes and from outside them.
func randCreateString(r *rand.Rand) string {
	prefixes := []string{"", "d-", "wsd-", "wsb-", "ws-", "xwsd-", "d-wsd-", "D-", "(", "_"}
	charsets := []string{"0123456789abcdef", "0123456789abcdefghijklmnopqrstuvwxyz", "aZ09_().-",
		"abcXYZ09", "g", "é\n $\x00\xff", "-.", "A"}
	var sb strings.Builder
	sb.WriteString(prefixes[r.IntN(len(prefixes))])
	lens := []int{0, 1, 2, 7, 8, 9, 10, 12, 30, 60, 61, 62, 63, 64, 65, 66, 127, 128, 255, 256}
	n := lens[r.IntN(len(lens))]
	cs := charsets[r.IntN(len(charsets))]
	for range n {
		if r.IntN(40) == 0 { // now and then a character of another class
			cs2 := charsets[r.IntN(len(charsets))]
			sb.WriteString(string([]rune(cs2)[r.IntN(len([]rune(cs2)))]))
			continue
		}
		rs := []rune(cs)
		sb.WriteRune(rs[r.IntN(len(rs))])
	}
	return sb.String()
}

func randEnum(r *rand.Rand, set map[string]bool) *string {
	switch r.IntN(6) {
	case 0:
		return nil
	case 1:
		s := []string{"", "auto_stop", "X", "PCOIP ", "WSP,PCOIP"}[r.IntN(5)]
		return &s
	}
	vals := slices.Sorted(maps.Keys(set))
	return &vals[r.IntN(len(vals))]
}

func randCreateInput(r *rand.Rand) createWorkspacesIn {
	var in createWorkspacesIn
	n := []int{0, 1, 2, 5, 25, 26}[r.IntN(6)]
	if n == 0 && r.IntN(2) == 0 {
		return in // nil list
	}
	in.Workspaces = make([]WorkspaceRequest, n)
	str := func() *string { s := randCreateString(r); return &s }
	good := WorkspaceRequest{DirectoryId: "d-bb55269ea9", UserName: "[UNDEFINED]", BundleId: "wsb-pbu7vl0vg", WorkspaceName: ptrTo("bench-1")}
	for i := range in.Workspaces {
		w := &in.Workspaces[i]
		if i > 0 && r.IntN(3) > 0 {
			*w = in.Workspaces[i-1] // the same directory and bundle
		} else {
			*w = good
		}
		switch r.IntN(12) {
		case 0:
			w.DirectoryId = randCreateString(r)
		case 1:
			w.BundleId = randCreateString(r)
		case 2:
			w.UserName = randCreateString(r)
		case 3:
			w.WorkspaceName = str()
		case 4:
			w.WorkspaceName = nil
		}
		if r.IntN(3) == 0 {
			v := createValid
			p := &WorkspaceProperties{RunningMode: randEnum(r, v.runningMode), ComputeTypeName: randEnum(r, v.computeType),
				OperatingSystemName: randEnum(r, v.osName)}
			if r.IntN(2) == 0 {
				p.RootVolumeSizeGib = ptrTo(r.IntN(3000) - 10)
			}
			for range r.IntN(3) {
				p.Protocols = append(p.Protocols, *or(randEnum(r, v.protocol), ptrTo("")))
			}
			if r.IntN(3) == 0 {
				p.GlobalAccelerator = &GlobalAccelerator{Mode: randEnum(r, v.gaMode), PreferredProtocol: randEnum(r, v.gaProtocol)}
			}
			w.WorkspaceProperties = p
		}
		if r.IntN(3) == 0 {
			w.Tags = nil
			for range r.IntN(4) {
				tg := Tag{Key: randCreateString(r)}
				if r.IntN(2) == 0 {
					tg.Value = str()
				}
				w.Tags = append(w.Tags, tg)
			}
		}
		if r.IntN(10) == 0 {
			w.VolumeEncryptionKey, w.Ipv6Address = str(), str()
		}
	}
	return in
}

func ptrTo[T any](v T) *T { return &v }

func or(a, b *string) *string {
	if a != nil {
		return a
	}
	return b
}

// TestCreateValidFastAsValidate: ValidFast never takes an input Validate
// refuses, on random inputs about every constraint's bounds; and it takes
// most of the valid ones (the fast path is used).
func TestCreateValidFastAsValidate(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 5))
	var valid, fast, refused int
	for range 30000 {
		in := randCreateInput(r)
		msg := awsproto.Validate(&in)
		if in.ValidFast() {
			fast++
			if msg != "" {
				t.Fatalf("seed %d: ValidFast took an input Validate refuses (%s): %+v", seed, msg, in)
			}
		}
		if msg == "" {
			valid++
		} else {
			refused++
		}
	}
	if valid == 0 || refused == 0 || fast < valid*9/10 {
		t.Fatalf("seed %d: %d valid, %d refused, %d taken by ValidFast: the inputs do not reach both sides, or ValidFast misses valid ones", seed, valid, refused, fast)
	}
	t.Logf("%d valid (%d taken by ValidFast), %d refused", valid, fast, refused)
}
