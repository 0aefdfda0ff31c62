// Package terraform runs Terraform's AWS provider against deskplane: each
// configuration in testdata goes through apply, a plan that must show no
// changes, an in-place update (stage "one" to "two") with its own no-change
// plan, and destroy, and the test then checks through the Go SDK that
// nothing is left behind.
//
// Terraform and the AWS provider come from the machine: terraform on PATH
// (or DESKPLANE_TERRAFORM) and the provider in a filesystem mirror at
// /opt/tf-plugins (or DESKPLANE_TF_MIRROR) holding
// registry.terraform.io/hashicorp/aws. When either is missing the tests
// fail with that message: they never skip.
package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/testserver"
)

// providerVersion is the AWS provider version the configurations pin.
const providerVersion = "5.100.0"

// tool locates terraform and the provider mirror, or fails the test.
func tool(t *testing.T) (bin, mirror string) {
	t.Helper()
	bin = os.Getenv("DESKPLANE_TERRAFORM")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("terraform"); err != nil {
			t.Fatalf("terraform is not installed: no terraform on PATH (set DESKPLANE_TERRAFORM to its path); the Terraform suite needs Terraform 1.11 and the AWS provider %s in a filesystem mirror", providerVersion)
		}
	}
	mirror = os.Getenv("DESKPLANE_TF_MIRROR")
	if mirror == "" {
		mirror = "/opt/tf-plugins"
	}
	pkg := filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws", providerVersion)
	if _, err := os.Stat(pkg); err != nil {
		t.Fatalf("the AWS provider %s is not in the filesystem mirror %s (set DESKPLANE_TF_MIRROR): %v", providerVersion, mirror, err)
	}
	return bin, mirror
}

// workdir is one configuration's Terraform working directory.
type workdir struct {
	t        *testing.T
	bin, dir string
	env      []string
	vars     map[string]string
}

// newWorkdir copies testdata/name into a temp dir and writes the CLI
// configuration that installs the provider from the mirror only.
func newWorkdir(t *testing.T, name, endpoint string) *workdir {
	t.Helper()
	bin, mirror := tool(t)
	dir := t.TempDir()
	src := filepath.Join("testdata", name, "main.tf")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("read %s: %v", src, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), b, 0o644); err != nil {
		t.Fatalf("write main.tf: %v", err)
	}
	rc := filepath.Join(dir, "cli.tfrc")
	cli := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"registry.terraform.io/*/*\"]\n  }\n}\n", mirror)
	if err := os.WriteFile(rc, []byte(cli), 0o644); err != nil {
		t.Fatalf("write the CLI configuration: %v", err)
	}
	env := []string{"TF_CLI_CONFIG_FILE=" + rc, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + dir, "PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}
	if os.Getenv("DESKPLANE_TF_LOG") != "" { // TF_LOG=debug into dir/terraform.log, to find what each resource calls
		env = append(env, "TF_LOG=debug", "TF_LOG_PATH="+filepath.Join(dir, "terraform.log"))
		t.Logf("terraform debug log: %s", filepath.Join(dir, "terraform.log"))
	}
	return &workdir{t: t, bin: bin, dir: dir, env: env, vars: map[string]string{"endpoint": endpoint}}
}

// run runs terraform with args and the variables, and returns its exit code
// and output. A failure to start it fails the test.
func (w *workdir) run(args ...string) (int, string) {
	w.t.Helper()
	switch args[0] {
	case "output": // takes no -input or -var; its flags go before the name
		args = append([]string{"output", "-no-color"}, args[1:]...)
	case "init":
		args = append(args, "-no-color", "-input=false")
	default:
		args = append(args, "-no-color", "-input=false")
		for k, v := range w.vars {
			args = append(args, "-var", k+"="+v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	w.t.Logf("terraform %s: %s", args[0], time.Since(start).Round(time.Second))
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		w.t.Fatalf("run terraform %s: %v\n%s", args[0], err, out.String())
	}
	return 0, out.String()
}

// must runs terraform and fails the test unless it exits 0.
func (w *workdir) must(args ...string) string {
	w.t.Helper()
	code, out := w.run(args...)
	if code != 0 {
		w.t.Fatalf("terraform %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// noChanges runs a plan that must find nothing to change (exit code 0 of
// -detailed-exitcode; 2 means changes).
func (w *workdir) noChanges(when string) {
	w.t.Helper()
	code, out := w.run("plan", "-detailed-exitcode")
	if code != 0 {
		w.t.Fatalf("plan after %s: exit %d (2 = changes), want no changes:\n%s", when, code, out)
	}
}

// cycle runs the whole lifecycle of the configuration: init, apply (stage
// one), a no-change plan, apply (stage two: an in-place update), a no-change
// plan, and then check(updated state) before destroy. It returns after
// destroy.
func (w *workdir) cycle(afterUpdate func()) {
	w.t.Helper()
	start := time.Now()
	w.must("init", "-backend=false")
	w.vars["stage"] = "one"
	w.must("apply", "-auto-approve")
	w.noChanges("create")
	w.vars["stage"] = "two"
	out := w.must("apply", "-auto-approve")
	if !strings.Contains(out, " 0 added") || !strings.Contains(out, " 0 destroyed") {
		w.t.Fatalf("the stage two apply must update in place (nothing added or destroyed):\n%s", out)
	}
	w.noChanges("update")
	if afterUpdate != nil {
		afterUpdate()
	}
	w.must("destroy", "-auto-approve")
	w.t.Logf("whole cycle: %s", time.Since(start).Round(time.Second))
}

// startServer starts a fresh deskplane on a temp data dir with fast timing.
func startServer(t *testing.T) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Timing("fast"))
}
