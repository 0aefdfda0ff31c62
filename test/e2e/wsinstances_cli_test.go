package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestWorkspacesInstancesCLI drives the WorkSpaces Instances API with the
// aws CLI (botocore's awsJson1.0 client): an instance launched from the
// account's Windows image, a volume attached and detached, the catalog,
// the list, modeled errors, and the instance deleted. (Every operation is
// covered through the Go tests of internal/wsinstances; this holds the
// API to botocore's client.)
func TestWorkspacesInstancesCLI(t *testing.T) {
	t.Parallel() // its own server: it waits more than it computes
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the aws CLI is not installed (the README's quick start and this test need it)")
	}
	s := testserver.Start(t, testserver.Timing("instant"))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+config.AdminKeyID, "AWS_SECRET_ACCESS_KEY="+config.AdminSecret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true")
	run := func(args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(awsBin, append([]string{"--endpoint-url", s.URL, "--output", "json"}, args...)...)
		cmd.Env = env
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	must := func(out any, args ...string) {
		t.Helper()
		stdout, stderr, err := run(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		if out != nil {
			if err := json.Unmarshal([]byte(stdout), out); err != nil {
				t.Fatalf("aws %s: %v: %s", strings.Join(args, " "), err, stdout)
			}
		}
	}
	// The image is found with the Go SDK: each CLI call costs a Python start.
	ims, err := ec2.NewFromConfig(s.Admin()).DescribeImages(context.Background(), &ec2.DescribeImagesInput{
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"Windows_Server-2022-English-Full-Base"}}}})
	if err != nil || len(ims.Images) != 1 {
		t.Fatalf("images: %v %+v", err, ims)
	}
	var types struct {
		InstanceTypes []struct{ InstanceType string }
	}
	must(&types, "workspaces-instances", "list-instance-types", "--instance-configuration-filter", "BillingMode=HOURLY,PlatformType=Windows,Tenancy=SHARED")
	if len(types.InstanceTypes) == 0 {
		t.Fatal("no instance types")
	}

	spec := `{"ImageId":"` + aws.ToString(ims.Images[0].ImageId) + `","InstanceType":"m5.large","Placement":{"AvailabilityZone":"us-east-1a"}}`
	var created struct{ WorkspaceInstanceId string }
	must(&created, "workspaces-instances", "create-workspace-instance", "--managed-instance", spec,
		"--billing-configuration", "BillingMode=HOURLY", "--tags", "Key=PartnerManaged,Value=true")
	id := created.WorkspaceInstanceId
	type inst struct {
		ProvisionState     string
		EC2ManagedInstance struct{ InstanceId string }
	}
	var got inst
	testserver.Eventually(t, 30*time.Second, func() bool {
		got = inst{}
		must(&got, "workspaces-instances", "get-workspace-instance", "--workspace-instance-id", id)
		return got.ProvisionState == "ALLOCATED"
	}, "instance %s never ALLOCATED", id)
	if !strings.HasPrefix(got.EC2ManagedInstance.InstanceId, "i-") {
		t.Fatalf("no EC2 instance: %+v", got)
	}
	var vol struct{ VolumeId string }
	must(&vol, "workspaces-instances", "create-volume", "--availability-zone", "us-east-1a", "--size-in-gb", "50", "--volume-type", "gp3")
	must(nil, "workspaces-instances", "associate-volume", "--workspace-instance-id", id, "--volume-id", vol.VolumeId, "--device", "xvdf")
	_, stderr, err := run("workspaces-instances", "delete-volume", "--volume-id", vol.VolumeId)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(stderr, "ConflictException") {
		t.Fatalf("deleting an attached volume: %v %s", err, stderr)
	}
	must(nil, "workspaces-instances", "disassociate-volume", "--workspace-instance-id", id, "--volume-id", vol.VolumeId)
	must(nil, "workspaces-instances", "delete-volume", "--volume-id", vol.VolumeId)

	var list struct {
		WorkspaceInstances []struct{ WorkspaceInstanceId, ProvisionState string }
	}
	must(&list, "workspaces-instances", "list-workspace-instances", "--provision-states", "ALLOCATED")
	if len(list.WorkspaceInstances) != 1 || list.WorkspaceInstances[0].WorkspaceInstanceId != id {
		t.Fatalf("list: %+v", list)
	}

	_, stderr, err = run("workspaces-instances", "get-workspace-instance", "--workspace-instance-id", "wsinst-00000000000000000")
	if err == nil || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Fatalf("unknown instance: %v %s", err, stderr)
	}
	must(nil, "workspaces-instances", "delete-workspace-instance", "--workspace-instance-id", id)
	testserver.Eventually(t, 30*time.Second, func() bool {
		got = inst{}
		must(&got, "workspaces-instances", "get-workspace-instance", "--workspace-instance-id", id)
		return got.ProvisionState == "DEALLOCATED"
	}, "instance %s never DEALLOCATED", id)
}
