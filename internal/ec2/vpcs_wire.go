package ec2

// Wire shapes of the VPC, subnet, tag, route table, network ACL, network
// interface and security-group-rule operations added for Terraform's AWS
// provider (see vpcs.go).

// AttributeBooleanValue is a {Value} boolean attribute (request and response).
type AttributeBooleanValue struct {
	Value *bool `query:"Value" xml:"value"`
}

// CreateVpcInput is the CreateVpc request.
type CreateVpcInput struct {
	CidrBlock                       string             `query:"CidrBlock"`
	Ipv6Pool                        string             `query:"Ipv6Pool"`
	Ipv6CidrBlock                   string             `query:"Ipv6CidrBlock"`
	Ipv4IpamPoolID                  string             `query:"Ipv4IpamPoolId"`
	Ipv4NetmaskLength               *int               `query:"Ipv4NetmaskLength"`
	Ipv6IpamPoolID                  string             `query:"Ipv6IpamPoolId"`
	Ipv6NetmaskLength               *int               `query:"Ipv6NetmaskLength"`
	Ipv6CidrBlockNetworkBorderGroup string             `query:"Ipv6CidrBlockNetworkBorderGroup"`
	TagSpecifications               []TagSpecification `query:"TagSpecification"`
	DryRun                          bool               `query:"DryRun"`
	InstanceTenancy                 *string            `query:"InstanceTenancy" v:"enum=default|dedicated|host"`
	AmazonProvidedIpv6CidrBlock     *bool              `query:"AmazonProvidedIpv6CidrBlock"`
}

// CreateVpcOutput is the CreateVpc response.
type CreateVpcOutput struct {
	Vpc VpcXML `xml:"vpc"`
}

// DeleteVpcInput is the DeleteVpc request.
type DeleteVpcInput struct {
	VpcID  string `query:"VpcId"`
	DryRun bool   `query:"DryRun"`
}

// ReturnOutput is the response of DeleteVpc, DeleteSubnet,
// ModifyVpcAttribute, ModifySubnetAttribute, CreateTags and DeleteTags:
// the model gives them no output, so the body carries only the request id.
type ReturnOutput struct{}

// DescribeVpcAttributeInput is the DescribeVpcAttribute request.
type DescribeVpcAttributeInput struct {
	Attribute *string `query:"Attribute" v:"enum=enableDnsSupport|enableDnsHostnames|enableNetworkAddressUsageMetrics"`
	VpcID     string  `query:"VpcId"`
	DryRun    bool    `query:"DryRun"`
}

// DescribeVpcAttributeOutput is the DescribeVpcAttribute response.
type DescribeVpcAttributeOutput struct {
	EnableDNSHostnames               *AttributeBooleanValue `xml:"enableDnsHostnames,omitempty"`
	EnableDNSSupport                 *AttributeBooleanValue `xml:"enableDnsSupport,omitempty"`
	EnableNetworkAddressUsageMetrics *AttributeBooleanValue `xml:"enableNetworkAddressUsageMetrics,omitempty"`
	VpcID                            string                 `xml:"vpcId"`
}

// ModifyVpcAttributeInput is the ModifyVpcAttribute request.
type ModifyVpcAttributeInput struct {
	EnableDNSHostnames               *AttributeBooleanValue `query:"EnableDnsHostnames"`
	EnableDNSSupport                 *AttributeBooleanValue `query:"EnableDnsSupport"`
	VpcID                            string                 `query:"VpcId"`
	EnableNetworkAddressUsageMetrics *AttributeBooleanValue `query:"EnableNetworkAddressUsageMetrics"`
}

// CreateSubnetInput is the CreateSubnet request.
type CreateSubnetInput struct {
	TagSpecifications  []TagSpecification `query:"TagSpecification"`
	AvailabilityZone   string             `query:"AvailabilityZone"`
	AvailabilityZoneID string             `query:"AvailabilityZoneId"`
	CidrBlock          string             `query:"CidrBlock"`
	Ipv6CidrBlock      string             `query:"Ipv6CidrBlock"`
	OutpostArn         string             `query:"OutpostArn"`
	VpcID              string             `query:"VpcId"`
	Ipv6Native         *bool              `query:"Ipv6Native"`
	Ipv4IpamPoolID     string             `query:"Ipv4IpamPoolId"`
	Ipv4NetmaskLength  *int               `query:"Ipv4NetmaskLength"`
	Ipv6IpamPoolID     string             `query:"Ipv6IpamPoolId"`
	Ipv6NetmaskLength  *int               `query:"Ipv6NetmaskLength"`
	DryRun             bool               `query:"DryRun"`
}

// CreateSubnetOutput is the CreateSubnet response.
type CreateSubnetOutput struct {
	Subnet SubnetXML `xml:"subnet"`
}

// DeleteSubnetInput is the DeleteSubnet request.
type DeleteSubnetInput struct {
	SubnetID string `query:"SubnetId"`
	DryRun   bool   `query:"DryRun"`
}

// ModifySubnetAttributeInput is the ModifySubnetAttribute request.
type ModifySubnetAttributeInput struct {
	AssignIpv6AddressOnCreation             *AttributeBooleanValue `query:"AssignIpv6AddressOnCreation"`
	MapPublicIPOnLaunch                     *AttributeBooleanValue `query:"MapPublicIpOnLaunch"`
	SubnetID                                string                 `query:"SubnetId"`
	MapCustomerOwnedIPOnLaunch              *AttributeBooleanValue `query:"MapCustomerOwnedIpOnLaunch"`
	CustomerOwnedIpv4Pool                   string                 `query:"CustomerOwnedIpv4Pool"`
	EnableDNS64                             *AttributeBooleanValue `query:"EnableDns64"`
	PrivateDNSHostnameTypeOnLaunch          *string                `query:"PrivateDnsHostnameTypeOnLaunch" v:"enum=ip-name|resource-name"`
	EnableResourceNameDNSARecordOnLaunch    *AttributeBooleanValue `query:"EnableResourceNameDnsARecordOnLaunch"`
	EnableResourceNameDNSAAAARecordOnLaunch *AttributeBooleanValue `query:"EnableResourceNameDnsAAAARecordOnLaunch"`
	EnableLniAtDeviceIndex                  *int                   `query:"EnableLniAtDeviceIndex"`
	DisableLniAtDeviceIndex                 *AttributeBooleanValue `query:"DisableLniAtDeviceIndex"`
}

// PrivateDNSNameOptionsXML is a subnet's PrivateDnsNameOptionsOnLaunch.
type PrivateDNSNameOptionsXML struct {
	HostnameType                    string `xml:"hostnameType"`
	EnableResourceNameDNSARecord    bool   `xml:"enableResourceNameDnsARecord"`
	EnableResourceNameDNSAAAARecord bool   `xml:"enableResourceNameDnsAAAARecord"`
}

// CreateTagsInput is the CreateTags request.
type CreateTagsInput struct {
	DryRun    bool     `query:"DryRun"`
	Resources []string `query:"ResourceId"`
	Tags      []Tag    `query:"Tag"`
}

// DeleteTagsInput is the DeleteTags request.
type DeleteTagsInput struct {
	DryRun    bool        `query:"DryRun"`
	Resources []string    `query:"ResourceId"`
	Tags      []OptionTag `query:"Tag"`
}

// OptionTag is a DeleteTags tag: a key, and a value that must match when set.
type OptionTag struct {
	Key   string  `query:"Key"`
	Value *string `query:"Value"`
}

// DescribeRouteTablesInput is the DescribeRouteTables request.
type DescribeRouteTablesInput struct {
	NextToken     string   `query:"NextToken"`
	MaxResults    *int     `query:"MaxResults"`
	DryRun        bool     `query:"DryRun"`
	RouteTableIDs []string `query:"RouteTableId"`
	Filters       []Filter `query:"Filter"`
}

// DescribeRouteTablesOutput is the DescribeRouteTables response.
type DescribeRouteTablesOutput struct {
	RouteTables []RouteTableXML `xml:"routeTableSet>item"`
	NextToken   string          `xml:"nextToken,omitempty"`
}

// RouteTableXML is a RouteTable in responses.
type RouteTableXML struct {
	Associations    []RouteTableAssociationXML `xml:"associationSet>item"`
	PropagatingVgws []struct{}                 `xml:"propagatingVgwSet>item"`
	RouteTableID    string                     `xml:"routeTableId"`
	Routes          []RouteXML                 `xml:"routeSet>item"`
	Tags            []Tag                      `xml:"tagSet>item"`
	VpcID           string                     `xml:"vpcId"`
	OwnerID         string                     `xml:"ownerId"`
}

// RouteTableAssociationXML is a route table association.
type RouteTableAssociationXML struct {
	Main                    bool                `xml:"main"`
	RouteTableAssociationID string              `xml:"routeTableAssociationId"`
	RouteTableID            string              `xml:"routeTableId"`
	AssociationState        AssociationStateXML `xml:"associationState"`
}

// AssociationStateXML is the state of an association.
type AssociationStateXML struct {
	State string `xml:"state"`
}

// RouteXML is a Route.
type RouteXML struct {
	DestinationCidrBlock string `xml:"destinationCidrBlock"`
	GatewayID            string `xml:"gatewayId"`
	Origin               string `xml:"origin"`
	State                string `xml:"state"`
}

// DescribeNetworkAclsInput is the DescribeNetworkAcls request.
type DescribeNetworkAclsInput struct {
	NextToken     string   `query:"NextToken"`
	MaxResults    *int     `query:"MaxResults"`
	DryRun        bool     `query:"DryRun"`
	NetworkACLIDs []string `query:"NetworkAclId"`
	Filters       []Filter `query:"Filter"`
}

// DescribeNetworkAclsOutput is the DescribeNetworkAcls response.
type DescribeNetworkAclsOutput struct {
	NetworkAcls []NetworkACLXML `xml:"networkAclSet>item"`
	NextToken   string          `xml:"nextToken,omitempty"`
}

// NetworkACLXML is a NetworkAcl.
type NetworkACLXML struct {
	Associations []NetworkACLAssociationXML `xml:"associationSet>item"`
	Entries      []NetworkACLEntryXML       `xml:"entrySet>item"`
	IsDefault    bool                       `xml:"default"`
	NetworkACLID string                     `xml:"networkAclId"`
	Tags         []Tag                      `xml:"tagSet>item"`
	VpcID        string                     `xml:"vpcId"`
	OwnerID      string                     `xml:"ownerId"`
}

// NetworkACLAssociationXML associates a subnet with a network ACL.
type NetworkACLAssociationXML struct {
	NetworkACLAssociationID string `xml:"networkAclAssociationId"`
	NetworkACLID            string `xml:"networkAclId"`
	SubnetID                string `xml:"subnetId"`
}

// NetworkACLEntryXML is one network ACL rule.
type NetworkACLEntryXML struct {
	CidrBlock  string `xml:"cidrBlock"`
	Egress     bool   `xml:"egress"`
	Protocol   string `xml:"protocol"`
	RuleAction string `xml:"ruleAction"`
	RuleNumber int    `xml:"ruleNumber"`
}

// DescribeNetworkInterfacesInput is the DescribeNetworkInterfaces request.
type DescribeNetworkInterfacesInput struct {
	NextToken               string   `query:"NextToken"`
	MaxResults              *int     `query:"MaxResults"`
	IncludeManagedResources *bool    `query:"IncludeManagedResources"`
	DryRun                  bool     `query:"DryRun"`
	NetworkInterfaceIDs     []string `query:"NetworkInterfaceId"`
	Filters                 []Filter `query:"Filter"`
}

// DescribeNetworkInterfacesOutput is the DescribeNetworkInterfaces response.
type DescribeNetworkInterfacesOutput struct {
	NetworkInterfaces []NetworkInterfaceXML `xml:"networkInterfaceSet>item"`
	NextToken         string                `xml:"nextToken,omitempty"`
}

// NetworkInterfaceXML is a NetworkInterface.
type NetworkInterfaceXML struct {
	AvailabilityZone   string               `xml:"availabilityZone"`
	Description        string               `xml:"description"`
	Groups             []GroupIdentifierXML `xml:"groupSet>item"`
	InterfaceType      string               `xml:"interfaceType"`
	MacAddress         string               `xml:"macAddress"`
	NetworkInterfaceID string               `xml:"networkInterfaceId"`
	OwnerID            string               `xml:"ownerId"`
	PrivateIPAddress   string               `xml:"privateIpAddress"`
	RequesterID        string               `xml:"requesterId"`
	RequesterManaged   bool                 `xml:"requesterManaged"`
	SourceDestCheck    bool                 `xml:"sourceDestCheck"`
	Status             string               `xml:"status"`
	SubnetID           string               `xml:"subnetId"`
	TagSet             []Tag                `xml:"tagSet>item"`
	VpcID              string               `xml:"vpcId"`
}

// GroupIdentifierXML names a security group.
type GroupIdentifierXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

// RevokeSecurityGroupEgressInput is the RevokeSecurityGroupEgress request.
type RevokeSecurityGroupEgressInput struct {
	SecurityGroupRuleIDs       []string       `query:"SecurityGroupRuleId"`
	DryRun                     bool           `query:"DryRun"`
	GroupID                    string         `query:"GroupId"`
	SourceSecurityGroupName    string         `query:"SourceSecurityGroupName"`
	SourceSecurityGroupOwnerID string         `query:"SourceSecurityGroupOwnerId"`
	IPProtocol                 string         `query:"IpProtocol"`
	FromPort                   *int           `query:"FromPort"`
	ToPort                     *int           `query:"ToPort"`
	CidrIP                     string         `query:"CidrIp"`
	IPPermissions              []IPPermission `query:"IpPermissions"`
}

// RevokeSecurityGroupIngressInput is the RevokeSecurityGroupIngress request.
type RevokeSecurityGroupIngressInput struct {
	CidrIP                     string         `query:"CidrIp"`
	FromPort                   *int           `query:"FromPort"`
	GroupID                    string         `query:"GroupId"`
	GroupName                  string         `query:"GroupName"`
	IPPermissions              []IPPermission `query:"IpPermissions"`
	IPProtocol                 string         `query:"IpProtocol"`
	SourceSecurityGroupName    string         `query:"SourceSecurityGroupName"`
	SourceSecurityGroupOwnerID string         `query:"SourceSecurityGroupOwnerId"`
	ToPort                     *int           `query:"ToPort"`
	SecurityGroupRuleIDs       []string       `query:"SecurityGroupRuleId"`
	DryRun                     bool           `query:"DryRun"`
}

// RevokeOutput is the response of RevokeSecurityGroupEgress and -Ingress.
type RevokeOutput struct {
	Return                    bool             `xml:"return"`
	UnknownIPPermissions      []IPPermission   `xml:"unknownIpPermissionSet>item"`
	RevokedSecurityGroupRules []RevokedRuleXML `xml:"revokedSecurityGroupRuleSet>item"`
}

// RevokedRuleXML is a RevokedSecurityGroupRule.
type RevokedRuleXML struct {
	SecurityGroupRuleID string `xml:"securityGroupRuleId"`
	GroupID             string `xml:"groupId"`
	IsEgress            bool   `xml:"isEgress"`
	IPProtocol          string `xml:"ipProtocol"`
	FromPort            int    `xml:"fromPort"`
	ToPort              int    `xml:"toPort"`
	CidrIpv4            string `xml:"cidrIpv4,omitempty"`
	CidrIpv6            string `xml:"cidrIpv6,omitempty"`
	ReferencedGroupID   string `xml:"referencedGroupId,omitempty"`
	Description         string `xml:"description,omitempty"`
}

// AuthorizeSecurityGroupEgressInput is the AuthorizeSecurityGroupEgress request.
type AuthorizeSecurityGroupEgressInput struct {
	TagSpecifications          []TagSpecification `query:"TagSpecification"`
	DryRun                     bool               `query:"DryRun"`
	GroupID                    string             `query:"GroupId"`
	SourceSecurityGroupName    string             `query:"SourceSecurityGroupName"`
	SourceSecurityGroupOwnerID string             `query:"SourceSecurityGroupOwnerId"`
	IPProtocol                 string             `query:"IpProtocol"`
	FromPort                   *int               `query:"FromPort"`
	ToPort                     *int               `query:"ToPort"`
	CidrIP                     string             `query:"CidrIp"`
	IPPermissions              []IPPermission     `query:"IpPermissions"`
}
