package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "non-API error: " + err.Error()
	}
	return ""
}

// TestRegionOutage takes one region out with the faults endpoint: every call
// to a regional service there fails with ServiceUnavailable (EC2:
// Unavailable) or is throttled, while other regions and the global IAM
// answer as before.
func TestRegionOutage(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	once := func(o *workspaces.Options) { o.RetryMaxAttempts = 1 }
	west := workspaces.NewFromConfig(s.Admin("us-west-2"), once)
	east := workspaces.NewFromConfig(s.Admin("us-east-1"), once)
	if _, err := s.AdminPost("/_deskplane/faults", map[string]any{"region_outages": map[string]string{"us-west-2": "error"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := west.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); code(err) != "ServiceUnavailable" {
		t.Errorf("us-west-2 during an outage: %v", err)
	}
	ec2West := ec2.NewFromConfig(s.Admin("us-west-2"), func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
	if _, err := ec2West.DescribeImages(ctx, &ec2.DescribeImagesInput{}); code(err) != "Unavailable" {
		t.Errorf("EC2 in us-west-2 during an outage: %v", err)
	}
	if _, err := east.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); err != nil {
		t.Errorf("us-east-1 during another region's outage: %v", err)
	}
	if _, err := iam.NewFromConfig(s.Admin("us-west-2")).ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1)}); err != nil {
		t.Errorf("the global IAM during an outage: %v", err)
	}
	if _, err := s.AdminPost("/_deskplane/faults", map[string]any{"region_outages": map[string]string{"us-west-2": "throttle"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := west.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); code(err) != "ThrottlingException" {
		t.Errorf("us-west-2 throttled: %v", err)
	}
	for _, bad := range []map[string]string{{"us-west-2": "flaky"}, {"mars-north-1": "error"}} {
		if _, err := s.AdminPost("/_deskplane/faults", map[string]any{"region_outages": bad}); err == nil {
			t.Errorf("faults accepted %v", bad)
		}
	}
	if _, err := s.AdminPost("/_deskplane/faults", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if _, err := west.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); err != nil {
		t.Errorf("us-west-2 after the outage: %v", err)
	}
}

// TestRequestRateQuota: quotas.requests_per_second throttles each account's
// calls to one operation beyond the rate (a bucket of one second's worth)
// with the model's throttling error; another operation, and another
// account, have buckets of their own.
func TestRequestRateQuota(t *testing.T) {
	cfg := config.Default()
	cfg.Quotas.RequestsPerSecond = 5
	raw, _ := json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "deskplane.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s := testserver.Start(t, testserver.ConfigFile(path))
	ctx := context.Background()
	once := func(o *workspaces.Options) { o.RetryMaxAttempts = 1 }
	admin := workspaces.NewFromConfig(s.Admin(), once)
	throttled := 0
	for i := 0; i < 20; i++ {
		_, err := admin.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
		switch code(err) {
		case "":
		case "ThrottlingException":
			throttled++
		default:
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if throttled < 10 {
		t.Fatalf("%d of 20 back-to-back calls throttled at 5 per second, want most", throttled)
	}
	if _, err := admin.DescribeWorkspaceBundles(ctx, &workspaces.DescribeWorkspaceBundlesInput{}); err != nil {
		t.Errorf("another operation shares the bucket: %v", err)
	}
	partner := workspaces.NewFromConfig(s.Partner(), once)
	if _, err := partner.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{}); err != nil {
		t.Errorf("another account shares the bucket: %v", err)
	}
}
