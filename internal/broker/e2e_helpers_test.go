package broker

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// testEnv is a broker wired to an in-process deskplane server.
type testEnv struct {
	t     *testing.T
	s     *testserver.Server
	cfg   *Config
	c     *Clients
	clock *FakeClock
}

func baseConfig(s *testserver.Server, dataDir string) *Config {
	c := &Config{
		Endpoint: s.URL, Region: "us-east-1",
		AccessKeyID: config.AdminKeyID, SecretAccessKey: config.AdminSecret,
		DataDir: dataDir, APITokens: []string{"test-token"},
		MaxAttempts: 20, MaxBackoff: "50ms",
		Onboarding: Onboarding{CIDR: "", Directory: "corp.example.com", ImageName: "win11-byol", BundleName: "win11-bundle"},
	}
	c.applyDefaults()
	return c
}

func startEnv(t *testing.T, opts ...testserver.Option) *testEnv {
	t.Helper()
	s := testserver.Start(t, append([]testserver.Option{testserver.VirtualClock()}, opts...)...)
	cfg := baseConfig(s, t.TempDir())
	return newEnv(t, s, cfg)
}

func newEnv(t *testing.T, s *testserver.Server, cfg *Config) *testEnv {
	t.Helper()
	awsCfg, err := NewAWSConfig(context.Background(), cfg, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, s: s, cfg: cfg, c: NewClients(awsCfg, cfg.Endpoint), clock: NewFakeClock(time.Now(), false)}
}

// advance moves the server's virtual clock and the broker's clock together.
func (e *testEnv) advance(d time.Duration) {
	e.t.Helper()
	e.s.Advance(d)
	e.clock.Advance(d)
}

// onboard runs onboarding with the first importable AMI and the first CIDR.
func (e *testEnv) onboard() (*OnboardResult, string) {
	e.t.Helper()
	return e.onboardPorts(e.cfg.ProtocolPorts())
}

// onboardPorts is onboard with the security-group step's ports (none: the
// step is skipped).
func (e *testEnv) onboardPorts(ports []int32) (*OnboardResult, string) {
	e.t.Helper()
	ctx := context.Background()
	ob := e.cfg.Onboarding
	ami := ""
	{
		imgs, err := ListImportableImages(ctx, e.c.EC2)
		if err != nil {
			e.t.Fatalf("list images: %v", err)
		}
		for _, im := range imgs {
			if *im.Name == "win11-ent-23h2-byol" {
				ami = *im.ImageId
			}
		}
		if ami == "" {
			e.t.Fatalf("no win11 AMI among %d", len(imgs))
		}
	}
	var out bytes.Buffer
	on := &Onboarder{C: e.c, Cfg: ob, Out: &out, Poll: 10 * time.Millisecond, Timeout: 30 * time.Second, Ports: ports}
	// The operator answers the prompts: the first CIDR range, then the AMI.
	on.In = bufioReader("1\n" + ami + "\n")
	r, err := on.Run(ctx)
	if err != nil {
		e.t.Fatalf("onboard: %v\n%s", err, out.String())
	}
	return r, out.String()
}
