package ec2_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/deskplane/deskplane/internal/config"
	ec2m "github.com/deskplane/deskplane/internal/ec2"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestAllowsInbound: the desktop runtime's question to EC2 (does one of a
// desktop's groups let TCP reach a port) follows the groups' ingress rules.
func TestAllowsInbound(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())
	vpcID := aws.ToString(must(c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))(t).Vpcs[0].VpcId)
	gid := aws.ToString(must(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("byop"), Description: aws.String("partner protocol"), VpcId: aws.String(vpcID)}))(t).GroupId)
	var mod *ec2m.Module
	for _, m := range s.Modules {
		if e, ok := m.(*ec2m.Module); ok {
			mod = e
		}
	}
	allows := func(groups []string, port int) bool {
		t.Helper()
		var ok bool
		err := s.Deps.Store.View(ctx, func(tx store.Tx) error {
			var err error
			ok, err = mod.AllowsInbound(ctx, tx, config.CustomerAccount, "us-east-1", groups, port)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if allows([]string{gid}, 3389) {
		t.Fatal("a group without ingress rules lets 3389 in")
	}
	must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(3000), ToPort: aws.Int32(3400),
			IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}}}))(t)
	if !allows([]string{"sg-0000000000000000a", gid}, 3389) || allows([]string{gid}, 4172) || allows([]string{"sg-0000000000000000a"}, 3389) {
		t.Fatal("tcp 3000-3400 should let 3389 in, not 4172; a missing group allows nothing")
	}
	must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("udp"), FromPort: aws.Int32(4172), ToPort: aws.Int32(4172),
			IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}))(t)
	if allows([]string{gid}, 4172) {
		t.Fatal("a UDP rule lets a TCP port in")
	}
}
