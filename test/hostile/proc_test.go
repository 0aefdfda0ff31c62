package hostile

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/server"
)

// proc is a deskplane serve child process: a process death is observable,
// which an in-process server would not survive to report.
type proc struct {
	cmd    *exec.Cmd
	URL    string
	Token  string
	logf   string
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited
}

var (
	listenRe = regexp.MustCompile(`listening on (http://\S+)`)
	tokenRe  = regexp.MustCompile(`admin token:\s+(\S+)`)
)

// buildBinary builds cmd/deskplane into dir, unless -hostile.bin names one.
func buildBinary(t *testing.T) string {
	t.Helper()
	if *flagBin != "" {
		return *flagBin
	}
	p := filepath.Join(t.TempDir(), "deskplane")
	out, err := exec.Command("go", "build", "-o", p, "../../cmd/deskplane").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return p
}

// startProc runs deskplane serve on a free loopback port with instant
// timing and a fresh data dir.
func startProc(t *testing.T, bin string) *proc {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--timing", "instant")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logf: filepath.Join(dir, "server.log"), exited: make(chan struct{})}
	logf, err := os.Create(p.logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start deskplane: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if cmd.Process != nil {
			cmd.Process.Signal(syscall.SIGKILL)
		}
		<-p.exited
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for p.URL == "" || p.Token == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("deskplane exited before listening:\n%s", p.logTail())
			}
			if m := listenRe.FindStringSubmatch(l); m != nil {
				p.URL = m[1]
			}
			if m := tokenRe.FindStringSubmatch(l); m != nil {
				p.Token = m[1]
			}
		case <-deadline.C:
			t.Fatalf("deskplane did not start")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return p
}

// dead reports whether the process has exited.
func (p *proc) dead() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// logTail is the end of the server's log (a panic's stack, after a death).
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logf)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// healthy asks GET /_deskplane/health.
func (p *proc) healthy(ctx context.Context, hc *http.Client) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/_deskplane/health", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s", resp.Status)
	}
	return nil
}

// servedOperation is one operation of the server's tables.
type servedOperation struct {
	Service string // the gateway's service name = botocore's folder name
	Op      string
	// Target is the table's X-Amz-Target prefix (json protocol): a table
	// registered under two prefixes (CloudTrail's model and SDK spellings)
	// is exercised under both.
	Target string
}

// operationTables lists every operation of every service the server
// serves, from its operation tables: it builds the server's modules in
// process (on a throwaway data dir, never served) and reads their tables.
// Nothing here is a hand-kept list: a service added later is in it.
func operationTables(t *testing.T) []servedOperation {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := server.New(ctx, server.Options{DataDir: t.TempDir(), Timing: "instant", Clock: "real", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("build the server's tables: %v", err)
	}
	var out []servedOperation
	var svcs []*gateway.Service
	for _, m := range s.Modules {
		svcs = append(svcs, m.Services()...)
	}
	for _, svc := range svcs {
		for _, op := range svc.Operations() {
			out = append(out, servedOperation{svc.Name, op, svc.TargetPrefix})
		}
	}
	sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
	defer c()
	if err := s.Shutdown(sctx); err != nil {
		t.Logf("close the tables' server: %v", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		if out[i].Op != out[j].Op {
			return out[i].Op < out[j].Op
		}
		return out[i].Target < out[j].Target
	})
	return out
}

// pendingFixExclusions are requests the suite builds but does not send
// while a bug that another change fixes would kill the server and end the
// run. Each entry names the bug; remove it once the fix is merged.
var pendingFixExclusions = []struct {
	name  string
	match func(strs []string) bool
}{}

// requestStrings lists every string a request carries: the JSON body's
// strings (keys and values, at every depth), the form's and the query's
// values. A body that does not parse is taken whole, with ':' for its
// escaped forms, split at its quotes, ampersands and equals signs.
func requestStrings(w *wireReq) []string {
	var out []string
	for _, vs := range w.Query {
		out = append(out, vs...)
	}
	if strings.Contains(w.Header.Get("Content-Type"), "form") {
		if form, err := url.ParseQuery(string(w.Body)); err == nil {
			for k, vs := range form {
				out = append(out, k)
				out = append(out, vs...)
			}
			return out
		}
	}
	var v any
	if err := json.Unmarshal(w.Body, &v); err == nil {
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					out = append(out, k)
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case string:
				out = append(out, x)
			}
		}
		walk(v)
		return out
	}
	raw := strings.NewReplacer("%3A", ":", "%3a", ":", `\u003a`, ":", `\u003A`, ":").Replace(string(w.Body))
	return append(out, strings.FieldsFunc(raw, func(r rune) bool { return r == '"' || r == '&' || r == '=' })...)
}

// excluded names the pending-fix exclusion a request falls under, or "".
func excluded(w *wireReq) string {
	strs := requestStrings(w)
	for _, e := range pendingFixExclusions {
		if e.match(strs) {
			return e.name
		}
	}
	return ""
}
