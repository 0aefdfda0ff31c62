package wsinstances

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// Volume states (EC2's).
const (
	VolumeAvailable = "available"
	VolumeInUse     = "in-use"
)

// volumeRec is a stored volume.
type volumeRec struct {
	ID         string            `json:"id"`
	Account    string            `json:"account"`
	Region     string            `json:"region"`
	AZ         string            `json:"az"`
	VolumeType string            `json:"volume_type"`
	SizeGB     int64             `json:"size_gb"`
	Iops       int64             `json:"iops,omitempty"`
	Throughput int64             `json:"throughput,omitempty"`
	Encrypted  bool              `json:"encrypted,omitempty"`
	KmsKeyARN  string            `json:"kms_key_arn,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	State      string            `json:"state"`
	Instance   string            `json:"instance,omitempty"`
	Device     string            `json:"device,omitempty"`
	Managed    bool              `json:"managed,omitempty"`
	Created    time.Time         `json:"created"`
}

func getVolume(ctx context.Context, tx store.Tx, account, region, id string) (*volumeRec, error) {
	return store.GetJSON[volumeRec](ctx, tx, TableVolumes, key(account, region, id))
}

func putVolume(ctx context.Context, tx store.Tx, v *volumeRec) error {
	return store.PutJSON(ctx, tx, TableVolumes, key(v.Account, v.Region, v.ID), v)
}

// volumeSpec is a checked volume configuration.
type volumeSpec struct {
	typ                    string
	size, iops, throughput int64
}

// volumeLimits are EBS's size bounds (GiB) per volume type.
var volumeLimits = map[string][2]int64{
	"gp2": {1, 16384}, "gp3": {1, 16384}, "io1": {4, 16384}, "io2": {4, 65536},
	"st1": {125, 16384}, "sc1": {125, 16384}, "standard": {1, 1024},
}

// checkVolumeSpec applies EBS's rules to a volume's type, size, IOPS and
// throughput, filling in EBS's defaults (gp2; 3000 IOPS and 125 MiB/s for
// gp3). A size of nil or 0 is refused: without snapshots, every volume
// needs one. st1 and sc1 cannot be boot volumes.
func checkVolumeSpec(typ *string, size, iops, throughput *int64, root bool) (volumeSpec, error) {
	s := volumeSpec{typ: ptr.Deref(typ), size: ptr.Deref(size), iops: ptr.Deref(iops), throughput: ptr.Deref(throughput)}
	if s.typ == "" {
		s.typ = "gp2"
	}
	lim := volumeLimits[s.typ]
	if s.size == 0 {
		return s, errValidation("FIELD_VALIDATION_FAILED", "The volume size is required (1 to %d GiB for %s).", lim[1], s.typ)
	}
	if s.size < lim[0] || s.size > lim[1] {
		return s, errValidation("FIELD_VALIDATION_FAILED", "A %s volume is %d to %d GiB, not %d.", s.typ, lim[0], lim[1], s.size)
	}
	if root && (s.typ == "st1" || s.typ == "sc1") {
		return s, errValidation("FIELD_VALIDATION_FAILED", "A %s volume cannot be a boot volume.", s.typ)
	}
	switch s.typ {
	case "io1", "io2":
		if s.iops == 0 {
			return s, errValidation("FIELD_VALIDATION_FAILED", "An %s volume needs Iops.", s.typ)
		}
		maxIops := int64(64000)
		if s.typ == "io2" {
			maxIops = 256000
		}
		if s.iops < 100 || s.iops > maxIops || s.iops > s.size*500 {
			return s, errValidation("FIELD_VALIDATION_FAILED", "An %s volume of %d GiB takes 100 to %d IOPS (at most 500 per GiB), not %d.", s.typ, s.size, maxIops, s.iops)
		}
	case "gp3":
		if s.iops == 0 {
			s.iops = 3000
		}
		if s.throughput == 0 {
			s.throughput = 125
		}
		if s.iops < 3000 || s.iops > 16000 || s.iops > s.size*500 && s.iops > 3000 {
			return s, errValidation("FIELD_VALIDATION_FAILED", "A gp3 volume of %d GiB takes 3000 to 16000 IOPS (at most 500 per GiB), not %d.", s.size, s.iops)
		}
		if s.throughput < 125 || s.throughput > 1000 {
			return s, errValidation("FIELD_VALIDATION_FAILED", "A gp3 volume's throughput is 125 to 1000 MiB/s, not %d.", s.throughput)
		}
	default:
		if s.iops != 0 {
			return s, errValidation("FIELD_VALIDATION_FAILED", "Iops applies to io1, io2 and gp3 volumes, not %s.", s.typ)
		}
	}
	if s.typ != "gp3" && s.throughput != 0 {
		return s, errValidation("FIELD_VALIDATION_FAILED", "Throughput applies to gp3 volumes, not %s.", s.typ)
	}
	return s, nil
}

// zoneOf checks that az is a zone of region: the region's name and one letter.
func zoneOf(region, az string) bool {
	rest, ok := strings.CutPrefix(az, region)
	return ok && len(rest) == 1 && rest[0] >= 'a' && rest[0] <= 'f'
}

func (m *Module) createVolume(ctx context.Context, c *gateway.Call, in *CreateVolumeInput) (*CreateVolumeOutput, error) {
	az := ptr.Deref(in.AvailabilityZone)
	if !zoneOf(c.Region, az) {
		return nil, errValidation("FIELD_VALIDATION_FAILED", "The Availability Zone %q is not a zone of %s.", az, c.Region)
	}
	if in.SnapshotID != nil {
		return nil, errValidation("DEPENDENCY_FAILURE", "The snapshot %s does not exist: deskplane models no EBS snapshots.", *in.SnapshotID)
	}
	spec, err := checkVolumeSpec(in.VolumeType, in.SizeInGB, in.Iops, in.Throughput, false)
	if err != nil {
		return nil, err
	}
	if in.KmsKeyID != nil && !ptr.Deref(in.Encrypted) {
		return nil, errValidation("FIELD_VALIDATION_FAILED", "KmsKeyId requires Encrypted to be true.")
	}
	tags := map[string]string{}
	for _, ts := range in.TagSpecifications {
		if ptr.Deref(ts.ResourceType) != "volume" {
			return nil, errValidation("FIELD_VALIDATION_FAILED", "CreateVolume tags a volume: TagSpecifications[].ResourceType must be volume, not %q.", ptr.Deref(ts.ResourceType))
		}
		t, err := checkTags(ts.Tags)
		if err != nil {
			return nil, err
		}
		for k, v := range t {
			tags[k] = v
		}
	}
	if len(tags) > 50 {
		return nil, errValidation("FIELD_VALIDATION_FAILED", "A volume has at most 50 tags.")
	}
	tok := ptr.Deref(in.ClientToken)
	h := *in
	h.ClientToken = nil
	hash := requestHash(&h)
	var out CreateVolumeOutput
	err = m.store.Update(ctx, func(tx store.Tx) error {
		id, err := token(ctx, tx, c.Account, c.Region, "volume", tok, hash, "Volume")
		if err != nil || id != "" {
			out.VolumeID = id
			return err
		}
		n := 0
		if err := tx.Scan(ctx, TableVolumes, c.Account+"/"+c.Region+"/", "", 0, func(string, []byte) error { n++; return nil }); err != nil {
			return err
		}
		if limit := m.cfg.Quotas.InstanceVolumes; limit > 0 && n >= limit {
			return errQuota("Volume", "L-WSI-VOLUMES", limit)
		}
		v := &volumeRec{ID: "vol-" + ids.Hex(17), Account: c.Account, Region: c.Region, AZ: az, VolumeType: spec.typ, SizeGB: spec.size,
			Iops: spec.iops, Throughput: spec.throughput, Encrypted: ptr.Deref(in.Encrypted), State: VolumeAvailable, Created: c.Now.UTC()}
		if len(tags) > 0 {
			v.Tags = tags
		}
		if ref := ptr.Deref(in.KmsKeyID); ref != "" {
			if m.keys == nil {
				return errValidation("DEPENDENCY_FAILURE", "KMS is not available to encrypt the volume.")
			}
			arn, err := m.keys.ResolveKey(ctx, tx, c.Account, c.Region, ref)
			if err != nil {
				if ae := awsproto.As(err); ae != nil {
					return errValidation("DEPENDENCY_FAILURE", "The KMS key %s cannot be used: %s", ref, ae.Message)
				}
				return err
			}
			v.KmsKeyARN = arn
		}
		if err := store.CreateJSON(ctx, tx, TableVolumes, key(v.Account, v.Region, v.ID), v); err != nil {
			return err
		}
		out.VolumeID = v.ID
		return putToken(ctx, tx, c.Account, c.Region, "volume", tok, hash, v.ID)
	})
	if err != nil {
		return nil, wrap(err, "create volume")
	}
	c.AddResource(gateway.Check{Resource: VolumeARN(c.Region, c.Account, out.VolumeID)})
	return &out, nil
}

func (m *Module) deleteVolume(ctx context.Context, c *gateway.Call, in *DeleteVolumeInput) (*Empty, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		v, err := getVolume(ctx, tx, c.Account, c.Region, ptr.Deref(in.VolumeID))
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound(ptr.Deref(in.VolumeID), "Volume")
		}
		if err != nil {
			return err
		}
		if v.State != VolumeAvailable {
			return errConflict(v.ID, "Volume", "The volume %s is attached to %s at %s; detach it first.", v.ID, v.Instance, v.Device)
		}
		return tx.Delete(ctx, TableVolumes, key(v.Account, v.Region, v.ID))
	})
	if err != nil {
		return nil, wrap(err, "delete volume")
	}
	return &Empty{}, nil
}

func (m *Module) associateVolume(ctx context.Context, c *gateway.Call, in *AssociateVolumeInput) (*Empty, error) {
	dev := ptr.Deref(in.Device)
	if !deviceRe.MatchString(dev) {
		return nil, errValidation("FIELD_VALIDATION_FAILED", "The device name %q is not valid for a Windows instance (xvd[b-z] or /dev/sd[b-z]).", dev)
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		r, err := live(ctx, tx, c.Account, c.Region, ptr.Deref(in.WorkspaceInstanceID))
		if err != nil {
			return err
		}
		v, err := getVolume(ctx, tx, c.Account, c.Region, ptr.Deref(in.VolumeID))
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound(ptr.Deref(in.VolumeID), "Volume")
		}
		if err != nil {
			return err
		}
		if r.State != StateAllocated {
			return errConflict(r.ID, "WorkspaceInstance", "The WorkSpace Instance %s is %s; volumes attach to ALLOCATED instances.", r.ID, r.State)
		}
		if v.State != VolumeAvailable {
			return errConflict(v.ID, "Volume", "The volume %s is already attached to %s.", v.ID, v.Instance)
		}
		if v.AZ != r.AZ {
			return errValidation("FIELD_VALIDATION_FAILED", "The volume %s is in %s and the instance %s in %s: they must be in the same Availability Zone.", v.ID, v.AZ, r.ID, r.AZ)
		}
		for _, a := range r.Volumes {
			if sameDevice(a.Device, dev) {
				return errConflict(r.ID, "WorkspaceInstance", "The device %s of %s is in use by %s.", dev, r.ID, a.VolumeID)
			}
		}
		v.State, v.Instance, v.Device = VolumeInUse, r.ID, dev
		r.Volumes = append(r.Volumes, attachment{VolumeID: v.ID, Device: dev})
		if err := putVolume(ctx, tx, v); err != nil {
			return err
		}
		return putInstance(ctx, tx, r)
	})
	if err != nil {
		return nil, wrap(err, "associate volume")
	}
	c.AddResource(gateway.Check{Resource: VolumeARN(c.Region, c.Account, ptr.Deref(in.VolumeID))})
	return &Empty{}, nil
}

// sameDevice reports whether two device names name one device (xvdf and
// /dev/sdf are the same slot).
func sameDevice(a, b string) bool {
	norm := func(s string) string {
		if r, ok := strings.CutPrefix(s, "/dev/sd"); ok {
			return r
		}
		if r, ok := strings.CutPrefix(s, "xvd"); ok {
			return r
		}
		return s
	}
	return norm(a) == norm(b)
}

func (m *Module) disassociateVolume(ctx context.Context, c *gateway.Call, in *DisassociateVolumeInput) (*Empty, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		r, err := live(ctx, tx, c.Account, c.Region, ptr.Deref(in.WorkspaceInstanceID))
		if err != nil {
			return err
		}
		v, err := getVolume(ctx, tx, c.Account, c.Region, ptr.Deref(in.VolumeID))
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound(ptr.Deref(in.VolumeID), "Volume")
		}
		if err != nil {
			return err
		}
		i := -1
		for j, a := range r.Volumes {
			if a.VolumeID == v.ID {
				i = j
			}
		}
		if i < 0 {
			return errConflict(v.ID, "Volume", "The volume %s is not attached to %s.", v.ID, r.ID)
		}
		if d := ptr.Deref(in.Device); d != "" && !sameDevice(d, r.Volumes[i].Device) {
			return errValidation("FIELD_VALIDATION_FAILED", "The volume %s is attached at %s, not %s.", v.ID, r.Volumes[i].Device, d)
		}
		if r.Volumes[i].Device == rootDevice {
			return errConflict(v.ID, "Volume", "The volume %s is the root volume of %s and cannot be detached.", v.ID, r.ID)
		}
		if r.State != StateAllocated && r.State != StateErrorAllocating {
			return errConflict(r.ID, "WorkspaceInstance", "The WorkSpace Instance %s is %s.", r.ID, r.State)
		}
		r.Volumes = append(r.Volumes[:i], r.Volumes[i+1:]...)
		v.State, v.Instance, v.Device, v.Managed = VolumeAvailable, "", "", false
		if err := putVolume(ctx, tx, v); err != nil {
			return err
		}
		return putInstance(ctx, tx, r)
	})
	if err != nil {
		return nil, wrap(err, "disassociate volume")
	}
	c.AddResource(gateway.Check{Resource: VolumeARN(c.Region, c.Account, ptr.Deref(in.VolumeID))})
	return &Empty{}, nil
}
