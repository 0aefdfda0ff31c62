package ec2

// Wire shapes of the ec2 protocol. Input members carry their query names
// (the model's queryName, else its capitalized locationName, else its name);
// output members carry their XML element names (the model's locationName).

// DescribeImagesInput is the DescribeImages request.
type DescribeImagesInput struct {
	ExecutableUsers   []string `query:"ExecutableBy"`
	ImageIds          []string `query:"ImageId"`
	Owners            []string `query:"Owner"`
	IncludeDeprecated *bool    `query:"IncludeDeprecated"`
	IncludeDisabled   *bool    `query:"IncludeDisabled"`
	MaxResults        *int     `query:"MaxResults"`
	NextToken         string   `query:"NextToken"`
	DryRun            bool     `query:"DryRun"`
	Filters           []Filter `query:"Filter"`
}

// DescribeImagesOutput is the DescribeImages response.
type DescribeImagesOutput struct {
	Images    []ImageXML `xml:"imagesSet>item"`
	NextToken string     `xml:"nextToken,omitempty"`
}

// ImageXML is an Image in responses.
type ImageXML struct {
	ImageID             string                  `xml:"imageId"`
	ImageLocation       string                  `xml:"imageLocation"`
	State               string                  `xml:"imageState"`
	OwnerID             string                  `xml:"imageOwnerId"`
	CreationDate        string                  `xml:"creationDate"`
	Public              bool                    `xml:"isPublic"`
	Architecture        string                  `xml:"architecture"`
	ImageType           string                  `xml:"imageType"`
	ImageOwnerAlias     string                  `xml:"imageOwnerAlias,omitempty"`
	Name                string                  `xml:"name"`
	Description         string                  `xml:"description,omitempty"`
	Platform            string                  `xml:"platform,omitempty"`
	PlatformDetails     string                  `xml:"platformDetails"`
	UsageOperation      string                  `xml:"usageOperation"`
	RootDeviceType      string                  `xml:"rootDeviceType"`
	RootDeviceName      string                  `xml:"rootDeviceName"`
	BlockDeviceMappings []BlockDeviceMappingXML `xml:"blockDeviceMapping>item"`
	VirtualizationType  string                  `xml:"virtualizationType"`
	Hypervisor          string                  `xml:"hypervisor"`
	EnaSupport          bool                    `xml:"enaSupport"`
	SriovNetSupport     string                  `xml:"sriovNetSupport,omitempty"`
	BootMode            string                  `xml:"bootMode,omitempty"`
	TpmSupport          string                  `xml:"tpmSupport,omitempty"`
	ImdsSupport         string                  `xml:"imdsSupport,omitempty"`
	Tags                []Tag                   `xml:"tagSet>item"`
}

// BlockDeviceMappingXML is a block device mapping in responses.
type BlockDeviceMappingXML struct {
	DeviceName  string          `xml:"deviceName"`
	VirtualName string          `xml:"virtualName,omitempty"`
	Ebs         *EbsBlockDevXML `xml:"ebs,omitempty"`
}

// EbsBlockDevXML is the ebs member of a block device mapping.
type EbsBlockDevXML struct {
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	Iops                int    `xml:"iops,omitempty"`
	SnapshotID          string `xml:"snapshotId,omitempty"`
	VolumeSize          int    `xml:"volumeSize"`
	VolumeType          string `xml:"volumeType"`
	Throughput          int    `xml:"throughput,omitempty"`
	KmsKeyID            string `xml:"kmsKeyId,omitempty"`
	Encrypted           bool   `xml:"encrypted"`
}

// RegisterImageInput is the RegisterImage request.
type RegisterImageInput struct {
	ImageLocation       string                      `query:"ImageLocation"`
	BillingProducts     []string                    `query:"BillingProduct"`
	BootMode            *string                     `query:"BootMode" v:"enum=legacy-bios|uefi|uefi-preferred"`
	TpmSupport          *string                     `query:"TpmSupport" v:"enum=v2.0"`
	UefiData            string                      `query:"UefiData" v:"max=64000"`
	ImdsSupport         *string                     `query:"ImdsSupport" v:"enum=v2.0"`
	TagSpecifications   []TagSpecification          `query:"TagSpecification"`
	DryRun              bool                        `query:"DryRun"`
	Name                string                      `query:"Name"`
	Description         string                      `query:"Description" v:"max=255"`
	Architecture        *string                     `query:"Architecture" v:"enum=i386|x86_64|arm64|x86_64_mac|arm64_mac"`
	KernelID            string                      `query:"KernelId"`
	RamdiskID           string                      `query:"RamdiskId"`
	RootDeviceName      string                      `query:"RootDeviceName"`
	BlockDeviceMappings []BlockDeviceMappingRequest `query:"BlockDeviceMapping"`
	VirtualizationType  *string                     `query:"VirtualizationType" v:"enum=hvm|paravirtual"`
	SriovNetSupport     string                      `query:"SriovNetSupport"`
	EnaSupport          *bool                       `query:"EnaSupport"`
}

// BlockDeviceMappingRequest is BlockDeviceMapping.N in RegisterImage.
type BlockDeviceMappingRequest struct {
	DeviceName  string          `query:"DeviceName"`
	VirtualName string          `query:"VirtualName"`
	NoDevice    *string         `query:"NoDevice"`
	Ebs         *EbsBlockDevice `query:"Ebs"`
}

// EbsBlockDevice is the Ebs member of a block device mapping request.
type EbsBlockDevice struct {
	DeleteOnTermination *bool   `query:"DeleteOnTermination"`
	Iops                *int    `query:"Iops"`
	SnapshotID          string  `query:"SnapshotId"`
	VolumeSize          *int    `query:"VolumeSize"`
	VolumeType          *string `query:"VolumeType" v:"enum=standard|io1|io2|gp2|sc1|st1|gp3"`
	KmsKeyID            string  `query:"KmsKeyId"`
	Throughput          *int    `query:"Throughput"`
	Encrypted           *bool   `query:"Encrypted"`
}

// RegisterImageOutput is the RegisterImage response.
type RegisterImageOutput struct {
	ImageID string `xml:"imageId"`
}

// DescribeVpcsInput is the DescribeVpcs request.
type DescribeVpcsInput struct {
	Filters    []Filter `query:"Filter"`
	VpcIds     []string `query:"VpcId"`
	NextToken  string   `query:"NextToken"`
	MaxResults *int     `query:"MaxResults"`
	DryRun     bool     `query:"DryRun"`
}

// DescribeVpcsOutput is the DescribeVpcs response.
type DescribeVpcsOutput struct {
	Vpcs      []VpcXML `xml:"vpcSet>item"`
	NextToken string   `xml:"nextToken,omitempty"`
}

// VpcXML is a Vpc in responses.
type VpcXML struct {
	VpcID                   string                `xml:"vpcId"`
	OwnerID                 string                `xml:"ownerId"`
	State                   string                `xml:"state"`
	CidrBlock               string                `xml:"cidrBlock"`
	CidrBlockAssociationSet []VpcCidrAssociation  `xml:"cidrBlockAssociationSet>item"`
	DhcpOptionsID           string                `xml:"dhcpOptionsId"`
	InstanceTenancy         string                `xml:"instanceTenancy"`
	IsDefault               bool                  `xml:"isDefault"`
	BlockPublicAccessStates *BlockPublicAccessXML `xml:"blockPublicAccessStates,omitempty"`
	Tags                    []Tag                 `xml:"tagSet>item"`
}

// VpcCidrAssociation is one IPv4 CIDR of a VPC.
type VpcCidrAssociation struct {
	AssociationID  string       `xml:"associationId"`
	CidrBlock      string       `xml:"cidrBlock"`
	CidrBlockState CidrBlockXML `xml:"cidrBlockState"`
}

// CidrBlockXML is the state of a CIDR association.
type CidrBlockXML struct {
	State string `xml:"state"`
}

// BlockPublicAccessXML is the block-public-access state of a VPC or subnet.
type BlockPublicAccessXML struct {
	InternetGatewayBlockMode string `xml:"internetGatewayBlockMode"`
}

// DescribeSubnetsInput is the DescribeSubnets request.
type DescribeSubnetsInput struct {
	Filters    []Filter `query:"Filter"`
	SubnetIds  []string `query:"SubnetId"`
	NextToken  string   `query:"NextToken"`
	MaxResults *int     `query:"MaxResults"`
	DryRun     bool     `query:"DryRun"`
}

// DescribeSubnetsOutput is the DescribeSubnets response.
type DescribeSubnetsOutput struct {
	Subnets   []SubnetXML `xml:"subnetSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

// SubnetXML is a Subnet in responses.
type SubnetXML struct {
	SubnetID                      string                    `xml:"subnetId"`
	SubnetArn                     string                    `xml:"subnetArn"`
	OwnerID                       string                    `xml:"ownerId"`
	State                         string                    `xml:"state"`
	VpcID                         string                    `xml:"vpcId"`
	CidrBlock                     string                    `xml:"cidrBlock"`
	AvailableIPAddressCount       int                       `xml:"availableIpAddressCount"`
	AvailabilityZone              string                    `xml:"availabilityZone"`
	AvailabilityZoneID            string                    `xml:"availabilityZoneId,omitempty"`
	DefaultForAz                  bool                      `xml:"defaultForAz"`
	MapPublicIPOnLaunch           bool                      `xml:"mapPublicIpOnLaunch"`
	AssignIpv6AddressOnCreation   bool                      `xml:"assignIpv6AddressOnCreation"`
	MapCustomerOwnedIPOnLaunch    bool                      `xml:"mapCustomerOwnedIpOnLaunch"`
	EnableDNS64                   bool                      `xml:"enableDns64"`
	Ipv6Native                    bool                      `xml:"ipv6Native"`
	PrivateDNSNameOptionsOnLaunch *PrivateDNSNameOptionsXML `xml:"privateDnsNameOptionsOnLaunch,omitempty"`
	BlockPublicAccessStates       *BlockPublicAccessXML     `xml:"blockPublicAccessStates,omitempty"`
	Tags                          []Tag                     `xml:"tagSet>item"`
}

// CreateSecurityGroupInput is the CreateSecurityGroup request.
type CreateSecurityGroupInput struct {
	Description       *string            `query:"GroupDescription"`
	GroupName         *string            `query:"GroupName"`
	VpcID             string             `query:"VpcId"`
	TagSpecifications []TagSpecification `query:"TagSpecification"`
	DryRun            bool               `query:"DryRun"`
}

// CreateSecurityGroupOutput is the CreateSecurityGroup response.
type CreateSecurityGroupOutput struct {
	GroupID          string `xml:"groupId"`
	Tags             []Tag  `xml:"tagSet>item"`
	SecurityGroupArn string `xml:"securityGroupArn"`
}

// DescribeSecurityGroupsInput is the DescribeSecurityGroups request.
type DescribeSecurityGroupsInput struct {
	GroupIds   []string `query:"GroupId"`
	GroupNames []string `query:"GroupName"`
	NextToken  string   `query:"NextToken"`
	MaxResults *int     `query:"MaxResults"`
	DryRun     bool     `query:"DryRun"`
	Filters    []Filter `query:"Filter"`
}

// DescribeSecurityGroupsOutput is the DescribeSecurityGroups response.
type DescribeSecurityGroupsOutput struct {
	SecurityGroups []SecurityGroupXML `xml:"securityGroupInfo>item"`
	NextToken      string             `xml:"nextToken,omitempty"`
}

// SecurityGroupXML is a SecurityGroup in responses.
type SecurityGroupXML struct {
	OwnerID             string         `xml:"ownerId"`
	GroupID             string         `xml:"groupId"`
	GroupName           string         `xml:"groupName"`
	Description         string         `xml:"groupDescription"`
	VpcID               string         `xml:"vpcId"`
	SecurityGroupArn    string         `xml:"securityGroupArn"`
	IPPermissions       []IPPermission `xml:"ipPermissions>item"`
	IPPermissionsEgress []IPPermission `xml:"ipPermissionsEgress>item"`
	Tags                []Tag          `xml:"tagSet>item"`
}

// IPPermission is an IpPermission: in requests (IpPermissions.N) and responses.
type IPPermission struct {
	IPProtocol       string            `query:"IpProtocol" xml:"ipProtocol"`
	FromPort         *int              `query:"FromPort" xml:"fromPort,omitempty"`
	ToPort           *int              `query:"ToPort" xml:"toPort,omitempty"`
	UserIDGroupPairs []UserIDGroupPair `query:"Groups" xml:"groups>item"`
	IPRanges         []IPRange         `query:"IpRanges" xml:"ipRanges>item"`
	Ipv6Ranges       []Ipv6Range       `query:"Ipv6Ranges" xml:"ipv6Ranges>item"`
	PrefixListIDs    []PrefixListID    `query:"PrefixListIds" xml:"prefixListIds>item"`
}

// Ipv6Range is an IPv6 CIDR peer of a permission.
type Ipv6Range struct {
	Description string `query:"Description" xml:"description,omitempty"`
	CidrIpv6    string `query:"CidrIpv6" xml:"cidrIpv6"`
}

// PrefixListID is a prefix list peer of a permission.
type PrefixListID struct {
	Description  string `query:"Description" xml:"description,omitempty"`
	PrefixListID string `query:"PrefixListId" xml:"prefixListId"`
}

// UserIDGroupPair is a security group peer of a permission.
type UserIDGroupPair struct {
	Description string `query:"Description" xml:"description,omitempty"`
	UserID      string `query:"UserId" xml:"userId,omitempty"`
	GroupName   string `query:"GroupName" xml:"groupName,omitempty"`
	GroupID     string `query:"GroupId" xml:"groupId,omitempty"`
	VpcID       string `query:"VpcId" xml:"vpcId,omitempty"`
}

// IPRange is an IPv4 CIDR peer of a permission.
type IPRange struct {
	Description string `query:"Description" xml:"description,omitempty"`
	CidrIP      string `query:"CidrIp" xml:"cidrIp"`
}

// AuthorizeSecurityGroupIngressInput is the AuthorizeSecurityGroupIngress request.
type AuthorizeSecurityGroupIngressInput struct {
	CidrIP                     string             `query:"CidrIp"`
	FromPort                   *int               `query:"FromPort"`
	GroupID                    string             `query:"GroupId"`
	GroupName                  string             `query:"GroupName"`
	IPPermissions              []IPPermission     `query:"IpPermissions"`
	IPProtocol                 string             `query:"IpProtocol"`
	SourceSecurityGroupName    string             `query:"SourceSecurityGroupName"`
	SourceSecurityGroupOwnerID string             `query:"SourceSecurityGroupOwnerId"`
	ToPort                     *int               `query:"ToPort"`
	TagSpecifications          []TagSpecification `query:"TagSpecification"`
	DryRun                     bool               `query:"DryRun"`
}

// AuthorizeSecurityGroupIngressOutput is the AuthorizeSecurityGroupIngress response.
type AuthorizeSecurityGroupIngressOutput struct {
	Return             bool                   `xml:"return"`
	SecurityGroupRules []SecurityGroupRuleXML `xml:"securityGroupRuleSet>item"`
}

// SecurityGroupRuleXML is a SecurityGroupRule in responses.
type SecurityGroupRuleXML struct {
	SecurityGroupRuleID  string         `xml:"securityGroupRuleId"`
	GroupID              string         `xml:"groupId"`
	GroupOwnerID         string         `xml:"groupOwnerId"`
	IsEgress             bool           `xml:"isEgress"`
	IPProtocol           string         `xml:"ipProtocol"`
	FromPort             int            `xml:"fromPort"`
	ToPort               int            `xml:"toPort"`
	CidrIpv4             string         `xml:"cidrIpv4,omitempty"`
	CidrIpv6             string         `xml:"cidrIpv6,omitempty"`
	ReferencedGroupInfo  *ReferencedXML `xml:"referencedGroupInfo,omitempty"`
	Description          string         `xml:"description,omitempty"`
	Tags                 []Tag          `xml:"tagSet>item"`
	SecurityGroupRuleArn string         `xml:"securityGroupRuleArn"`
}

// ReferencedXML is the security group a rule references.
type ReferencedXML struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

// DeleteSecurityGroupInput is the DeleteSecurityGroup request.
type DeleteSecurityGroupInput struct {
	GroupID   string `query:"GroupId"`
	GroupName string `query:"GroupName"`
	DryRun    bool   `query:"DryRun"`
}

// DeleteSecurityGroupOutput is the DeleteSecurityGroup response.
type DeleteSecurityGroupOutput struct {
	Return  bool   `xml:"return"`
	GroupID string `xml:"groupId"`
}
