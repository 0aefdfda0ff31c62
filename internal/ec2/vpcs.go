package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// Interface is a network interface another service placed in a subnet (a
// directory's domain controllers).
type Interface struct {
	ID          string
	SubnetID    string
	VPCID       string
	AZ          string
	PrivateIP   string
	Description string
	GroupIDs    []string
	RequesterID string
}

// InterfacesFunc lists the network interfaces of an account in a region.
type InterfacesFunc func(ctx context.Context, tx store.Tx, account, region string) ([]Interface, error)

// SetInterfaces installs the source of the network interfaces other
// services own; DescribeNetworkInterfaces lists them and they keep their
// subnets and security groups from being deleted.
func (m *Module) SetInterfaces(f InterfacesFunc) {
	m.mu.Lock()
	m.interfaces = f
	m.mu.Unlock()
}

func (m *Module) listInterfaces(ctx context.Context, tx store.Tx, account, region string) ([]Interface, error) {
	m.mu.RLock()
	f := m.interfaces
	m.mu.RUnlock()
	if f == nil {
		return nil, nil
	}
	out, err := f(ctx, tx, account, region)
	if err != nil {
		return nil, fmt.Errorf("ec2: list network interfaces: %w", err)
	}
	return out, nil
}

// DeleteSecurityGroup implements ds.Network: it removes a security group a
// service created for itself (a directory's controllers group) when the
// service deletes its resource. A missing group is not an error.
func (m *Module) DeleteSecurityGroup(ctx context.Context, tx store.Tx, account, region, groupID string) error {
	err := tx.Delete(ctx, TableSecGroup, key(account, region, groupID))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// route table and network ACL ids are derived from the VPC's id: every VPC
// has exactly its main route table and default network ACL.
func mainRouteTableID(vpcID string) string { return DeterministicID("rtb", vpcID) }
func defaultACLID(vpcID string) string     { return DeterministicID("acl", vpcID) }

var aclRe, rtbRe, eniRe = idPattern("acl"), idPattern("rtb"), idPattern("eni")

func vpcXML(v *VPC) VpcXML {
	return VpcXML{VpcID: v.ID, OwnerID: v.Account, State: "available", CidrBlock: v.CIDR,
		CidrBlockAssociationSet: []VpcCidrAssociation{{AssociationID: v.AssociationID, CidrBlock: v.CIDR, CidrBlockState: CidrBlockXML{State: "associated"}}},
		DhcpOptionsID:           v.DhcpOptionsID, InstanceTenancy: or(v.Tenancy, "default"), IsDefault: v.IsDefault,
		BlockPublicAccessStates: &BlockPublicAccessXML{InternetGatewayBlockMode: "off"}, Tags: tagList(v.Tags)}
}

func subnetXML(s *Subnet) SubnetXML {
	return SubnetXML{SubnetID: s.ID, SubnetArn: ARN(s.Region, s.Account, "subnet/"+s.ID),
		OwnerID: s.Account, State: "available", VpcID: s.VPCID, CidrBlock: s.CIDR, AvailableIPAddressCount: s.availableIPs(),
		AvailabilityZone: s.AZ, AvailabilityZoneID: s.AZID, DefaultForAz: s.DefaultAZ, MapPublicIPOnLaunch: s.MapPublicIP,
		PrivateDNSNameOptionsOnLaunch: &PrivateDNSNameOptionsXML{HostnameType: or(s.HostnameType, "ip-name"), EnableResourceNameDNSARecord: s.ResourceNameA},
		BlockPublicAccessStates:       &BlockPublicAccessXML{InternetGatewayBlockMode: "off"}, Tags: tagList(s.Tags)}
}

// ---- authorization ----

// resourceTags reads the tags of an EC2 resource by its id (nil when it does
// not exist: the handler reports it missing).
func (m *Module) resourceTags(ctx context.Context, c *gateway.Call, id string) (map[string]string, error) {
	var tags map[string]string
	err := m.store.View(ctx, func(tx store.Tx) error {
		t, err := tagsOf(ctx, tx, c.Account, c.Region, id)
		if errors.Is(err, store.ErrNotFound) || awsproto.As(err) != nil {
			return nil
		}
		tags = t
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ec2: read the tags of %s: %w", id, err)
	}
	return orEmptyTags(tags), nil
}

// resourceARN is the ARN of an EC2 resource by its id's prefix.
func resourceARN(c *gateway.Call, id string) string {
	typ := map[string]string{"vpc": "vpc", "subnet": "subnet", "sg": "security-group", "sgr": "security-group-rule",
		"ami": "image", "rtb": "route-table", "acl": "network-acl", "eni": "network-interface"}[strings.SplitN(id, "-", 2)[0]]
	if typ == "" {
		typ = "*"
	}
	if typ == "image" {
		return ARN(c.Region, "", "image/"+id)
	}
	return ARN(c.Region, c.Account, typ+"/"+id)
}

func vpcCheck[In any](m *Module, id func(*In) string) func(context.Context, *gateway.Call, *In) ([]gateway.Check, error) {
	return func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		v := id(in)
		if v == "" {
			v = "*"
		}
		tags, err := m.resourceTags(ctx, c, v)
		if err != nil {
			return nil, err
		}
		return []gateway.Check{{Resource: ARN(c.Region, c.Account, "vpc/"+v), ResourceTags: tags,
			Context: map[string][]string{"ec2:VpcID": {v}}}}, nil
	}
}

func subnetCheck[In any](m *Module, id func(*In) string) func(context.Context, *gateway.Call, *In) ([]gateway.Check, error) {
	return func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		v := id(in)
		if v == "" {
			v = "*"
		}
		tags, err := m.resourceTags(ctx, c, v)
		if err != nil {
			return nil, err
		}
		return []gateway.Check{{Resource: ARN(c.Region, c.Account, "subnet/"+v), ResourceTags: tags,
			Context: map[string][]string{"ec2:SubnetID": {v}}}}, nil
	}
}

// ---- VPCs ----

func (m *Module) createVpcResources(ctx context.Context, c *gateway.Call, in *CreateVpcInput) ([]gateway.Check, error) {
	tags, err := tagsFor(in.TagSpecifications, "vpc")
	if err != nil {
		return nil, err
	}
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "vpc/*"), RequestTags: tags,
		Context: map[string][]string{"ec2:Tenancy": {or(ptr.Deref(in.InstanceTenancy), "default")}}}}, nil
}

// unsupportedNetwork refuses the IPv6 and IPAM members: deskplane models
// IPv4 VPCs only, and an account without IPAM pools or Amazon-provided IPv6
// ranges gets these errors from EC2.
func unsupportedNetwork(ipv6Pool, ipv6CIDR, ipv4Pool, ipv6IpamPool string, amazonIPv6 bool) error {
	switch {
	case ipv4Pool != "":
		return awsproto.Errorf("InvalidParameterValue", "The IPAM pool '%s' does not exist: this account has no IPAM pools", ipv4Pool)
	case ipv6IpamPool != "":
		return awsproto.Errorf("InvalidParameterValue", "The IPAM pool '%s' does not exist: this account has no IPAM pools", ipv6IpamPool)
	case ipv6Pool != "":
		return awsproto.Errorf("InvalidParameterValue", "The IPv6 pool '%s' does not exist: this account has no IPv6 pools", ipv6Pool)
	case ipv6CIDR != "" || amazonIPv6:
		return awsproto.Errorf("InvalidParameterValue", "deskplane does not model IPv6: this account has no IPv6 address pool")
	}
	return nil
}

// parseBlock parses an IPv4 CIDR between /16 and /28, as EC2 requires of
// VPCs and subnets.
func parseBlock(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, awsproto.Errorf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", s)
	}
	if p.Bits() < 16 || p.Bits() > 28 {
		return netip.Prefix{}, awsproto.Errorf("InvalidVpc.Range", "The CIDR '%s' is invalid.", s)
	}
	return p.Masked(), nil
}

func (m *Module) createVpc(ctx context.Context, c *gateway.Call, in *CreateVpcInput) (*CreateVpcOutput, error) {
	if err := unsupportedNetwork(in.Ipv6Pool, in.Ipv6CidrBlock, in.Ipv4IpamPoolID, in.Ipv6IpamPoolID, ptr.Deref(in.AmazonProvidedIpv6CidrBlock)); err != nil {
		return nil, err
	}
	if in.CidrBlock == "" {
		return nil, missing("CidrBlock")
	}
	p, err := parseBlock(in.CidrBlock)
	if err != nil {
		return nil, err
	}
	tenancy := ptr.Deref(in.InstanceTenancy)
	if tenancy == "host" {
		return nil, awsproto.Errorf("InvalidParameterValue", "The tenancy value host is not supported for VPCs.")
	}
	tags, err := tagsFor(in.TagSpecifications, "vpc")
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	v := &VPC{ID: randomID("vpc"), Account: c.Account, Region: c.Region, CIDR: p.String(),
		DhcpOptionsID: DeterministicID("dopt", c.Account, c.Region), Tags: tags}
	v.AssociationID = DeterministicID("vpc-cidr-assoc", c.Account, c.Region, v.ID)
	if tenancy == "dedicated" {
		v.Tenancy = tenancy
	}
	err = m.store.Update(ctx, func(tx store.Tx) error {
		if err := store.CreateJSON(ctx, tx, TableVPCs, key(c.Account, c.Region, v.ID), v); err != nil {
			return err
		}
		sgID := randomID("sg")
		sg := &SecurityGroup{ID: sgID, Account: c.Account, Region: c.Region, VPCID: v.ID, Name: "default", Description: "default VPC security group",
			Ingress: []Rule{{ID: randomID("sgr"), Protocol: "-1", FromPort: -1, ToPort: -1, GroupID: sgID, GroupOwner: c.Account}},
			Egress:  []Rule{{ID: randomID("sgr"), Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"}}}
		return store.CreateJSON(ctx, tx, TableSecGroup, key(c.Account, c.Region, sgID), sg)
	})
	if err != nil {
		return nil, err
	}
	x := vpcXML(v)
	x.State = "pending"
	return &CreateVpcOutput{Vpc: x}, nil
}

func (m *Module) deleteVpc(ctx context.Context, c *gateway.Call, in *DeleteVpcInput) (*ReturnOutput, error) {
	if in.VpcID == "" {
		return nil, missing("VpcId")
	}
	if !vpcRe.MatchString(in.VpcID) {
		return nil, awsproto.Errorf("InvalidVpcID.Malformed", "Invalid id: %q", in.VpcID)
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		if _, err := getVPC(ctx, tx, c.Account, c.Region, in.VpcID); err != nil {
			return notFound(err, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", in.VpcID)
		}
		subs, err := listAll[Subnet](ctx, tx, TableSubnets, c.Account, c.Region)
		if err != nil {
			return err
		}
		for _, s := range subs {
			if s.VPCID == in.VpcID {
				return awsproto.Errorf("DependencyViolation", "The vpc '%s' has dependencies and cannot be deleted.", in.VpcID)
			}
		}
		groups, err := listAll[SecurityGroup](ctx, tx, TableSecGroup, c.Account, c.Region)
		if err != nil {
			return err
		}
		var defaultSG string
		for _, g := range groups {
			if g.VPCID != in.VpcID {
				continue
			}
			if g.Name != "default" {
				return awsproto.Errorf("DependencyViolation", "The vpc '%s' has dependencies and cannot be deleted.", in.VpcID)
			}
			defaultSG = g.ID
		}
		if defaultSG != "" {
			if err := tx.Delete(ctx, TableSecGroup, key(c.Account, c.Region, defaultSG)); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, TableVPCs, key(c.Account, c.Region, in.VpcID))
	})
	if err != nil {
		return nil, err
	}
	return &ReturnOutput{}, nil
}

func (m *Module) describeVpcAttribute(ctx context.Context, c *gateway.Call, in *DescribeVpcAttributeInput) (*DescribeVpcAttributeOutput, error) {
	if in.Attribute == nil {
		return nil, missing("Attribute")
	}
	if in.VpcID == "" {
		return nil, missing("VpcId")
	}
	if !vpcRe.MatchString(in.VpcID) {
		return nil, awsproto.Errorf("InvalidVpcID.Malformed", "Invalid id: %q", in.VpcID)
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var v *VPC
	if err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = getVPC(ctx, tx, c.Account, c.Region, in.VpcID)
		return notFound(err, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", in.VpcID)
	}); err != nil {
		return nil, err
	}
	out := &DescribeVpcAttributeOutput{VpcID: v.ID}
	switch *in.Attribute {
	case "enableDnsSupport":
		out.EnableDNSSupport = &AttributeBooleanValue{Value: ptr.To(!v.DNSSupportOff)}
	case "enableDnsHostnames":
		out.EnableDNSHostnames = &AttributeBooleanValue{Value: ptr.To(v.DNSHostnames)}
	case "enableNetworkAddressUsageMetrics":
		out.EnableNetworkAddressUsageMetrics = &AttributeBooleanValue{Value: ptr.To(v.NAUMetrics)}
	}
	return out, nil
}

func (m *Module) modifyVpcAttribute(ctx context.Context, c *gateway.Call, in *ModifyVpcAttributeInput) (*ReturnOutput, error) {
	if in.VpcID == "" {
		return nil, missing("VpcId")
	}
	if !vpcRe.MatchString(in.VpcID) {
		return nil, awsproto.Errorf("InvalidVpcID.Malformed", "Invalid id: %q", in.VpcID)
	}
	set := 0
	for _, a := range []*AttributeBooleanValue{in.EnableDNSHostnames, in.EnableDNSSupport, in.EnableNetworkAddressUsageMetrics} {
		if a != nil {
			if a.Value == nil {
				return nil, missing("Value")
			}
			set++
		}
	}
	if set != 1 {
		return nil, awsproto.Errorf("InvalidParameterCombination", "Fields for multiple attribute types specified: exactly one attribute must be modified per request")
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		v, err := getVPC(ctx, tx, c.Account, c.Region, in.VpcID)
		if err != nil {
			return notFound(err, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", in.VpcID)
		}
		switch {
		case in.EnableDNSSupport != nil:
			if !*in.EnableDNSSupport.Value && v.DNSHostnames {
				return awsproto.Errorf("InvalidParameterValue", "enableDnsHostnames cannot be enabled unless enableDnsSupport is enabled")
			}
			v.DNSSupportOff = !*in.EnableDNSSupport.Value
		case in.EnableDNSHostnames != nil:
			if *in.EnableDNSHostnames.Value && v.DNSSupportOff {
				return awsproto.Errorf("InvalidParameterValue", "enableDnsHostnames cannot be enabled unless enableDnsSupport is enabled")
			}
			v.DNSHostnames = *in.EnableDNSHostnames.Value
		default:
			v.NAUMetrics = *in.EnableNetworkAddressUsageMetrics.Value
		}
		return store.PutJSON(ctx, tx, TableVPCs, key(c.Account, c.Region, v.ID), v)
	})
	if err != nil {
		return nil, err
	}
	return &ReturnOutput{}, nil
}

// ---- subnets ----

func (m *Module) createSubnetResources(ctx context.Context, c *gateway.Call, in *CreateSubnetInput) ([]gateway.Check, error) {
	tags, err := tagsFor(in.TagSpecifications, "subnet")
	if err != nil {
		return nil, err
	}
	v := in.VpcID
	if v == "" {
		v = "*"
	}
	vtags, err := m.resourceTags(ctx, c, v)
	if err != nil {
		return nil, err
	}
	return []gateway.Check{
		{Resource: ARN(c.Region, c.Account, "subnet/*"), RequestTags: tags},
		{Resource: ARN(c.Region, c.Account, "vpc/"+v), ResourceTags: vtags, Context: map[string][]string{"ec2:VpcID": {v}}},
	}, nil
}

// zoneOf resolves a subnet's zone from its name or id ("" for the first).
func zoneOf(region, az, azid string) (string, error) {
	zones := []string{region + "a", region + "b", region + "c", region + "d", region + "e", region + "f"}
	switch {
	case az != "" && azid != "":
		return "", awsproto.Errorf("InvalidParameterCombination", "The parameters 'availabilityZone' and 'availabilityZoneId' cannot be used together")
	case az != "":
		for _, z := range zones {
			if z == az {
				return z, nil
			}
		}
		return "", awsproto.Errorf("InvalidParameterValue", "Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %s.", az, strings.Join(zones, ", "))
	case azid != "":
		for _, z := range zones {
			if azID(region, z) == azid {
				return z, nil
			}
		}
		return "", awsproto.Errorf("InvalidParameterValue", "Value (%s) for parameter availabilityZoneId is invalid.", azid)
	}
	return zones[0], nil
}

func (m *Module) createSubnet(ctx context.Context, c *gateway.Call, in *CreateSubnetInput) (*CreateSubnetOutput, error) {
	if err := unsupportedNetwork("", in.Ipv6CidrBlock, in.Ipv4IpamPoolID, in.Ipv6IpamPoolID, ptr.Deref(in.Ipv6Native)); err != nil {
		return nil, err
	}
	if in.OutpostArn != "" {
		return nil, awsproto.Errorf("InvalidParameterValue", "The Outpost ARN '%s' does not exist", in.OutpostArn)
	}
	if in.VpcID == "" {
		return nil, missing("VpcId")
	}
	if !vpcRe.MatchString(in.VpcID) {
		return nil, awsproto.Errorf("InvalidVpcID.Malformed", "Invalid id: %q", in.VpcID)
	}
	if in.CidrBlock == "" {
		return nil, missing("CidrBlock")
	}
	p, err := netip.ParsePrefix(in.CidrBlock)
	if err != nil || !p.Addr().Is4() {
		return nil, awsproto.Errorf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", in.CidrBlock)
	}
	p = p.Masked()
	az, err := zoneOf(c.Region, in.AvailabilityZone, in.AvailabilityZoneID)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.TagSpecifications, "subnet")
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	s := &Subnet{ID: randomID("subnet"), Account: c.Account, Region: c.Region, VPCID: in.VpcID, CIDR: p.String(), AZ: az, AZID: azID(c.Region, az), Tags: tags}
	err = m.store.Update(ctx, func(tx store.Tx) error {
		v, err := getVPC(ctx, tx, c.Account, c.Region, in.VpcID)
		if err != nil {
			return notFound(err, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", in.VpcID)
		}
		vp, err := netip.ParsePrefix(v.CIDR)
		if err != nil {
			return fmt.Errorf("ec2: vpc %s has a malformed CIDR %q: %w", v.ID, v.CIDR, err)
		}
		if p.Bits() < vp.Bits() || !vp.Contains(p.Addr()) || p.Bits() > 28 {
			return awsproto.Errorf("InvalidSubnet.Range", "The CIDR '%s' is invalid.", p)
		}
		subs, err := listAll[Subnet](ctx, tx, TableSubnets, c.Account, c.Region)
		if err != nil {
			return err
		}
		for _, o := range subs {
			if o.VPCID != v.ID {
				continue
			}
			if op, err := netip.ParsePrefix(o.CIDR); err == nil && op.Overlaps(p) {
				return awsproto.Errorf("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", p)
			}
		}
		return store.CreateJSON(ctx, tx, TableSubnets, key(c.Account, c.Region, s.ID), s)
	})
	if err != nil {
		return nil, err
	}
	x := subnetXML(s)
	x.State = "pending"
	return &CreateSubnetOutput{Subnet: x}, nil
}

func (m *Module) deleteSubnet(ctx context.Context, c *gateway.Call, in *DeleteSubnetInput) (*ReturnOutput, error) {
	if in.SubnetID == "" {
		return nil, missing("SubnetId")
	}
	if !subnetRe.MatchString(in.SubnetID) {
		return nil, awsproto.Errorf("InvalidSubnetID.Malformed", "Invalid id: %q", in.SubnetID)
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		if _, err := getSubnet(ctx, tx, c.Account, c.Region, in.SubnetID); err != nil {
			return notFound(err, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", in.SubnetID)
		}
		enis, err := m.listInterfaces(ctx, tx, c.Account, c.Region)
		if err != nil {
			return err
		}
		for _, e := range enis {
			if e.SubnetID == in.SubnetID {
				return awsproto.Errorf("DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted.", in.SubnetID)
			}
		}
		return tx.Delete(ctx, TableSubnets, key(c.Account, c.Region, in.SubnetID))
	})
	if err != nil {
		return nil, err
	}
	return &ReturnOutput{}, nil
}

func (m *Module) modifySubnetAttribute(ctx context.Context, c *gateway.Call, in *ModifySubnetAttributeInput) (*ReturnOutput, error) {
	if in.SubnetID == "" {
		return nil, missing("SubnetId")
	}
	if !subnetRe.MatchString(in.SubnetID) {
		return nil, awsproto.Errorf("InvalidSubnetID.Malformed", "Invalid id: %q", in.SubnetID)
	}
	// IPv6, customer-owned addresses (Outposts) and LNI device indexes are
	// features of networks deskplane does not model: turning them on is
	// refused, turning them off is what they already are.
	for name, a := range map[string]*AttributeBooleanValue{"AssignIpv6AddressOnCreation": in.AssignIpv6AddressOnCreation,
		"MapCustomerOwnedIpOnLaunch": in.MapCustomerOwnedIPOnLaunch, "EnableDns64": in.EnableDNS64,
		"EnableResourceNameDnsAAAARecordOnLaunch": in.EnableResourceNameDNSAAAARecordOnLaunch, "DisableLniAtDeviceIndex": in.DisableLniAtDeviceIndex} {
		if a != nil && ptr.Deref(a.Value) {
			return nil, awsproto.Errorf("InvalidParameterValue", "%s cannot be enabled: the subnet has no IPv6 or customer-owned address pool", name)
		}
	}
	if in.CustomerOwnedIpv4Pool != "" {
		return nil, awsproto.Errorf("InvalidParameterValue", "The customer-owned IPv4 pool '%s' does not exist", in.CustomerOwnedIpv4Pool)
	}
	if in.EnableLniAtDeviceIndex != nil {
		return nil, awsproto.Errorf("InvalidParameterValue", "EnableLniAtDeviceIndex is only supported for subnets on an Outpost")
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		s, err := getSubnet(ctx, tx, c.Account, c.Region, in.SubnetID)
		if err != nil {
			return notFound(err, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", in.SubnetID)
		}
		if in.MapPublicIPOnLaunch != nil {
			s.MapPublicIP = ptr.Deref(in.MapPublicIPOnLaunch.Value)
		}
		if in.PrivateDNSHostnameTypeOnLaunch != nil {
			s.HostnameType = *in.PrivateDNSHostnameTypeOnLaunch
		}
		if in.EnableResourceNameDNSARecordOnLaunch != nil {
			s.ResourceNameA = ptr.Deref(in.EnableResourceNameDNSARecordOnLaunch.Value)
		}
		return store.PutJSON(ctx, tx, TableSubnets, key(c.Account, c.Region, s.ID), s)
	})
	if err != nil {
		return nil, err
	}
	return &ReturnOutput{}, nil
}

// ---- route tables and network ACLs: each VPC's main table and default ACL ----

func routeTableOf(v *VPC, subs []*Subnet) RouteTableXML {
	id := mainRouteTableID(v.ID)
	_ = subs
	return RouteTableXML{RouteTableID: id, VpcID: v.ID, OwnerID: v.Account,
		Associations: []RouteTableAssociationXML{{Main: true, RouteTableAssociationID: DeterministicID("rtbassoc", v.ID), RouteTableID: id,
			AssociationState: AssociationStateXML{State: "associated"}}},
		Routes: []RouteXML{{DestinationCidrBlock: v.CIDR, GatewayID: "local", Origin: "CreateRouteTable", State: "active"}}}
}

func routeField(v *VPC) fieldFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "vpc-id":
			return []string{v.ID}, true
		case "route-table-id", "association.route-table-id":
			return []string{mainRouteTableID(v.ID)}, true
		case "association.main":
			return []string{"true"}, true
		case "association.route-table-association-id":
			return []string{DeterministicID("rtbassoc", v.ID)}, true
		case "owner-id":
			return []string{v.Account}, true
		case "route.destination-cidr-block":
			return []string{v.CIDR}, true
		case "route.gateway-id":
			return []string{"local"}, true
		case "route.origin":
			return []string{"CreateRouteTable"}, true
		case "route.state":
			return []string{"active"}, true
		case "association.subnet-id", "association.gateway-id":
			return nil, true
		}
		return nil, strings.HasPrefix(name, "tag:") || name == "tag-key" || name == "tag-value"
	}
}

func (m *Module) describeRouteTables(ctx context.Context, c *gateway.Call, in *DescribeRouteTablesInput) (*DescribeRouteTablesOutput, error) {
	if in.MaxResults != nil && (*in.MaxResults < 5 || *in.MaxResults > 100) {
		return nil, awsproto.Errorf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between 5 and 100.", *in.MaxResults)
	}
	filters, err := describeStart(in.RouteTableIDs, malformedID(rtbRe, "InvalidRouteTableId.Malformed"), in.Filters, func(n string) bool { _, ok := routeField(&VPC{})(n); return ok }, in.DryRun)
	if err != nil {
		return nil, err
	}
	var vpcs []*VPC
	if err := m.store.View(ctx, func(tx store.Tx) error {
		vpcs, err = listAll[VPC](ctx, tx, TableVPCs, c.Account, c.Region)
		return err
	}); err != nil {
		return nil, err
	}
	byID := map[string]*VPC{}
	for _, v := range vpcs {
		byID[mainRouteTableID(v.ID)] = v
	}
	for _, id := range in.RouteTableIDs {
		if byID[id] == nil {
			return nil, awsproto.Errorf("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", id)
		}
	}
	ids := selectIDs(byID, in.RouteTableIDs, func(v *VPC) bool { return matches(filters, routeField(v)) })
	start, end, next, err := page(ids, in.NextToken, ptr.Deref(in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &DescribeRouteTablesOutput{NextToken: next}
	for _, id := range ids[start:end] {
		out.RouteTables = append(out.RouteTables, routeTableOf(byID[id], nil))
	}
	return out, nil
}

// selectIDs returns the sorted keys of byID that are wanted (all when want
// is empty) and pass keep.
func selectIDs[T any](byID map[string]*T, want []string, keep func(*T) bool) []string {
	w := map[string]bool{}
	for _, id := range want {
		w[id] = true
	}
	var ids []string
	for id, v := range byID {
		if (len(w) == 0 || w[id]) && keep(v) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func aclField(v *VPC, subs []*Subnet) fieldFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "vpc-id":
			return []string{v.ID}, true
		case "network-acl-id", "association.network-acl-id":
			return []string{defaultACLID(v.ID)}, true
		case "default":
			return []string{"true"}, true
		case "owner-id":
			return []string{v.Account}, true
		case "association.subnet-id":
			var out []string
			for _, s := range subs {
				out = append(out, s.ID)
			}
			return out, true
		case "association.association-id":
			var out []string
			for _, s := range subs {
				out = append(out, DeterministicID("aclassoc", s.ID))
			}
			return out, true
		case "entry.cidr":
			return []string{"0.0.0.0/0"}, true
		case "entry.protocol":
			return []string{"-1"}, true
		case "entry.rule-action":
			return []string{"allow", "deny"}, true
		case "entry.egress":
			return []string{"true", "false"}, true
		case "entry.rule-number":
			return []string{"100", "32767"}, true
		}
		return nil, strings.HasPrefix(name, "tag:") || name == "tag-key" || name == "tag-value"
	}
}

func aclOf(v *VPC, subs []*Subnet) NetworkACLXML {
	id := defaultACLID(v.ID)
	x := NetworkACLXML{NetworkACLID: id, VpcID: v.ID, OwnerID: v.Account, IsDefault: true}
	for _, egress := range []bool{true, false} {
		x.Entries = append(x.Entries,
			NetworkACLEntryXML{CidrBlock: "0.0.0.0/0", Egress: egress, Protocol: "-1", RuleAction: "allow", RuleNumber: 100},
			NetworkACLEntryXML{CidrBlock: "0.0.0.0/0", Egress: egress, Protocol: "-1", RuleAction: "deny", RuleNumber: 32767})
	}
	for _, s := range subs {
		x.Associations = append(x.Associations, NetworkACLAssociationXML{NetworkACLAssociationID: DeterministicID("aclassoc", s.ID), NetworkACLID: id, SubnetID: s.ID})
	}
	return x
}

func (m *Module) describeNetworkAcls(ctx context.Context, c *gateway.Call, in *DescribeNetworkAclsInput) (*DescribeNetworkAclsOutput, error) {
	if in.MaxResults != nil && (*in.MaxResults < 5 || *in.MaxResults > 100) {
		return nil, awsproto.Errorf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between 5 and 100.", *in.MaxResults)
	}
	filters, err := describeStart(in.NetworkACLIDs, malformedID(aclRe, "InvalidNetworkAclId.Malformed"), in.Filters, func(n string) bool { _, ok := aclField(&VPC{}, nil)(n); return ok }, in.DryRun)
	if err != nil {
		return nil, err
	}
	var vpcs []*VPC
	var subs []*Subnet
	if err := m.store.View(ctx, func(tx store.Tx) error {
		if vpcs, err = listAll[VPC](ctx, tx, TableVPCs, c.Account, c.Region); err != nil {
			return err
		}
		subs, err = listAll[Subnet](ctx, tx, TableSubnets, c.Account, c.Region)
		return err
	}); err != nil {
		return nil, err
	}
	byID := map[string]*VPC{}
	subsOf := map[string][]*Subnet{}
	for _, v := range vpcs {
		byID[defaultACLID(v.ID)] = v
	}
	for _, s := range subs {
		subsOf[s.VPCID] = append(subsOf[s.VPCID], s)
	}
	for _, id := range in.NetworkACLIDs {
		if byID[id] == nil {
			return nil, awsproto.Errorf("InvalidNetworkAclID.NotFound", "The networkAcl ID '%s' does not exist", id)
		}
	}
	ids := selectIDs(byID, in.NetworkACLIDs, func(v *VPC) bool { return matches(filters, aclField(v, subsOf[v.ID])) })
	start, end, next, err := page(ids, in.NextToken, ptr.Deref(in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &DescribeNetworkAclsOutput{NextToken: next}
	for _, id := range ids[start:end] {
		v := byID[id]
		out.NetworkAcls = append(out.NetworkAcls, aclOf(v, subsOf[v.ID]))
	}
	return out, nil
}

// ---- network interfaces ----

func eniField(e *Interface, account string) fieldFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "network-interface-id":
			return []string{e.ID}, true
		case "subnet-id":
			return []string{e.SubnetID}, true
		case "vpc-id":
			return []string{e.VPCID}, true
		case "availability-zone":
			return []string{e.AZ}, true
		case "description":
			return []string{e.Description}, true
		case "group-id":
			return e.GroupIDs, true
		case "private-ip-address", "addresses.private-ip-address":
			return []string{e.PrivateIP}, true
		case "owner-id":
			return []string{account}, true
		case "requester-id":
			return []string{e.RequesterID}, true
		case "requester-managed":
			return []string{"true"}, true
		case "status":
			return []string{"in-use"}, true
		case "interface-type":
			return []string{"interface"}, true
		case "attachment.status":
			return []string{"attached"}, true
		}
		return nil, strings.HasPrefix(name, "tag:") || name == "tag-key" || name == "tag-value"
	}
}

func (m *Module) describeNetworkInterfaces(ctx context.Context, c *gateway.Call, in *DescribeNetworkInterfacesInput) (*DescribeNetworkInterfacesOutput, error) {
	if in.MaxResults != nil && (*in.MaxResults < 5 || *in.MaxResults > 1000) {
		return nil, awsproto.Errorf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", *in.MaxResults)
	}
	if in.MaxResults != nil && len(in.NetworkInterfaceIDs) > 0 {
		return nil, awsproto.Errorf("InvalidParameterCombination", "The parameter networkInterfaceIdSet cannot be used with the parameter maxResults")
	}
	malformed := func(id string) error {
		if !eniRe.MatchString(id) {
			return awsproto.Errorf("InvalidNetworkInterfaceID.Malformed", "Invalid id: %q (expecting \"eni-...\")", id)
		}
		return nil
	}
	filters, err := describeStart(in.NetworkInterfaceIDs, malformed, in.Filters, func(n string) bool { _, ok := eniField(&Interface{}, "")(n); return ok }, in.DryRun)
	if err != nil {
		return nil, err
	}
	var enis []Interface
	if err := m.store.View(ctx, func(tx store.Tx) error {
		enis, err = m.listInterfaces(ctx, tx, c.Account, c.Region)
		return err
	}); err != nil {
		return nil, err
	}
	byID := map[string]*Interface{}
	for i := range enis {
		byID[enis[i].ID] = &enis[i]
	}
	for _, id := range in.NetworkInterfaceIDs {
		if byID[id] == nil {
			return nil, awsproto.Errorf("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id)
		}
	}
	ids := selectIDs(byID, in.NetworkInterfaceIDs, func(e *Interface) bool { return matches(filters, eniField(e, c.Account)) })
	start, end, next, err := page(ids, in.NextToken, ptr.Deref(in.MaxResults))
	if err != nil {
		return nil, err
	}
	var groups []*SecurityGroup
	if err := m.store.View(ctx, func(tx store.Tx) error {
		groups, err = listAll[SecurityGroup](ctx, tx, TableSecGroup, c.Account, c.Region)
		return err
	}); err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	out := &DescribeNetworkInterfacesOutput{NextToken: next}
	for _, id := range ids[start:end] {
		e := byID[id]
		x := NetworkInterfaceXML{AvailabilityZone: e.AZ, Description: e.Description, InterfaceType: "interface",
			MacAddress: macOf(e.ID), NetworkInterfaceID: e.ID, OwnerID: c.Account, PrivateIPAddress: e.PrivateIP,
			RequesterID: e.RequesterID, RequesterManaged: true, SourceDestCheck: true, Status: "in-use", SubnetID: e.SubnetID, VpcID: e.VPCID}
		for _, g := range e.GroupIDs {
			x.Groups = append(x.Groups, GroupIdentifierXML{GroupID: g, GroupName: names[g]})
		}
		out.NetworkInterfaces = append(out.NetworkInterfaces, x)
	}
	return out, nil
}

// macOf derives a stable locally administered MAC address from an id.
func macOf(id string) string {
	h := DeterministicID("mac", id)[4:]
	return "02:" + h[0:2] + ":" + h[2:4] + ":" + h[4:6] + ":" + h[6:8] + ":" + h[8:10]
}

// ---- tags ----

// tagsOf reads the tags of a taggable resource by its id.
func tagsOf(ctx context.Context, tx store.Tx, account, region, id string) (map[string]string, error) {
	var tags map[string]string
	err := updateTags(ctx, tx, account, region, id, func(t map[string]string) map[string]string { tags = t; return nil })
	return tags, err
}

// updateTags applies f to the tags of the resource id; when f returns a
// non-nil map, it is stored as the resource's tags.
func updateTags(ctx context.Context, tx store.Tx, account, region, id string, f func(map[string]string) map[string]string) error {
	k := key(account, region, id)
	switch strings.SplitN(id, "-", 2)[0] {
	case "vpc":
		return editTags(ctx, tx, TableVPCs, k, func(v *VPC) *map[string]string { return &v.Tags }, f,
			awsproto.Errorf("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id))
	case "subnet":
		return editTags(ctx, tx, TableSubnets, k, func(v *Subnet) *map[string]string { return &v.Tags }, f,
			awsproto.Errorf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id))
	case "sg":
		return editTags(ctx, tx, TableSecGroup, k, func(v *SecurityGroup) *map[string]string { return &v.Tags }, f,
			awsproto.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", id))
	case "ami":
		return editTags(ctx, tx, TableImages, k, func(v *Image) *map[string]string { return &v.Tags }, f,
			awsproto.Errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id))
	case "sgr":
		return updateRuleTags(ctx, tx, account, region, id, f)
	}
	return awsproto.Errorf("InvalidID", "The ID '%s' is not valid", id)
}

func editTags[T any](ctx context.Context, tx store.Tx, table, k string, tagsField func(*T) *map[string]string, f func(map[string]string) map[string]string, notFoundErr error) error {
	v, err := store.GetJSON[T](ctx, tx, table, k)
	if errors.Is(err, store.ErrNotFound) {
		return notFoundErr
	}
	if err != nil {
		return err
	}
	t := tagsField(v)
	cp := map[string]string{}
	for k, val := range *t {
		cp[k] = val
	}
	nt := f(cp)
	if nt == nil {
		return nil
	}
	if len(nt) == 0 {
		nt = nil
	}
	*t = nt
	return store.PutJSON(ctx, tx, table, k, v)
}

func updateRuleTags(ctx context.Context, tx store.Tx, account, region, id string, f func(map[string]string) map[string]string) error {
	groups, err := listAll[SecurityGroup](ctx, tx, TableSecGroup, account, region)
	if err != nil {
		return err
	}
	for _, g := range groups {
		for _, rules := range []*[]Rule{&g.Ingress, &g.Egress} {
			for i := range *rules {
				r := &(*rules)[i]
				if r.ID != id {
					continue
				}
				cp := map[string]string{}
				for k, v := range r.Tags {
					cp[k] = v
				}
				nt := f(cp)
				if nt == nil {
					return nil
				}
				if len(nt) == 0 {
					nt = nil
				}
				r.Tags = nt
				return store.PutJSON(ctx, tx, TableSecGroup, key(account, region, g.ID), g)
			}
		}
	}
	return awsproto.Errorf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
}

func (m *Module) tagChecks(ctx context.Context, c *gateway.Call, ids []string, requestTags map[string]string, keys []string) ([]gateway.Check, error) {
	var checks []gateway.Check
	for _, id := range ids {
		tags, err := m.resourceTags(ctx, c, id)
		if err != nil {
			return nil, err
		}
		ch := gateway.Check{Resource: resourceARN(c, id), ResourceTags: tags, RequestTags: requestTags}
		if keys != nil {
			ch.Context = map[string][]string{"aws:TagKeys": keys}
		}
		checks = append(checks, ch)
	}
	if len(checks) == 0 {
		checks = []gateway.Check{{Resource: "*"}}
	}
	return checks, nil
}

func (m *Module) createTagsResources(ctx context.Context, c *gateway.Call, in *CreateTagsInput) ([]gateway.Check, error) {
	req := map[string]string{}
	for _, t := range in.Tags {
		req[t.Key] = t.Value
	}
	return m.tagChecks(ctx, c, in.Resources, req, nil)
}

func (m *Module) deleteTagsResources(ctx context.Context, c *gateway.Call, in *DeleteTagsInput) ([]gateway.Check, error) {
	keys := []string{}
	for _, t := range in.Tags {
		keys = append(keys, t.Key)
	}
	return m.tagChecks(ctx, c, in.Resources, nil, keys)
}

// maxTags is EC2's limit of tags per resource.
const maxTags = 50

func checkTagIDs(ids []string) error {
	if len(ids) == 0 {
		return missing("ResourceId")
	}
	if len(ids) > 1000 {
		return awsproto.Errorf("InvalidParameterValue", "Tagging is limited to 1000 resources per request")
	}
	for _, id := range ids {
		if !idAny.MatchString(id) {
			return awsproto.Errorf("InvalidID", "The ID '%s' is not valid", id)
		}
	}
	return nil
}

var idAny = idPattern("(vpc|subnet|sg|sgr|ami)")

func (m *Module) createTags(ctx context.Context, c *gateway.Call, in *CreateTagsInput) (*ReturnOutput, error) {
	if err := checkTagIDs(in.Resources); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, missing("Tag")
	}
	for _, t := range in.Tags {
		switch {
		case t.Key == "" || len(t.Key) > 127:
			return nil, awsproto.Errorf("InvalidParameterValue", "Tag key must be between 1 and 127 characters")
		case len(t.Value) > 255:
			return nil, awsproto.Errorf("InvalidParameterValue", "Tag value exceeds the maximum length of 255 characters")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return nil, awsproto.Errorf("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		}
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		for _, id := range in.Resources {
			err := updateTags(ctx, tx, c.Account, c.Region, id, func(t map[string]string) map[string]string {
				for _, tg := range in.Tags {
					t[tg.Key] = tg.Value
				}
				return t
			})
			if err != nil {
				return err
			}
			t, err := tagsOf(ctx, tx, c.Account, c.Region, id)
			if err != nil {
				return err
			}
			if len(t) > maxTags {
				return awsproto.Errorf("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ReturnOutput{}, nil
}

func (m *Module) deleteTags(ctx context.Context, c *gateway.Call, in *DeleteTagsInput) (*ReturnOutput, error) {
	if err := checkTagIDs(in.Resources); err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return nil, awsproto.Errorf("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		}
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		for _, id := range in.Resources {
			err := updateTags(ctx, tx, c.Account, c.Region, id, func(t map[string]string) map[string]string {
				if len(in.Tags) == 0 { // no tags named: delete them all
					return map[string]string{}
				}
				for _, tg := range in.Tags {
					if v, ok := t[tg.Key]; ok && (tg.Value == nil || *tg.Value == v) {
						delete(t, tg.Key)
					}
				}
				return t
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ReturnOutput{}, nil
}

// ---- VPCs and subnets ----

func vpcField(v *VPC) fieldFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "vpc-id":
			return []string{v.ID}, true
		case "cidr", "cidr-block", "cidr-block-association.cidr-block":
			return []string{v.CIDR}, true
		case "cidr-block-association.association-id":
			return []string{v.AssociationID}, true
		case "cidr-block-association.state", "state":
			if name == "state" {
				return []string{"available"}, true
			}
			return []string{"associated"}, true
		case "dhcp-options-id":
			return []string{v.DhcpOptionsID}, true
		case "is-default", "isDefault":
			return []string{boolStr(v.IsDefault)}, true
		case "owner-id":
			return []string{v.Account}, true
		case "instance-tenancy":
			return []string{or(v.Tenancy, "default")}, true
		}
		return tagField(v.Tags, name)
	}
}

var vpcKind = describeKind[VPC]{table: TableVPCs, idRe: vpcRe, code: "InvalidVpcID", noun: "vpc",
	id: func(v *VPC) string { return v.ID }, field: vpcField}

func (m *Module) describeVpcs(ctx context.Context, c *gateway.Call, in *DescribeVpcsInput) (*DescribeVpcsOutput, error) {
	vpcs, next, err := describeRecords(ctx, m, c, vpcKind, in.VpcIds, in.Filters, in.DryRun, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &DescribeVpcsOutput{NextToken: next}
	for _, v := range vpcs {
		out.Vpcs = append(out.Vpcs, vpcXML(v))
	}
	return out, nil
}

func subnetField(s *Subnet) fieldFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "vpc-id":
			return []string{s.VPCID}, true
		case "subnet-id":
			return []string{s.ID}, true
		case "availability-zone", "availabilityZone":
			return []string{s.AZ}, true
		case "availability-zone-id", "availabilityZoneId":
			return []string{s.AZID}, true
		case "cidr", "cidr-block", "cidrBlock":
			return []string{s.CIDR}, true
		case "state":
			return []string{"available"}, true
		case "default-for-az", "defaultForAz":
			return []string{boolStr(s.DefaultAZ)}, true
		case "owner-id":
			return []string{s.Account}, true
		case "subnet-arn":
			return []string{ARN(s.Region, s.Account, "subnet/"+s.ID)}, true
		case "available-ip-address-count":
			return []string{strconv.Itoa(s.availableIPs())}, true
		case "map-public-ip-on-launch":
			return []string{boolStr(s.MapPublicIP)}, true
		}
		return tagField(s.Tags, name)
	}
}

var subnetKind = describeKind[Subnet]{table: TableSubnets, idRe: subnetRe, code: "InvalidSubnetID", noun: "subnet",
	id: func(s *Subnet) string { return s.ID }, field: subnetField}

func (m *Module) describeSubnets(ctx context.Context, c *gateway.Call, in *DescribeSubnetsInput) (*DescribeSubnetsOutput, error) {
	subnets, next, err := describeRecords(ctx, m, c, subnetKind, in.SubnetIds, in.Filters, in.DryRun, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := &DescribeSubnetsOutput{NextToken: next}
	for _, s := range subnets {
		out.Subnets = append(out.Subnets, subnetXML(s))
	}
	return out, nil
}
