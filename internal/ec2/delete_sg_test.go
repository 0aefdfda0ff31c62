package ec2_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

func TestDeleteSecurityGroup(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())
	vpcID := aws.ToString(must(c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))(t).Vpcs[0].VpcId)
	a := aws.ToString(must(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("a"), Description: aws.String("a"), VpcId: aws.String(vpcID)}))(t).GroupId)
	b := aws.ToString(must(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("b"), Description: aws.String("b"), VpcId: aws.String(vpcID)}))(t).GroupId)
	// b allows traffic from a: a cannot go while b refers to it.
	must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(b),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8443), ToPort: aws.Int32(8443),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(a)}}}}}))(t)
	_, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(a)})
	wantCode(t, err, "DependencyViolation")
	out := must(c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("b")}))(t)
	if !aws.ToBool(out.Return) || aws.ToString(out.GroupId) != b {
		t.Fatalf("delete b: %+v", out)
	}
	must(c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(a)}))(t)
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(a)})
	wantCode(t, err, "InvalidGroup.NotFound")
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String("sg-bogus")})
	wantCode(t, err, "InvalidGroupId.Malformed")
	def := must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("group-name", "default")}}))(t).SecurityGroups
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: def[0].GroupId})
	wantCode(t, err, "CannotDelete")
}
