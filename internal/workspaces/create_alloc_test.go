package workspaces

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/pebble"
)

// BenchmarkCreateAllocs counts what creating a desktop allocates, its
// provisioning included, on the embedded Pebble store: each op is one
// CreateWorkspaces of 25 desktops (bench/peer's create: user-decoupled
// WorkSpaces Core desktops, named, MANUAL, one tag) through the gateway's
// pipeline, then the engine's run of their provisioning job. It reports
// allocs/desktop (testing.AllocsPerRun) and B/desktop (runtime.MemStats
// over the same runs), the figures of bench/peer profile -only create
// without the HTTP server, the CloudTrail writer and the machine's noise.
//
//	go test -run '^$' -bench CreateAllocs -benchtime 400x ./internal/workspaces
func BenchmarkCreateAllocs(b *testing.B) {
	ctx := context.Background()
	db, err := pebble.Open(ctx, b.TempDir(), pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	e := newLockEnv(b, db)
	const image, bundle = "wsi-bench0001", "wsb-bench0001"
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := putRec(ctx, tx, tImages, key(lockAcct, lockRegion, image), imageRec{ImageID: image, Name: "bench", OwnerAccountID: lockAcct,
			State: "AVAILABLE", RequiredTenancy: "DEDICATED", OperatingSystem: "WINDOWS", OSName: "WINDOWS_10", Protocol: "BYOP"}); err != nil {
			return err
		}
		if err := putRec(ctx, tx, tBundles, key(lockAcct, lockRegion, bundle), bundleRec{BundleID: bundle, Name: "bench", Owner: lockAcct, ImageID: image,
			ComputeType: "PERFORMANCE", RootCapacity: "80", UserCapacity: "50", State: "AVAILABLE", BundleType: "REGULAR"}); err != nil {
			return err
		}
		return putRec(ctx, tx, tDirs, key(lockAcct, lockRegion, lockDir), directoryRec{DirectoryID: lockDir, State: "REGISTERED", Tenancy: "DEDICATED",
			SubnetIDs: []string{"subnet-0a", "subnet-0b"}})
	})
	if err != nil {
		b.Fatal(err)
	}
	inv := gateway.Invocation{Principal: &gateway.Principal{Type: "IAMUser", Account: lockAcct, ARN: "arn:aws:iam::" + lockAcct + ":user/tester", UserName: "tester"}, Region: lockRegion}
	var bodies [][]byte
	for i := range b.N + 11 {
		reqs := make([]string, 25)
		for j := range reqs {
			reqs[j] = fmt.Sprintf(`{"DirectoryId":%q,"UserName":"[UNDEFINED]","BundleId":%q,"WorkspaceName":"b%d-%d","WorkspaceProperties":{"RunningMode":"MANUAL"},"Tags":[{"Key":"PartnerManaged","Value":"true"}]}`,
				lockDir, bundle, i, j)
		}
		bodies = append(bodies, []byte(`{"Workspaces":[`+strings.Join(reqs, ",")+`]}`))
	}
	n := 0
	op := func() {
		out, err := e.gw.Invoke(ctx, inv, "workspaces", "CreateWorkspaces", bodies[n])
		n++
		if err != nil {
			b.Fatal(err)
		}
		if o := out.(*createWorkspacesOut); len(o.FailedRequests) != 0 || len(o.PendingRequests) != 25 {
			b.Fatalf("created %d, refused %d: %+v", len(o.PendingRequests), len(o.FailedRequests), o.FailedRequests)
		}
		if got, err := e.eng.RunDue(ctx); err != nil || got != 1 {
			b.Fatalf("RunDue = %d, %v; want the provisioning job run", got, err)
		}
	}
	for range 10 { // the store's and the caches' first use
		op()
	}
	b.ResetTimer()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	allocs := testing.AllocsPerRun(b.N, op) // b.N runs and one more
	runtime.ReadMemStats(&ms1)
	b.StopTimer()
	b.ReportMetric(allocs/25, "allocs/desktop")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N+1)/25, "B/desktop")
}
