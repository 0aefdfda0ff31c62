package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/deskplane once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deskplane-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "deskplane")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/deskplane").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a deskplane serve child process.
type proc struct {
	cmd   *exec.Cmd
	URL   string
	Token string
	Log   string // the file of its stderr
}

var listenRe = regexp.MustCompile(`listening on (http://\S+)`)
var tokenRe = regexp.MustCompile(`admin token:\s+(\S+)`)

// startProc runs deskplane serve on a free port with the given data dir.
func startProc(t *testing.T, dataDir string, args ...string) *proc {
	t.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, args...)
	cmd := exec.Command(binary(t), args...)
	stdout, _ := cmd.StdoutPipe()
	logf, err := os.CreateTemp(t.TempDir(), "deskplane-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("server log %s:\n%s", logf.Name(), b)
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatalf("start deskplane: %v", err)
	}
	p := &proc{cmd: cmd, Log: logf.Name()}
	t.Cleanup(func() { p.kill() })
	sc := bufio.NewScanner(stdout)
	deadline := time.After(30 * time.Second)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for p.URL == "" || p.Token == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("deskplane exited before listening")
			}
			if m := listenRe.FindStringSubmatch(l); m != nil {
				p.URL = m[1]
			}
			if m := tokenRe.FindStringSubmatch(l); m != nil {
				p.Token = m[1]
			}
		case <-deadline:
			t.Fatalf("deskplane did not start")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return p
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

func (p *proc) workspaces() *workspaces.Client {
	return workspaces.NewFromConfig(testserver.ConfigFor(p.URL, config.AdminKeyID, config.AdminSecret, ""))
}

// TestKillDuringProvisioning kills the server with SIGKILL while desktops are
// PENDING (realistic timing: 20 minutes to provision) and checks that after a
// restart every acknowledged desktop exists and becomes AVAILABLE once the
// virtual clock passes the provisioning time.
func TestKillDuringProvisioning(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir, "--timing", "instant")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := setupAt(t, p.URL)
	p.kill()

	p = startProc(t, dir, "--timing", "realistic", "--clock", "virtual")
	e.ws = p.workspaces()
	ids := e.create(t, ctx, 30, "pend")
	st := e.states(t, ctx, ids)
	for _, id := range ids {
		if st[id] != wstypes.WorkspaceStatePending {
			t.Fatalf("%s is %s before the kill, want PENDING", id, st[id])
		}
	}
	p.kill()

	p = startProc(t, dir, "--timing", "realistic", "--clock", "virtual")
	e.ws = p.workspaces()
	st = e.states(t, ctx, ids)
	if len(st) != len(ids) {
		t.Fatalf("after restart %d of %d acknowledged desktops exist", len(st), len(ids))
	}
	advance(t, p, 25*time.Minute)
	e.waitAll(t, ctx, ids, wstypes.WorkspaceStateAvailable)
	out, err := e.ws.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{DirectoryId: aws.String(e.dirID), Limit: aws.Int32(25)})
	if err != nil || len(out.Workspaces) != 25 || out.NextToken == nil {
		t.Fatalf("paginated describe: %v %+v", err, out)
	}
}

func advance(t *testing.T, p *proc, d time.Duration) {
	t.Helper()
	body := strings.NewReader(fmt.Sprintf(`{"advance":%q}`, d.String()))
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/_deskplane/clock", body)
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("advance: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("advance: %s", resp.Status)
	}
}
