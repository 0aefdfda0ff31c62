package wsinstances

import "github.com/deskplane/deskplane/internal/awsproto"

// The request and response shapes of the WorkSpaces Instances model
// (workspaces-instances 2022-07-26), with its constraints as `v` tags.

// Tag is a tag of a WorkSpace Instance or a volume.
type Tag struct {
	Key   *string `json:"Key" v:"min=1,max=128,pattern=^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+$"`
	Value *string `json:"Value" v:"max=256,pattern=^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$"`
}

// TagSpecification tags the EC2 resources of a launch or a new volume.
type TagSpecification struct {
	ResourceType *string `json:"ResourceType" v:"enum=instance|volume|spot-instances-request|network-interface"`
	Tags         []Tag   `json:"Tags" v:"max=50"`
}

// EbsBlockDevice is the EBS volume of a block device mapping.
type EbsBlockDevice struct {
	VolumeType *string `json:"VolumeType" v:"enum=standard|io1|io2|gp2|sc1|st1|gp3"`
	Encrypted  *bool   `json:"Encrypted"`
	KmsKeyID   *string `json:"KmsKeyId" v:"max=128"`
	Iops       *int64  `json:"Iops" v:"min=0"`
	Throughput *int64  `json:"Throughput" v:"min=0"`
	VolumeSize *int64  `json:"VolumeSize" v:"min=0"`
}

// BlockDeviceMapping is a block device of a launch specification.
type BlockDeviceMapping struct {
	DeviceName  *string         `json:"DeviceName" v:"max=32"`
	Ebs         *EbsBlockDevice `json:"Ebs"`
	NoDevice    *string         `json:"NoDevice" v:"max=32"`
	VirtualName *string         `json:"VirtualName" v:"pattern=^ephemeral(0|[1-9][0-9]{0,2})$"`
}

// CapacityReservationTarget names a capacity reservation.
type CapacityReservationTarget struct {
	CapacityReservationID               *string `json:"CapacityReservationId" v:"max=128"`
	CapacityReservationResourceGroupArn *string `json:"CapacityReservationResourceGroupArn" v:"max=2048,pattern=^arn:.*$"`
}

// CapacityReservationSpecification is a launch's capacity reservation preference.
type CapacityReservationSpecification struct {
	CapacityReservationPreference *string                    `json:"CapacityReservationPreference" v:"enum=capacity-reservations-only|open|none"`
	CapacityReservationTarget     *CapacityReservationTarget `json:"CapacityReservationTarget"`
}

// CPUOptions are a launch's CPU options.
type CPUOptions struct {
	AmdSevSnp      *string `json:"AmdSevSnp" v:"enum=enabled|disabled"`
	CoreCount      *int64  `json:"CoreCount" v:"min=0"`
	ThreadsPerCore *int64  `json:"ThreadsPerCore" v:"min=0"`
}

// CreditSpecification is a burstable instance's credit option.
type CreditSpecification struct {
	CPUCredits *string `json:"CpuCredits" v:"enum=standard|unlimited"`
}

// Enabled is a one-switch option (EnclaveOptions, Monitoring).
type Enabled struct {
	Enabled *bool `json:"Enabled"`
}

// HibernationOptions are a launch's hibernation options.
type HibernationOptions struct {
	Configured *bool `json:"Configured"`
}

// IamInstanceProfile names an instance profile.
type IamInstanceProfile struct {
	Arn  *string `json:"Arn" v:"max=2048,pattern=^arn:.*$"`
	Name *string `json:"Name" v:"max=64"`
}

// SpotMarketOptions are the spot options of a launch.
type SpotMarketOptions struct {
	BlockDurationMinutes         *int64         `json:"BlockDurationMinutes" v:"min=0"`
	InstanceInterruptionBehavior *string        `json:"InstanceInterruptionBehavior" v:"enum=hibernate|stop"`
	MaxPrice                     *string        `json:"MaxPrice" v:"max=64"`
	SpotInstanceType             *string        `json:"SpotInstanceType" v:"enum=one-time|persistent"`
	ValidUntilUtc                *awsproto.Time `json:"ValidUntilUtc"`
}

// InstanceMarketOptions are a launch's market options.
type InstanceMarketOptions struct {
	MarketType  *string            `json:"MarketType" v:"enum=spot|capacity-block"`
	SpotOptions *SpotMarketOptions `json:"SpotOptions"`
}

// IPv6Address is an IPv6 address of a launch.
type IPv6Address struct {
	Ipv6Address   *string `json:"Ipv6Address" v:"max=128"`
	IsPrimaryIpv6 *bool   `json:"IsPrimaryIpv6"`
}

// LicenseConfiguration names a License Manager configuration.
type LicenseConfiguration struct {
	LicenseConfigurationArn *string `json:"LicenseConfigurationArn" v:"max=2048,pattern=^arn:.*$"`
}

// MaintenanceOptions are a launch's maintenance options.
type MaintenanceOptions struct {
	AutoRecovery *string `json:"AutoRecovery" v:"enum=disabled|default"`
}

// MetadataOptions are a launch's instance metadata options.
type MetadataOptions struct {
	HTTPEndpoint            *string `json:"HttpEndpoint" v:"enum=enabled|disabled"`
	HTTPProtocolIpv6        *string `json:"HttpProtocolIpv6" v:"enum=enabled|disabled"`
	HTTPPutResponseHopLimit *int64  `json:"HttpPutResponseHopLimit" v:"min=1,max=64"`
	HTTPTokens              *string `json:"HttpTokens" v:"enum=optional|required"`
	InstanceMetadataTags    *string `json:"InstanceMetadataTags" v:"enum=enabled|disabled"`
}

// ConnectionTracking are a network interface's connection tracking timeouts.
type ConnectionTracking struct {
	TCPEstablishedTimeout *int64 `json:"TcpEstablishedTimeout" v:"min=0"`
	UDPStreamTimeout      *int64 `json:"UdpStreamTimeout" v:"min=0"`
	UDPTimeout            *int64 `json:"UdpTimeout" v:"min=0"`
}

// EnaSrdUDP is the ENA Express UDP option.
type EnaSrdUDP struct {
	EnaSrdUDPEnabled *bool `json:"EnaSrdUdpEnabled"`
}

// EnaSrd is the ENA Express option of a network interface.
type EnaSrd struct {
	EnaSrdEnabled          *bool      `json:"EnaSrdEnabled"`
	EnaSrdUDPSpecification *EnaSrdUDP `json:"EnaSrdUdpSpecification"`
}

// IPv4Prefix is a delegated IPv4 prefix.
type IPv4Prefix struct {
	Ipv4Prefix *string `json:"Ipv4Prefix"`
}

// IPv6Prefix is a delegated IPv6 prefix.
type IPv6Prefix struct {
	Ipv6Prefix *string `json:"Ipv6Prefix"`
}

// PrivateIP is a private IPv4 address of a network interface.
type PrivateIP struct {
	Primary          *bool   `json:"Primary"`
	PrivateIPAddress *string `json:"PrivateIpAddress" v:"pattern=^(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(\\.(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)){3}$"`
}

// NetworkInterface is a network interface of a launch specification.
type NetworkInterface struct {
	AssociateCarrierIPAddress       *bool               `json:"AssociateCarrierIpAddress"`
	AssociatePublicIPAddress        *bool               `json:"AssociatePublicIpAddress"`
	ConnectionTrackingSpecification *ConnectionTracking `json:"ConnectionTrackingSpecification"`
	Description                     *string             `json:"Description" v:"max=1000"`
	DeviceIndex                     *int64              `json:"DeviceIndex" v:"min=0"`
	EnaSrdSpecification             *EnaSrd             `json:"EnaSrdSpecification"`
	InterfaceType                   *string             `json:"InterfaceType" v:"enum=interface|efa|efa-only"`
	Ipv4Prefixes                    []IPv4Prefix        `json:"Ipv4Prefixes"`
	Ipv4PrefixCount                 *int64              `json:"Ipv4PrefixCount" v:"min=0"`
	Ipv6AddressCount                *int64              `json:"Ipv6AddressCount" v:"min=0"`
	Ipv6Addresses                   []IPv6Address       `json:"Ipv6Addresses"`
	Ipv6Prefixes                    []IPv6Prefix        `json:"Ipv6Prefixes"`
	Ipv6PrefixCount                 *int64              `json:"Ipv6PrefixCount" v:"min=0"`
	NetworkCardIndex                *int64              `json:"NetworkCardIndex" v:"min=0"`
	NetworkInterfaceID              *string             `json:"NetworkInterfaceId" v:"pattern=^eni-[0-9a-zA-Z]{1,63}$"`
	PrimaryIpv6                     *bool               `json:"PrimaryIpv6"`
	PrivateIPAddress                *string             `json:"PrivateIpAddress" v:"pattern=^(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(\\.(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)){3}$"`
	PrivateIPAddresses              []PrivateIP         `json:"PrivateIpAddresses"`
	SecondaryPrivateIPAddressCount  *int64              `json:"SecondaryPrivateIpAddressCount" v:"min=0"`
	Groups                          []string            `json:"Groups" v:"pattern=^sg-[0-9a-zA-Z]{1,63}$"`
	SubnetID                        *string             `json:"SubnetId" v:"pattern=^subnet-[0-9a-zA-Z]{1,63}$"`
}

// NetworkPerformanceOptions are a launch's bandwidth weighting.
type NetworkPerformanceOptions struct {
	BandwidthWeighting *string `json:"BandwidthWeighting" v:"enum=default|vpc-1|ebs-1"`
}

// Placement is a launch's placement.
type Placement struct {
	Affinity             *string `json:"Affinity" v:"max=64"`
	AvailabilityZone     *string `json:"AvailabilityZone" v:"pattern=^[a-z]{2}-[a-z]+-\\d(?:[a-z]|-[a-z]+-\\d[a-z])$"`
	GroupID              *string `json:"GroupId" v:"pattern=^pg-[0-9a-zA-Z]{1,63}$"`
	GroupName            *string `json:"GroupName" v:"max=64"`
	HostID               *string `json:"HostId" v:"pattern=^h-[0-9a-zA-Z]{1,63}$"`
	HostResourceGroupArn *string `json:"HostResourceGroupArn" v:"max=2048,pattern=^arn:.*$"`
	PartitionNumber      *int64  `json:"PartitionNumber" v:"min=0"`
	Tenancy              *string `json:"Tenancy" v:"enum=default|dedicated|host"`
}

// PrivateDNSNameOptions are a launch's hostname options.
type PrivateDNSNameOptions struct {
	HostnameType                    *string `json:"HostnameType" v:"enum=ip-name|resource-name"`
	EnableResourceNameDNSARecord    *bool   `json:"EnableResourceNameDnsARecord"`
	EnableResourceNameDNSAAAARecord *bool   `json:"EnableResourceNameDnsAAAARecord"`
}

// ManagedInstance is the EC2 launch specification of a WorkSpace Instance
// (the model's ManagedInstanceRequest).
type ManagedInstance struct {
	BlockDeviceMappings              []BlockDeviceMapping              `json:"BlockDeviceMappings"`
	CapacityReservationSpecification *CapacityReservationSpecification `json:"CapacityReservationSpecification"`
	CPUOptions                       *CPUOptions                       `json:"CpuOptions"`
	CreditSpecification              *CreditSpecification              `json:"CreditSpecification"`
	DisableAPIStop                   *bool                             `json:"DisableApiStop"`
	EbsOptimized                     *bool                             `json:"EbsOptimized"`
	EnablePrimaryIpv6                *bool                             `json:"EnablePrimaryIpv6"`
	EnclaveOptions                   *Enabled                          `json:"EnclaveOptions"`
	HibernationOptions               *HibernationOptions               `json:"HibernationOptions"`
	IamInstanceProfile               *IamInstanceProfile               `json:"IamInstanceProfile"`
	ImageID                          *string                           `json:"ImageId" v:"pattern=^ami-[0-9a-zA-Z]{1,63}$"`
	InstanceMarketOptions            *InstanceMarketOptions            `json:"InstanceMarketOptions"`
	InstanceType                     *string                           `json:"InstanceType" v:"pattern=^([a-z0-9-]+)\\.([a-z0-9]+)$"`
	Ipv6Addresses                    []IPv6Address                     `json:"Ipv6Addresses"`
	Ipv6AddressCount                 *int64                            `json:"Ipv6AddressCount" v:"min=0"`
	KernelID                         *string                           `json:"KernelId" v:"max=128"`
	KeyName                          *string                           `json:"KeyName" v:"max=64"`
	LicenseSpecifications            []LicenseConfiguration            `json:"LicenseSpecifications"`
	MaintenanceOptions               *MaintenanceOptions               `json:"MaintenanceOptions"`
	MetadataOptions                  *MetadataOptions                  `json:"MetadataOptions"`
	Monitoring                       *Enabled                          `json:"Monitoring"`
	NetworkInterfaces                []NetworkInterface                `json:"NetworkInterfaces"`
	NetworkPerformanceOptions        *NetworkPerformanceOptions        `json:"NetworkPerformanceOptions"`
	Placement                        *Placement                        `json:"Placement"`
	PrivateDNSNameOptions            *PrivateDNSNameOptions            `json:"PrivateDnsNameOptions"`
	PrivateIPAddress                 *string                           `json:"PrivateIpAddress" v:"pattern=^(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(\\.(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)){3}$"`
	RamdiskID                        *string                           `json:"RamdiskId" v:"max=128"`
	SecurityGroupIDs                 []string                          `json:"SecurityGroupIds" v:"pattern=^sg-[0-9a-zA-Z]{1,63}$"`
	SecurityGroups                   []string                          `json:"SecurityGroups"`
	SubnetID                         *string                           `json:"SubnetId" v:"pattern=^subnet-[0-9a-zA-Z]{1,63}$"`
	TagSpecifications                []TagSpecification                `json:"TagSpecifications" v:"max=30"`
	UserData                         *string                           `json:"UserData" v:"max=16000"`
}

// BillingConfiguration is an instance's billing mode.
type BillingConfiguration struct {
	BillingMode *string `json:"BillingMode" v:"required,enum=MONTHLY|HOURLY"`
}

// CreateWorkspaceInstanceInput is the CreateWorkspaceInstance request.
type CreateWorkspaceInstanceInput struct {
	ClientToken          *string               `json:"ClientToken" v:"min=1,max=64"`
	Tags                 []Tag                 `json:"Tags" v:"max=50"`
	ManagedInstance      *ManagedInstance      `json:"ManagedInstance" v:"required"`
	BillingConfiguration *BillingConfiguration `json:"BillingConfiguration"`
}

// CreateWorkspaceInstanceOutput is the CreateWorkspaceInstance response.
type CreateWorkspaceInstanceOutput struct {
	WorkspaceInstanceID string `json:"WorkspaceInstanceId"`
}

// InstanceRef names a WorkSpace Instance: the shape of the
// GetWorkspaceInstance, DeleteWorkspaceInstance and ListTagsForResource
// requests, each operation with its own type of it.
type InstanceRef struct {
	WorkspaceInstanceID *string `json:"WorkspaceInstanceId" v:"required,min=15,max=70,pattern=^wsinst-[0-9a-zA-Z]{8,63}$"`
}

// GetWorkspaceInstanceInput is the GetWorkspaceInstance request.
type GetWorkspaceInstanceInput InstanceRef

// DeleteWorkspaceInstanceInput is the DeleteWorkspaceInstance request.
type DeleteWorkspaceInstanceInput InstanceRef

// ListTagsForResourceInput is the ListTagsForResource request.
type ListTagsForResourceInput InstanceRef

// EC2ManagedInstance names the EC2 instance behind a WorkSpace Instance.
type EC2ManagedInstance struct {
	InstanceID string `json:"InstanceId,omitempty"`
}

// WorkspaceInstanceError is an error of the WorkSpaces Instances service.
type WorkspaceInstanceError struct {
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// EC2InstanceError is an error EC2 reported while launching.
type EC2InstanceError struct {
	EC2ErrorCode     string `json:"EC2ErrorCode,omitempty"`
	EC2ExceptionType string `json:"EC2ExceptionType,omitempty"`
	EC2ErrorMessage  string `json:"EC2ErrorMessage,omitempty"`
}

// BillingOut is the BillingConfiguration of an answer.
type BillingOut struct {
	BillingMode string `json:"BillingMode"`
}

// GetWorkspaceInstanceOutput is the GetWorkspaceInstance response.
type GetWorkspaceInstanceOutput struct {
	WorkspaceInstanceErrors []WorkspaceInstanceError `json:"WorkspaceInstanceErrors,omitempty"`
	EC2InstanceErrors       []EC2InstanceError       `json:"EC2InstanceErrors,omitempty"`
	ProvisionState          string                   `json:"ProvisionState"`
	WorkspaceInstanceID     string                   `json:"WorkspaceInstanceId"`
	EC2ManagedInstance      *EC2ManagedInstance      `json:"EC2ManagedInstance,omitempty"`
	BillingConfiguration    *BillingOut              `json:"BillingConfiguration,omitempty"`
}

// ListWorkspaceInstancesInput is the ListWorkspaceInstances request.
type ListWorkspaceInstancesInput struct {
	ProvisionStates []string `json:"ProvisionStates" v:"enum=ALLOCATING|ALLOCATED|DEALLOCATING|DEALLOCATED|ERROR_ALLOCATING|ERROR_DEALLOCATING"`
	MaxResults      *int     `json:"MaxResults" v:"min=1,max=25"`
	NextToken       *string  `json:"NextToken" v:"min=1,max=2048"`
}

// WorkspaceInstanceSummary is an instance in ListWorkspaceInstances.
type WorkspaceInstanceSummary struct {
	ProvisionState      string              `json:"ProvisionState"`
	WorkspaceInstanceID string              `json:"WorkspaceInstanceId"`
	EC2ManagedInstance  *EC2ManagedInstance `json:"EC2ManagedInstance,omitempty"`
}

// ListWorkspaceInstancesOutput is the ListWorkspaceInstances response.
type ListWorkspaceInstancesOutput struct {
	WorkspaceInstances []WorkspaceInstanceSummary `json:"WorkspaceInstances"`
	NextToken          string                     `json:"NextToken,omitempty"`
}

// TagResourceInput is the TagResource request.
type TagResourceInput struct {
	WorkspaceInstanceID *string `json:"WorkspaceInstanceId" v:"required,min=15,max=70,pattern=^wsinst-[0-9a-zA-Z]{8,63}$"`
	Tags                []Tag   `json:"Tags" v:"required,max=50"`
}

// UntagResourceInput is the UntagResource request.
type UntagResourceInput struct {
	WorkspaceInstanceID *string  `json:"WorkspaceInstanceId" v:"required,min=15,max=70,pattern=^wsinst-[0-9a-zA-Z]{8,63}$"`
	TagKeys             []string `json:"TagKeys" v:"required,min=1,max=50"`
}

// ListTagsForResourceOutput is the ListTagsForResource response.
type ListTagsForResourceOutput struct {
	Tags []TagOut `json:"Tags"`
}

// TagOut is a tag in an answer.
type TagOut struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Empty is the empty response of the operations that return nothing.
type Empty struct{}

// CreateVolumeInput is the CreateVolume request.
type CreateVolumeInput struct {
	AvailabilityZone  *string            `json:"AvailabilityZone" v:"required,max=64"`
	ClientToken       *string            `json:"ClientToken" v:"min=1,max=64"`
	Encrypted         *bool              `json:"Encrypted"`
	Iops              *int64             `json:"Iops" v:"min=0"`
	KmsKeyID          *string            `json:"KmsKeyId" v:"max=128"`
	SizeInGB          *int64             `json:"SizeInGB" v:"min=0"`
	SnapshotID        *string            `json:"SnapshotId" v:"pattern=^snap-[0-9a-zA-Z]{1,63}$"`
	TagSpecifications []TagSpecification `json:"TagSpecifications" v:"max=30"`
	Throughput        *int64             `json:"Throughput" v:"min=0"`
	VolumeType        *string            `json:"VolumeType" v:"enum=standard|io1|io2|gp2|sc1|st1|gp3"`
}

// CreateVolumeOutput is the CreateVolume response.
type CreateVolumeOutput struct {
	VolumeID string `json:"VolumeId"`
}

// DeleteVolumeInput is the DeleteVolume request.
type DeleteVolumeInput struct {
	VolumeID *string `json:"VolumeId" v:"required,pattern=^vol-[0-9a-zA-Z]{1,63}$"`
}

// AssociateVolumeInput is the AssociateVolume request.
type AssociateVolumeInput struct {
	WorkspaceInstanceID *string `json:"WorkspaceInstanceId" v:"required,min=15,max=70,pattern=^wsinst-[0-9a-zA-Z]{8,63}$"`
	VolumeID            *string `json:"VolumeId" v:"required,pattern=^vol-[0-9a-zA-Z]{1,63}$"`
	Device              *string `json:"Device" v:"required,max=32"`
}

// DisassociateVolumeInput is the DisassociateVolume request.
type DisassociateVolumeInput struct {
	WorkspaceInstanceID *string `json:"WorkspaceInstanceId" v:"required,min=15,max=70,pattern=^wsinst-[0-9a-zA-Z]{8,63}$"`
	VolumeID            *string `json:"VolumeId" v:"required,pattern=^vol-[0-9a-zA-Z]{1,63}$"`
	Device              *string `json:"Device" v:"max=32"`
	DisassociateMode    *string `json:"DisassociateMode" v:"enum=FORCE|NO_FORCE"`
}

// InstanceConfigurationFilter filters ListInstanceTypes.
type InstanceConfigurationFilter struct {
	BillingMode  *string `json:"BillingMode" v:"required,enum=MONTHLY|HOURLY"`
	PlatformType *string `json:"PlatformType" v:"required,enum=Windows|Windows BYOL|Linux/UNIX|Ubuntu Pro Linux|Red Hat Enterprise Linux|Red Hat BYOL Linux|SUSE Linux"`
	Tenancy      *string `json:"Tenancy" v:"required,enum=SHARED|DEDICATED"`
}

// ListInstanceTypesInput is the ListInstanceTypes request.
type ListInstanceTypesInput struct {
	MaxResults                  *int                         `json:"MaxResults" v:"min=1,max=600"`
	NextToken                   *string                      `json:"NextToken" v:"min=1,max=2048"`
	InstanceConfigurationFilter *InstanceConfigurationFilter `json:"InstanceConfigurationFilter"`
}

// SupportedInstanceConfiguration is a billing, platform and tenancy an
// instance type supports.
type SupportedInstanceConfiguration struct {
	BillingMode  string `json:"BillingMode"`
	PlatformType string `json:"PlatformType"`
	Tenancy      string `json:"Tenancy"`
}

// InstanceTypeInfo is an instance type in ListInstanceTypes.
type InstanceTypeInfo struct {
	InstanceType                    string                           `json:"InstanceType"`
	SupportedInstanceConfigurations []SupportedInstanceConfiguration `json:"SupportedInstanceConfigurations"`
}

// ListInstanceTypesOutput is the ListInstanceTypes response.
type ListInstanceTypesOutput struct {
	InstanceTypes []InstanceTypeInfo `json:"InstanceTypes"`
	NextToken     string             `json:"NextToken,omitempty"`
}

// ListRegionsInput is the ListRegions request.
type ListRegionsInput struct {
	MaxResults *int    `json:"MaxResults" v:"min=1,max=25"`
	NextToken  *string `json:"NextToken" v:"min=1,max=2048"`
}

// RegionOut is a region in ListRegions.
type RegionOut struct {
	RegionName string `json:"RegionName"`
}

// ListRegionsOutput is the ListRegions response.
type ListRegionsOutput struct {
	Regions   []RegionOut `json:"Regions"`
	NextToken string      `json:"NextToken,omitempty"`
}
