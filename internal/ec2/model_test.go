package ec2_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/deskplane/deskplane/internal/awsmodel"
	ec2svc "github.com/deskplane/deskplane/internal/ec2"
	"github.com/deskplane/deskplane/internal/testserver"
)

// capture records each response body by operation.
type capture struct {
	mu     sync.Mutex
	next   *http.Client
	bodies map[string][][]byte
}

func (c *capture) Do(r *http.Request) (*http.Response, error) {
	var action string
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		v, _ := url.ParseQuery(string(b))
		action = v.Get("Action")
	}
	resp, err := c.next.Do(r)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if resp.StatusCode == http.StatusOK {
		c.mu.Lock()
		c.bodies[action] = append(c.bodies[action], b)
		c.mu.Unlock()
	}
	return resp, nil
}

// TestModelConformance checks the wire shapes' tags against botocore's
// model and every successful response body of the operations against the
// model's output shapes.
func TestModelConformance(t *testing.T) {
	m := awsmodel.LoadOrSkip(t, "ec2")
	shapes := []struct {
		shape string
		v     any
		tag   string
	}{
		{"DescribeImagesRequest", ec2svc.DescribeImagesInput{}, "query"},
		{"DescribeImagesResult", ec2svc.DescribeImagesOutput{}, "xml"},
		{"RegisterImageRequest", ec2svc.RegisterImageInput{}, "query"},
		{"RegisterImageResult", ec2svc.RegisterImageOutput{}, "xml"},
		{"DescribeVpcsRequest", ec2svc.DescribeVpcsInput{}, "query"},
		{"DescribeVpcsResult", ec2svc.DescribeVpcsOutput{}, "xml"},
		{"DescribeSubnetsRequest", ec2svc.DescribeSubnetsInput{}, "query"},
		{"DescribeSubnetsResult", ec2svc.DescribeSubnetsOutput{}, "xml"},
		{"CreateSecurityGroupRequest", ec2svc.CreateSecurityGroupInput{}, "query"},
		{"CreateSecurityGroupResult", ec2svc.CreateSecurityGroupOutput{}, "xml"},
		{"DescribeSecurityGroupsRequest", ec2svc.DescribeSecurityGroupsInput{}, "query"},
		{"DescribeSecurityGroupsResult", ec2svc.DescribeSecurityGroupsOutput{}, "xml"},
		{"AuthorizeSecurityGroupIngressRequest", ec2svc.AuthorizeSecurityGroupIngressInput{}, "query"},
		{"AuthorizeSecurityGroupIngressResult", ec2svc.AuthorizeSecurityGroupIngressOutput{}, "xml"},
		{"CreateVpcRequest", ec2svc.CreateVpcInput{}, "query"},
		{"CreateVpcResult", ec2svc.CreateVpcOutput{}, "xml"},
		{"DeleteVpcRequest", ec2svc.DeleteVpcInput{}, "query"},
		{"DescribeVpcAttributeRequest", ec2svc.DescribeVpcAttributeInput{}, "query"},
		{"DescribeVpcAttributeResult", ec2svc.DescribeVpcAttributeOutput{}, "xml"},
		{"ModifyVpcAttributeRequest", ec2svc.ModifyVpcAttributeInput{}, "query"},
		{"CreateSubnetRequest", ec2svc.CreateSubnetInput{}, "query"},
		{"CreateSubnetResult", ec2svc.CreateSubnetOutput{}, "xml"},
		{"DeleteSubnetRequest", ec2svc.DeleteSubnetInput{}, "query"},
		{"ModifySubnetAttributeRequest", ec2svc.ModifySubnetAttributeInput{}, "query"},
		{"CreateTagsRequest", ec2svc.CreateTagsInput{}, "query"},
		{"DeleteTagsRequest", ec2svc.DeleteTagsInput{}, "query"},
		{"DescribeRouteTablesRequest", ec2svc.DescribeRouteTablesInput{}, "query"},
		{"DescribeRouteTablesResult", ec2svc.DescribeRouteTablesOutput{}, "xml"},
		{"DescribeNetworkAclsRequest", ec2svc.DescribeNetworkAclsInput{}, "query"},
		{"DescribeNetworkAclsResult", ec2svc.DescribeNetworkAclsOutput{}, "xml"},
		{"DescribeNetworkInterfacesRequest", ec2svc.DescribeNetworkInterfacesInput{}, "query"},
		{"DescribeNetworkInterfacesResult", ec2svc.DescribeNetworkInterfacesOutput{}, "xml"},
		{"RevokeSecurityGroupEgressRequest", ec2svc.RevokeSecurityGroupEgressInput{}, "query"},
		{"RevokeSecurityGroupEgressResult", ec2svc.RevokeOutput{}, "xml"},
		{"RevokeSecurityGroupIngressRequest", ec2svc.RevokeSecurityGroupIngressInput{}, "query"},
		{"AuthorizeSecurityGroupEgressRequest", ec2svc.AuthorizeSecurityGroupEgressInput{}, "query"},
	}
	for _, s := range shapes {
		for _, p := range m.CheckStructFields(s.shape, reflect.TypeOf(s.v), s.tag) {
			t.Errorf("%s: %s", s.shape, p)
		}
	}

	srv := testserver.Start(t)
	cfg := srv.Admin()
	capt := &capture{next: http.DefaultClient, bodies: map[string][][]byte{}}
	cfg.HTTPClient = capt
	c := ec2.NewFromConfig(cfg)
	ctx := context.Background()
	imgs := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{}))(t).Images
	must(c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("conformance"), RootDeviceName: aws.String("/dev/sda1"),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"), Ebs: &types.EbsBlockDevice{SnapshotId: imgs[0].BlockDeviceMappings[0].Ebs.SnapshotId}}}}))(t)
	vpc := aws.ToString(must(c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))(t).Vpcs[0].VpcId)
	must(c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}))(t)
	g := must(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("c"), Description: aws.String("c"), VpcId: aws.String(vpc)}))(t)
	must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpProtocol: aws.String("tcp"),
		FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("10.0.0.0/8")}))(t)
	must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{}))(t)

	for _, op := range []string{"DescribeImages", "RegisterImage", "DescribeVpcs", "DescribeSubnets", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "DescribeSecurityGroups"} {
		bodies := capt.bodies[op]
		if len(bodies) == 0 {
			t.Errorf("%s: no response captured", op)
		}
		for _, b := range bodies {
			for _, p := range m.CheckXMLOutput(op, b) {
				// EC2 sends platform "windows" although the model's
				// enum spells it "Windows"; we follow the wire.
				if strings.HasSuffix(p, `platform: value "windows" is not in enum PlatformValues [Windows]`) {
					continue
				}
				t.Errorf("%s: %s", op, p)
			}
		}
	}
}
