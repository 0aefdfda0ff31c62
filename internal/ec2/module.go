// Package ec2 is deskplane's Amazon EC2 service: the images, VPCs, subnets
// and security groups a WorkSpaces Core deployment touches, spoken in the
// ec2 query protocol. The Module also implements workspaces.EC2, so the
// WorkSpaces service can look up images and subnets and create security
// groups inside its own transactions.
package ec2

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// Module is the EC2 service module.
type Module struct {
	store store.Store
	svc   *gateway.Service

	mu         sync.RWMutex
	interfaces InterfacesFunc
}

var _ workspaces.EC2 = (*Module)(nil)

// New returns the EC2 module over st.
func New(st store.Store) *Module {
	m := &Module{store: st}
	m.svc = &gateway.Service{
		Name:           "ec2",
		ActionPrefix:   "ec2",
		EventSource:    "ec2.amazonaws.com",
		Protocol:       gateway.EC2,
		ValidationCode: "InvalidParameterValue",
	}
	m.register()
	return m
}

// Services returns the EC2 operation table.
func (m *Module) Services() []*gateway.Service { return []*gateway.Service{m.svc} }

// Seed writes each configured account's VPCs (with their default security
// groups), subnets and images in every configured region. Ids are derived
// from a hash of account, region and name, so seeding is idempotent and the
// same configuration always yields the same ids; records that exist are
// left as the API last changed them.
func (m *Module) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	for _, a := range cfg.Accounts {
		for _, region := range cfg.Regions {
			if err := seedAccountRegion(ctx, tx, a, region, now); err != nil {
				return fmt.Errorf("ec2 seed %s/%s: %w", a.ID, region, err)
			}
		}
	}
	return nil
}

func seedAccountRegion(ctx context.Context, tx store.Tx, a config.Account, region string, now time.Time) error {
	acct := a.ID
	for _, v := range a.VPCs {
		vpcID := DeterministicID("vpc", acct, region, "vpc", v.CIDR)
		vpc := &VPC{ID: vpcID, Account: acct, Region: region, CIDR: v.CIDR,
			DhcpOptionsID: DeterministicID("dopt", acct, region),
			AssociationID: DeterministicID("vpc-cidr-assoc", acct, region, vpcID)}
		if err := putIfAbsent(ctx, tx, TableVPCs, key(acct, region, vpcID), vpc); err != nil {
			return err
		}
		for _, s := range v.Subnets {
			az := s.AZ
			if len(az) <= 2 {
				az = region + az
			}
			sub := &Subnet{ID: DeterministicID("subnet", acct, region, v.CIDR, s.CIDR), Account: acct, Region: region,
				VPCID: vpcID, CIDR: s.CIDR, AZ: az, AZID: azID(region, az)}
			if err := putIfAbsent(ctx, tx, TableSubnets, key(acct, region, sub.ID), sub); err != nil {
				return err
			}
		}
		sgID := DeterministicID("sg", acct, region, vpcID, "default")
		sg := &SecurityGroup{ID: sgID, Account: acct, Region: region, VPCID: vpcID, Name: "default", Description: "default VPC security group",
			Ingress: []Rule{{ID: DeterministicID("sgr", sgID, "ingress"), Protocol: "-1", FromPort: -1, ToPort: -1, GroupID: sgID, GroupOwner: acct}},
			Egress:  []Rule{{ID: DeterministicID("sgr", sgID, "egress"), Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"}}}
		if err := putIfAbsent(ctx, tx, TableSecGroup, key(acct, region, sgID), sg); err != nil {
			return err
		}
	}
	for _, ci := range a.Images {
		id := DeterministicID("ami", acct, region, "image", ci.Name)
		im := &Image{ID: id, Account: acct, Region: region, Name: ci.Name, Description: ci.Description,
			Location: acct + "/" + ci.Name, State: "available",
			Architecture:       or(ci.Architecture, "x86_64"),
			VirtualizationType: or(ci.VirtualizationType, "hvm"),
			Hypervisor:         or(ci.Hypervisor, "xen"),
			PlatformDetails:    or(ci.PlatformDetails, "Windows BYOL"),
			RootDeviceName:     "/dev/sda1",
			BootMode:           ci.BootMode,
			EnaSupport:         ci.EnaSupport == nil || *ci.EnaSupport,
			SriovNetSupport:    "simple",
			OSVersion:          ci.OSVersion,
			Created:            now.UTC(),
			Devices: []Device{{DeviceName: "/dev/sda1", SnapshotID: DeterministicID("snap", acct, region, "image", ci.Name),
				VolumeSize: orInt(ci.VolumeSize, 80), VolumeType: or(ci.VolumeType, "gp3"), DeleteOnTermination: true}},
		}
		im.UsageOperation = usageOperation(im.PlatformDetails)
		if err := putIfAbsent(ctx, tx, TableImages, key(acct, region, id), im); err != nil {
			return err
		}
	}
	return nil
}

// azID names an availability zone id the way AWS does (use1-az1, apse2-az2).
func azID(region, az string) string {
	parts := strings.Split(region, "-")
	if len(parts) != 3 || !strings.HasPrefix(az, region) {
		return ""
	}
	dir := map[string]string{"east": "e", "west": "w", "central": "c", "south": "s", "north": "n",
		"northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw"}[parts[1]]
	suffix := strings.TrimPrefix(az, region)
	if dir == "" || len(suffix) != 1 {
		return ""
	}
	return fmt.Sprintf("%s%s%s-az%d", parts[0], dir, parts[2], int(suffix[0]-'a')+1)
}

// usageOperation is the billing code EC2 reports for a platform.
func usageOperation(platformDetails string) string {
	switch platformDetails {
	case "Windows":
		return "RunInstances:0002"
	case "Windows BYOL":
		return "RunInstances:0800"
	case "Red Hat Enterprise Linux":
		return "RunInstances:0010"
	case "SUSE Linux":
		return "RunInstances:000g"
	case "Windows with SQL Server Standard":
		return "RunInstances:0006"
	}
	return "RunInstances"
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// Image implements workspaces.EC2: an AMI owned by account (or public) in region.
func (m *Module) Image(ctx context.Context, tx store.Tx, account, region, imageID string) (*workspaces.SourceImage, error) {
	im, err := getImage(ctx, tx, account, region, imageID)
	if err != nil {
		return nil, err
	}
	si := &workspaces.SourceImage{ImageID: im.ID, Name: im.Name, Description: im.Description, OwnerID: im.Account,
		State: im.State, ImageType: "machine", Architecture: im.Architecture, PlatformDetails: im.PlatformDetails,
		VirtualizationType: im.VirtualizationType, BootMode: im.BootMode, EnaSupport: im.EnaSupport, OSVersion: im.OSVersion}
	if r := im.root(); r != nil {
		si.RootVolumeType, si.RootVolumeSize, si.Encrypted = r.VolumeType, r.VolumeSize, r.Encrypted
	}
	return si, nil
}

// Subnet implements workspaces.EC2.
func (m *Module) Subnet(ctx context.Context, tx store.Tx, account, region, subnetID string) (*workspaces.Subnet, error) {
	s, err := getSubnet(ctx, tx, account, region, subnetID)
	if err != nil {
		return nil, err
	}
	return &workspaces.Subnet{SubnetID: s.ID, VPCID: s.VPCID, CIDR: s.CIDR, AZ: s.AZ}, nil
}

// SubnetsByID implements workspaces.EC2: one GetMany for the subnets ids
// (nil for an id of no subnet, or of a record that does not decode).
func (m *Module) SubnetsByID(ctx context.Context, tx store.Tx, account, region string, ids []string) ([]*workspaces.Subnet, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = key(account, region, id)
	}
	vals, err := tx.GetMany(ctx, TableSubnets, keys)
	if err != nil {
		return nil, err
	}
	out := make([]*workspaces.Subnet, len(ids))
	for i, k := range keys {
		b, ok := vals[k]
		if !ok {
			continue
		}
		var s Subnet
		if err := store.DecodeJSON(b, &s); err != nil {
			continue // nil: Subnet answers the error
		}
		out[i] = &workspaces.Subnet{SubnetID: s.ID, VPCID: s.VPCID, CIDR: s.CIDR, AZ: s.AZ}
	}
	return out, nil
}

// VPCCIDRs implements workspaces.EC2.
func (m *Module) VPCCIDRs(ctx context.Context, tx store.Tx, account, region string) ([]string, error) {
	vpcs, err := listAll[VPC](ctx, tx, TableVPCs, account, region)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vpcs))
	for _, v := range vpcs {
		out = append(out, v.CIDR)
	}
	return out, nil
}

// CreateSecurityGroup implements workspaces.EC2. It is idempotent: when the
// VPC already has a group of that name, its id is returned. A missing VPC is
// store.ErrNotFound.
func (m *Module) CreateSecurityGroup(ctx context.Context, tx store.Tx, account, region, vpcID, name, description string) (string, error) {
	if _, err := getVPC(ctx, tx, account, region, vpcID); err != nil {
		return "", err
	}
	g, err := groupByName(ctx, tx, account, region, vpcID, name)
	if err == nil {
		return g.ID, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	g, err = createGroup(ctx, tx, account, region, vpcID, name, description, nil)
	if err != nil {
		return "", err
	}
	return g.ID, nil
}

// SecurityGroupVPC implements workspaces.EC2.
func (m *Module) SecurityGroupVPC(ctx context.Context, tx store.Tx, account, region, groupID string) (string, error) {
	g, err := getGroup(ctx, tx, account, region, groupID)
	if err != nil {
		return "", err
	}
	return g.VPCID, nil
}

// createGroup writes a new security group with the default allow-all egress rule.
func createGroup(ctx context.Context, tx store.Tx, account, region, vpcID, name, description string, tags map[string]string) (*SecurityGroup, error) {
	g := &SecurityGroup{ID: randomID("sg"), Account: account, Region: region, VPCID: vpcID, Name: name, Description: description, Tags: tags,
		Egress: []Rule{{ID: randomID("sgr"), Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"}}}
	if err := store.CreateJSON(ctx, tx, TableSecGroup, key(account, region, g.ID), g); err != nil {
		return nil, err
	}
	return g, nil
}

// notFound maps store.ErrNotFound to an EC2 error.
func notFound(err error, code, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return awsproto.Errorf(code, format, args...)
	}
	return err
}

// Subnets lists the account's subnets in region (for Directory Service).
func (m *Module) Subnets(ctx context.Context, tx store.Tx, account, region string) ([]*workspaces.Subnet, error) {
	subs, err := listAll[Subnet](ctx, tx, TableSubnets, account, region)
	if err != nil {
		return nil, err
	}
	out := make([]*workspaces.Subnet, 0, len(subs))
	for _, s := range subs {
		out = append(out, &workspaces.Subnet{SubnetID: s.ID, VPCID: s.VPCID, CIDR: s.CIDR, AZ: s.AZ})
	}
	return out, nil
}

// AllowsInbound reports whether one of the groups has an inbound rule that
// lets TCP traffic reach port, from any peer (the desktop runtime opens a
// protocol port only then). Groups that do not exist allow nothing.
func (m *Module) AllowsInbound(ctx context.Context, tx store.Tx, account, region string, groupIDs []string, port int) (bool, error) {
	for _, id := range groupIDs {
		g, err := getGroup(ctx, tx, account, region, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read security group %s: %w", id, err)
		}
		for _, r := range g.Ingress {
			switch r.Protocol {
			case "-1", "all":
				return true, nil
			case "tcp", "6":
				if r.FromPort <= port && port <= r.ToPort {
					return true, nil
				}
			}
		}
	}
	return false, nil
}
