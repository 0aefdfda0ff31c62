package ec2_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ds "github.com/aws/aws-sdk-go-v2/service/directoryservice"
	dstypes "github.com/aws/aws-sdk-go-v2/service/directoryservice/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestVpcLifecycle creates a VPC with two subnets and a security group,
// changes their attributes, rules and tags, and deletes them in the order
// EC2 requires, through the SDK.
func TestVpcLifecycle(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())

	_, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.30.0.0/8")})
	wantCode(t, err, "InvalidVpc.Range")
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.30.0.0/16"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVpc, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("v")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := vpc.Vpc.VpcId

	// Attributes: DNS support on, hostnames off, until modified.
	attr := func(a types.VpcAttributeName) *ec2.DescribeVpcAttributeOutput {
		t.Helper()
		out, err := c.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: vpcID, Attribute: a})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if !aws.ToBool(attr(types.VpcAttributeNameEnableDnsSupport).EnableDnsSupport.Value) || aws.ToBool(attr(types.VpcAttributeNameEnableDnsHostnames).EnableDnsHostnames.Value) {
		t.Fatal("a new VPC has DNS support on and DNS hostnames off")
	}
	if _, err := c.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: vpcID, EnableDnsHostnames: &types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(attr(types.VpcAttributeNameEnableDnsHostnames).EnableDnsHostnames.Value) {
		t.Fatal("enableDnsHostnames is not on after ModifyVpcAttribute")
	}
	_, err = c.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: vpcID, EnableDnsSupport: &types.AttributeBooleanValue{Value: aws.Bool(false)}})
	wantCode(t, err, "InvalidParameterValue") // hostnames need DNS support

	// The main route table, default network ACL and default security group.
	rt, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{filter("vpc-id", *vpcID), filter("association.main", "true")}})
	if err != nil || len(rt.RouteTables) != 1 || aws.ToString(rt.RouteTables[0].Routes[0].GatewayId) != "local" {
		t.Fatalf("main route table: %+v, %v", rt, err)
	}
	acl, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []types.Filter{filter("vpc-id", *vpcID), filter("default", "true")}})
	if err != nil || len(acl.NetworkAcls) != 1 || len(acl.NetworkAcls[0].Entries) != 4 {
		t.Fatalf("default network ACL: %+v, %v", acl, err)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("vpc-id", *vpcID), filter("group-name", "default")}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("default security group: %+v, %v", sgs, err)
	}

	// Subnets: inside the VPC, not overlapping, in a zone of the region.
	_, err = c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.31.0.0/24")})
	wantCode(t, err, "InvalidSubnet.Range")
	a, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.30.1.0/24"), AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.30.1.128/25")})
	wantCode(t, err, "InvalidSubnet.Conflict")
	b, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.30.2.0/24"), AvailabilityZone: aws.String("us-east-1b")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: a.Subnet.SubnetId, MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	subs, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("map-public-ip-on-launch", "true")}})
	if err != nil || len(subs.Subnets) != 1 || aws.ToString(subs.Subnets[0].SubnetId) != aws.ToString(a.Subnet.SubnetId) {
		t.Fatalf("subnets mapping public addresses: %+v, %v", subs, err)
	}

	// Tags on any resource by id, removed by key (and value when given).
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{*vpcID, *a.Subnet.SubnetId}, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}}}); err != nil {
		t.Fatal(err)
	}
	tagged, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{filter("tag:env", "test")}})
	if err != nil || len(tagged.Vpcs) != 1 || len(tagged.Vpcs[0].Tags) != 2 {
		t.Fatalf("tagged VPCs: %+v, %v", tagged, err)
	}
	if _, err := c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{*vpcID}, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("other")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{*vpcID}, Tags: []types.Tag{{Key: aws.String("Name")}}}); err != nil {
		t.Fatal(err)
	}
	tagged, _ = c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{*vpcID}})
	if tg := tagged.Vpcs[0].Tags; len(tg) != 1 || aws.ToString(tg[0].Key) != "env" {
		t.Fatalf("tags after DeleteTags (a value that does not match keeps the tag): %+v", tg)
	}
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"vpc-0123456789abcdef0"}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, err, "InvalidVpcID.NotFound")

	// Security group rules: the default egress revoked and replaced.
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("g"), Description: aws.String("g"), VpcId: vpcID})
	if err != nil {
		t.Fatal(err)
	}
	all := []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}
	rev, err := c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: sg.GroupId, IpPermissions: all})
	if err != nil || len(rev.RevokedSecurityGroupRules) != 1 {
		t.Fatalf("revoke the default egress: %+v, %v", rev, err)
	}
	_, err = c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: sg.GroupId,
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("-1"), Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}}}})
	wantCode(t, err, "InvalidPermission.NotFound")
	https := []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []types.IpRange{{CidrIp: aws.String("10.30.0.0/16")}}}}
	if _, err := c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: sg.GroupId, IpPermissions: https}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: sg.GroupId, IpPermissions: https})
	wantCode(t, err, "InvalidPermission.Duplicate")
	if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: https}); err != nil {
		t.Fatal(err)
	}
	got, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{*sg.GroupId}})
	if err != nil || len(got.SecurityGroups[0].IpPermissionsEgress) != 1 || aws.ToInt32(got.SecurityGroups[0].IpPermissionsEgress[0].FromPort) != 443 {
		t.Fatalf("egress after the changes: %+v, %v", got, err)
	}
	if _, err := c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: https}); err != nil {
		t.Fatal(err)
	}

	// A VPC with subnets or groups cannot be deleted.
	_, err = c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: vpcID})
	wantCode(t, err, "DependencyViolation")
	for _, id := range []*string{a.Subnet.SubnetId, b.Subnet.SubnetId} {
		if _, err := c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: id}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: vpcID})
	wantCode(t, err, "DependencyViolation") // the group g
	if _, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: vpcID}); err != nil {
		t.Fatal(err)
	}
	left, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("vpc-id", *vpcID)}})
	if err != nil || len(left.SecurityGroups) != 0 {
		t.Fatalf("groups left with the VPC (its default group goes with it): %+v, %v", left, err)
	}
	_, err = c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{*vpcID}})
	wantCode(t, err, "InvalidVpcID.NotFound")
}

// TestDirectoryInterfaces checks that a directory's domain controllers have
// network interfaces in its subnets with its controllers group, which keep
// them from being deleted, and that deleting the directory removes them and
// the group.
func TestDirectoryInterfaces(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())
	d := ds.NewFromConfig(s.Admin())

	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.40.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	var subnets []string
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		sub, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String([]string{"10.40.1.0/24", "10.40.2.0/24"}[i]), AvailabilityZone: aws.String(az)})
		if err != nil {
			t.Fatal(err)
		}
		subnets = append(subnets, *sub.Subnet.SubnetId)
	}
	dir, err := d.CreateMicrosoftAD(ctx, &ds.CreateMicrosoftADInput{Name: aws.String("eni.example.com"), Password: aws.String("Passw0rd!Passw0rd"),
		VpcSettings: &dstypes.DirectoryVpcSettings{VpcId: vpc.Vpc.VpcId, SubnetIds: subnets}})
	if err != nil {
		t.Fatal(err)
	}
	enis, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{filter("vpc-id", *vpc.Vpc.VpcId)}})
	if err != nil || len(enis.NetworkInterfaces) != 2 {
		t.Fatalf("the directory's interfaces: %+v, %v", enis, err)
	}
	group := enis.NetworkInterfaces[0].Groups[0]
	if aws.ToString(group.GroupName) != aws.ToString(dir.DirectoryId)+"_controllers" {
		t.Fatalf("the interfaces' group: %+v", group)
	}
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: group.GroupId})
	wantCode(t, err, "DependencyViolation")
	_, err = c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: &subnets[0]})
	wantCode(t, err, "DependencyViolation")

	if _, err := d.DeleteDirectory(ctx, &ds.DeleteDirectoryInput{DirectoryId: dir.DirectoryId}); err != nil {
		t.Fatal(err)
	}
	enis, err = c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{filter("vpc-id", *vpc.Vpc.VpcId)}})
	if err != nil || len(enis.NetworkInterfaces) != 0 {
		t.Fatalf("interfaces left after the directory: %+v, %v", enis, err)
	}
	_, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{*group.GroupId}})
	wantCode(t, err, "InvalidGroup.NotFound")
	for _, id := range subnets {
		if _, err := c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: &id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: vpc.Vpc.VpcId}); err != nil {
		t.Fatal(err)
	}
}
