package workspaces

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestDescCacheAsTheEncoder answers random desktops through the cache,
// each three times (a miss, a miss that stores, a hit) and then changed in
// one member at a time, in every member of the desktop and of its
// properties: every answer must be Workspace.appendJSON's bytes. It fails
// when a member is left out of descEntry.same (the changed desktop is then
// answered with the stored bytes).
func TestDescCacheAsTheEncoder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	c := newDescCache()
	check := func(w *Workspace, what string) {
		t.Helper()
		want := w.appendJSON([]byte("x"))
		if got := c.appendWorkspace([]byte("x"), w); !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
		}
	}
	hits := 0
	for n := range 600 {
		var w Workspace
		fill(r, reflect.ValueOf(&w).Elem())
		if n%2 == 0 {
			w.ModificationStates, w.RelatedWorkspaces, w.DataReplicationSettings, w.StandbyWorkspacesProperties = nil, nil, nil, nil
		}
		w.WorkspaceId = "ws-" + string(rune('a'+n%26)) + "0bpw1stta"
		for range 3 {
			check(&w, "the same desktop")
		}
		if cacheable(&w) {
			s := &c.slots[mapHashOf(c, w.WorkspaceId)%descSlots]
			if e := s.e.Load(); e == nil || !e.same(&w) {
				t.Fatalf("desktop %d: not stored after its second miss", n)
			}
			hits++
		}
		// Each member changed on its own, in a copy whose properties are
		// a copy (the entry's pointers are compared by identity).
		for _, path := range memberPaths(reflect.TypeOf(w)) {
			v := w
			if w.WorkspaceProperties != nil {
				p := *w.WorkspaceProperties
				v.WorkspaceProperties = &p
			}
			if !change(r, reflect.ValueOf(&v).Elem(), path) {
				continue
			}
			check(&v, "changed in "+path.String())
			check(&w, "back to the stored desktop")
		}
	}
	if hits < 200 {
		t.Fatalf("only %d desktops were stored", hits)
	}
}

// TestDescCacheHitAllocatesNothing: a desktop answered again from its
// entry costs no allocation.
func TestDescCacheHitAllocatesNothing(t *testing.T) {
	c := newDescCache()
	root, size, mode := false, 80, "AUTO_STOP"
	w := Workspace{WorkspaceId: "ws-0bpw1stta", DirectoryId: "d-1234567890", UserName: "alice", State: "AVAILABLE",
		BundleId: "wsb-0123456789", RootVolumeEncryptionEnabled: &root,
		WorkspaceProperties: &WorkspaceProperties{RunningMode: &mode, RootVolumeSizeGib: &size, Protocols: []string{"PCOIP"}}}
	b := make([]byte, 0, 4096)
	c.appendWorkspace(b, &w)
	c.appendWorkspace(b, &w)
	if n := testing.AllocsPerRun(100, func() { c.appendWorkspace(b[:0], &w) }); n != 0 {
		t.Fatalf("%v allocations per hit", n)
	}
}

// memberPath is a member of Workspace, or of the properties it points to.
type memberPath []int

func (p memberPath) String() string {
	t := reflect.TypeOf(Workspace{})
	s := ""
	for _, i := range p {
		f := t.Field(i)
		s += "." + f.Name
		t = f.Type
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	return s
}

// memberPaths lists Workspace's members and those of its properties.
func memberPaths(t reflect.Type) []memberPath {
	var ps []memberPath
	for i := range t.NumField() {
		ps = append(ps, memberPath{i})
		if t.Field(i).Type == reflect.TypeOf(&WorkspaceProperties{}) {
			pt := t.Field(i).Type.Elem()
			for j := range pt.NumField() {
				ps = append(ps, memberPath{i, j})
			}
		}
	}
	return ps
}

// change sets the member at path to another value: a string longer, a
// boolean flipped, a pointer to a new value other than the old one's (nil
// to a value), a slice to a new one one longer or as long with its first
// element changed; false when the
// member is under a nil pointer.
func change(r *rand.Rand, v reflect.Value, path memberPath) bool {
	for k, i := range path {
		f := v.Field(i)
		if k < len(path)-1 {
			if f.IsNil() {
				return false
			}
			v = f.Elem()
			continue
		}
		other(r, f)
	}
	return true
}

// other sets v to a value other than its own.
func other(r *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int:
		v.SetInt(v.Int() + 1)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if !v.IsNil() {
			p.Elem().Set(v.Elem())
			other(r, p.Elem())
		} else {
			fill(r, p.Elem())
		}
		v.Set(p)
	case reflect.Struct:
		// Its first member changed (each struct a desktop points to has one
		// that is written).
		other(r, v.Field(0))
	case reflect.Slice:
		if v.Len() > 0 && r.IntN(2) == 0 {
			// As long, its first element changed.
			s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(s, v)
			other(r, s.Index(0))
			v.Set(s)
			return
		}
		s := reflect.MakeSlice(v.Type(), v.Len()+1, v.Len()+1)
		reflect.Copy(s, v)
		fill(r, s.Index(v.Len()))
		v.Set(s)
	default:
		panic("other: add a case for " + v.Type().String())
	}
}
