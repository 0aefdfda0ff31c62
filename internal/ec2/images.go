package ec2

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

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
