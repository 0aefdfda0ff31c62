package workspaces_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
)

// TestCreateSharedTagsStayApart: desktops of one request with the same
// tags share one tag set in memory; changing one desktop's tags (in its
// provisioning and after) leaves the others' as they were created.
func TestCreateSharedTagsStayApart(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	ws := workspaces.NewFromConfig(s.Admin())
	dir := registerDir(t, ctx, ws, wstypes.WorkspaceTypePersonal)
	bundle := publicBundle(t, ctx, ws)
	tags := []wstypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("cost"), Value: aws.String("1")}}
	var reqs []wstypes.WorkspaceRequest
	for _, user := range []string{"alice", "bob", "carol", "dave"} {
		reqs = append(reqs, wstypes.WorkspaceRequest{DirectoryId: aws.String(dir), UserName: aws.String(user),
			BundleId: aws.String(bundle), Tags: tags})
	}
	out := must(ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs}))(t)
	if len(out.FailedRequests) > 0 || len(out.PendingRequests) != 4 {
		t.Fatalf("CreateWorkspaces: %s", aws.ToString(out.FailedRequests[0].ErrorMessage))
	}
	ids := make([]string, 4)
	for i, p := range out.PendingRequests {
		ids[i] = aws.ToString(p.WorkspaceId)
	}
	tagsOf := func(id string) map[string]string {
		m := map[string]string{}
		for _, tg := range must(ws.DescribeTags(ctx, &workspaces.DescribeTagsInput{ResourceId: aws.String(id)}))(t).TagList {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}
	// The first desktop's tags change at once, while the others may still be provisioning.
	must(ws.CreateTags(ctx, &workspaces.CreateTagsInput{ResourceId: aws.String(ids[0]), Tags: []wstypes.Tag{{Key: aws.String("team"), Value: aws.String("b")}}}))(t)
	must(ws.DeleteTags(ctx, &workspaces.DeleteTagsInput{ResourceId: aws.String(ids[1]), TagKeys: []string{"cost"}}))(t)
	for _, id := range ids {
		waitDesktop(t, ctx, ws, id, wstypes.WorkspaceStateAvailable)
	}
	must(ws.CreateTags(ctx, &workspaces.CreateTagsInput{ResourceId: aws.String(ids[2]), Tags: []wstypes.Tag{{Key: aws.String("new"), Value: aws.String("x")}}}))(t)
	want := []map[string]string{
		{"team": "b", "cost": "1"},
		{"team": "a"},
		{"team": "a", "cost": "1", "new": "x"},
		{"team": "a", "cost": "1"},
	}
	for i, id := range ids {
		if got := tagsOf(id); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("desktop %d tags %v, want %v", i, got, want[i])
		}
	}
}
