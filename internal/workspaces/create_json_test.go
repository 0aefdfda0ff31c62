package workspaces

import (
	"bytes"
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
