package ec2

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// Store tables of the EC2 module. Keys are ACCOUNT/REGION/ID.
const (
	TableImages   = "ec2_images"
	TableVPCs     = "ec2_vpcs"
	TableSubnets  = "ec2_subnets"
	TableSecGroup = "ec2_security_groups"
)

func key(account, region, id string) string { return account + "/" + region + "/" + id }
func prefix(account, region string) string  { return account + "/" + region + "/" }

// Image is a stored AMI.
type Image struct {
	ID                 string            `json:"id"`
	Account            string            `json:"account"`
	Region             string            `json:"region"`
	Name               string            `json:"name"`
	Description        string            `json:"description,omitempty"`
	Location           string            `json:"location"`
	State              string            `json:"state"`
	Public             bool              `json:"public"`
	OwnerAlias         string            `json:"owner_alias,omitempty"`
	Architecture       string            `json:"architecture"`
	VirtualizationType string            `json:"virtualization_type"`
	Hypervisor         string            `json:"hypervisor"`
	PlatformDetails    string            `json:"platform_details"`
	UsageOperation     string            `json:"usage_operation"`
	RootDeviceName     string            `json:"root_device_name"`
	BootMode           string            `json:"boot_mode,omitempty"`
	EnaSupport         bool              `json:"ena_support"`
	SriovNetSupport    string            `json:"sriov_net_support,omitempty"`
	TpmSupport         string            `json:"tpm_support,omitempty"`
	ImdsSupport        string            `json:"imds_support,omitempty"`
	OSVersion          string            `json:"os_version,omitempty"`
	Devices            []Device          `json:"devices"`
	Tags               map[string]string `json:"tags,omitempty"`
	Created            time.Time         `json:"created"`
}

// Device is one block device mapping of an image.
type Device struct {
	DeviceName          string `json:"device_name"`
	VirtualName         string `json:"virtual_name,omitempty"`
	SnapshotID          string `json:"snapshot_id,omitempty"`
	VolumeSize          int    `json:"volume_size,omitempty"`
	VolumeType          string `json:"volume_type,omitempty"`
	Iops                int    `json:"iops,omitempty"`
	Throughput          int    `json:"throughput,omitempty"`
	DeleteOnTermination bool   `json:"delete_on_termination"`
	Encrypted           bool   `json:"encrypted"`
	KmsKeyID            string `json:"kms_key_id,omitempty"`
}

// root returns the root device mapping, or nil.
func (im *Image) root() *Device {
	for i := range im.Devices {
		if im.Devices[i].DeviceName == im.RootDeviceName {
			return &im.Devices[i]
		}
	}
	return nil
}

// VPC is a stored VPC.
type VPC struct {
	ID            string            `json:"id"`
	Account       string            `json:"account"`
	Region        string            `json:"region"`
	CIDR          string            `json:"cidr"`
	IsDefault     bool              `json:"is_default"`
	DhcpOptionsID string            `json:"dhcp_options_id"`
	AssociationID string            `json:"association_id"`
	Tags          map[string]string `json:"tags,omitempty"`
	// Tenancy is the instance tenancy ("" is default).
	Tenancy string `json:"tenancy,omitempty"`
	// DNSSupportOff, DNSHostnames and NAUMetrics are the VPC attributes
	// (DNS support is on by default, the others off).
	DNSSupportOff bool `json:"dns_support_off,omitempty"`
	DNSHostnames  bool `json:"dns_hostnames,omitempty"`
	NAUMetrics    bool `json:"nau_metrics,omitempty"`
}

// Subnet is a stored subnet.
type Subnet struct {
	ID        string            `json:"id"`
	Account   string            `json:"account"`
	Region    string            `json:"region"`
	VPCID     string            `json:"vpc_id"`
	CIDR      string            `json:"cidr"`
	AZ        string            `json:"az"`
	AZID      string            `json:"az_id"`
	DefaultAZ bool              `json:"default_for_az"`
	Tags      map[string]string `json:"tags,omitempty"`
	// MapPublicIP, HostnameType, ResourceNameA are the subnet attributes
	// ModifySubnetAttribute sets ("" hostname type is ip-name).
	MapPublicIP   bool   `json:"map_public_ip,omitempty"`
	HostnameType  string `json:"hostname_type,omitempty"`
	ResourceNameA bool   `json:"resource_name_a,omitempty"`
}

// availableIPs is the subnet size minus the five addresses AWS reserves.
func (s *Subnet) availableIPs() int {
	p, err := netip.ParsePrefix(s.CIDR)
	if err != nil || !p.Addr().Is4() {
		return 0
	}
	n := 1 << (32 - p.Bits())
	if n < 5 {
		return 0
	}
	return n - 5
}

// SecurityGroup is a stored security group with its rules.
type SecurityGroup struct {
	ID          string            `json:"id"`
	Account     string            `json:"account"`
	Region      string            `json:"region"`
	VPCID       string            `json:"vpc_id"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Ingress     []Rule            `json:"ingress,omitempty"`
	Egress      []Rule            `json:"egress,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// Rule is one security group rule: a protocol, port range and one peer
// (a CIDR or a security group).
type Rule struct {
	ID          string            `json:"id"`
	Protocol    string            `json:"protocol"` // "tcp", "udp", "icmp", "-1" or a number
	FromPort    int               `json:"from_port"`
	ToPort      int               `json:"to_port"`
	CIDR        string            `json:"cidr,omitempty"`
	CIDR6       string            `json:"cidr6,omitempty"`
	GroupID     string            `json:"group_id,omitempty"`
	GroupOwner  string            `json:"group_owner,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// same reports whether two rules allow the same traffic from the same peer.
func (r Rule) same(o Rule) bool {
	return r.Protocol == o.Protocol && r.FromPort == o.FromPort && r.ToPort == o.ToPort && r.CIDR == o.CIDR && r.CIDR6 == o.CIDR6 && r.GroupID == o.GroupID
}

func getImage(ctx context.Context, tx store.Tx, account, region, id string) (*Image, error) {
	return store.GetJSON[Image](ctx, tx, TableImages, key(account, region, id))
}

func getVPC(ctx context.Context, tx store.Tx, account, region, id string) (*VPC, error) {
	return store.GetJSON[VPC](ctx, tx, TableVPCs, key(account, region, id))
}

func getSubnet(ctx context.Context, tx store.Tx, account, region, id string) (*Subnet, error) {
	return store.GetJSON[Subnet](ctx, tx, TableSubnets, key(account, region, id))
}

func getGroup(ctx context.Context, tx store.Tx, account, region, id string) (*SecurityGroup, error) {
	return store.GetJSON[SecurityGroup](ctx, tx, TableSecGroup, key(account, region, id))
}

func listAll[T any](ctx context.Context, tx store.Tx, table, account, region string) ([]*T, error) {
	var out []*T
	err := store.ScanJSON(ctx, tx, table, prefix(account, region), "", 0, func(_ string, v *T) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// groupByName finds a security group by name in a VPC ("" for any VPC).
func groupByName(ctx context.Context, tx store.Tx, account, region, vpcID, name string) (*SecurityGroup, error) {
	groups, err := listAll[SecurityGroup](ctx, tx, TableSecGroup, account, region)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if g.Name == name && (vpcID == "" || g.VPCID == vpcID) {
			return g, nil
		}
	}
	return nil, store.ErrNotFound
}

// putIfAbsent writes v under table/key unless a record is already there.
func putIfAbsent(ctx context.Context, tx store.Tx, table, k string, v any) error {
	_, err := tx.Get(ctx, table, k)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return store.PutJSON(ctx, tx, table, k, v)
}
