package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// statusRecorder counts the HTTP status codes a client sees.
type statusRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	codes map[int]int
	n5xx  []string
}

func (s *statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	s.mu.Lock()
	s.codes[resp.StatusCode]++
	if resp.StatusCode >= 500 {
		s.n5xx = append(s.n5xx, fmt.Sprintf("%s %s", r.Header.Get("X-Amz-Target"), resp.Status))
	}
	s.mu.Unlock()
	return resp, nil
}

// TestConcurrentPartnerWorkflow runs the partner workflow from 32 clients at
// once against one server for a bounded time and number of requests, then
// checks that every acknowledged desktop exists exactly once, that no
// desktop is listed twice (in two states), and that no request got a 5xx.
func TestConcurrentPartnerWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	const (
		clients   = 32
		rounds    = 4               // per client
		batch     = 3               // desktops created per round
		timeLimit = 6 * time.Second // the clients stop starting rounds after this
	)
	s := testserver.Start(t, testserver.Timing("instant"))
	e := setup(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	rec := &statusRecorder{base: &http.Transport{MaxIdleConnsPerHost: clients}, codes: map[int]int{}}
	cfg := testserver.ConfigFor(s.URL, config.AdminKeyID, config.AdminSecret, "")
	cfg.HTTPClient = &http.Client{Transport: rec, Timeout: 30 * time.Second}
	ws := workspaces.NewFromConfig(cfg)

	var (
		mu       sync.Mutex
		acked    = map[string]int{} // desktop id -> times acknowledged
		calls    atomic.Int64
		apiErrs  sync.Map // code -> *atomic.Int64
		deadline = time.Now().Add(timeLimit)
		wg       sync.WaitGroup
	)
	countErr := func(err error) {
		if err == nil {
			return
		}
		c := apiCode(err)
		if c == "" {
			c = err.Error()
		}
		v, _ := apiErrs.LoadOrStore(c, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for r := 0; r < rounds && time.Now().Before(deadline); r++ {
				var reqs []wstypes.WorkspaceRequest
				for i := 0; i < batch; i++ {
					reqs = append(reqs, wstypes.WorkspaceRequest{
						DirectoryId: aws.String(e.dirID), UserName: aws.String("[UNDEFINED]"), BundleId: aws.String(e.bundleID),
						WorkspaceName:       aws.String(fmt.Sprintf("load-%d-%d-%d", c, r, i)),
						WorkspaceProperties: &wstypes.WorkspaceProperties{RunningMode: wstypes.RunningModeManual},
						Tags:                []wstypes.Tag{{Key: aws.String("PartnerManaged"), Value: aws.String("true")}},
					})
				}
				calls.Add(1)
				out, err := ws.CreateWorkspaces(ctx, &workspaces.CreateWorkspacesInput{Workspaces: reqs})
				countErr(err)
				if err != nil {
					continue
				}
				var ids []string
				mu.Lock()
				for _, p := range out.PendingRequests {
					acked[aws.ToString(p.WorkspaceId)]++
					ids = append(ids, aws.ToString(p.WorkspaceId))
				}
				mu.Unlock()
				if len(ids) == 0 {
					continue
				}
				// Power management, as a broker would do it: stop, start,
				// reboot, and release one desktop per round.
				calls.Add(1)
				_, err = ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: ids})
				countErr(err)
				var stops []wstypes.StopRequest
				var starts []wstypes.StartRequest
				for _, id := range ids {
					stops = append(stops, wstypes.StopRequest{WorkspaceId: aws.String(id)})
					starts = append(starts, wstypes.StartRequest{WorkspaceId: aws.String(id)})
				}
				calls.Add(4)
				_, err = ws.StopWorkspaces(ctx, &workspaces.StopWorkspacesInput{StopWorkspaceRequests: stops})
				countErr(err)
				_, err = ws.StartWorkspaces(ctx, &workspaces.StartWorkspacesInput{StartWorkspaceRequests: starts})
				countErr(err)
				_, err = ws.RebootWorkspaces(ctx, &workspaces.RebootWorkspacesInput{RebootWorkspaceRequests: []wstypes.RebootRequest{{WorkspaceId: aws.String(ids[0])}}})
				countErr(err)
				_, err = ws.TerminateWorkspaces(ctx, &workspaces.TerminateWorkspacesInput{TerminateWorkspaceRequests: []wstypes.TerminateRequest{{WorkspaceId: aws.String(ids[len(ids)-1])}}})
				countErr(err)
			}
		}(c)
	}
	wg.Wait()

	// Every acknowledged desktop exists exactly once in the directory listing.
	listed := map[string][]wstypes.WorkspaceState{}
	var token *string
	for page := 0; page < 1000; page++ {
		out, err := e.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{DirectoryId: aws.String(e.dirID), NextToken: token})
		if err != nil {
			t.Fatalf("DescribeWorkspaces page %d: %v", page, err)
		}
		for _, w := range out.Workspaces {
			listed[aws.ToString(w.WorkspaceId)] = append(listed[aws.ToString(w.WorkspaceId)], w.State)
		}
		token = out.NextToken
		if token == nil {
			break
		}
	}
	if token != nil {
		t.Fatalf("DescribeWorkspaces did not finish paginating in 1000 pages")
	}
	var missing []string
	for id, n := range acked {
		if n != 1 {
			t.Errorf("desktop %s acknowledged %d times", id, n)
		}
		if len(listed[id]) == 0 {
			missing = append(missing, id)
		}
	}
	// TERMINATED desktops may drop out of a directory listing; ask by id.
	for i := 0; i < len(missing); i += 25 {
		out, err := e.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{WorkspaceIds: missing[i:min(i+25, len(missing))]})
		if err != nil {
			t.Fatalf("DescribeWorkspaces by id: %v", err)
		}
		for _, w := range out.Workspaces {
			if w.State != wstypes.WorkspaceStateTerminated && w.State != wstypes.WorkspaceStateTerminating {
				t.Errorf("desktop %s (%s) is missing from the directory listing", aws.ToString(w.WorkspaceId), w.State)
			}
			listed[aws.ToString(w.WorkspaceId)] = append(listed[aws.ToString(w.WorkspaceId)], w.State)
		}
	}
	states := map[wstypes.WorkspaceState]int{}
	for id := range acked {
		switch st := listed[id]; len(st) {
		case 0:
			t.Errorf("acknowledged desktop %s does not exist", id)
		case 1:
			states[st[0]]++
		default:
			t.Errorf("desktop %s listed %d times, in states %v", id, len(st), st)
		}
	}
	for id := range listed {
		if acked[id] == 0 {
			t.Errorf("desktop %s exists but was never acknowledged", id)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.n5xx) > 0 {
		t.Errorf("%d requests got a 5xx, e.g. %v", len(rec.n5xx), rec.n5xx[:min(5, len(rec.n5xx))])
	}
	var errs []string
	apiErrs.Range(func(k, v any) bool {
		errs = append(errs, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(errs)
	if len(acked) == 0 {
		t.Fatalf("no desktop was created")
	}
	t.Logf("%d clients, %d calls, %d desktops acknowledged, states %v, HTTP statuses %v, API errors %v",
		clients, calls.Load(), len(acked), states, rec.codes, errs)
}
