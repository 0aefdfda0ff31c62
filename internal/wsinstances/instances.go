package wsinstances

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// The provision states of a WorkSpace Instance.
const (
	StateAllocating        = "ALLOCATING"
	StateAllocated         = "ALLOCATED"
	StateDeallocating      = "DEALLOCATING"
	StateDeallocated       = "DEALLOCATED"
	StateErrorAllocating   = "ERROR_ALLOCATING"
	StateErrorDeallocating = "ERROR_DEALLOCATING"
)

// rootDevice is the root device of the Windows AMIs.
const rootDevice = "/dev/sda1"

// attachment is a volume attached to an instance.
type attachment struct {
	VolumeID string `json:"volume_id"`
	Device   string `json:"device"`
	// Managed volumes were created by the launch (root and block device
	// mappings) and are deleted with the instance; the others are
	// detached and become available again.
	Managed bool `json:"managed,omitempty"`
}

// instanceRec is a stored WorkSpace Instance.
type instanceRec struct {
	ID            string                   `json:"id"`
	Account       string                   `json:"account"`
	Region        string                   `json:"region"`
	State         string                   `json:"state"`
	StateSince    time.Time                `json:"state_since"`
	Created       time.Time                `json:"created"`
	EC2InstanceID string                   `json:"ec2_instance_id,omitempty"`
	BillingMode   string                   `json:"billing_mode,omitempty"`
	Spec          *ManagedInstance         `json:"spec"`
	SubnetID      string                   `json:"subnet_id,omitempty"`
	AZ            string                   `json:"az,omitempty"`
	Platform      string                   `json:"platform,omitempty"`
	Tags          map[string]string        `json:"tags,omitempty"`
	Volumes       []attachment             `json:"volumes,omitempty"`
	Errors        []WorkspaceInstanceError `json:"errors,omitempty"`
	EC2Errors     []EC2InstanceError       `json:"ec2_errors,omitempty"`
	Seq           int64                    `json:"seq"`
}

// tokenRec remembers a ClientToken's request and the resource it created.
type tokenRec struct {
	ID   string `json:"id"`
	Hash string `json:"hash"`
}

func getInstance(ctx context.Context, tx store.Tx, account, region, id string) (*instanceRec, error) {
	return store.GetJSON[instanceRec](ctx, tx, TableInstances, key(account, region, id))
}

func putInstance(ctx context.Context, tx store.Tx, r *instanceRec) error {
	return store.PutJSON(ctx, tx, TableInstances, key(r.Account, r.Region, r.ID), r)
}

// live returns an instance that exists and is not DEALLOCATED, or
// ResourceNotFoundException.
func live(ctx context.Context, tx store.Tx, account, region, id string) (*instanceRec, error) {
	r, err := getInstance(ctx, tx, account, region, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.State == StateDeallocated) {
		return nil, errNotFound(id, "WorkspaceInstance")
	}
	return r, err
}

func (r *instanceRec) setState(s string, now time.Time) {
	r.State, r.StateSince = s, now.UTC()
	r.Seq++
}

// requestHash is the digest of a request without its ClientToken, to tell
// a retry from another request reusing the token.
func requestHash(in any) string {
	b, _ := json.Marshal(in)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// token looks up a ClientToken: the id it created when the request is the
// same, ConflictException when another request used it, "" when unused.
func token(ctx context.Context, tx store.Tx, account, region, kind, tok, hash, typ string) (string, error) {
	if tok == "" {
		return "", nil
	}
	t, err := store.GetJSON[tokenRec](ctx, tx, TableTokens, account+"/"+region+"/"+kind+"/"+tok)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if t.Hash != hash {
		return "", errConflict(t.ID, typ, "The ClientToken was already used with different parameters for %s.", t.ID)
	}
	return t.ID, nil
}

func putToken(ctx context.Context, tx store.Tx, account, region, kind, tok, hash, id string) error {
	if tok == "" {
		return nil
	}
	return store.PutJSON(ctx, tx, TableTokens, account+"/"+region+"/"+kind+"/"+tok, &tokenRec{ID: id, Hash: hash})
}

// checkSpec refuses the launch specifications deskplane cannot run and
// validates what it acts on. EC2-side problems (an image, subnet or group
// that does not exist) are found by the launch, as EC2 finds them, and
// reported as the instance's EC2InstanceErrors.
func checkSpec(mi *ManagedInstance) error {
	unsupported := func(member string) error {
		return errValidation("UNSUPPORTED_OPERATION", "ManagedInstance.%s is not supported by deskplane's WorkSpaces Instances (see the README's behaviour notes).", member)
	}
	switch {
	case mi.ImageID == nil:
		return errValidation("FIELD_VALIDATION_FAILED", "ManagedInstance.ImageId is required: a WorkSpace Instance launches from a Windows AMI of the account.")
	case mi.InstanceType == nil:
		return errValidation("FIELD_VALIDATION_FAILED", "ManagedInstance.InstanceType is required.")
	case mi.InstanceMarketOptions != nil:
		return unsupported("InstanceMarketOptions")
	case mi.CapacityReservationSpecification != nil && mi.CapacityReservationSpecification.CapacityReservationTarget != nil:
		return unsupported("CapacityReservationSpecification.CapacityReservationTarget")
	case len(mi.LicenseSpecifications) > 0:
		return unsupported("LicenseSpecifications")
	case mi.KernelID != nil || mi.RamdiskID != nil:
		return errValidation("FIELD_VALIDATION_FAILED", "KernelId and RamdiskId apply to paravirtual Linux AMIs, not to Windows instances.")
	case len(mi.Ipv6Addresses) > 0 || ptr.Deref(mi.Ipv6AddressCount) > 0 || ptr.Deref(mi.EnablePrimaryIpv6):
		return unsupported("IPv6 addressing")
	case mi.Placement != nil && (mi.Placement.HostID != nil || mi.Placement.HostResourceGroupArn != nil || mi.Placement.GroupID != nil || mi.Placement.GroupName != nil || mi.Placement.PartitionNumber != nil || mi.Placement.Affinity != nil):
		return unsupported("Placement on hosts and placement groups")
	case mi.Placement != nil && ptr.Deref(mi.Placement.Tenancy) == "host":
		return unsupported("Placement.Tenancy host (Dedicated Hosts)")
	case mi.EnclaveOptions != nil && ptr.Deref(mi.EnclaveOptions.Enabled):
		return unsupported("EnclaveOptions")
	}
	if len(mi.NetworkInterfaces) > 1 {
		return unsupported("more than one network interface")
	}
	for _, ni := range mi.NetworkInterfaces {
		if ni.NetworkInterfaceID != nil {
			return unsupported("NetworkInterfaces[].NetworkInterfaceId (an existing interface)")
		}
		if ptr.Deref(ni.InterfaceType) == "efa" || ptr.Deref(ni.InterfaceType) == "efa-only" {
			return unsupported("EFA network interfaces")
		}
		if ptr.Deref(ni.AssociateCarrierIPAddress) {
			return unsupported("NetworkInterfaces[].AssociateCarrierIpAddress (Wavelength Zones)")
		}
		if len(ni.Ipv6Addresses) > 0 || ptr.Deref(ni.Ipv6AddressCount) > 0 || len(ni.Ipv6Prefixes) > 0 || ptr.Deref(ni.Ipv6PrefixCount) > 0 || ptr.Deref(ni.PrimaryIpv6) {
			return unsupported("IPv6 addressing")
		}
		if ptr.Deref(ni.DeviceIndex) != 0 {
			return errValidation("FIELD_VALIDATION_FAILED", "NetworkInterfaces[0].DeviceIndex is %d: the only interface of a launch is the primary one, at device index 0.", ptr.Deref(ni.DeviceIndex))
		}
		if ptr.Deref(ni.NetworkCardIndex) != 0 {
			return unsupported("NetworkInterfaces[].NetworkCardIndex other than 0 (multiple network cards)")
		}
		if ptr.Deref(ni.SecondaryPrivateIPAddressCount) > 0 || len(ni.Ipv4Prefixes) > 0 || ptr.Deref(ni.Ipv4PrefixCount) > 0 {
			return unsupported("secondary private IPv4 addresses and IPv4 prefixes")
		}
		primaries := 0
		for _, a := range ni.PrivateIPAddresses {
			if ptr.Deref(a.Primary) {
				primaries++
			} else {
				return unsupported("secondary private IPv4 addresses and IPv4 prefixes")
			}
		}
		if primaries > 1 {
			return errValidation("FIELD_VALIDATION_FAILED", "NetworkInterfaces[0].PrivateIpAddresses names more than one primary address.")
		}
		if ni.SubnetID != nil && mi.SubnetID != nil && *ni.SubnetID != *mi.SubnetID {
			return errValidation("FIELD_VALIDATION_FAILED", "SubnetId and NetworkInterfaces[0].SubnetId name different subnets.")
		}
	}
	if len(mi.NetworkInterfaces) > 0 && (mi.SubnetID != nil || len(mi.SecurityGroupIDs) > 0) && mi.NetworkInterfaces[0].SubnetID != nil {
		return errValidation("FIELD_VALIDATION_FAILED", "Network interfaces and an instance-level subnet or security groups may not be specified on the same request.")
	}
	if len(mi.SecurityGroups) > 0 {
		return errValidation("FIELD_VALIDATION_FAILED", "SecurityGroups names groups of EC2-Classic or a default VPC; give SecurityGroupIds.")
	}
	if _, ok := catalogType(*mi.InstanceType); !ok {
		return errValidation("FIELD_VALIDATION_FAILED", "The instance type %s is not offered by WorkSpaces Instances (ListInstanceTypes lists those that are).", *mi.InstanceType)
	}
	devices := map[string]bool{}
	for i, b := range mi.BlockDeviceMappings {
		dev := ptr.Deref(b.DeviceName)
		if dev == "" {
			return errValidation("FIELD_VALIDATION_FAILED", "BlockDeviceMappings[%d].DeviceName is required.", i)
		}
		if devices[dev] {
			return errValidation("FIELD_VALIDATION_FAILED", "The device %s is mapped twice.", dev)
		}
		devices[dev] = true
		if b.VirtualName != nil {
			return unsupported("instance store volumes (BlockDeviceMappings[].VirtualName)")
		}
		if b.Ebs != nil && b.NoDevice != nil {
			return errValidation("FIELD_VALIDATION_FAILED", "BlockDeviceMappings[%d] gives both Ebs and NoDevice.", i)
		}
		if b.Ebs != nil {
			if dev != rootDevice && !deviceRe.MatchString(dev) {
				return errValidation("FIELD_VALIDATION_FAILED", "The device name %s is not valid for a Windows instance (xvd[b-z] or /dev/sd[b-z]).", dev)
			}
			if _, err := checkVolumeSpec(b.Ebs.VolumeType, b.Ebs.VolumeSize, b.Ebs.Iops, b.Ebs.Throughput, dev == rootDevice); err != nil {
				return err
			}
			if b.Ebs.KmsKeyID != nil && !ptr.Deref(b.Ebs.Encrypted) {
				return errValidation("FIELD_VALIDATION_FAILED", "BlockDeviceMappings[%d].Ebs.KmsKeyId requires Encrypted.", i)
			}
		}
	}
	for _, ts := range mi.TagSpecifications {
		switch ptr.Deref(ts.ResourceType) {
		case "instance", "volume", "network-interface":
		case "":
			return errValidation("FIELD_VALIDATION_FAILED", "TagSpecifications[].ResourceType is required.")
		default:
			return errValidation("FIELD_VALIDATION_FAILED", "Tags cannot be applied to a %s: the launch creates none.", ptr.Deref(ts.ResourceType))
		}
		if _, err := checkTags(ts.Tags); err != nil {
			return err
		}
	}
	return nil
}

// deviceRe are the device names a Windows instance attaches EBS volumes at.
var deviceRe = regexp.MustCompile(`^(xvd[b-z]|/dev/sd[b-z])$`)

func (m *Module) createInstance(ctx context.Context, c *gateway.Call, in *CreateWorkspaceInstanceInput) (*CreateWorkspaceInstanceOutput, error) {
	tags, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	if err := checkSpec(in.ManagedInstance); err != nil {
		return nil, err
	}
	billing := ""
	if in.BillingConfiguration != nil {
		billing = ptr.Deref(in.BillingConfiguration.BillingMode)
	}
	tok := ptr.Deref(in.ClientToken)
	h := *in
	h.ClientToken = nil
	hash := requestHash(&h)
	var out CreateWorkspaceInstanceOutput
	err = m.store.Update(ctx, func(tx store.Tx) error {
		id, err := token(ctx, tx, c.Account, c.Region, "instance", tok, hash, "WorkspaceInstance")
		if err != nil || id != "" {
			out.WorkspaceInstanceID = id
			return err
		}
		n := 0
		if err := store.ScanJSON(ctx, tx, TableInstances, c.Account+"/"+c.Region+"/", "", 0, func(_ string, r *instanceRec) error {
			if r.State != StateDeallocated {
				n++
			}
			return nil
		}); err != nil {
			return err
		}
		if limit := m.cfg.Quotas.WorkspaceInstances; limit > 0 && n >= limit {
			return errQuota("WorkspaceInstance", "L-WSI-INSTANCES", limit)
		}
		r := &instanceRec{ID: "wsinst-" + ids.FromAlphabet("0123456789abcdefghijklmnopqrstuvwxyz", 17), Account: c.Account, Region: c.Region,
			Created: c.Now.UTC(), BillingMode: billing, Spec: in.ManagedInstance, Tags: tags}
		r.setState(StateAllocating, c.Now)
		if err := store.CreateJSON(ctx, tx, TableInstances, key(r.Account, r.Region, r.ID), r); err != nil {
			return err
		}
		if err := putToken(ctx, tx, c.Account, c.Region, "instance", tok, hash, r.ID); err != nil {
			return err
		}
		out.WorkspaceInstanceID = r.ID
		due := c.Now.Add(m.engine.Timing().Duration(lifecycle.Provision))
		return m.engine.Schedule(ctx, tx, "wsi-allocate/"+key(r.Account, r.Region, r.ID), jobAllocate, due, jobRef{Key: key(r.Account, r.Region, r.ID), Seq: r.Seq})
	})
	if err != nil {
		return nil, wrap(err, "create workspace instance")
	}
	c.AddResource(gateway.Check{Resource: InstanceARN(c.Region, c.Account, out.WorkspaceInstanceID)})
	return &out, nil
}

// jobRef names an instance and the state change a job belongs to.
type jobRef struct {
	Key string `json:"key"`
	Seq int64  `json:"seq"`
}

func (m *Module) loadJob(ctx context.Context, tx store.Tx, j store.Job) (*instanceRec, error) {
	var ref jobRef
	if err := json.Unmarshal(j.Payload, &ref); err != nil {
		return nil, fmt.Errorf("wsinstances: decode job %s: %w", j.ID, err)
	}
	r, err := store.GetJSON[instanceRec](ctx, tx, TableInstances, ref.Key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Seq != ref.Seq {
		return nil, nil // the instance moved on meanwhile
	}
	return r, nil
}

// runAllocate is the launch: what EC2's RunInstances would check, then the
// instance with its volumes, ALLOCATED; or ERROR_ALLOCATING with EC2's error.
func (m *Module) runAllocate(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	r, err := m.loadJob(ctx, tx, j)
	if err != nil || r == nil || r.State != StateAllocating {
		return err
	}
	ec2err, err := m.launch(ctx, tx, r, now)
	if err != nil {
		return err
	}
	if ec2err != nil {
		r.EC2Errors = []EC2InstanceError{*ec2err}
		r.Errors = []WorkspaceInstanceError{{ErrorCode: "EC2LaunchFailed", ErrorMessage: "The EC2 instance could not be launched: " + ec2err.EC2ErrorMessage}}
		r.setState(StateErrorAllocating, now)
	} else {
		r.setState(StateAllocated, now)
	}
	return putInstance(ctx, tx, r)
}

func ec2Error(code, format string, args ...any) *EC2InstanceError {
	return &EC2InstanceError{EC2ErrorCode: code, EC2ExceptionType: "ClientError", EC2ErrorMessage: fmt.Sprintf(format, args...)}
}

// vcpus are the default vCPUs of the catalog's instance types.
var vcpus = map[string]int64{"large": 2, "medium": 2, "xlarge": 4, "2xlarge": 8}

// launchOptions checks the launch options EC2's RunInstances acts on
// against what the account has: deskplane's EC2 has no key pairs and its
// IAM no instance profiles (so any named is not found, as for an account
// without them), no capacity reservations, and no AMD SEV-SNP types; a
// private address must be a usable one of the subnet (AWS reserves the
// first four and the last); CPU options must fit the type's vCPUs; credit
// specifications apply to burstable (T) types only; hibernation needs an
// encrypted root volume. It returns the EC2 error, or nil.
func launchOptions(mi *ManagedInstance, typ, subnetCIDR string, rootEncrypted bool) *EC2InstanceError {
	if k := mi.KeyName; k != nil {
		return ec2Error("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", *k)
	}
	if p := mi.IamInstanceProfile; p != nil {
		if p.Arn != nil {
			return ec2Error("InvalidParameterValue", "Value (%s) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN", *p.Arn)
		}
		return ec2Error("InvalidParameterValue", "Value (%s) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name", ptr.Deref(p.Name))
	}
	if c := mi.CapacityReservationSpecification; c != nil && ptr.Deref(c.CapacityReservationPreference) == "capacity-reservations-only" {
		return ec2Error("InsufficientInstanceCapacity", "There is no open Capacity Reservation for %s in this account to launch into (capacity-reservations-only).", typ)
	}
	family, size, _ := strings.Cut(typ, ".")
	if c := mi.CreditSpecification; c != nil && c.CPUCredits != nil && !strings.HasPrefix(family, "t") {
		return ec2Error("InvalidParameterCombination", "The parameter creditSpecification is only valid for burstable performance (T) instance types, not %s.", typ)
	}
	if c := mi.CPUOptions; c != nil {
		if ptr.Deref(c.AmdSevSnp) == "enabled" {
			return ec2Error("UnsupportedOperation", "AMD SEV-SNP is not supported for the instance type %s.", typ)
		}
		n := vcpus[size]
		cores, threads := ptr.Deref(c.CoreCount), ptr.Deref(c.ThreadsPerCore)
		if cores == 0 {
			cores = n / 2
		}
		if threads == 0 {
			threads = 2
		}
		if threads > 2 || cores > n/2 || (c.CoreCount != nil && cores == 0) {
			return ec2Error("InvalidParameterValue", "The CPU options (%d cores, %d threads per core) are not valid for %s (%d vCPUs: at most %d cores of 1 or 2 threads).", cores, threads, typ, n, n/2)
		}
	}
	if h := mi.HibernationOptions; h != nil && ptr.Deref(h.Configured) && !rootEncrypted {
		return ec2Error("UnsupportedHibernationConfiguration", "For hibernation, the root device volume must be encrypted.")
	}
	addrs := []string{ptr.Deref(mi.PrivateIPAddress)}
	for _, ni := range mi.NetworkInterfaces {
		addrs = append(addrs, ptr.Deref(ni.PrivateIPAddress))
		for _, a := range ni.PrivateIPAddresses {
			addrs = append(addrs, ptr.Deref(a.PrivateIPAddress))
		}
	}
	want := ""
	for _, a := range addrs {
		if a == "" {
			continue
		}
		if want != "" && a != want {
			return ec2Error("InvalidParameterCombination", "The primary private address is given twice, as %s and %s.", want, a)
		}
		want = a
		pfx, err1 := netip.ParsePrefix(subnetCIDR)
		ip, err2 := netip.ParseAddr(a)
		if err1 != nil || err2 != nil || !pfx.Contains(ip) {
			return ec2Error("InvalidParameterValue", "Address %s does not fall within the subnet's address range", a)
		}
		b, f := ip.As4(), pfx.Masked().Addr().As4()
		off := binary.BigEndian.Uint32(b[:]) - binary.BigEndian.Uint32(f[:])
		if off < 4 || off == 1<<(32-pfx.Bits())-1 {
			return ec2Error("InvalidParameterValue", "Address %s is in subnet's reserved address range", a)
		}
	}
	return nil
}

// launch checks the launch specification against EC2 and, when it holds,
// creates the instance's volumes and gives it its EC2 instance id.
func (m *Module) launch(ctx context.Context, tx store.Tx, r *instanceRec, now time.Time) (*EC2InstanceError, error) {
	mi := r.Spec
	img, err := m.ec2.Image(ctx, tx, r.Account, r.Region, ptr.Deref(mi.ImageID))
	if errors.Is(err, store.ErrNotFound) {
		return ec2Error("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", ptr.Deref(mi.ImageID)), nil
	}
	if err != nil {
		return nil, err
	}
	if img.State != "available" {
		return ec2Error("InvalidAMIID.Unavailable", "The image %s is %s, not available.", img.ImageID, img.State), nil
	}
	if !strings.HasPrefix(img.PlatformDetails, "Windows") {
		return ec2Error("InvalidParameterValue", "The image %s runs %s: WorkSpace Instances run Windows images.", img.ImageID, img.PlatformDetails), nil
	}
	it, _ := catalogType(ptr.Deref(mi.InstanceType))
	tenancy := "SHARED"
	if mi.Placement != nil && ptr.Deref(mi.Placement.Tenancy) != "" && ptr.Deref(mi.Placement.Tenancy) != "default" {
		tenancy = "DEDICATED"
	}
	billing := r.BillingMode
	if billing == "" {
		billing = "HOURLY"
	}
	if !it.supports(billing, img.PlatformDetails, tenancy) {
		return ec2Error("Unsupported", "The instance type %s does not support %s billing of %s on %s tenancy.", it.InstanceType, billing, img.PlatformDetails, tenancy), nil
	}
	subnetID := ptr.Deref(mi.SubnetID)
	groups := mi.SecurityGroupIDs
	if len(mi.NetworkInterfaces) > 0 {
		if s := ptr.Deref(mi.NetworkInterfaces[0].SubnetID); s != "" {
			subnetID = s
		}
		if len(mi.NetworkInterfaces[0].Groups) > 0 {
			groups = mi.NetworkInterfaces[0].Groups
		}
	}
	az := ""
	if mi.Placement != nil {
		az = ptr.Deref(mi.Placement.AvailabilityZone)
	}
	var subnetVPC, subnetCIDR string
	if subnetID != "" {
		s, err := m.ec2.Subnet(ctx, tx, r.Account, r.Region, subnetID)
		if errors.Is(err, store.ErrNotFound) {
			return ec2Error("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", subnetID), nil
		}
		if err != nil {
			return nil, err
		}
		if az != "" && az != s.AZ {
			return ec2Error("InvalidParameterValue", "The subnet %s is in %s, not in the requested zone %s.", subnetID, s.AZ, az), nil
		}
		az, subnetVPC, subnetCIDR = s.AZ, s.VPCID, s.CIDR
	} else {
		subs, err := m.ec2.Subnets(ctx, tx, r.Account, r.Region)
		if err != nil {
			return nil, err
		}
		sort.Slice(subs, func(i, j int) bool { return subs[i].SubnetID < subs[j].SubnetID })
		for _, s := range subs {
			if az == "" || s.AZ == az {
				subnetID, az, subnetVPC, subnetCIDR = s.SubnetID, s.AZ, s.VPCID, s.CIDR
				break
			}
		}
		if subnetID == "" {
			return ec2Error("MissingInput", "No subnet found for the launch: give SubnetId."), nil
		}
	}
	for _, g := range groups {
		vpc, err := m.ec2.SecurityGroupVPC(ctx, tx, r.Account, r.Region, g)
		if errors.Is(err, store.ErrNotFound) {
			return ec2Error("InvalidGroup.NotFound", "The security group '%s' does not exist", g), nil
		}
		if err != nil {
			return nil, err
		}
		if vpc != subnetVPC {
			return ec2Error("InvalidParameter", "Security group %s and subnet %s belong to different networks.", g, subnetID), nil
		}
	}
	// The root volume from the image, then the other mapped volumes.
	type want struct {
		dev string
		ebs EbsBlockDevice
	}
	root := want{dev: rootDevice, ebs: EbsBlockDevice{VolumeType: strPtr(or(img.RootVolumeType, "gp3")), VolumeSize: i64Ptr(int64(max(img.RootVolumeSize, 30))), Encrypted: boolPtr(img.Encrypted)}}
	var vols []want
	for _, b := range mi.BlockDeviceMappings {
		dev := ptr.Deref(b.DeviceName)
		if dev == rootDevice {
			if b.NoDevice != nil {
				return ec2Error("InvalidBlockDeviceMapping", "The root device %s cannot be suppressed.", dev), nil
			}
			if b.Ebs != nil {
				if s := ptr.Deref(b.Ebs.VolumeSize); s != 0 && s < ptr.Deref(root.ebs.VolumeSize) {
					return ec2Error("InvalidBlockDeviceMapping", "Volume of size %dGB is smaller than snapshot, expect size >= %dGB", s, ptr.Deref(root.ebs.VolumeSize)), nil
				} else if s != 0 {
					root.ebs.VolumeSize = b.Ebs.VolumeSize
				}
				if b.Ebs.VolumeType != nil {
					root.ebs.VolumeType = b.Ebs.VolumeType
				}
				root.ebs.Iops, root.ebs.Throughput = b.Ebs.Iops, b.Ebs.Throughput
				if ptr.Deref(b.Ebs.Encrypted) {
					root.ebs.Encrypted, root.ebs.KmsKeyID = b.Ebs.Encrypted, b.Ebs.KmsKeyID
				}
			}
			continue
		}
		if b.Ebs == nil {
			continue // NoDevice on a device the image does not map
		}
		if ptr.Deref(b.Ebs.VolumeSize) == 0 {
			return ec2Error("InvalidBlockDeviceMapping", "The volume at %s needs a VolumeSize: there is no snapshot to take it from.", dev), nil
		}
		vols = append(vols, want{dev: dev, ebs: *b.Ebs})
	}
	vols = append([]want{root}, vols...)
	if e := launchOptions(mi, it.InstanceType, subnetCIDR, ptr.Deref(root.ebs.Encrypted)); e != nil {
		return e, nil
	}
	volTags := map[string]string{}
	for _, ts := range mi.TagSpecifications {
		if ptr.Deref(ts.ResourceType) == "volume" {
			t, _ := checkTags(ts.Tags)
			for k, v := range t {
				volTags[k] = v
			}
		}
	}
	if limit := m.cfg.Quotas.InstanceVolumes; limit > 0 {
		n := 0
		if err := tx.Scan(ctx, TableVolumes, r.Account+"/"+r.Region+"/", "", 0, func(string, []byte) error { n++; return nil }); err != nil {
			return nil, err
		}
		if n+len(vols) > limit {
			return ec2Error("VolumeLimitExceeded", "The launch needs %d volumes and the quota of %d volumes leaves room for %d.", len(vols), limit, max(limit-n, 0)), nil
		}
	}
	for _, w := range vols {
		spec, err := checkVolumeSpec(w.ebs.VolumeType, w.ebs.VolumeSize, w.ebs.Iops, w.ebs.Throughput, w.dev == rootDevice)
		if err != nil {
			return ec2Error("InvalidBlockDeviceMapping", "%s", err.Error()), nil
		}
		v := &volumeRec{ID: "vol-" + ids.Hex(17), Account: r.Account, Region: r.Region, AZ: az, VolumeType: spec.typ, SizeGB: spec.size,
			Iops: spec.iops, Throughput: spec.throughput, Encrypted: ptr.Deref(w.ebs.Encrypted), State: VolumeInUse,
			Instance: r.ID, Device: w.dev, Managed: true, Created: now.UTC()}
		if len(volTags) > 0 {
			v.Tags = volTags
		}
		if ref := ptr.Deref(w.ebs.KmsKeyID); ref != "" {
			if m.keys == nil {
				return ec2Error("InvalidKMSKey.InvalidState", "KMS is not available"), nil
			}
			arn, err := m.keys.ResolveKey(ctx, tx, r.Account, r.Region, ref)
			if err != nil {
				if awsproto.As(err) == nil {
					return nil, err
				}
				return ec2Error("InvalidKMSKey.InvalidState", "The KMS key %s cannot be used: %v", ref, err), nil
			}
			v.KmsKeyARN = arn
		}
		if err := store.CreateJSON(ctx, tx, TableVolumes, key(v.Account, v.Region, v.ID), v); err != nil {
			return nil, err
		}
		r.Volumes = append(r.Volumes, attachment{VolumeID: v.ID, Device: w.dev, Managed: true})
	}
	r.EC2InstanceID = "i-" + ids.Hex(17)
	r.SubnetID, r.AZ, r.Platform = subnetID, az, img.PlatformDetails
	return nil, nil
}

func (m *Module) getInstance(ctx context.Context, c *gateway.Call, in *GetWorkspaceInstanceInput) (*GetWorkspaceInstanceOutput, error) {
	var out *GetWorkspaceInstanceOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		r, err := getInstance(ctx, tx, c.Account, c.Region, ptr.Deref(in.WorkspaceInstanceID))
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound(ptr.Deref(in.WorkspaceInstanceID), "WorkspaceInstance")
		}
		if err != nil {
			return err
		}
		out = &GetWorkspaceInstanceOutput{WorkspaceInstanceErrors: r.Errors, EC2InstanceErrors: r.EC2Errors,
			ProvisionState: r.State, WorkspaceInstanceID: r.ID}
		if r.EC2InstanceID != "" {
			out.EC2ManagedInstance = &EC2ManagedInstance{InstanceID: r.EC2InstanceID}
		}
		if r.BillingMode != "" {
			out.BillingConfiguration = &BillingOut{BillingMode: r.BillingMode}
		}
		return nil
	})
	return out, wrap(err, "get workspace instance")
}

func (m *Module) listInstances(ctx context.Context, c *gateway.Call, in *ListWorkspaceInstancesInput) (*ListWorkspaceInstancesOutput, error) {
	limit := 25
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	after := ""
	if in.NextToken != nil {
		if !idRe.MatchString(*in.NextToken) {
			return nil, errValidation("FIELD_VALIDATION_FAILED", "The NextToken is not valid.")
		}
		after = key(c.Account, c.Region, *in.NextToken)
	}
	out := &ListWorkspaceInstancesOutput{WorkspaceInstances: []WorkspaceInstanceSummary{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(ctx, tx, TableInstances, c.Account+"/"+c.Region+"/", after, 0, func(_ string, r *instanceRec) error {
			if len(in.ProvisionStates) > 0 && !slices.Contains(in.ProvisionStates, r.State) {
				return nil
			}
			if len(out.WorkspaceInstances) == limit {
				out.NextToken = out.WorkspaceInstances[limit-1].WorkspaceInstanceID
				return errStop
			}
			s := WorkspaceInstanceSummary{ProvisionState: r.State, WorkspaceInstanceID: r.ID}
			if r.EC2InstanceID != "" {
				s.EC2ManagedInstance = &EC2ManagedInstance{InstanceID: r.EC2InstanceID}
			}
			out.WorkspaceInstances = append(out.WorkspaceInstances, s)
			return nil
		})
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return out, wrap(err, "list workspace instances")
}

var (
	errStop = errors.New("stop")
	idRe    = regexp.MustCompile(`^wsinst-[0-9a-zA-Z]{8,63}$`)
)

func (m *Module) deleteInstance(ctx context.Context, c *gateway.Call, in *DeleteWorkspaceInstanceInput) (*Empty, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		r, err := live(ctx, tx, c.Account, c.Region, ptr.Deref(in.WorkspaceInstanceID))
		if err != nil {
			return err
		}
		switch r.State {
		case StateAllocating, StateDeallocating:
			return errConflict(r.ID, "WorkspaceInstance", "The WorkSpace Instance %s is %s; it can be deleted once that ends.", r.ID, r.State)
		}
		r.setState(StateDeallocating, c.Now)
		if err := putInstance(ctx, tx, r); err != nil {
			return err
		}
		due := c.Now.Add(m.engine.Timing().Duration(lifecycle.Terminate))
		return m.engine.Schedule(ctx, tx, "wsi-deallocate/"+key(r.Account, r.Region, r.ID), jobDeallocate, due, jobRef{Key: key(r.Account, r.Region, r.ID), Seq: r.Seq})
	})
	if err != nil {
		return nil, wrap(err, "delete workspace instance")
	}
	return &Empty{}, nil
}

// runDeallocate terminates the EC2 instance: the launch's volumes are
// deleted, the volumes attached with AssociateVolume become available, and
// the instance stays DEALLOCATED for the terminated-ttl step.
func (m *Module) runDeallocate(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	r, err := m.loadJob(ctx, tx, j)
	if err != nil || r == nil || r.State != StateDeallocating {
		return err
	}
	for _, a := range r.Volumes {
		k := key(r.Account, r.Region, a.VolumeID)
		if a.Managed {
			if err := tx.Delete(ctx, TableVolumes, k); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			continue
		}
		v, err := store.GetJSON[volumeRec](ctx, tx, TableVolumes, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		v.State, v.Instance, v.Device = VolumeAvailable, "", ""
		if err := store.PutJSON(ctx, tx, TableVolumes, k, v); err != nil {
			return err
		}
	}
	r.Volumes = nil
	r.setState(StateDeallocated, now)
	if err := putInstance(ctx, tx, r); err != nil {
		return err
	}
	due := now.Add(m.engine.Timing().Duration(lifecycle.TerminatedTTL))
	return m.engine.Schedule(ctx, tx, "wsi-forget/"+key(r.Account, r.Region, r.ID), jobForget, due, jobRef{Key: key(r.Account, r.Region, r.ID), Seq: r.Seq})
}

// runForget removes a DEALLOCATED instance once it has lingered.
func (m *Module) runForget(ctx context.Context, tx store.Tx, j store.Job, now time.Time) error {
	r, err := m.loadJob(ctx, tx, j)
	if err != nil || r == nil || r.State != StateDeallocated {
		return err
	}
	return tx.Delete(ctx, TableInstances, key(r.Account, r.Region, r.ID))
}

func (m *Module) tagResource(ctx context.Context, c *gateway.Call, in *TagResourceInput) (*Empty, error) {
	add, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	err = m.store.Update(ctx, func(tx store.Tx) error {
		r, err := live(ctx, tx, c.Account, c.Region, ptr.Deref(in.WorkspaceInstanceID))
		if err != nil {
			return err
		}
		next := map[string]string{}
		for k, v := range r.Tags {
			next[k] = v
		}
		for k, v := range add {
			next[k] = v
		}
		if len(next) > 50 {
			return errValidation("FIELD_VALIDATION_FAILED", "A WorkSpace Instance has at most 50 tags; this would make %d.", len(next))
		}
		r.Tags = next
		return putInstance(ctx, tx, r)
	})
	if err != nil {
		return nil, wrap(err, "tag workspace instance")
	}
	return &Empty{}, nil
}

func (m *Module) untagResource(ctx context.Context, c *gateway.Call, in *UntagResourceInput) (*Empty, error) {
	for _, k := range in.TagKeys {
		if k == "" || len(k) > 128 {
			return nil, errValidation("FIELD_VALIDATION_FAILED", "Tag keys are 1 to 128 characters.")
		}
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		r, err := live(ctx, tx, c.Account, c.Region, ptr.Deref(in.WorkspaceInstanceID))
		if err != nil {
			return err
		}
		for _, k := range in.TagKeys {
			delete(r.Tags, k)
		}
		return putInstance(ctx, tx, r)
	})
	if err != nil {
		return nil, wrap(err, "untag workspace instance")
	}
	return &Empty{}, nil
}

func (m *Module) listTags(ctx context.Context, c *gateway.Call, in *ListTagsForResourceInput) (*ListTagsForResourceOutput, error) {
	out := &ListTagsForResourceOutput{Tags: []TagOut{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		r, err := live(ctx, tx, c.Account, c.Region, ptr.Deref(in.WorkspaceInstanceID))
		if err != nil {
			return err
		}
		for k, v := range r.Tags {
			out.Tags = append(out.Tags, TagOut{Key: k, Value: v})
		}
		sort.Slice(out.Tags, func(i, j int) bool { return out.Tags[i].Key < out.Tags[j].Key })
		return nil
	})
	return out, wrap(err, "list tags")
}

func strPtr(s string) *string { return &s }
func i64Ptr(n int64) *int64   { return &n }
func boolPtr(b bool) *bool    { return &b }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
