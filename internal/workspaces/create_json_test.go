package workspaces

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/deskplane/deskplane/internal/ptr"
)

// TestCreateOutAppendJSONMatchesEncodingJSON: the CreateWorkspaces
// response AppendJSON writes is byte for byte what encoding/json writes,
// for empty, typical and random responses (refused requests among them).
func TestCreateOutAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	typical := createWorkspacesOut{FailedRequests: []failedCreate{}, PendingRequests: []Workspace{{WorkspaceId: "ws-0bpw1stta",
		DirectoryId: "d-bb55269ea9", UserName: "[UNDEFINED]", State: "PENDING", BundleId: "wsb-0123456789", WorkspaceName: "bench-1",
		RootVolumeEncryptionEnabled: ptr.To(false), UserVolumeEncryptionEnabled: ptr.To(false),
		WorkspaceProperties: &WorkspaceProperties{RunningMode: ptr.To("MANUAL"), RootVolumeSizeGib: ptr.To(80), Protocols: []string{"PCOIP"}}}}}
	refused := createWorkspacesOut{FailedRequests: []failedCreate{{WorkspaceRequest: WorkspaceRequest{DirectoryId: "d-bb55269ea9",
		UserName: "bob <&>", BundleId: "wsb-0123456789", WorkspaceName: ptr.To("x")}, ErrorCode: "ResourceAlreadyExistsException",
		ErrorMessage: "A WorkSpace named x already exists."}}, PendingRequests: []Workspace{}}
	outs := []createWorkspacesOut{{}, {FailedRequests: []failedCreate{}, PendingRequests: []Workspace{}}, typical, refused}
	for range 1000 {
		var o createWorkspacesOut
		fill(r, reflect.ValueOf(&o).Elem())
		outs = append(outs, o)
	}
	for i := range outs {
		want, err := json.Marshal(&outs[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := outs[i].AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("response %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// BenchmarkCreateOutAppendJSON encodes a CreateWorkspaces answer of 25
// desktops as bench/peer's create makes them, into a reused buffer (as the
// gateway's pooled one).
func BenchmarkCreateOutAppendJSON(b *testing.B) {
	e, _ := newCreateEnv(b)
	out, err := e.gw.Invoke(context.Background(), e.inv, "workspaces", "CreateWorkspaces", e.body(25, "a-"))
	if err != nil {
		b.Fatal(err)
	}
	o := out.(*createWorkspacesOut)
	var buf []byte
	for b.Loop() {
		if buf, err = o.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// TestCreateOutRepeatsAsEncodingJSON: an answer whose desktops repeat
// members of the desktop before them (wsRuns copies those runs' bytes) is
// written as encoding/json writes it, whichever member differs. Each
// desktop is the one before with a few members made anew (random, nil,
// or the same value behind a new pointer), the properties' and the
// accelerator's members among them.
func TestCreateOutRepeatsAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	wsType := reflect.TypeFor[Workspace]()
	propsType := reflect.TypeFor[WorkspaceProperties]()
	for range 3000 {
		var o createWorkspacesOut
		o.FailedRequests = []failedCreate{}
		var w Workspace
		fill(r, reflect.ValueOf(&w).Elem())
		for range 1 + r.IntN(8) {
			if w.WorkspaceProperties != nil { // never change the desktop before's
				p := *w.WorkspaceProperties
				if p.GlobalAccelerator != nil {
					g := *p.GlobalAccelerator
					p.GlobalAccelerator = &g
				}
				w.WorkspaceProperties = &p
			}
			for range r.IntN(3) {
				v := reflect.ValueOf(&w).Elem().Field(r.IntN(wsType.NumField()))
				if w.WorkspaceProperties != nil && r.IntN(2) == 0 {
					v = reflect.ValueOf(w.WorkspaceProperties).Elem().Field(r.IntN(propsType.NumField()))
					if g := w.WorkspaceProperties.GlobalAccelerator; g != nil && r.IntN(3) == 0 {
						v = reflect.ValueOf(g).Elem().Field(r.IntN(2))
					}
				}
				switch {
				case v.Kind() == reflect.Pointer && !v.IsNil() && r.IntN(2) == 0: // the same value, a new pointer
					p := reflect.New(v.Type().Elem())
					p.Elem().Set(v.Elem())
					v.Set(p)
				case r.IntN(4) == 0:
					v.SetZero()
				default:
					fill(r, v)
				}
			}
			o.PendingRequests = append(o.PendingRequests, w)
		}
		want, err := json.Marshal(&o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := o.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got[6:]) != string(want) {
			t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got[6:], want)
		}
	}
}
