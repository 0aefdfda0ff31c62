package broker

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestPacingStaysUnderTheServiceRate: against a server that allows 5 calls
// per second per operation, a burst paced a little under it (4 per second) is not throttled
// once, and the same burst unpaced is.
func TestPacingStaysUnderTheServiceRate(t *testing.T) {
	sc := config.Default()
	sc.Quotas.RequestsPerSecond = 5
	raw, _ := json.Marshal(sc)
	path := filepath.Join(t.TempDir(), "deskplane.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s := testserver.Start(t, testserver.ConfigFile(path))
	burst := func(rps float64) (attempts, throttled int) {
		cfg := baseConfig(s, t.TempDir())
		cfg.MaxRequestsPerSecond = rps
		cfg.MaxAttempts, cfg.MaxBackoff = 20, "100ms"
		awsCfg, err := NewAWSConfig(context.Background(), cfg, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		counter := &targetCounter{inner: awsCfg.HTTPClient, target: "WorkspacesService.DescribeWorkspaces"}
		awsCfg.HTTPClient = counter
		c := NewClients(awsCfg, cfg.Endpoint)
		for i := 0; i < 12; i++ {
			if _, err := c.WorkSpaces.DescribeWorkspaces(context.Background(), &workspaces.DescribeWorkspacesInput{}); err != nil {
				t.Fatal(err)
			}
		}
		return counter.counts()
	}
	// The paced burst first, while the service's bucket is full as the
	// pacer's own starts; then the same burst unpaced.
	if attempts, throttled := burst(4); throttled != 0 {
		t.Fatalf("paced under the service's rate: %d of %d attempts throttled", throttled, attempts)
	}
	if _, throttled := burst(0); throttled == 0 {
		t.Fatal("an unpaced burst of 12 calls was never throttled at 5 per second")
	}
}
