package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// awsCLI runs the unmodified aws CLI against a server with the default
// customer admin's keys and returns its stdout, stderr and exit status.
func awsCLI(t *testing.T, url string, args ...string) (string, string, int) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the aws CLI is not on PATH: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--endpoint-url", url, "--output", "json"}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "AWS_ACCESS_KEY_ID="+config.AdminKeyID, "AWS_SECRET_ACCESS_KEY="+config.AdminSecret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"), "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("aws %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestCLIWorkspacesDirectorySide drives IP access control groups, directory
// properties, connection aliases and the connection status with the aws CLI.
func TestCLIWorkspacesDirectorySide(t *testing.T) {
	t.Parallel() // its own server: it waits more than it computes
	s := testserver.Start(t)
	e := setup(t, s)
	run := func(v any, args ...string) {
		t.Helper()
		out, errOut, code := awsCLI(t, s.URL, args...)
		if code != 0 {
			t.Fatalf("aws %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		if v != nil {
			if err := json.Unmarshal([]byte(out), v); err != nil {
				t.Fatalf("aws %s: %v in %q", strings.Join(args, " "), err, out)
			}
		}
	}
	fails := func(code string, args ...string) {
		t.Helper()
		_, errOut, exit := awsCLI(t, s.URL, args...)
		if exit == 0 || !strings.Contains(errOut, code) {
			t.Fatalf("aws %s: exit %d %q, want %s", strings.Join(args, " "), exit, errOut, code)
		}
	}
	var g struct{ GroupId string }
	run(&g, "workspaces", "create-ip-group", "--group-name", "cli-offices", "--group-desc", "offices",
		"--user-rules", "ipRule=203.0.113.0/24,ruleDesc=office", "--tags", "Key=team,Value=blue")
	if !strings.HasPrefix(g.GroupId, "wsipg-") {
		t.Fatalf("group id %q", g.GroupId)
	}
	var groups struct {
		Result []struct {
			GroupId   string `json:"groupId"`
			UserRules []struct {
				IPRule string `json:"ipRule"`
			} `json:"userRules"`
		}
	}
	run(&groups, "workspaces", "describe-ip-groups", "--group-ids", g.GroupId)
	if len(groups.Result) != 1 || len(groups.Result[0].UserRules) != 1 || groups.Result[0].UserRules[0].IPRule != "203.0.113.0/24" {
		t.Fatalf("describe-ip-groups: %+v", groups)
	}
	run(nil, "workspaces", "associate-ip-groups", "--directory-id", e.dirID, "--group-ids", g.GroupId)
	fails("ResourceAssociatedException", "workspaces", "delete-ip-group", "--group-id", g.GroupId)

	run(nil, "workspaces", "modify-workspace-access-properties", "--resource-id", e.dirID, "--workspace-access-properties",
		"DeviceTypeChromeOs=DENY,DeviceTypeZeroClient=DENY,DeviceTypeWorkSpacesThinClient=ALLOW")
	run(nil, "workspaces", "modify-selfservice-permissions", "--resource-id", e.dirID, "--selfservice-permissions", "RebuildWorkspace=ENABLED,RestartWorkspace=DISABLED")
	var dirs struct {
		Directories []struct {
			IpGroupIds                []string `json:"ipGroupIds"`
			WorkspaceAccessProperties map[string]string
			SelfservicePermissions    map[string]string
			SamlProperties            map[string]string
			EndpointEncryptionMode    string
		}
	}
	run(&dirs, "workspaces", "describe-workspace-directories", "--directory-ids", e.dirID)
	d := dirs.Directories[0]
	if len(d.IpGroupIds) != 1 || d.IpGroupIds[0] != g.GroupId || d.WorkspaceAccessProperties["DeviceTypeChromeOs"] != "DENY" ||
		d.WorkspaceAccessProperties["DeviceTypeZeroClient"] != "DENY" || d.WorkspaceAccessProperties["DeviceTypeWorkSpacesThinClient"] != "ALLOW" ||
		d.SelfservicePermissions["RebuildWorkspace"] != "ENABLED" || d.SelfservicePermissions["RestartWorkspace"] != "DISABLED" ||
		d.SamlProperties["Status"] != "DISABLED" || d.EndpointEncryptionMode != "STANDARD_TLS" {
		t.Fatalf("describe-workspace-directories: %+v", d)
	}

	var a struct{ AliasId string }
	run(&a, "workspaces", "create-connection-alias", "--connection-string", "cli.example.com")
	ws := e.ws
	if _, err := ws.AssociateConnectionAlias(ctxT(t), &workspaces.AssociateConnectionAliasInput{AliasId: &a.AliasId, ResourceId: &e.dirID}); err != nil {
		t.Fatal(err)
	}
	var aliases struct {
		ConnectionAliases []struct {
			AliasId      string
			State        string
			Associations []struct{ AssociationStatus string }
		}
	}
	run(&aliases, "workspaces", "describe-connection-aliases", "--alias-ids", a.AliasId)
	if len(aliases.ConnectionAliases) != 1 || aliases.ConnectionAliases[0].State != "CREATED" ||
		len(aliases.ConnectionAliases[0].Associations) != 1 || aliases.ConnectionAliases[0].Associations[0].AssociationStatus != "ASSOCIATED_WITH_OWNER_ACCOUNT" {
		t.Fatalf("describe-connection-aliases: %+v", aliases)
	}

	ids := e.create(t, ctxT(t), 1, "cli")
	e.waitAll(t, ctxT(t), ids, wstypes.WorkspaceStateAvailable)
	var st struct {
		WorkspacesConnectionStatus []struct {
			WorkspaceId     string
			ConnectionState string
		}
	}
	run(&st, "workspaces", "describe-workspaces-connection-status", "--workspace-ids", ids[0])
	if len(st.WorkspacesConnectionStatus) != 1 || st.WorkspacesConnectionStatus[0].ConnectionState != "DISCONNECTED" {
		t.Fatalf("describe-workspaces-connection-status: %+v", st)
	}
}
