package ec2_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/deskplane/deskplane/internal/config"
	ec2m "github.com/deskplane/deskplane/internal/ec2"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestSubnetsByID: WorkSpaces' read of several subnets at once answers
// what Subnet answers for each, and leaves out the ids of no subnet.
func TestSubnetsByID(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Admin())
	var ids []string
	for _, sn := range must(c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}))(t).Subnets {
		ids = append(ids, aws.ToString(sn.SubnetId))
	}
	if len(ids) < 2 {
		t.Fatalf("subnets %v; want at least two", ids)
	}
	var mod *ec2m.Module
	for _, m := range s.Modules {
		if e, ok := m.(*ec2m.Module); ok {
			mod = e
		}
	}
	const acct, region = config.CustomerAccount, "us-east-1"
	missing := "subnet-0000000000000000a"
	err := s.Deps.Store.View(ctx, func(tx store.Tx) error {
		got, err := mod.SubnetsByID(ctx, tx, acct, region, append([]string{missing}, ids...))
		if err != nil {
			return err
		}
		if len(got) != len(ids)+1 || got[0] != nil {
			return fmt.Errorf("SubnetsByID: %d answers %v; want nil for %s, then the %d of %v", len(got), got, missing, len(ids), ids)
		}
		for i, id := range ids {
			one, err := mod.Subnet(ctx, tx, acct, region, id)
			if err != nil {
				return err
			}
			if got[i+1] == nil || *got[i+1] != *one {
				return fmt.Errorf("SubnetsByID answers %+v for %s; Subnet answers %+v", got[i+1], id, one)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
