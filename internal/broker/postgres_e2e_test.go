package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deskplane/deskplane/internal/testserver"
)

// freshDatabase creates a database on the test PostgreSQL and returns its URL.
func freshDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("DESKPLANE_TEST_POSTGRES")
	if base == "" {
		t.Skip("DESKPLANE_TEST_POSTGRES is not set (scripts/pg-start.sh starts one; scripts/test.sh does)")
	}
	admin, err := pgxpool.New(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	rand.Read(b)
	name := "broker_" + hex.EncodeToString(b)
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// health reads a broker's GET /v1/health.
func (c *child) health(t *testing.T) (reconciling bool, ok bool) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(c.url + "/v1/health")
	if err != nil {
		return false, false
	}
	defer resp.Body.Close()
	var h struct {
		Reconciling []string `json:"reconciling"`
	}
	json.NewDecoder(resp.Body).Decode(&h)
	return len(h.Reconciling) == 1, resp.StatusCode == http.StatusOK
}

// TestTwoBrokersOnPostgres: two broker processes share one PostgreSQL
// state. One holds the reconcile lease; both serve sessions, and a user's
// session is granted once whichever broker is asked. The leader is killed
// -9 in the middle of growing the pool; the other takes the lease over
// within its lifetime and finishes the job, and no desktop is doubled.
func TestTwoBrokersOnPostgres(t *testing.T) {
	dsn := freshDatabase(t)
	e := startEnv(t)
	e.withPools(1, 5, 1)
	e.cfg.Pools = []Pool{{Name: "eng", Directory: "corp.example.com", Bundle: "win11-bundle", RunningMode: "MANUAL", Min: 2, Max: 12, Warm: 1}}
	e.cfg.Policies = e.cfg.Policies[:1]
	e.cfg.ReconcileInterval = "50ms"
	e.cfg.Store = dsn
	cfgPath := filepath.Join(t.TempDir(), "broker.json")
	raw, _ := json.MarshalIndent(e.cfg, "", "  ")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	c1 := startChild(t, e, cfgPath)
	testserver.Eventually(t, 30*time.Second, func() bool { l, _ := c1.health(t); return l }, "the first broker takes the lease")
	c2 := startChild(t, e, cfgPath)
	if l, ok := c2.health(t); !ok || l {
		t.Fatalf("second broker: healthy %v, reconciling %v (the lease is taken)", ok, l)
	}

	// alice asks both brokers at once, several times: one session, one desktop.
	var mu sync.Mutex
	ids, desktops := map[string]bool{}, map[string]bool{}
	testserver.Eventually(t, 60*time.Second, func() bool {
		var wg sync.WaitGroup
		ready := true
		for i := 0; i < 6; i++ {
			c := c1
			if i%2 == 1 {
				c = c2
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, v, err := c.post("/v1/sessions", map[string]string{"user": "alice"})
				mu.Lock()
				defer mu.Unlock()
				if err != nil || code >= 300 || !v.Ready() {
					ready = false
					return
				}
				ids[v.SessionID], desktops[v.WorkspaceID] = true, true
			}()
		}
		wg.Wait()
		return ready
	}, "alice's session is ready on both brokers")
	if len(ids) != 1 || len(desktops) != 1 {
		t.Fatalf("alice got sessions %v and desktops %v across two brokers, want one of each", ids, desktops)
	}

	// More demand: the leader grows the pool, and is killed while at it.
	for _, u := range []string{"bob"} {
		c2.post("/v1/sessions", map[string]string{"user": u})
	}
	c1.kill(t)
	killed := time.Now()
	testserver.Eventually(t, 2*LeaseTTL, func() bool { l, _ := c2.health(t); return l }, "the second broker takes the lease over")
	if took := time.Since(killed); took > LeaseTTL+2*LeaseRenew {
		t.Errorf("took the lease over after %v, want within %v", took, LeaseTTL+2*LeaseRenew)
	}
	testserver.Eventually(t, 60*time.Second, func() bool {
		code, v, err := c2.post("/v1/sessions", map[string]string{"user": "bob"})
		return err == nil && code == http.StatusOK && v.Ready()
	}, "bob's session through the surviving broker")

	// Nothing doubled: each desktop name once on the server.
	names := map[string]int{}
	p := workspaces.NewDescribeWorkspacesPaginator(e.c.WorkSpaces, &workspaces.DescribeWorkspacesInput{})
	for p.HasMorePages() {
		pg, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range pg.Workspaces {
			if n := aws.ToString(w.WorkspaceName); strings.HasPrefix(n, "eng-") && w.State != "TERMINATED" {
				names[n]++
			}
		}
	}
	for n, k := range names {
		if k > 1 {
			t.Fatalf("desktop %s exists %d times", n, k)
		}
	}
	if len(names) < 2 || len(names) > 12 {
		t.Fatalf("%d eng desktops on the server: %v", len(names), names)
	}
}
