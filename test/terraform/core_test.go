package terraform

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ds "github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestTerraformCore runs the stack a WorkSpaces deployment builds beside
// the WorkSpaces resources (testdata/core): a KMS key with rotation and a
// key policy, its alias and a grant, an IAM role with an inline policy and
// AWS managed and customer managed policies attached, a user with an access
// key, a VPC with two subnets and a security group, and an AWS Managed
// Microsoft AD in them.
func TestTerraformCore(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	cfg := srv.Admin()
	ctx := context.Background()
	w := newWorkdir(t, "core", srv.URL)

	var keyID string
	w.cycle(func() {
		// The update reached the server: spot-check each kind of change.
		e := ec2.NewFromConfig(cfg)
		vpcs, err := e.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("cidr"), Values: []string{"10.20.0.0/16"}}}})
		if err != nil || len(vpcs.Vpcs) != 1 || tag(vpcs.Vpcs[0].Tags, "stage") != "two" {
			t.Fatalf("the VPC after the update: %+v, %v", vpcs, err)
		}
		attr, err := e.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: vpcs.Vpcs[0].VpcId, Attribute: ec2types.VpcAttributeNameEnableDnsHostnames})
		if err != nil || !aws.ToBool(attr.EnableDnsHostnames.Value) {
			t.Fatalf("enableDnsHostnames: %+v, %v", attr, err)
		}
		k := kms.NewFromConfig(cfg)
		d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/tf-test")})
		if err != nil || aws.ToString(d.KeyMetadata.Description) != "tf key two" {
			t.Fatalf("the key after the update: %+v, %v", d, err)
		}
		keyID = aws.ToString(d.KeyMetadata.KeyId)
		rot, err := k.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: &keyID})
		if err != nil || !rot.KeyRotationEnabled {
			t.Fatalf("key rotation: %+v, %v", rot, err)
		}
		i := iam.NewFromConfig(cfg)
		keys, err := i.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("tf-user")})
		if err != nil || len(keys.AccessKeyMetadata) != 1 || keys.AccessKeyMetadata[0].Status != iamtypes.StatusTypeInactive {
			t.Fatalf("the access key after the update: %+v, %v", keys, err)
		}
		versions, err := i.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String("arn:aws:iam::111122223333:policy/tf-policy")})
		if err != nil || len(versions.Versions) != 2 {
			t.Fatalf("the policy's versions after the update: %+v, %v", versions, err)
		}
	})

	// Nothing is left behind.
	e := ec2.NewFromConfig(cfg)
	vpcs, err := e.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("cidr"), Values: []string{"10.20.0.0/16"}}}})
	if err != nil || len(vpcs.Vpcs) != 0 {
		t.Errorf("VPCs left: %+v, %v", vpcs, err)
	}
	subs, err := e.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("cidr-block"), Values: []string{"10.20.*"}}}})
	if err != nil || len(subs.Subnets) != 0 {
		t.Errorf("subnets left: %+v, %v", subs, err)
	}
	groups, err := e.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.SecurityGroups {
		if n := aws.ToString(g.GroupName); n == "tf-sg" || strings.HasSuffix(n, "_controllers") && !strings.HasPrefix(aws.ToString(g.VpcId), "vpc-") {
			t.Errorf("security group left: %s %s", n, aws.ToString(g.GroupId))
		}
	}
	enis, err := e.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{{Name: aws.String("description"), Values: []string{"*directory*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := ds.NewFromConfig(cfg).DescribeDirectories(ctx, &ds.DescribeDirectoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs.DirectoryDescriptions {
		if aws.ToString(d.Name) == "tf.example.com" {
			t.Errorf("directory left: %s", aws.ToString(d.DirectoryId))
		}
	}
	// The seeded directory's two controllers are the only interfaces.
	if len(enis.NetworkInterfaces) != 2*len(dirs.DirectoryDescriptions) {
		t.Errorf("network interfaces: %d for %d directories", len(enis.NetworkInterfaces), len(dirs.DirectoryDescriptions))
	}
	// The controllers group of the deleted directory went with it: every
	// remaining _controllers group belongs to a remaining directory.
	for _, g := range groups.SecurityGroups {
		if n := aws.ToString(g.GroupName); strings.HasSuffix(n, "_controllers") {
			found := false
			for _, d := range dirs.DirectoryDescriptions {
				found = found || aws.ToString(d.DirectoryId)+"_controllers" == n
			}
			if !found {
				t.Errorf("the controllers group %s of a deleted directory is left", n)
			}
		}
	}
	i := iam.NewFromConfig(cfg)
	var nse *iamtypes.NoSuchEntityException
	if _, err := i.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("tf-workspaces-role")}); !errors.As(err, &nse) {
		t.Errorf("role left: %v", err)
	}
	if _, err := i.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("tf-user")}); !errors.As(err, &nse) {
		t.Errorf("user left: %v", err)
	}
	if _, err := i.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::111122223333:policy/tf-policy")}); !errors.As(err, &nse) {
		t.Errorf("policy left: %v", err)
	}
	k := kms.NewFromConfig(cfg)
	aliases, err := k.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range aliases.Aliases {
		if aws.ToString(a.AliasName) == "alias/tf-test" {
			t.Errorf("alias left")
		}
	}
	// A KMS key is never deleted at once: destroy schedules its deletion.
	d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &keyID})
	if err != nil || d.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Errorf("the key after destroy: %+v, %v (want PendingDeletion)", d, err)
	}
	grants, err := k.ListGrants(ctx, &kms.ListGrantsInput{KeyId: &keyID})
	if err == nil && len(grants.Grants) != 0 {
		t.Errorf("grants left: %+v", grants.Grants)
	}
}

func tag(tags []ec2types.Tag, k string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == k {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
