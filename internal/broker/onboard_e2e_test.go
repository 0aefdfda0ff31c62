package broker

import (
	"bufio"
	"strings"
	"testing"
)

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func TestOnboardFromScratchThenSkips(t *testing.T) {
	e := startEnv(t)
	r, out := e.onboard()
	t.Logf("first run:\n%s", out)
	if len(r.Done) != 5 || len(r.Skipped) != 0 {
		t.Fatalf("first run: done %v skipped %v", r.Done, r.Skipped)
	}
	for _, want := range []string{"management CIDR", "ImportWorkspaceImage", "VolumeSize", "RegisterWorkspaceDirectory", "tenancy DEDICATED", "created", "CreateSecurityGroup", "ModifyWorkspaceCreationProperties"} {
		if !strings.Contains(out, want) {
			t.Errorf("first run output lacks %q", want)
		}
	}
	if r.ImageID == "" || r.BundleID == "" || r.DirectoryID == "" || r.CIDR == "" || r.SecurityGroupID == "" {
		t.Fatalf("result %+v", r)
	}
	r2, out2 := e.onboard()
	t.Logf("second run:\n%s", out2)
	if len(r2.Done) != 0 || len(r2.Skipped) != 5 {
		t.Fatalf("second run: done %v skipped %v", r2.Done, r2.Skipped)
	}
	if r2.ImageID != r.ImageID || r2.BundleID != r.BundleID || r2.DirectoryID != r.DirectoryID || r2.CIDR != r.CIDR || r2.SecurityGroupID != r.SecurityGroupID {
		t.Fatalf("second run found other resources: %+v vs %+v", r2, r)
	}
	if strings.Count(out2, "skipped") != 5 {
		t.Errorf("second run should say skipped 5 times:\n%s", out2)
	}
}
