package workspaces

import (
	"fmt"
	"github.com/deskplane/deskplane/internal/ptr"
	"strings"
	"testing"
	"time"
)

var allStates = []string{"PENDING", "AVAILABLE", "IMPAIRED", "UNHEALTHY", "REBOOTING", "STARTING", "REBUILDING", "RESTORING",
	"MAINTENANCE", "ADMIN_MAINTENANCE", "TERMINATING", "TERMINATED", "SUSPENDED", "UPDATING", "STOPPING", "STOPPED", "ERROR"}

// stateRule is one operation's documented source states; every other state
// gets the error code notAllowed, and the listed states their own code.
type stateRule struct {
	op         string
	input      string // %s is the desktop id
	batch      bool   // reports per-desktop errors in FailedRequests
	allowed    []string
	notAllowed string
	special    map[string]string // state -> expected code ("" = success)
	next       map[string]string // state -> state right after the call when allowed
}

var stateRules = []stateRule{
	{op: "StartWorkspaces", input: `{"StartWorkspaceRequests":[{"WorkspaceId":%q}]}`, batch: true,
		allowed: []string{"STOPPED"}, notAllowed: "InvalidResourceStateException", next: map[string]string{"STOPPED": "STARTING"}},
	{op: "StopWorkspaces", input: `{"StopWorkspaceRequests":[{"WorkspaceId":%q}]}`, batch: true,
		allowed: []string{"AVAILABLE", "IMPAIRED", "UNHEALTHY", "ERROR"}, notAllowed: "InvalidResourceStateException",
		next: map[string]string{"AVAILABLE": "STOPPING", "ERROR": "STOPPING"}},
	{op: "RebootWorkspaces", input: `{"RebootWorkspaceRequests":[{"WorkspaceId":%q}]}`, batch: true,
		allowed: []string{"AVAILABLE", "UNHEALTHY"}, notAllowed: "InvalidResourceStateException", next: map[string]string{"AVAILABLE": "REBOOTING"}},
	{op: "RebuildWorkspaces", input: `{"RebuildWorkspaceRequests":[{"WorkspaceId":%q}]}`, batch: true,
		allowed: []string{"AVAILABLE", "ERROR", "UNHEALTHY", "STOPPED", "REBOOTING"}, notAllowed: "InvalidResourceStateException",
		next: map[string]string{"STOPPED": "REBUILDING"}},
	{op: "TerminateWorkspaces", input: `{"TerminateWorkspaceRequests":[{"WorkspaceId":%q}]}`, batch: true,
		allowed: []string{"PENDING", "AVAILABLE", "IMPAIRED", "UNHEALTHY", "REBOOTING", "STARTING", "REBUILDING", "RESTORING", "MAINTENANCE",
			"ADMIN_MAINTENANCE", "TERMINATING", "TERMINATED", "UPDATING", "STOPPING", "STOPPED", "ERROR"},
		notAllowed: "InvalidResourceStateException", next: map[string]string{"AVAILABLE": "TERMINATING", "TERMINATED": "TERMINATED"}},
	{op: "RestoreWorkspace", input: `{"WorkspaceId":%q}`,
		allowed: []string{"AVAILABLE", "ERROR", "UNHEALTHY", "STOPPED"}, notAllowed: "OperationNotSupportedException",
		special: map[string]string{"TERMINATED": "ResourceNotFoundException"}, next: map[string]string{"STOPPED": "RESTORING"}},
	{op: "ModifyWorkspaceState", input: `{"WorkspaceId":%q,"WorkspaceState":"ADMIN_MAINTENANCE"}`,
		allowed: []string{"AVAILABLE", "ADMIN_MAINTENANCE"}, notAllowed: "InvalidResourceStateException",
		special: map[string]string{"TERMINATED": "ResourceNotFoundException"}, next: map[string]string{"AVAILABLE": "ADMIN_MAINTENANCE"}},
	{op: "ModifyWorkspaceProperties", input: `{"WorkspaceId":%q,"WorkspaceProperties":{"RunningMode":"ALWAYS_ON"}}`,
		allowed: []string{"AVAILABLE", "STOPPED"}, notAllowed: "InvalidResourceStateException",
		special: map[string]string{"TERMINATED": "ResourceNotFoundException"}, next: map[string]string{"STOPPED": "STOPPED"}},
	{op: "MigrateWorkspace", input: `{"SourceWorkspaceId":%q,"BundleId":"` + "%s" + `"}`,
		allowed: []string{"AVAILABLE", "STOPPED", "ERROR"}, notAllowed: "OperationNotSupportedException",
		special: map[string]string{"TERMINATED": "ResourceNotFoundException"}},
	{op: "CreateWorkspaceImage", input: `{"Name":"img-%[1]s","Description":"golden image","WorkspaceId":%[1]q}`,
		allowed: []string{"AVAILABLE"}, notAllowed: "InvalidResourceStateException",
		special: map[string]string{"TERMINATED": "ResourceNotFoundException"}, next: map[string]string{"AVAILABLE": "SUSPENDED"}},
}

// TestStateRules runs every desktop operation from every state and checks
// that it is allowed exactly from the documented states, with the model's
// error otherwise (in FailedRequests for the batch operations).
func TestStateRules(t *testing.T) {
	e := newImgEnv(t)
	bundles := publicCatalog.order
	source, target := bundles[0], bundles[1]
	n := 0
	for _, r := range stateRules {
		for _, st := range allStates {
			t.Run(r.op+"/"+st, func(t *testing.T) {
				n++
				id := fmt.Sprintf("ws-st%07d", n)
				base := e.clk.Now().Add(-24 * time.Hour)
				w := &desktopRec{WorkspaceID: id, DirectoryID: "d-1234567890", UserName: UndefinedUser, WorkspaceName: "desk" + id[3:],
					BundleID: source, State: st, PrevState: "AVAILABLE", SubnetID: "subnet-1", IPAddress: "10.0.1.5",
					Properties: WorkspaceProperties{RunningMode: ptr.To("MANUAL"), ComputeTypeName: ptr.To("STANDARD"), RootVolumeSizeGib: ptr.To(80), UserVolumeSizeGib: ptr.To(50)},
					Created:    base, StateSince: e.clk.Now(), SnapshotBase: &base}
				e.putDesktop(imgOwner, imgRegion, w)
				input := fmt.Sprintf(r.input, id)
				if r.op == "MigrateWorkspace" {
					input = fmt.Sprintf(r.input, id, target)
				}
				want := r.notAllowed
				for _, a := range r.allowed {
					if a == st {
						want = ""
					}
				}
				if c, ok := r.special[st]; ok {
					want = c
				}
				out, err := e.call(imgOwner, imgRegion, r.op, input)
				got := ""
				if err != nil {
					if !strings.Contains(err.Error(), ":") {
						t.Fatalf("unexpected error %v", err)
					}
					got = strings.SplitN(err.Error(), ":", 2)[0]
				} else if r.batch {
					if f := out["FailedRequests"].([]any); len(f) > 0 {
						got = f[0].(map[string]any)["ErrorCode"].(string)
						if r.batch && got != "" && f[0].(map[string]any)["WorkspaceId"] != id {
							t.Fatalf("FailedRequests names %v, want %s", f[0], id)
						}
					}
				}
				if got != want {
					t.Fatalf("%s from %s: got %q, want %q", r.op, st, got, want)
				}
				if nxt, ok := r.next[st]; ok && want == "" {
					if s := e.desktop(imgOwner, imgRegion, id).State; s != nxt {
						t.Fatalf("%s from %s: state now %s, want %s", r.op, st, s, nxt)
					}
				}
				if want != "" {
					if s := e.desktop(imgOwner, imgRegion, id).State; s != st {
						t.Fatalf("%s from %s failed but changed the state to %s", r.op, st, s)
					}
				}
			})
		}
	}
}
