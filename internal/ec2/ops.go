package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

func (m *Module) register() {
	m.svc.Add(
		gateway.Op("DescribeImages", m.describeImages).RO(),
		gateway.WithResources(gateway.Op("RegisterImage", m.registerImage), m.registerImageResources),
		gateway.Op("DescribeVpcs", m.describeVpcs).RO(),
		gateway.Op("DescribeSubnets", m.describeSubnets).RO(),
		gateway.WithResources(gateway.Op("CreateSecurityGroup", m.createSecurityGroup), m.createSecurityGroupResources),
		gateway.Op("DescribeSecurityGroups", m.describeSecurityGroups).RO(),
		gateway.WithResources(gateway.Op("AuthorizeSecurityGroupIngress", m.authorizeIngress), m.authorizeIngressResources),
		gateway.WithResources(gateway.Op("DeleteSecurityGroup", m.deleteSecurityGroup), m.deleteSecurityGroupResources),
	)
}

// partition returns the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// ARN builds an EC2 ARN; account is empty for images and snapshots.
func ARN(region, account, resource string) string {
	return "arn:" + partition(region) + ":ec2:" + region + ":" + account + ":" + resource
}

func dryRun(dry bool) error {
	if dry {
		return awsproto.ErrorStatus(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return nil
}

func missing(name string) error {
	return awsproto.Errorf("MissingParameter", "The request must contain the parameter %s", name)
}

// ---- images ----

func imageField(im *Image) fieldFunc {
	return func(name string) ([]string, bool) {
		one := func(s string) ([]string, bool) { return []string{s}, true }
		root := im.root()
		switch name {
		case "name":
			return one(im.Name)
		case "description":
			return one(im.Description)
		case "state":
			return one(im.State)
		case "image-type":
			return one("machine")
		case "virtualization-type":
			return one(im.VirtualizationType)
		case "platform-details":
			return one(im.PlatformDetails)
		case "platform":
			if strings.HasPrefix(im.PlatformDetails, "Windows") {
				return one("windows")
			}
			return nil, true
		case "usage-operation":
			return one(im.UsageOperation)
		case "image-id":
			return one(im.ID)
		case "owner-id":
			return one(im.Account)
		case "owner-alias":
			if im.OwnerAlias == "" {
				return nil, true
			}
			return one(im.OwnerAlias)
		case "architecture":
			return one(im.Architecture)
		case "is-public":
			return one(boolStr(im.Public))
		case "hypervisor":
			return one(im.Hypervisor)
		case "root-device-type":
			return one("ebs")
		case "root-device-name":
			return one(im.RootDeviceName)
		case "ena-support":
			return one(boolStr(im.EnaSupport))
		case "sriov-net-support":
			return one(im.SriovNetSupport)
		case "manifest-location":
			return one(im.Location)
		case "boot-mode":
			if im.BootMode == "" {
				return nil, true
			}
			return one(im.BootMode)
		case "block-device-mapping.device-name", "block-device-mapping.snapshot-id", "block-device-mapping.volume-size",
			"block-device-mapping.volume-type", "block-device-mapping.encrypted", "block-device-mapping.delete-on-termination":
			var out []string
			for _, d := range im.Devices {
				switch strings.TrimPrefix(name, "block-device-mapping.") {
				case "device-name":
					out = append(out, d.DeviceName)
				case "snapshot-id":
					out = append(out, d.SnapshotID)
				case "volume-size":
					out = append(out, strconv.Itoa(d.VolumeSize))
				case "volume-type":
					out = append(out, d.VolumeType)
				case "encrypted":
					out = append(out, boolStr(d.Encrypted))
				case "delete-on-termination":
					out = append(out, boolStr(d.DeleteOnTermination))
				}
			}
			_ = root
			return out, true
		}
		return tagField(im.Tags, name)
	}
}

var ownerRe = regexp.MustCompile(`^[0-9]{12}$`)

func (m *Module) describeImages(ctx context.Context, c *gateway.Call, in *DescribeImagesInput) (*DescribeImagesOutput, error) {
	if err := checkMaxResults(in.MaxResults); err != nil {
		return nil, err
	}
	if in.MaxResults != nil && len(in.ImageIds) > 0 {
		return nil, awsproto.Errorf("InvalidParameterCombination", "The parameter imageIdsSet cannot be used with the parameter maxResults")
	}
	for _, id := range in.ImageIds {
		if !amiRe.MatchString(id) {
			return nil, awsproto.Errorf("InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", id)
		}
	}
	for _, o := range in.Owners {
		if o != "self" && o != "amazon" && o != "aws-marketplace" && o != "aws-backup-vault" && !ownerRe.MatchString(o) {
			return nil, awsproto.Errorf("InvalidUserID.Malformed", "Invalid user id: %q", o)
		}
	}
	filters, err := compileFilters(in.Filters, func(n string) bool { _, ok := imageField(&Image{})(n); return ok })
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var images []*Image
	err = m.store.View(ctx, func(tx store.Tx) error {
		images, err = listAll[Image](ctx, tx, TableImages, c.Account, c.Region)
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := map[string]*Image{}
	for _, im := range images {
		byID[im.ID] = im
	}
	if len(in.ImageIds) > 0 {
		var missingIDs []string
		for _, id := range in.ImageIds {
			if byID[id] == nil {
				missingIDs = append(missingIDs, id)
			}
		}
		if len(missingIDs) > 0 {
			return nil, awsproto.Errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", strings.Join(missingIDs, ", "))
		}
	}
	want := map[string]bool{}
	for _, id := range in.ImageIds {
		want[id] = true
	}
	var ids []string
	for _, im := range images {
		if len(want) > 0 && !want[im.ID] {
			continue
		}
		if len(in.Owners) > 0 && !ownerMatches(in.Owners, im, c.Account) {
			continue
		}
		if im.State == "disabled" && (in.IncludeDisabled == nil || !*in.IncludeDisabled) {
			continue
		}
		if !matches(filters, imageField(im)) {
			continue
		}
		ids = append(ids, im.ID)
	}
	sort.Strings(ids)
	max := 0
	if in.MaxResults != nil {
		max = *in.MaxResults
	}
	start, end, next, err := page(ids, in.NextToken, max)
	if err != nil {
		return nil, err
	}
	out := &DescribeImagesOutput{NextToken: next, Images: []ImageXML{}}
	for _, id := range ids[start:end] {
		out.Images = append(out.Images, imageXML(byID[id]))
	}
	return out, nil
}

func ownerMatches(owners []string, im *Image, caller string) bool {
	for _, o := range owners {
		switch o {
		case "self":
			if im.Account == caller {
				return true
			}
		case "amazon", "aws-marketplace", "aws-backup-vault":
			if im.OwnerAlias == o {
				return true
			}
		default:
			if im.Account == o {
				return true
			}
		}
	}
	return false
}

func imageXML(im *Image) ImageXML {
	x := ImageXML{ImageID: im.ID, ImageLocation: im.Location, State: im.State, OwnerID: im.Account,
		CreationDate: im.Created.UTC().Format("2006-01-02T15:04:05.000Z"), Public: im.Public, Architecture: im.Architecture,
		ImageType: "machine", ImageOwnerAlias: im.OwnerAlias, Name: im.Name, Description: im.Description,
		PlatformDetails: im.PlatformDetails, UsageOperation: im.UsageOperation, RootDeviceType: "ebs",
		RootDeviceName: im.RootDeviceName, VirtualizationType: im.VirtualizationType, Hypervisor: im.Hypervisor,
		EnaSupport: im.EnaSupport, SriovNetSupport: im.SriovNetSupport, BootMode: im.BootMode,
		TpmSupport: im.TpmSupport, ImdsSupport: im.ImdsSupport, Tags: tagList(im.Tags)}
	if strings.HasPrefix(im.PlatformDetails, "Windows") {
		x.Platform = "windows"
	}
	for _, d := range im.Devices {
		bd := BlockDeviceMappingXML{DeviceName: d.DeviceName, VirtualName: d.VirtualName}
		if d.VirtualName == "" {
			bd.Ebs = &EbsBlockDevXML{DeleteOnTermination: d.DeleteOnTermination, Iops: d.Iops, SnapshotID: d.SnapshotID,
				VolumeSize: d.VolumeSize, VolumeType: d.VolumeType, Throughput: d.Throughput, KmsKeyID: d.KmsKeyID, Encrypted: d.Encrypted}
		}
		x.BlockDeviceMappings = append(x.BlockDeviceMappings, bd)
	}
	return x
}

var amiNameRe = regexp.MustCompile(`^[a-zA-Z0-9().\-/_ '@\[\]]{3,128}$`)

func (m *Module) registerImageResources(ctx context.Context, c *gateway.Call, in *RegisterImageInput) ([]gateway.Check, error) {
	tags, err := tagsFor(in.TagSpecifications, "image")
	if err != nil {
		return nil, err
	}
	checks := []gateway.Check{{Resource: ARN(c.Region, "", "image/*"), RequestTags: tags,
		Context: map[string][]string{"ec2:Owner": {c.Account}}}}
	for _, bd := range in.BlockDeviceMappings {
		if bd.Ebs != nil && bd.Ebs.SnapshotID != "" {
			checks = append(checks, gateway.Check{Resource: ARN(c.Region, "", "snapshot/"+bd.Ebs.SnapshotID),
				Context: map[string][]string{"ec2:SnapshotID": {bd.Ebs.SnapshotID}}})
		}
	}
	return checks, nil
}

func (m *Module) registerImage(ctx context.Context, c *gateway.Call, in *RegisterImageInput) (*RegisterImageOutput, error) {
	if in.Name == "" {
		return nil, missing("name")
	}
	if !amiNameRe.MatchString(in.Name) {
		return nil, awsproto.Errorf("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'")
	}
	tags, err := tagsFor(in.TagSpecifications, "image")
	if err != nil {
		return nil, err
	}
	im := &Image{ID: randomID("ami"), Account: c.Account, Region: c.Region, Name: in.Name, Description: in.Description,
		Location: c.Account + "/" + in.Name, State: "available", Architecture: "x86_64", VirtualizationType: "paravirtual",
		Hypervisor: "xen", PlatformDetails: "Linux/UNIX", RootDeviceName: or(in.RootDeviceName, "/dev/sda1"),
		SriovNetSupport: in.SriovNetSupport, EnaSupport: in.EnaSupport != nil && *in.EnaSupport, Tags: tags, Created: c.Now.UTC()}
	if in.Architecture != nil {
		im.Architecture = *in.Architecture
	}
	if in.VirtualizationType != nil {
		im.VirtualizationType = *in.VirtualizationType
	}
	if in.BootMode != nil {
		im.BootMode = *in.BootMode
	}
	if in.TpmSupport != nil {
		im.TpmSupport = *in.TpmSupport
	}
	if in.ImdsSupport != nil {
		im.ImdsSupport = *in.ImdsSupport
	}
	if in.SriovNetSupport != "" && in.SriovNetSupport != "simple" {
		return nil, awsproto.Errorf("InvalidParameterValue", "Value (%s) for parameter sriovNetSupport is invalid. Valid values: simple", in.SriovNetSupport)
	}
	if im.EnaSupport && im.VirtualizationType != "hvm" {
		return nil, awsproto.Errorf("InvalidParameterCombination", "Enhanced networking with the Elastic Network Adapter (ENA) is only supported for hvm virtualization type.")
	}
	if in.ImageLocation == "" && len(in.BlockDeviceMappings) == 0 {
		return nil, awsproto.Errorf("InvalidParameterCombination", "Either imageLocation or a root device block device mapping must be specified")
	}
	seen := map[string]bool{}
	for i, bd := range in.BlockDeviceMappings {
		if bd.DeviceName == "" {
			return nil, missing(fmt.Sprintf("BlockDeviceMapping.%d.DeviceName", i+1))
		}
		if seen[bd.DeviceName] {
			return nil, awsproto.Errorf("InvalidBlockDeviceMapping", "The device '%s' is used in more than one block-device mapping", bd.DeviceName)
		}
		seen[bd.DeviceName] = true
		if bd.NoDevice != nil {
			continue
		}
		d := Device{DeviceName: bd.DeviceName, VirtualName: bd.VirtualName}
		if bd.Ebs != nil {
			e := bd.Ebs
			d.SnapshotID, d.KmsKeyID, d.VolumeType, d.DeleteOnTermination = e.SnapshotID, e.KmsKeyID, "gp2", true
			if e.VolumeType != nil {
				d.VolumeType = *e.VolumeType
			}
			if e.DeleteOnTermination != nil {
				d.DeleteOnTermination = *e.DeleteOnTermination
			}
			if e.Encrypted != nil {
				d.Encrypted = *e.Encrypted
			}
			if e.KmsKeyID != "" && !d.Encrypted {
				return nil, awsproto.Errorf("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
			}
			if e.VolumeSize != nil {
				if *e.VolumeSize < 1 || *e.VolumeSize > 16384 {
					return nil, awsproto.Errorf("InvalidParameterValue", "Volume of %dGiB is outside the allowed range of 1-16384GiB", *e.VolumeSize)
				}
				d.VolumeSize = *e.VolumeSize
			}
			if e.Iops != nil {
				d.Iops = *e.Iops
			}
			if e.Throughput != nil {
				d.Throughput = *e.Throughput
			}
			if d.SnapshotID == "" && d.VolumeSize == 0 {
				return nil, awsproto.Errorf("InvalidBlockDeviceMapping", "snapshotId or volumeSize must be specified for device %s", bd.DeviceName)
			}
		}
		im.Devices = append(im.Devices, d)
	}
	if len(in.BlockDeviceMappings) > 0 && im.root() == nil {
		return nil, awsproto.Errorf("InvalidBlockDeviceMapping", "The root device name %s is not in the block device mapping", im.RootDeviceName)
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	err = m.store.Update(ctx, func(tx store.Tx) error {
		images, err := listAll[Image](ctx, tx, TableImages, c.Account, c.Region)
		if err != nil {
			return err
		}
		for _, o := range images {
			if o.Name == im.Name {
				return awsproto.Errorf("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", im.Name, o.ID)
			}
		}
		// An image registered from a snapshot of one of the account's
		// images inherits its platform (as EC2 does for Windows snapshots).
		if r := im.root(); r != nil {
			if r.SnapshotID == "" {
				r.SnapshotID = randomID("snap")
			}
			for _, o := range images {
				if or := o.root(); or != nil && or.SnapshotID == r.SnapshotID {
					im.PlatformDetails, im.OSVersion = o.PlatformDetails, o.OSVersion
					if r.VolumeSize == 0 {
						r.VolumeSize = or.VolumeSize
					}
				}
			}
			if r.VolumeSize == 0 {
				r.VolumeSize = 8
			}
		}
		im.UsageOperation = usageOperation(im.PlatformDetails)
		return store.CreateJSON(ctx, tx, TableImages, key(c.Account, c.Region, im.ID), im)
	})
	if err != nil {
		return nil, err
	}
	return &RegisterImageOutput{ImageID: im.ID}, nil
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

func (m *Module) describeVpcs(ctx context.Context, c *gateway.Call, in *DescribeVpcsInput) (*DescribeVpcsOutput, error) {
	if err := checkMaxResults(in.MaxResults); err != nil {
		return nil, err
	}
	for _, id := range in.VpcIds {
		if !vpcRe.MatchString(id) {
			return nil, awsproto.Errorf("InvalidVpcID.Malformed", "Invalid id: %q", id)
		}
	}
	filters, err := compileFilters(in.Filters, func(n string) bool { _, ok := vpcField(&VPC{})(n); return ok })
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
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
		byID[v.ID] = v
	}
	want := map[string]bool{}
	for _, id := range in.VpcIds {
		if byID[id] == nil {
			return nil, awsproto.Errorf("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id)
		}
		want[id] = true
	}
	var ids []string
	for _, v := range vpcs {
		if (len(want) == 0 || want[v.ID]) && matches(filters, vpcField(v)) {
			ids = append(ids, v.ID)
		}
	}
	sort.Strings(ids)
	start, end, next, err := page(ids, in.NextToken, ptr.Deref(in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &DescribeVpcsOutput{NextToken: next}
	for _, id := range ids[start:end] {
		out.Vpcs = append(out.Vpcs, vpcXML(byID[id]))
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

func (m *Module) describeSubnets(ctx context.Context, c *gateway.Call, in *DescribeSubnetsInput) (*DescribeSubnetsOutput, error) {
	if err := checkMaxResults(in.MaxResults); err != nil {
		return nil, err
	}
	for _, id := range in.SubnetIds {
		if !subnetRe.MatchString(id) {
			return nil, awsproto.Errorf("InvalidSubnetID.Malformed", "Invalid id: %q", id)
		}
	}
	filters, err := compileFilters(in.Filters, func(n string) bool { _, ok := subnetField(&Subnet{})(n); return ok })
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var subnets []*Subnet
	if err := m.store.View(ctx, func(tx store.Tx) error {
		subnets, err = listAll[Subnet](ctx, tx, TableSubnets, c.Account, c.Region)
		return err
	}); err != nil {
		return nil, err
	}
	byID := map[string]*Subnet{}
	for _, s := range subnets {
		byID[s.ID] = s
	}
	want := map[string]bool{}
	for _, id := range in.SubnetIds {
		if byID[id] == nil {
			return nil, awsproto.Errorf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
		}
		want[id] = true
	}
	var ids []string
	for _, s := range subnets {
		if (len(want) == 0 || want[s.ID]) && matches(filters, subnetField(s)) {
			ids = append(ids, s.ID)
		}
	}
	sort.Strings(ids)
	start, end, next, err := page(ids, in.NextToken, ptr.Deref(in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &DescribeSubnetsOutput{NextToken: next}
	for _, id := range ids[start:end] {
		out.Subnets = append(out.Subnets, subnetXML(byID[id]))
	}
	return out, nil
}

// ---- security groups ----

func (m *Module) createSecurityGroupResources(ctx context.Context, c *gateway.Call, in *CreateSecurityGroupInput) ([]gateway.Check, error) {
	tags, err := tagsFor(in.TagSpecifications, "security-group")
	if err != nil {
		return nil, err
	}
	checks := []gateway.Check{{Resource: ARN(c.Region, c.Account, "security-group/*"), RequestTags: tags}}
	if in.VpcID != "" {
		var vtags map[string]string
		err := m.store.View(ctx, func(tx store.Tx) error {
			v, err := getVPC(ctx, tx, c.Account, c.Region, in.VpcID)
			if errors.Is(err, store.ErrNotFound) {
				return nil // the handler reports it missing
			}
			if err != nil {
				return err
			}
			vtags = v.Tags
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("ec2: read the tags of vpc %s: %w", in.VpcID, err)
		}
		checks = append(checks, gateway.Check{Resource: ARN(c.Region, c.Account, "vpc/"+in.VpcID), ResourceTags: vtags,
			Context: map[string][]string{"ec2:VpcID": {in.VpcID}, "ec2:Tenancy": {"default"}}})
	}
	return checks, nil
}

func (m *Module) createSecurityGroup(ctx context.Context, c *gateway.Call, in *CreateSecurityGroupInput) (*CreateSecurityGroupOutput, error) {
	if in.GroupName == nil {
		return nil, missing("GroupName")
	}
	if in.Description == nil {
		return nil, missing("GroupDescription")
	}
	name, desc := *in.GroupName, *in.Description
	switch {
	case name == "" || len(name) > 255:
		return nil, awsproto.Errorf("InvalidParameterValue", "Invalid value '%s' for groupName. Length must be between 1 and 255 characters.", name)
	case strings.HasPrefix(strings.ToLower(name), "sg-"):
		return nil, awsproto.Errorf("InvalidParameterValue", "Group names may not be in the format sg-*.")
	case desc == "" || len(desc) > 255:
		return nil, awsproto.Errorf("InvalidParameterValue", "Invalid value '%s' for GroupDescription. Length must be between 1 and 255 characters.", desc)
	}
	tags, err := tagsFor(in.TagSpecifications, "security-group")
	if err != nil {
		return nil, err
	}
	if in.VpcID == "" {
		return nil, awsproto.Errorf("VPCIdNotSpecified", "No default VPC for this user")
	}
	if !vpcRe.MatchString(in.VpcID) {
		return nil, awsproto.Errorf("InvalidVpcID.Malformed", "Invalid id: %q", in.VpcID)
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var g *SecurityGroup
	err = m.store.Update(ctx, func(tx store.Tx) error {
		if _, err := getVPC(ctx, tx, c.Account, c.Region, in.VpcID); err != nil {
			return notFound(err, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", in.VpcID)
		}
		if _, err := groupByName(ctx, tx, c.Account, c.Region, in.VpcID, name); err == nil {
			return awsproto.Errorf("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, in.VpcID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		g, err = createGroup(ctx, tx, c.Account, c.Region, in.VpcID, name, desc, tags)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &CreateSecurityGroupOutput{GroupID: g.ID, Tags: tagList(g.Tags), SecurityGroupArn: ARN(c.Region, c.Account, "security-group/"+g.ID)}, nil
}

func groupField(g *SecurityGroup) fieldFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "vpc-id":
			return []string{g.VPCID}, true
		case "group-name":
			return []string{g.Name}, true
		case "group-id":
			return []string{g.ID}, true
		case "description":
			return []string{g.Description}, true
		case "owner-id":
			return []string{g.Account}, true
		case "ip-permission.cidr", "ip-permission.protocol", "ip-permission.from-port", "ip-permission.to-port", "ip-permission.group-id",
			"egress.ip-permission.cidr", "egress.ip-permission.protocol", "egress.ip-permission.from-port", "egress.ip-permission.to-port", "egress.ip-permission.group-id":
			rules := g.Ingress
			attr := strings.TrimPrefix(name, "ip-permission.")
			if a, ok := strings.CutPrefix(name, "egress.ip-permission."); ok {
				rules, attr = g.Egress, a
			}
			var out []string
			for _, r := range rules {
				switch attr {
				case "cidr":
					out = append(out, r.CIDR)
				case "protocol":
					out = append(out, r.Protocol)
				case "from-port":
					out = append(out, strconv.Itoa(r.FromPort))
				case "to-port":
					out = append(out, strconv.Itoa(r.ToPort))
				case "group-id":
					out = append(out, r.GroupID)
				}
			}
			return out, true
		}
		return tagField(g.Tags, name)
	}
}

func (m *Module) describeSecurityGroups(ctx context.Context, c *gateway.Call, in *DescribeSecurityGroupsInput) (*DescribeSecurityGroupsOutput, error) {
	if err := checkMaxResults(in.MaxResults); err != nil {
		return nil, err
	}
	if in.MaxResults != nil && (len(in.GroupIds) > 0 || len(in.GroupNames) > 0) {
		return nil, awsproto.Errorf("InvalidParameterCombination", "The parameter groupIds or groupNames cannot be used with the parameter maxResults")
	}
	for _, id := range in.GroupIds {
		if !sgRe.MatchString(id) {
			return nil, awsproto.Errorf("InvalidGroupId.Malformed", "Invalid id: %q (expecting \"sg-...\")", id)
		}
	}
	filters, err := compileFilters(in.Filters, func(n string) bool { _, ok := groupField(&SecurityGroup{})(n); return ok })
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var groups []*SecurityGroup
	if err := m.store.View(ctx, func(tx store.Tx) error {
		groups, err = listAll[SecurityGroup](ctx, tx, TableSecGroup, c.Account, c.Region)
		return err
	}); err != nil {
		return nil, err
	}
	byID := map[string]*SecurityGroup{}
	byName := map[string]bool{}
	for _, g := range groups {
		byID[g.ID] = g
		byName[g.Name] = true
	}
	wantID, wantName := map[string]bool{}, map[string]bool{}
	for _, id := range in.GroupIds {
		if byID[id] == nil {
			return nil, awsproto.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
		}
		wantID[id] = true
	}
	for _, n := range in.GroupNames {
		if !byName[n] {
			return nil, awsproto.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", n)
		}
		wantName[n] = true
	}
	var ids []string
	for _, g := range groups {
		if len(wantID) > 0 && !wantID[g.ID] || len(wantName) > 0 && !wantName[g.Name] {
			continue
		}
		if matches(filters, groupField(g)) {
			ids = append(ids, g.ID)
		}
	}
	sort.Strings(ids)
	start, end, next, err := page(ids, in.NextToken, ptr.Deref(in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &DescribeSecurityGroupsOutput{NextToken: next}
	for _, id := range ids[start:end] {
		g := byID[id]
		out.SecurityGroups = append(out.SecurityGroups, SecurityGroupXML{OwnerID: g.Account, GroupID: g.ID, GroupName: g.Name,
			Description: g.Description, VpcID: g.VPCID, SecurityGroupArn: ARN(g.Region, g.Account, "security-group/"+g.ID),
			IPPermissions: permissions(g.Ingress), IPPermissionsEgress: permissions(g.Egress), Tags: tagList(g.Tags)})
	}
	return out, nil
}

// permissions groups rules by protocol and port range, as EC2 reports them.
func permissions(rules []Rule) []IPPermission {
	var out []IPPermission
	idx := map[string]int{}
	for _, r := range rules {
		k := fmt.Sprintf("%s/%d/%d", r.Protocol, r.FromPort, r.ToPort)
		i, ok := idx[k]
		if !ok {
			p := IPPermission{IPProtocol: r.Protocol}
			if r.Protocol != "-1" {
				p.FromPort, p.ToPort = ptr.To(r.FromPort), ptr.To(r.ToPort)
			}
			out = append(out, p)
			i = len(out) - 1
			idx[k] = i
		}
		if r.CIDR != "" {
			out[i].IPRanges = append(out[i].IPRanges, IPRange{CidrIP: r.CIDR, Description: r.Description})
		}
		if r.CIDR6 != "" {
			out[i].Ipv6Ranges = append(out[i].Ipv6Ranges, Ipv6Range{CidrIpv6: r.CIDR6, Description: r.Description})
		}
		if r.GroupID != "" {
			out[i].UserIDGroupPairs = append(out[i].UserIDGroupPairs, UserIDGroupPair{GroupID: r.GroupID, UserID: r.GroupOwner, Description: r.Description})
		}
	}
	return out
}

func (m *Module) authorizeIngressResources(ctx context.Context, c *gateway.Call, in *AuthorizeSecurityGroupIngressInput) ([]gateway.Check, error) {
	tags, err := tagsFor(in.TagSpecifications, "security-group-rule")
	if err != nil {
		return nil, err
	}
	id := in.GroupID
	var gtags map[string]string
	var vpc string
	if err := m.store.View(ctx, func(tx store.Tx) error {
		var g *SecurityGroup
		var err error
		if id != "" {
			g, err = getGroup(ctx, tx, c.Account, c.Region, id)
		} else if in.GroupName != "" {
			g, err = groupByName(ctx, tx, c.Account, c.Region, "", in.GroupName)
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil // the handler reports it missing
		}
		if err != nil {
			return err
		}
		if g != nil {
			id, gtags, vpc = g.ID, g.Tags, g.VPCID
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("ec2: read the tags of security group %s%s: %w", in.GroupID, in.GroupName, err)
	}
	if id == "" {
		id = "*"
	}
	chk := gateway.Check{Resource: ARN(c.Region, c.Account, "security-group/"+id), ResourceTags: gtags,
		Context: map[string][]string{"ec2:SecurityGroupID": {id}}}
	if vpc != "" {
		chk.Context["ec2:Vpc"] = []string{ARN(c.Region, c.Account, "vpc/"+vpc)}
	}
	checks := []gateway.Check{chk}
	if tags != nil {
		checks = append(checks, gateway.Check{Resource: ARN(c.Region, c.Account, "security-group-rule/*"), RequestTags: tags})
	}
	return checks, nil
}

// normalizeProtocol returns the protocol as EC2 stores it.
func normalizeProtocol(p string) (string, error) {
	switch strings.ToLower(p) {
	case "-1", "all":
		return "-1", nil
	case "tcp", "6":
		return "tcp", nil
	case "udp", "17":
		return "udp", nil
	case "icmp", "1":
		return "icmp", nil
	case "icmpv6", "58":
		return "icmpv6", nil
	}
	if n, err := strconv.Atoi(p); err == nil && n >= 0 && n <= 255 {
		return p, nil
	}
	return "", awsproto.Errorf("InvalidParameterValue", "Invalid value '%s' for IP protocol. Unknown protocol.", p)
}

// rulesOf expands one permission into rules, validating ports and peers.
func rulesOf(ctx context.Context, tx store.Tx, c *gateway.Call, p IPPermission) ([]Rule, error) {
	if p.IPProtocol == "" {
		return nil, missing("IpPermissions.N.IpProtocol")
	}
	proto, err := normalizeProtocol(p.IPProtocol)
	if err != nil {
		return nil, err
	}
	from, to := -1, -1
	switch proto {
	case "-1":
	case "tcp", "udp":
		if p.FromPort == nil || p.ToPort == nil {
			return nil, awsproto.Errorf("InvalidParameterValue", "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
		}
		from, to = *p.FromPort, *p.ToPort
		if from < 0 || to > 65535 || from > to {
			return nil, awsproto.Errorf("InvalidParameterValue", "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
		}
	case "icmp", "icmpv6":
		if p.FromPort != nil {
			from = *p.FromPort
		}
		if p.ToPort != nil {
			to = *p.ToPort
		}
		if from < -1 || from > 255 || to < -1 || to > 255 {
			return nil, awsproto.Errorf("InvalidParameterValue", "Invalid value '%d' for ICMP type or code", from)
		}
	default:
		if p.FromPort != nil {
			from = *p.FromPort
		}
		if p.ToPort != nil {
			to = *p.ToPort
		}
	}
	var out []Rule
	for _, r := range p.IPRanges {
		pfx, err := netip.ParsePrefix(r.CidrIP)
		if err != nil || !pfx.Addr().Is4() {
			return nil, awsproto.Errorf("InvalidParameterValue", "CIDR block %s is malformed", r.CidrIP)
		}
		out = append(out, Rule{ID: randomID("sgr"), Protocol: proto, FromPort: from, ToPort: to, CIDR: pfx.Masked().String(), Description: r.Description})
	}
	for _, r := range p.Ipv6Ranges {
		pfx, err := netip.ParsePrefix(r.CidrIpv6)
		if err != nil || !pfx.Addr().Is6() || pfx.Addr().Is4In6() {
			return nil, awsproto.Errorf("InvalidParameterValue", "Invalid IPv6 CIDR block %s: remote-ipv6-range is malformed", r.CidrIpv6)
		}
		out = append(out, Rule{ID: randomID("sgr"), Protocol: proto, FromPort: from, ToPort: to, CIDR6: pfx.Masked().String(), Description: r.Description})
	}
	if len(p.PrefixListIDs) > 0 {
		return nil, awsproto.Errorf("InvalidPrefixListId.NotFound", "The prefix list ID '%s' does not exist", p.PrefixListIDs[0].PrefixListID)
	}
	for _, gp := range p.UserIDGroupPairs {
		var ref *SecurityGroup
		var err error
		switch {
		case gp.GroupID != "":
			ref, err = getGroup(ctx, tx, c.Account, c.Region, gp.GroupID)
			err = notFound(err, "InvalidGroup.NotFound", "The security group '%s' does not exist", gp.GroupID)
		case gp.GroupName != "":
			ref, err = groupByName(ctx, tx, c.Account, c.Region, "", gp.GroupName)
			err = notFound(err, "InvalidGroup.NotFound", "The security group '%s' does not exist", gp.GroupName)
		default:
			err = missing("IpPermissions.N.Groups.N.GroupId")
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Rule{ID: randomID("sgr"), Protocol: proto, FromPort: from, ToPort: to, GroupID: ref.ID, GroupOwner: ref.Account, Description: gp.Description})
	}
	if len(out) == 0 {
		return nil, awsproto.Errorf("InvalidParameterValue", "The request must contain a source: a CIDR range or a security group")
	}
	return out, nil
}

func describeRule(r Rule) string {
	peer := r.CIDR
	if r.CIDR6 != "" {
		peer = r.CIDR6
	}
	if r.GroupID != "" {
		peer = r.GroupID
	}
	proto := strings.ToUpper(r.Protocol)
	if r.Protocol == "-1" {
		proto = "ALL"
	}
	return fmt.Sprintf("\"peer: %s, %s, from port: %d, to port: %d, ALLOW\"", peer, proto, r.FromPort, r.ToPort)
}
