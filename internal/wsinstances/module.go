// Package wsinstances is the Amazon WorkSpaces Instances API
// (workspaces-instances, awsJson1.0): WorkSpace Instances launched from an
// EC2 launch specification with the account's Windows images, their
// provisioning states driven by the lifecycle engine, the EBS volumes
// created for them and attached and detached, the instance types and
// regions the service offers, and tags.
package wsinstances

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// EC2 is what WorkSpaces Instances needs from the EC2 service: the images
// and subnets of the account, and its security groups. Every method runs in
// the caller's transaction; lookups of missing things return
// store.ErrNotFound. The ec2 module implements it.
type EC2 interface {
	// Image returns an AMI visible to account in region.
	Image(ctx context.Context, tx store.Tx, account, region, imageID string) (*workspaces.SourceImage, error)
	// Subnet returns a subnet of account in region.
	Subnet(ctx context.Context, tx store.Tx, account, region, subnetID string) (*workspaces.Subnet, error)
	// Subnets lists the account's subnets in region.
	Subnets(ctx context.Context, tx store.Tx, account, region string) ([]*workspaces.Subnet, error)
	// SecurityGroupVPC returns the VPC of a security group.
	SecurityGroupVPC(ctx context.Context, tx store.Tx, account, region, groupID string) (string, error)
}

// Keys resolves the KMS key of an encrypted volume (the kms module).
type Keys interface {
	// ResolveKey resolves a key reference of account in region to its key
	// ARN, failing with the KMS error when the key cannot be used.
	ResolveKey(ctx context.Context, tx store.Tx, account, region, keyRef string) (string, error)
}

// Store tables, keyed ACCOUNT/REGION/ID (tokens ACCOUNT/REGION/KIND/TOKEN).
const (
	TableInstances = "wsi_instances"
	TableVolumes   = "wsi_volumes"
	TableTokens    = "wsi_tokens"
)

// Lifecycle job kinds.
const (
	jobAllocate   = "wsinstances.allocate"
	jobDeallocate = "wsinstances.deallocate"
	jobForget     = "wsinstances.forget"
)

// Options are the module's dependencies.
type Options struct {
	Config *config.Config
	Store  store.Store
	Engine *lifecycle.Engine
	EC2    EC2
	Keys   Keys // nil: encrypted volumes with a KmsKeyId are refused
}

// Module is the WorkSpaces Instances service.
type Module struct {
	cfg    *config.Config
	store  store.Store
	engine *lifecycle.Engine
	ec2    EC2
	keys   Keys
	svc    *gateway.Service
}

// New builds the module and registers its job handlers.
func New(o Options) *Module {
	m := &Module{cfg: o.Config, store: o.Store, engine: o.Engine, ec2: o.EC2, keys: o.Keys}
	m.svc = &gateway.Service{
		Name: "workspaces-instances", ActionPrefix: "workspaces-instances", EventSource: "workspaces-instances.amazonaws.com",
		Protocol: gateway.JSON, JSONVersion: "1.0", TargetPrefix: "EUCMIFrontendAPIService", ValidationCode: "ValidationException",
		ValidationFields: map[string]string{"Reason": "FIELD_VALIDATION_FAILED"},
	}
	m.register()
	if m.engine != nil {
		m.engine.Register(jobAllocate, m.runAllocate)
		m.engine.Register(jobDeallocate, m.runDeallocate)
		m.engine.Register(jobForget, m.runForget)
	}
	return m
}

// SetKeys wires KMS once it exists (the KMS module is built after this one).
func (m *Module) SetKeys(k Keys) { m.keys = k }

// Services implements server.Module.
func (m *Module) Services() []*gateway.Service { return []*gateway.Service{m.svc} }

// Seed implements server.Module: the service starts with no instances.
func (m *Module) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	return nil
}

// InstanceARN is a WorkSpace Instance's ARN (the service authorization
// reference's WorkspaceInstanceId resource type).
func InstanceARN(region, account, id string) string {
	return "arn:aws:workspaces-instances:" + region + ":" + account + ":workspaceinstance/" + id
}

// VolumeARN is a volume's ARN: the service authorization reference names
// the EC2 volume ARN as the VolumeId resource type.
func VolumeARN(region, account, id string) string {
	return "arn:aws:ec2:" + region + ":" + account + ":volume/" + id
}

func key(account, region, id string) string { return account + "/" + region + "/" + id }

// Errors of the model. Each carries the members its shape requires.

func errValidation(reason, format string, args ...any) *awsproto.Error {
	e := awsproto.Errorf("ValidationException", format, args...)
	e.Fields = map[string]string{"Reason": reason}
	return e
}

func errNotFound(id, typ string) *awsproto.Error {
	e := awsproto.Errorf("ResourceNotFoundException", "The %s %s does not exist.", typ, id)
	e.Fields = map[string]string{"ResourceId": id, "ResourceType": typ}
	return e
}

func errConflict(id, typ, format string, args ...any) *awsproto.Error {
	e := awsproto.Errorf("ConflictException", format, args...)
	e.Fields = map[string]string{"ResourceId": id, "ResourceType": typ}
	return e
}

func errQuota(typ, quotaCode string, limit int) *awsproto.Error {
	e := awsproto.Errorf("ServiceQuotaExceededException", "You have reached the quota of %d %s resources in this Region.", limit, typ)
	e.Fields = map[string]string{"ResourceId": "", "ResourceType": typ, "ServiceCode": "workspaces-instances", "QuotaCode": quotaCode}
	return e
}

// instanceCheck is the resolver of the operations on one instance: its ARN
// with its tags (none when it does not exist, for the handler to report).
func instanceCheck[In any](m *Module, id func(*In) *string) func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
	return func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		wid := ptr.Deref(id(in))
		tags, err := m.instanceTags(ctx, c.Account, c.Region, wid)
		if err != nil {
			return nil, err
		}
		return []gateway.Check{{Resource: InstanceARN(c.Region, c.Account, wid), ResourceTags: tags}}, nil
	}
}

// instanceTags reads an instance's tags from the committed store (nil when
// it does not exist or is DEALLOCATED).
func (m *Module) instanceTags(ctx context.Context, account, region, id string) (map[string]string, error) {
	var tags map[string]string
	err := m.store.View(ctx, func(tx store.Tx) error {
		r, err := getInstance(ctx, tx, account, region, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.State != StateDeallocated {
			tags = map[string]string{}
			for k, v := range r.Tags {
				tags[k] = v
			}
		}
		return nil
	})
	return tags, err
}

func (m *Module) resolveCreateInstance(ctx context.Context, c *gateway.Call, in *CreateWorkspaceInstanceInput) ([]gateway.Check, error) {
	chk := gateway.Check{Resource: "*"}
	if len(in.Tags) == 0 {
		return []gateway.Check{chk}, nil
	}
	rt := requestTags(in.Tags)
	chk.RequestTags = rt
	// Tags on create also need workspaces-instances:TagResource (the
	// service authorization reference lists it beside the create).
	return []gateway.Check{chk, {Action: "workspaces-instances:TagResource", Resource: "*", RequestTags: rt}}, nil
}

func (m *Module) resolveVolume(ctx context.Context, c *gateway.Call, in *DeleteVolumeInput) ([]gateway.Check, error) {
	id := ptr.Deref(in.VolumeID)
	var tags map[string]string
	err := m.store.View(ctx, func(tx store.Tx) error {
		v, err := getVolume(ctx, tx, c.Account, c.Region, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		tags = map[string]string{}
		for k, val := range v.Tags {
			tags[k] = val
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []gateway.Check{{Resource: VolumeARN(c.Region, c.Account, id), ResourceTags: tags}}, nil
}

func (m *Module) resolveTagResource(ctx context.Context, c *gateway.Call, in *TagResourceInput) ([]gateway.Check, error) {
	chks, err := instanceCheck[TagResourceInput](m, func(in *TagResourceInput) *string { return in.WorkspaceInstanceID })(ctx, c, in)
	if err != nil {
		return nil, err
	}
	chks[0].RequestTags = requestTags(in.Tags)
	return chks, nil
}

func (m *Module) resolveUntagResource(ctx context.Context, c *gateway.Call, in *UntagResourceInput) ([]gateway.Check, error) {
	chks, err := instanceCheck[UntagResourceInput](m, func(in *UntagResourceInput) *string { return in.WorkspaceInstanceID })(ctx, c, in)
	if err != nil {
		return nil, err
	}
	chks[0].TagKeys = append([]string{}, in.TagKeys...)
	return chks, nil
}

func requestTags(list []Tag) map[string]string {
	out := make(map[string]string, len(list))
	for _, t := range list {
		out[ptr.Deref(t.Key)] = ptr.Deref(t.Value)
	}
	return out
}

// checkTags validates request tags: keys present, no aws: prefix, no key twice.
func checkTags(list []Tag) (map[string]string, error) {
	out := map[string]string{}
	for _, t := range list {
		k := ptr.Deref(t.Key)
		if t.Key == nil || k == "" {
			return nil, errValidation("FIELD_VALIDATION_FAILED", "Every tag needs a Key of 1 to 128 characters.")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, errValidation("FIELD_VALIDATION_FAILED", "Tag keys beginning with 'aws:' are reserved for AWS use: %q.", k)
		}
		if _, dup := out[k]; dup {
			return nil, errValidation("FIELD_VALIDATION_FAILED", "The tag key %q appears more than once.", k)
		}
		out[k] = ptr.Deref(t.Value)
	}
	return out, nil
}

func wrap(err error, what string) error {
	if err == nil || awsproto.As(err) != nil {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
