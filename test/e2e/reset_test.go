package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestServeReset: state persists across restarts on one data dir; serve
// --reset refuses while another server serves the dir, and otherwise starts
// from the default environment again, keeping the admin token.
func TestServeReset(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	iamOf := func(p *proc) *iam.Client {
		return iam.NewFromConfig(testserver.ConfigFor(p.URL, config.AdminKeyID, config.AdminSecret, ""))
	}
	userExists := func(p *proc) bool {
		_, err := iamOf(p).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("left-over")})
		return err == nil
	}
	p := startProc(t, dir)
	if _, err := iamOf(p).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("left-over")}); err != nil {
		t.Fatal(err)
	}
	token := p.Token

	out, err := exec.Command(binary(t), "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--reset").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another deskplane is serving this data dir") {
		t.Fatalf("--reset while serving: %v\n%s", err, out)
	}
	if !userExists(p) {
		t.Fatal("the refused reset removed state")
	}
	p.kill()

	p = startProc(t, dir)
	if !userExists(p) {
		t.Fatal("state did not persist across a restart")
	}
	p.kill()

	p = startProc(t, dir, "--reset")
	if userExists(p) {
		t.Fatal("--reset kept the state")
	}
	if p.Token != token {
		t.Fatalf("--reset changed the admin token: %s, was %s", p.Token, token)
	}
	if _, err := iamOf(p).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(config.PartnerRoleName)}); err != nil {
		t.Fatalf("the default environment after --reset: %v", err)
	}
}
