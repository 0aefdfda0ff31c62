package workspaces

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/deskplane/deskplane/internal/ptr"
)

// TestDescribeOutAppendJSONMatchesEncodingJSON holds the hand-written
// DescribeWorkspaces encoder to encoding/json's bytes (what the gateway
// wrote before it) over random responses that take every member; a member
// added to Workspace and not to the encoder fails it.
func TestDescribeOutAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	typical := describeWorkspacesOut{Workspaces: []Workspace{{WorkspaceId: "ws-0bpw1stta", DirectoryId: "d-bb55269ea9", UserName: "alice",
		IpAddress: "10.0.0.4", State: "AVAILABLE", BundleId: "wsb-0123456789", SubnetId: "subnet-1", ComputerName: "WSAMZN-1",
		WorkspaceName: "eng-1", RootVolumeEncryptionEnabled: ptr.To(false), UserVolumeEncryptionEnabled: ptr.To(false),
		WorkspaceProperties: &WorkspaceProperties{RunningMode: ptr.To("MANUAL"), RootVolumeSizeGib: ptr.To(80), Protocols: []string{"PCOIP"}}}},
		NextToken: ptr.To("tok")}
	outs := []describeWorkspacesOut{{}, {Workspaces: []Workspace{}}, typical}
	for range 2000 {
		var o describeWorkspacesOut
		fill(r, reflect.ValueOf(&o).Elem())
		outs = append(outs, o)
	}
	seen := map[string]bool{}
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
		var m struct{ Workspaces []map[string]json.RawMessage }
		if err := json.Unmarshal(want, &m); err != nil {
			t.Fatal(err)
		}
		for _, w := range m.Workspaces {
			for k := range w {
				seen[k] = true
			}
		}
	}
	if n := reflect.TypeOf(Workspace{}).NumField(); len(seen) != n {
		t.Fatalf("the random responses wrote %d of Workspace's %d members: %v", len(seen), n, seen)
	}
}

// BenchmarkDescribeOutEncode encodes a page of 25 desktops.
//
//	go test ./internal/workspaces -run '^$' -bench BenchmarkDescribeOutEncode -benchmem
func BenchmarkDescribeOutEncode(b *testing.B) {
	w := Workspace{WorkspaceId: "ws-0bpw1stta", DirectoryId: "d-bb55269ea9", UserName: "alice",
		IpAddress: "10.0.0.4", State: "AVAILABLE", BundleId: "wsb-0123456789", SubnetId: "subnet-1", ComputerName: "WSAMZN-1",
		WorkspaceName: "eng-1", RootVolumeEncryptionEnabled: ptr.To(false), UserVolumeEncryptionEnabled: ptr.To(false),
		WorkspaceProperties: &WorkspaceProperties{RunningMode: ptr.To("MANUAL"), RootVolumeSizeGib: ptr.To(80), Protocols: []string{"PCOIP"}}}
	o := describeWorkspacesOut{NextToken: ptr.To("tok")}
	for range 25 {
		o.Workspaces = append(o.Workspaces, w)
	}
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := o.AppendJSON(make([]byte, 0, 16384)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&o); err != nil {
				b.Fatal(err)
			}
		}
	})
}
