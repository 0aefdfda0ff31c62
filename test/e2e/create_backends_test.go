package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestCreateWorkspacesSameOnBothBackends holds CreateWorkspaces to the same
// results on the embedded store and on PostgreSQL: the same requests (a
// batch mixing accepted desktops with every kind of refusal, names and
// users taken before and inside the batch, conflicting requests sent at
// once, encrypted desktops with good and bad keys) give the same
// PendingRequests, the same FailedRequests and the same stored desktops,
// ids aside. Both servers plan each request ahead of its transaction
// through a store.ReadSet; the conflicting requests make some of those
// plans stale, so both the planned and the re-planned path are taken.
func TestCreateWorkspacesSameOnBothBackends(t *testing.T) {
	pgDSN := freshDatabase(t) // skips without a test PostgreSQL
	mk := make([]byte, 32)
	t.Setenv("DESKPLANE_MASTER_KEY", base64.StdEncoding.EncodeToString(mk)) // a PostgreSQL store needs one
	pgDSN2 := freshDatabase(t)
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, s *testserver.Server) []string
	}{
		{"user-decoupled", createScenarioByop},
		{"encrypted", createScenarioEncrypted},
	} {
		t.Run(sc.name, func(t *testing.T) {
			dsn := pgDSN
			if sc.name == "encrypted" {
				dsn = pgDSN2
			}
			embedded := sc.run(t, testserver.Start(t, testserver.Timing("instant")))
			postgres := sc.run(t, testserver.Start(t, testserver.Timing("instant"), testserver.Store(dsn)))
			if len(embedded) != len(postgres) {
				t.Fatalf("%d results on the embedded store, %d on PostgreSQL", len(embedded), len(postgres))
			}
			for i := range embedded {
				if embedded[i] != postgres[i] {
					t.Errorf("result %d differs:\nembedded: %s\npostgres: %s", i, embedded[i], postgres[i])
				}
			}
		})
	}
}

// canon rewrites a server's own ids in a transcript to names both servers
// share: the environment's directory, bundle, subnets and key by role, and
// every desktop id to "ws-*" (and the computer name made of it).
type canon struct {
	repl []string
}

var (
	wsIDRe   = regexp.MustCompile(`ws-[0-9a-z]{6,}`)
	compName = regexp.MustCompile(`WSAMZN-[0-9A-Z]+`)
)

func (c *canon) add(id, as string) { c.repl = append(c.repl, id, as) }

func (c *canon) text(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	s := strings.NewReplacer(c.repl...).Replace(string(b))
	s = wsIDRe.ReplaceAllString(s, "ws-*")
	return compName.ReplaceAllString(s, "WSAMZN-*")
}

// newCanon names the environment's directory, bundle and the directory's
// subnets (in the directory's order).
func newCanon(t *testing.T, e *env) *canon {
	t.Helper()
	c := &canon{}
	c.add(e.dirID, "DIR")
	c.add(e.bundleID, "BUNDLE")
	out, err := e.ws.DescribeWorkspaceDirectories(ctxT(t), &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{e.dirID}})
	if err != nil || len(out.Directories) != 1 {
		t.Fatalf("DescribeWorkspaceDirectories: %v", err)
	}
	for i, s := range out.Directories[0].SubnetIds {
		c.add(s, fmt.Sprintf("SUBNET%d", i))
	}
	return c
}

// result is one CreateWorkspaces answer as a transcript line.
func (c *canon) result(out *workspaces.CreateWorkspacesOutput) string {
	return c.text(struct {
		Pending []wstypes.Workspace
		Failed  []wstypes.FailedCreateWorkspaceRequest
	}{out.PendingRequests, out.FailedRequests})
}

// stored lists every desktop of the directory once all are AVAILABLE, one
// transcript line each, sorted.
func (c *canon) stored(t *testing.T, e *env, ids []string) []string {
	t.Helper()
	ctx := ctxT(t)
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	var lines []string
	p := workspaces.NewDescribeWorkspacesPaginator(e.ws, &workspaces.DescribeWorkspacesInput{DirectoryId: aws.String(e.dirID)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range out.Workspaces {
			lines = append(lines, "stored "+c.text(w))
		}
	}
	sort.Strings(lines)
	return lines
}

func pendingIDs(out *workspaces.CreateWorkspacesOutput) []string {
	var ids []string
	for _, w := range out.PendingRequests {
		ids = append(ids, aws.ToString(w.WorkspaceId))
	}
	return ids
}

// createScenarioByop runs user-decoupled and user desktops on the
// environment's BYOP bundle and returns the transcript.
func createScenarioByop(t *testing.T, s *testserver.Server) []string {
	e := setup(t, s)
	c := newCanon(t, e)
	ctx := ctxT(t)
	req := func(name, user string, edit func(*wstypes.WorkspaceRequest)) wstypes.WorkspaceRequest {
		r := wstypes.WorkspaceRequest{DirectoryId: aws.String(e.dirID), UserName: aws.String(user), BundleId: aws.String(e.bundleID),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual},
			Tags:                []wstypes.Tag{{Key: aws.String("Scenario"), Value: aws.String(name + "." + strings.Trim(user, "[]"))}}}
		if name != "" {
			r.WorkspaceName = aws.String(name)
		}
		if edit != nil {
			edit(&r)
		}
		return r
	}
	named := func(name string) wstypes.WorkspaceRequest { return req(name, "[UNDEFINED]", nil) }
	var lines, ids []string
	create := func(rs ...wstypes.WorkspaceRequest) *workspaces.CreateWorkspacesOutput {
		t.Helper()
		out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: rs})
		if err != nil {
			t.Fatalf("CreateWorkspaces: %v", err)
		}
		ids = append(ids, pendingIDs(out)...)
		return out
	}
	lines = append(lines, c.result(create(named("taken"), req("", "carol", nil))))
	// One batch: accepted desktops among refusals of every kind, checked
	// ahead and in the transaction alike.
	lines = append(lines, c.result(create(
		named("ok-1"),
		named("taken"),
		named("dup"),
		req("no-bundle", "[UNDEFINED]", func(r *wstypes.WorkspaceRequest) { r.BundleId = aws.String("wsb-000000000") }),
		req("no-dir", "[UNDEFINED]", func(r *wstypes.WorkspaceRequest) { r.DirectoryId = aws.String("d-0000000000") }),
		req("", "[UNDEFINED]", nil),
		req("auto-stop", "[UNDEFINED]", func(r *wstypes.WorkspaceRequest) { r.WorkspaceProperties.RunningMode = wstypes.RunningModeAutoStop }),
		req("volumes", "[UNDEFINED]", func(r *wstypes.WorkspaceRequest) {
			r.WorkspaceProperties.RootVolumeSizeGib = aws.Int32(90)
			r.WorkspaceProperties.UserVolumeSizeGib = aws.Int32(10)
		}),
		req("bad-tag", "[UNDEFINED]", func(r *wstypes.WorkspaceRequest) {
			r.Tags = []wstypes.Tag{{Key: aws.String("aws:reserved"), Value: aws.String("x")}}
		}),
		named("dup"),
		req("", "alice", nil), req("", "ALICE", nil), req("", "carol", nil), req("", "nobody", nil),
		req("named-user", "bob", nil),
		req("encrypted", "[UNDEFINED]", func(r *wstypes.WorkspaceRequest) { r.VolumeEncryptionKey = aws.String("alias/none") }),
		named("ok-2"),
	)))
	// Conflicting requests at once: every one asks for the same name and
	// the same user; exactly one gets each, the others are refused.
	const racers = 6
	outs := make([]*workspaces.CreateWorkspacesOutput, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{
				named("contested"), named(fmt.Sprintf("own-%d", i)), req("", "bob", nil)}})
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
				return
			}
			outs[i] = out
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Which racer wins differs from run to run; what each name and user
	// got does not.
	got := map[string][]string{}
	for _, out := range outs {
		ids = append(ids, pendingIDs(out)...)
		for _, w := range out.PendingRequests {
			k := aws.ToString(w.WorkspaceName) + "/" + aws.ToString(w.UserName)
			got[k] = append(got[k], "pending")
		}
		for _, f := range out.FailedRequests {
			k := aws.ToString(f.WorkspaceRequest.WorkspaceName) + "/" + aws.ToString(f.WorkspaceRequest.UserName)
			got[k] = append(got[k], aws.ToString(f.ErrorCode))
		}
	}
	for k, v := range got {
		sort.Strings(v)
		lines = append(lines, fmt.Sprintf("race %s %v", k, v))
	}
	sort.Strings(lines[len(lines)-len(got):])
	if n := len(got["contested/[UNDEFINED]"]); n != racers || got["contested/[UNDEFINED]"][0] != "ResourceAlreadyExistsException" || got["contested/[UNDEFINED]"][racers-1] != "pending" {
		t.Errorf("contested name: %v, want one pending and %d refused", got["contested/[UNDEFINED]"], racers-1)
	}
	// The stored desktops but for their places (which racer took which
	// address depends on the order they committed in), then the places.
	var places, stored []string
	for _, l := range c.stored(t, e, ids) {
		var w map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "stored ")), &w); err != nil {
			t.Fatal(err)
		}
		places = append(places, fmt.Sprint(w["SubnetId"], " ", w["IpAddress"]))
		if strings.HasPrefix(fmt.Sprint(w["WorkspaceName"]), "own-") || w["WorkspaceName"] == "contested" || w["UserName"] == "bob" {
			delete(w, "SubnetId")
			delete(w, "IpAddress")
		}
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, "stored "+string(b))
	}
	sort.Strings(stored)
	sort.Strings(places)
	return append(append(lines, stored...), "places "+strings.Join(places, ", "))
}

// createScenarioEncrypted runs encrypted desktops for directory users on a
// public bundle and returns the transcript.
func createScenarioEncrypted(t *testing.T, s *testserver.Server) []string {
	e := setup(t, s)
	ctx := ctxT(t)
	e.bundleID = sharedBundle(t, e)
	e.dirID = registerShared(t, s, e)
	c := newCanon(t, e)
	k := kms.NewFromConfig(s.Admin())
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("WorkSpaces volumes")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	c.add(keyARN, "KEY")
	c.add(aws.ToString(key.KeyMetadata.KeyId), "KEYID")
	off, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("disabled")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: off.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	c.add(aws.ToString(off.KeyMetadata.Arn), "OFFKEY")
	c.add(aws.ToString(off.KeyMetadata.KeyId), "OFFKEYID")
	req := func(user, keyRef string, root, vol bool) wstypes.WorkspaceRequest {
		r := wstypes.WorkspaceRequest{DirectoryId: aws.String(e.dirID), UserName: aws.String(user), BundleId: aws.String(e.bundleID),
			RootVolumeEncryptionEnabled: aws.Bool(root), UserVolumeEncryptionEnabled: aws.Bool(vol),
			WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeAutoStop}}
		if keyRef != "" {
			r.VolumeEncryptionKey = aws.String(keyRef)
		}
		return r
	}
	out, err := e.ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: []wstypes.WorkspaceRequest{
		req("alice", keyARN, true, true),
		req("bob", "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000", true, false),
		req("carol", keyARN, false, false),
		req("dave", aws.ToString(off.KeyMetadata.Arn), true, true),
		req("ALICE", keyARN, false, true),
		req("Admin", keyARN, false, true),
		req("Administrator", "", false, false),
	}})
	if err != nil {
		t.Fatalf("CreateWorkspaces: %v", err)
	}
	return append([]string{c.result(out)}, c.stored(t, e, pendingIDs(out))...)
}
