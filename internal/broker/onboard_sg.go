package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/aws/smithy-go"
)

// ProtocolPorts returns the TCP ports of the configuration's protocol
// plans (the built-in ones included), sorted, without duplicates: the ports
// onboarding's security group lets in.
func (c *Config) ProtocolPorts() []int32 {
	var ports []int32
	for _, p := range c.ProtocolPlans {
		if p.Port > 0 && p.Port <= 65535 && !slices.Contains(ports, int32(p.Port)) {
			ports = append(ports, int32(p.Port))
		}
	}
	slices.Sort(ports)
	return ports
}

// securityGroupName is the name of the group onboarding creates in a
// directory's VPC.
func (o *Onboarder) securityGroupName(dir string) string {
	if o.Cfg.SecurityGroupName != "" {
		return o.Cfg.SecurityGroupName
	}
	return "deskplane-broker-" + dir
}

// sgAllows reports whether a group's inbound rules let TCP port in from
// cidr.
func sgAllows(g ec2types.SecurityGroup, port int32, cidr string) bool {
	for _, p := range g.IpPermissions {
		proto := aws.ToString(p.IpProtocol)
		if proto != "tcp" && proto != "6" && proto != "-1" {
			continue
		}
		if proto != "-1" && (aws.ToInt32(p.FromPort) > port || aws.ToInt32(p.ToPort) < port) {
			continue
		}
		for _, r := range p.IpRanges {
			if c := aws.ToString(r.CidrIp); c == cidr || c == "0.0.0.0/0" {
				return true
			}
		}
	}
	return false
}

// directoryVPC returns the VPC of a directory and its CIDR block.
func (o *Onboarder) directoryVPC(ctx context.Context, dir string) (vpc, cidr string, err error) {
	out, err := o.C.DS.DescribeDirectories(ctx, &directoryservice.DescribeDirectoriesInput{DirectoryIds: []string{dir}})
	if err != nil {
		return "", "", fmt.Errorf("DescribeDirectories: %w", err)
	}
	if len(out.DirectoryDescriptions) != 1 || out.DirectoryDescriptions[0].VpcSettings == nil {
		return "", "", fmt.Errorf("directory %s: no VPC settings", dir)
	}
	vpc = aws.ToString(out.DirectoryDescriptions[0].VpcSettings.VpcId)
	vs, err := o.C.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpc}})
	if err != nil {
		return "", "", fmt.Errorf("DescribeVpcs: %w", err)
	}
	if len(vs.Vpcs) != 1 {
		return "", "", fmt.Errorf("VPC %s of directory %s not found", vpc, dir)
	}
	return vpc, aws.ToString(vs.Vpcs[0].CidrBlock), nil
}

// findGroup returns the security group named name in vpc, nil if none.
func (o *Onboarder) findGroup(ctx context.Context, vpc, name string) (*ec2types.SecurityGroup, error) {
	out, err := o.C.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}},
		{Name: aws.String("group-name"), Values: []string{name}},
	}})
	if err != nil {
		return nil, fmt.Errorf("DescribeSecurityGroups: %w", err)
	}
	if len(out.SecurityGroups) == 0 {
		return nil, nil
	}
	return &out.SecurityGroups[0], nil
}

// securityGroup is the guide's "add a security group for your protocol"
// step: a security group in the directory's VPC (created, or found by
// name) that lets the protocol plans' ports in from the VPC's CIDR block
// (or onboarding.ingress_cidr), set as the directory's custom security
// group for new desktops (ModifyWorkspaceCreationProperties). A custom group
// of the operator's own is left alone when it lets the ports in already,
// and is an error otherwise (onboarding does not replace it).
func (o *Onboarder) securityGroup(ctx context.Context, r *OnboardResult) error {
	if len(o.Ports) == 0 {
		o.skip(r, "security-group", "no protocol plan has a port")
		return nil
	}
	dir := r.DirectoryID
	vpc, cidr, err := o.directoryVPC(ctx, dir)
	if err != nil {
		return err
	}
	if o.Cfg.IngressCIDR != "" {
		cidr = o.Cfg.IngressCIDR
	}
	ds, err := o.C.WorkSpaces.DescribeWorkspaceDirectories(ctx, &workspaces.DescribeWorkspaceDirectoriesInput{DirectoryIds: []string{dir}})
	if err != nil {
		return fmt.Errorf("DescribeWorkspaceDirectories: %w", err)
	}
	if len(ds.Directories) != 1 {
		return fmt.Errorf("directory %s is not registered", dir)
	}
	current := ""
	if p := ds.Directories[0].WorkspaceCreationProperties; p != nil {
		current = aws.ToString(p.CustomSecurityGroupId)
	}
	name := o.securityGroupName(dir)
	g, err := o.findGroup(ctx, vpc, name)
	if err != nil {
		return err
	}
	if current != "" && (g == nil || aws.ToString(g.GroupId) != current) {
		// The operator's own group: check it, do not replace it, unless it
		// is gone (EC2 deletes a group the directory still names: new
		// desktops could not be created with it), then it is replaced.
		out, err := o.C.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{current}})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidGroup.NotFound" {
			o.printf("    the directory's custom security group %s no longer exists: replaced\n", current)
			return o.ownGroup(ctx, r, dir, vpc, cidr, name, g, "")
		}
		if err != nil {
			return fmt.Errorf("DescribeSecurityGroups %s: %w", current, err)
		}
		var missing []string
		for _, p := range o.Ports {
			if len(out.SecurityGroups) != 1 || !sgAllows(out.SecurityGroups[0], p, cidr) {
				missing = append(missing, fmt.Sprint(p))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("directory %s has the custom security group %s, which does not let TCP %s in from %s: allow them there or remove the group",
				dir, current, strings.Join(missing, ", "), cidr)
		}
		r.SecurityGroupID = current
		o.skip(r, "security-group", fmt.Sprintf("the directory's custom security group %s lets TCP %s in", current, joinPorts(o.Ports)))
		return nil
	}
	return o.ownGroup(ctx, r, dir, vpc, cidr, name, g, current)
}

// ownGroup makes onboarding's group g (nil: created as name in vpc) let
// the ports in from cidr and sets it as dir's custom security group unless
// it is already (current, the group the directory names; "" for none or
// one that is gone).
func (o *Onboarder) ownGroup(ctx context.Context, r *OnboardResult, dir, vpc, cidr, name string, g *ec2types.SecurityGroup, current string) error {
	changed := false
	if g == nil {
		out, err := o.C.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName:   aws.String(name),
			Description: aws.String("deskplane broker: protocol ports of directory " + dir),
			VpcId:       aws.String(vpc),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup,
				Tags: []ec2types.Tag{{Key: aws.String(PartnerTagKey), Value: aws.String(PartnerTagValue)}}}},
		})
		if err != nil {
			return fmt.Errorf("CreateSecurityGroup: %w", err)
		}
		o.printf("    CreateSecurityGroup %s in %s → %s\n", name, vpc, aws.ToString(out.GroupId))
		g = &ec2types.SecurityGroup{GroupId: out.GroupId, GroupName: aws.String(name), VpcId: aws.String(vpc)}
		changed = true
	}
	id := aws.ToString(g.GroupId)
	var perms []ec2types.IpPermission
	for _, p := range o.Ports {
		if !sgAllows(*g, p, cidr) {
			perms = append(perms, ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(p), ToPort: aws.Int32(p),
				IpRanges: []ec2types.IpRange{{CidrIp: aws.String(cidr), Description: aws.String("deskplane broker protocol port")}}})
		}
	}
	if len(perms) > 0 {
		if _, err := o.C.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: perms}); err != nil {
			return fmt.Errorf("AuthorizeSecurityGroupIngress %s: %w", id, err)
		}
		o.printf("    AuthorizeSecurityGroupIngress %s: %d port(s) from %s\n", id, len(perms), cidr)
		changed = true
	}
	if current != id {
		if _, err := o.C.WorkSpaces.ModifyWorkspaceCreationProperties(ctx, &workspaces.ModifyWorkspaceCreationPropertiesInput{
			ResourceId:                  aws.String(dir),
			WorkspaceCreationProperties: &types.WorkspaceCreationProperties{CustomSecurityGroupId: aws.String(id)},
		}); err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException" {
				return fmt.Errorf("ModifyWorkspaceCreationProperties: %w (the partner role may set the custom security group only of a directory tagged PartnerManaged=true: the customer tags it with `aws workspaces create-tags --resource-id %s --tags Key=PartnerManaged,Value=true`, or registers it with that tag)", err, dir)
			}
			return fmt.Errorf("ModifyWorkspaceCreationProperties: %w", err)
		}
		o.printf("    ModifyWorkspaceCreationProperties %s: custom security group %s\n", dir, id)
		changed = true
	}
	r.SecurityGroupID = id
	what := fmt.Sprintf("security group %s lets TCP %s in from %s for new desktops of %s", id, joinPorts(o.Ports), cidr, dir)
	if !changed {
		o.skip(r, "security-group", what)
		return nil
	}
	o.done(r, "security-group", what)
	return nil
}

func joinPorts(ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}
