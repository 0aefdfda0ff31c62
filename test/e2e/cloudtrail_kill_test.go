package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// lookupIDs lists the ids of every event LookupEvents returns for an event
// name, page by page, failing on an id returned twice.
func lookupIDs(t *testing.T, ctx context.Context, ct *cloudtrail.Client, name string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(50),
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(name)}}})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("LookupEvents %s: %v", name, err)
		}
		for _, e := range out.Events {
			id := aws.ToString(e.EventId)
			if ids[id] {
				t.Errorf("%s event %s returned twice", name, id)
			}
			ids[id] = true
		}
	}
	return ids
}

// TestKillNineDuringDescribeLoadCloudTrail kills the server (the embedded
// Pebble store, whose CloudTrail events are committed in its own groups)
// with SIGKILL while DescribeWorkspaces calls and IAM user creations run,
// and checks after the restart that every user whose creation was
// acknowledged exists, that every event LookupEvents returned before the
// kill is returned again (once), and that the trail records again.
func TestKillNineDuringDescribeLoadCloudTrail(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test skipped in -short mode")
	}
	dir := t.TempDir()
	args := []string{"--timing", "instant", "--store", "pebble"}
	p := startProc(t, dir, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := setupAt(t, p.URL)
	ids := e.create(t, ctx, 5, "ctk")
	cfg := testserver.ConfigFor(p.URL, config.AdminKeyID, config.AdminSecret, "")

	var described atomic.Int64
	var mu sync.Mutex
	var users []string // acknowledged
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws := workspaces.NewFromConfig(cfg)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: []string{ids[(w+i)%len(ids)]}}); err == nil {
					described.Add(1)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := iam.NewFromConfig(cfg)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("kill-%d", i)
			if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err == nil {
				mu.Lock()
				users = append(users, name)
				mu.Unlock()
			}
		}
	}()
	testserver.Eventually(t, time.Minute, func() bool { return described.Load() >= 300 }, "describe load never reached 300 calls")
	ct := cloudtrail.NewFromConfig(cfg)
	seen := lookupIDs(t, ctx, ct, "DescribeWorkspaces")
	for id := range lookupIDs(t, ctx, ct, "CreateUser") {
		seen[id] = true
	}
	testserver.Eventually(t, time.Minute, func() bool { return described.Load() >= 600 }, "describe load never reached 600 calls")
	p.kill()
	close(stop)
	wg.Wait()
	if len(seen) < 300 {
		t.Fatalf("LookupEvents returned %d events before the kill, want at least 300", len(seen))
	}

	p = startProc(t, dir, args...)
	cfg = testserver.ConfigFor(p.URL, config.AdminKeyID, config.AdminSecret, "")
	c := iam.NewFromConfig(cfg)
	mu.Lock()
	acked := users
	mu.Unlock()
	for _, u := range acked {
		if _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(u)}); err != nil {
			t.Errorf("acknowledged user %s after the kill: %v", u, err)
		}
	}
	ct = cloudtrail.NewFromConfig(cfg)
	after := lookupIDs(t, ctx, ct, "DescribeWorkspaces")
	for id := range lookupIDs(t, ctx, ct, "CreateUser") {
		after[id] = true
	}
	lost := 0
	for id := range seen {
		if !after[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of the %d events LookupEvents returned before the kill are gone after it", lost, len(seen))
	}
	// The trail records after the restart (in the same store).
	before := len(lookupIDs(t, ctx, ct, "CreateUser"))
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("after-kill")}); err != nil {
		t.Fatal(err)
	}
	if n := len(lookupIDs(t, ctx, ct, "CreateUser")); n != before+1 {
		t.Errorf("%d CreateUser events after one more, want %d", n, before+1)
	}
	t.Logf("%d describe calls and %d user creations acknowledged before the kill; %d events seen then, %d after",
		described.Load(), len(acked), len(seen), len(after))
}
