package workspaces

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

const (
	jobDirRegister   = "workspaces.directory-register"
	jobDirDeregister = "workspaces.directory-deregister"
	directoryPattern = `^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)`
)

type registerDirIn struct {
	DirectoryId                   *string  `json:"DirectoryId,omitempty" v:"min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	SubnetIds                     []string `json:"SubnetIds,omitempty" v:"max=2"`
	EnableSelfService             *bool    `json:"EnableSelfService,omitempty"`
	Tenancy                       *string  `json:"Tenancy,omitempty" v:"enum=DEDICATED|SHARED"`
	Tags                          []Tag    `json:"Tags,omitempty"`
	WorkspaceDirectoryName        *string  `json:"WorkspaceDirectoryName,omitempty" v:"pattern=^[a-zA-Z0-9][a-zA-Z0-9_.\\s-]{1,64}$"`
	WorkspaceDirectoryDescription *string  `json:"WorkspaceDirectoryDescription,omitempty"`
	UserIdentityType              *string  `json:"UserIdentityType,omitempty" v:"enum=CUSTOMER_MANAGED|AWS_DIRECTORY_SERVICE|AWS_IAM_IDENTITY_CENTER"`
	IdcInstanceArn                *string  `json:"IdcInstanceArn,omitempty"`
	MicrosoftEntraConfig          any      `json:"MicrosoftEntraConfig,omitempty"`
	WorkspaceType                 *string  `json:"WorkspaceType,omitempty" v:"enum=PERSONAL|POOLS"`
	ActiveDirectoryConfig         any      `json:"ActiveDirectoryConfig,omitempty"`
}

type registerDirOut struct {
	DirectoryId string `json:"DirectoryId"`
	State       string `json:"State"`
}

type deregisterDirIn struct {
	DirectoryId string `json:"DirectoryId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
}

type describeDirsIn struct {
	DirectoryIds            []string `json:"DirectoryIds,omitempty" v:"min=1,max=25"`
	WorkspaceDirectoryNames []string `json:"WorkspaceDirectoryNames,omitempty" v:"min=1,max=25"`
	Limit                   *int     `json:"Limit,omitempty" v:"min=1,max=25"`
	NextToken               *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
	Filters                 []struct {
		Name   string   `json:"Name" v:"required,enum=USER_IDENTITY_TYPE|WORKSPACE_TYPE"`
		Values []string `json:"Values" v:"required,min=1,max=25"`
	} `json:"Filters,omitempty" v:"min=1,max=25"`
}

// WorkspaceDirectory is the model's WorkspaceDirectory.
type WorkspaceDirectory struct {
	DirectoryId                   string                     `json:"DirectoryId"`
	Alias                         string                     `json:"Alias,omitempty"`
	DirectoryName                 string                     `json:"DirectoryName,omitempty"`
	RegistrationCode              string                     `json:"RegistrationCode,omitempty"`
	SubnetIds                     []string                   `json:"SubnetIds,omitempty"`
	DnsIpAddresses                []string                   `json:"DnsIpAddresses,omitempty"`
	CustomerUserName              string                     `json:"CustomerUserName,omitempty"`
	IamRoleId                     string                     `json:"IamRoleId,omitempty"`
	DirectoryType                 string                     `json:"DirectoryType,omitempty"`
	WorkspaceSecurityGroupId      string                     `json:"WorkspaceSecurityGroupId,omitempty"`
	State                         string                     `json:"State"`
	WorkspaceCreationProperties   *DefaultCreationProperties `json:"WorkspaceCreationProperties,omitempty"`
	Tenancy                       string                     `json:"Tenancy,omitempty"`
	WorkspaceDirectoryName        string                     `json:"WorkspaceDirectoryName,omitempty"`
	WorkspaceDirectoryDescription string                     `json:"WorkspaceDirectoryDescription,omitempty"`
	UserIdentityType              string                     `json:"UserIdentityType,omitempty"`
	WorkspaceType                 string                     `json:"WorkspaceType,omitempty"`
	SelfservicePermissions        *selfService               `json:"SelfservicePermissions,omitempty"`
	WorkspaceAccessProperties     *accessProps               `json:"WorkspaceAccessProperties,omitempty"`
	// Members kept by dirprops.go and ipgroups.go.
	IPGroupIDs                     []string        `json:"ipGroupIds,omitempty"`
	SamlProperties                 *samlProps      `json:"SamlProperties,omitempty"`
	CertificateBasedAuthProperties *cbaProps       `json:"CertificateBasedAuthProperties,omitempty"`
	EndpointEncryptionMode         string          `json:"EndpointEncryptionMode,omitempty"`
	StreamingProperties            *streamingProps `json:"StreamingProperties,omitempty"`
	ErrorMessage                   string          `json:"ErrorMessage,omitempty"`
}

type selfService struct {
	RestartWorkspace   string `json:"RestartWorkspace,omitempty" v:"enum=ENABLED|DISABLED"`
	IncreaseVolumeSize string `json:"IncreaseVolumeSize,omitempty" v:"enum=ENABLED|DISABLED"`
	ChangeComputeType  string `json:"ChangeComputeType,omitempty" v:"enum=ENABLED|DISABLED"`
	SwitchRunningMode  string `json:"SwitchRunningMode,omitempty" v:"enum=ENABLED|DISABLED"`
	RebuildWorkspace   string `json:"RebuildWorkspace,omitempty" v:"enum=ENABLED|DISABLED"`
}

type accessProps struct {
	DeviceTypeWindows              string                `json:"DeviceTypeWindows,omitempty" v:"enum=ALLOW|DENY"`
	DeviceTypeOsx                  string                `json:"DeviceTypeOsx,omitempty" v:"enum=ALLOW|DENY"`
	DeviceTypeWeb                  string                `json:"DeviceTypeWeb,omitempty" v:"enum=ALLOW|DENY"`
	DeviceTypeIos                  string                `json:"DeviceTypeIos,omitempty" v:"enum=ALLOW|DENY"`
	DeviceTypeAndroid              string                `json:"DeviceTypeAndroid,omitempty" v:"enum=ALLOW|DENY"`
	DeviceTypeChromeOs             string                `json:"DeviceTypeChromeOs,omitempty" v:"enum=ALLOW|DENY"`
	DeviceTypeZeroClient           string                `json:"DeviceTypeZeroClient,omitempty" v:"enum=ALLOW|DENY"`
	DeviceTypeLinux                string                `json:"DeviceTypeLinux,omitempty" v:"enum=ALLOW|DENY"`
	DeviceTypeWorkSpacesThinClient string                `json:"DeviceTypeWorkSpacesThinClient,omitempty" v:"enum=ALLOW|DENY"`
	AccessEndpointConfig           *accessEndpointConfig `json:"AccessEndpointConfig,omitempty"`
}

type describeDirsOut struct {
	Directories []WorkspaceDirectory `json:"Directories"`
	NextToken   *string              `json:"NextToken,omitempty"`
}

type modifyCreationIn struct {
	ResourceId                  string `json:"ResourceId" v:"required,min=1"`
	WorkspaceCreationProperties *struct {
		EnableInternetAccess            *bool   `json:"EnableInternetAccess,omitempty"`
		DefaultOu                       *string `json:"DefaultOu,omitempty"`
		CustomSecurityGroupId           *string `json:"CustomSecurityGroupId,omitempty" v:"min=11,max=20,pattern=^(sg-([0-9a-f]{8}|[0-9a-f]{17}))$"`
		UserEnabledAsLocalAdministrator *bool   `json:"UserEnabledAsLocalAdministrator,omitempty"`
		EnableMaintenanceMode           *bool   `json:"EnableMaintenanceMode,omitempty"`
		InstanceIamRoleArn              *string `json:"InstanceIamRoleArn,omitempty"`
	} `json:"WorkspaceCreationProperties" v:"required"`
}

func dirType(t string) string {
	switch t {
	case "SimpleAD":
		return "SIMPLE_AD"
	case "ADConnector":
		return "AD_CONNECTOR"
	}
	return "SIMPLE_AD" // AWS Managed Microsoft AD is reported as SIMPLE_AD by WorkSpaces
}

// registerWorkspaceDirectoryResources resolves the resources RegisterWorkspaceDirectory is authorized on.
func (m *Module) registerWorkspaceDirectoryResources(ctx context.Context, c *gateway.Call, in *registerDirIn) ([]gateway.Check, error) {
	id := ptr.Deref(in.DirectoryId)
	return []gateway.Check{withRequestTags(gateway.Check{Resource: ARN(c.Region, c.Account, "directory", id)}, in.Tags)}, nil
}

// deregisterWorkspaceDirectoryResources resolves the resources DeregisterWorkspaceDirectory is authorized on.
func (m *Module) deregisterWorkspaceDirectoryResources(ctx context.Context, c *gateway.Call, in *deregisterDirIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.DirectoryId)
}

// modifyWorkspaceCreationPropertiesResources resolves the resources ModifyWorkspaceCreationProperties is authorized on.
func (m *Module) modifyWorkspaceCreationPropertiesResources(ctx context.Context, c *gateway.Call, in *modifyCreationIn) ([]gateway.Check, error) {
	return m.dirChecks(ctx, c, in.ResourceId)
}

func (m *Module) dirChecks(ctx context.Context, c *gateway.Call, id string) ([]gateway.Check, error) {
	var tags Tags
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := getRec[directoryRec](ctx, tx, tDirs, key(c.Account, c.Region, id))
		if d != nil {
			tags = d.Tags
		}
		return err
	})
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "directory", id), ResourceTags: orEmpty(tags)}}, err
}

func orEmpty(t Tags) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return t
}

func (m *Module) registerDirectory(ctx context.Context, c *gateway.Call, in *registerDirIn) (*registerDirOut, error) {
	if in.DirectoryId == nil {
		return nil, errInvalid("The DirectoryId is required.")
	}
	if err := checkIdentityInputs(in); err != nil {
		return nil, err
	}
	tags, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	tenancy := "SHARED"
	if in.Tenancy != nil {
		tenancy = *in.Tenancy
	}
	id := *in.DirectoryId
	err = m.store.Update(ctx, func(tx store.Tx) error {
		d, err := m.dirs.Directory(ctx, tx, c.Account, c.Region, id)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("The directory %s could not be found.", id)
		}
		if err != nil {
			return err
		}
		if d.Stage != "Active" {
			return errState("The directory %s is %s; it must be Active to be registered.", id, d.Stage)
		}
		if existing, err := getRec[directoryRec](ctx, tx, tDirs, key(c.Account, c.Region, id)); err != nil {
			return err
		} else if existing != nil {
			return errExists("The directory %s is already registered with Amazon WorkSpaces.", id)
		}
		n, err := tx.Count(ctx, tDirs, prefix(c.Account, c.Region))
		if err != nil {
			return err
		}
		if n >= m.cfg.Quotas.Directories {
			return errLimit("The number of registered directories has reached the limit of %d.", m.cfg.Quotas.Directories)
		}
		acct, err := m.account(ctx, tx, c.Account, c.Region)
		if err != nil {
			return err
		}
		if tenancy == "DEDICATED" && acct.DedicatedTenancySupport != "ENABLED" {
			return errInvalid("Tenancy DEDICATED requires an account enabled for BYOL (ModifyAccount with DedicatedTenancySupport ENABLED).")
		}
		subnets := in.SubnetIds
		if len(subnets) == 0 {
			subnets = d.SubnetIDs
		}
		azs := map[string]bool{}
		var mgmt netip.Prefix
		if acct.ManagementCidrRange != "" {
			if mgmt, err = netip.ParsePrefix(acct.ManagementCidrRange); err != nil {
				return fmt.Errorf("the management CIDR range %q of %s: %w", acct.ManagementCidrRange, c.Account, err)
			}
		}
		for _, sid := range subnets {
			sn, err := m.ec2.Subnet(ctx, tx, c.Account, c.Region, sid)
			if errors.Is(err, store.ErrNotFound) {
				return errInvalid("The subnet %s could not be found.", sid)
			}
			if err != nil {
				return err
			}
			if sn.VPCID != d.VPCID {
				return errInvalid("The subnet %s is not in the directory's VPC %s.", sid, d.VPCID)
			}
			if azs[sn.AZ] {
				return errUnsupported("The subnets must be in different Availability Zones; two are in %s.", sn.AZ)
			}
			azs[sn.AZ] = true
			if mgmt.IsValid() {
				p, err := netip.ParsePrefix(sn.CIDR)
				if err != nil {
					return fmt.Errorf("subnet %s has an invalid CIDR block %q: %w", sid, sn.CIDR, err)
				}
				if p.Overlaps(mgmt) {
					return awsUnsupportedNetwork(sid, sn.CIDR, acct.ManagementCidrRange)
				}
			}
		}
		if len(subnets) != 2 {
			return errInvalid("Two subnets in different Availability Zones are required; %d given.", len(subnets))
		}
		sg, err := m.ec2.CreateSecurityGroup(ctx, tx, c.Account, c.Region, d.VPCID, id+"_workspacesMembers", "Amazon WorkSpaces Security Group")
		if err != nil {
			return err
		}
		rec := &directoryRec{
			DirectoryID: id, State: "REGISTERING", Tenancy: tenancy, SubnetIDs: subnets, SecurityGroupID: sg,
			RegistrationCode: registrationCode(c.Region, id), EnableSelfService: ptr.Deref(in.EnableSelfService),
			Name: ptr.Deref(in.WorkspaceDirectoryName), Description: ptr.Deref(in.WorkspaceDirectoryDescription),
			UserIdentityType: ptr.Deref(in.UserIdentityType), WorkspaceType: ptr.Deref(in.WorkspaceType),
			Creation: DefaultCreationProperties{EnableInternetAccess: ptr.To(false), UserEnabledAsLocalAdministrator: ptr.To(true), EnableMaintenanceMode: ptr.To(true),
				DefaultOu: nil}, Tags: tags, Registered: c.Now,
		}
		if err := putRec(ctx, tx, tDirs, key(c.Account, c.Region, id), rec); err != nil {
			return err
		}
		return m.engine.Schedule(ctx, tx, "dirreg/"+key(c.Account, c.Region, id), jobDirRegister, c.Now.Add(m.timing(lifecycle.DirectoryMake)), key(c.Account, c.Region, id))
	})
	if err != nil {
		return nil, err
	}
	return &registerDirOut{DirectoryId: id, State: "REGISTERING"}, nil
}

func awsUnsupportedNetwork(subnet, cidr, mgmt string) error {
	return awsproto.Errorf("UnsupportedNetworkConfigurationException", "The subnet %s (%s) overlaps the account's management CIDR range %s.", subnet, cidr, mgmt)
}

func registrationCode(region, id string) string {
	r := strings.ToUpper(strings.ReplaceAll(region, "-", ""))
	if len(r) > 6 {
		r = r[:6]
	}
	return "WSP" + r + "+" + strings.ToUpper(strings.TrimPrefix(id, "d-"))
}

func (m *Module) deregisterDirectory(ctx context.Context, c *gateway.Call, in *deregisterDirIn) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		k := key(c.Account, c.Region, in.DirectoryId)
		d, err := getRec[directoryRec](ctx, tx, tDirs, k)
		if err != nil {
			return err
		}
		if d == nil {
			return errNotFound("The directory %s is not registered with Amazon WorkSpaces.", in.DirectoryId)
		}
		if d.State != "REGISTERED" {
			return errState("The directory %s is %s.", in.DirectoryId, d.State)
		}
		inUse := false
		err = store.ScanJSON[desktopRec](ctx, tx, tDesktops, prefix(c.Account, c.Region), "", 0, func(_ string, w *desktopRec) error {
			if w.DirectoryID == in.DirectoryId && w.State != "TERMINATED" {
				inUse = true
				return store.ErrStop
			}
			return nil
		})
		if err != nil {
			return err
		}
		if inUse {
			return errUnsupported("The directory %s still has WorkSpaces; terminate them before deregistering it.", in.DirectoryId)
		}
		if err := m.checkPoolsUse(ctx, tx, c.Account, c.Region, "directory", in.DirectoryId); err != nil {
			return err
		}
		d.State = "DEREGISTERING"
		if err := putRec(ctx, tx, tDirs, k, d); err != nil {
			return err
		}
		return m.engine.Schedule(ctx, tx, "dirreg/"+k, jobDirDeregister, c.Now.Add(m.timing(lifecycle.DirectoryMake)), k)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// DirectoryRegistered reports whether a Directory Service directory is
// registered with WorkSpaces (Directory Service refuses to delete it then).
func (m *Module) DirectoryRegistered(ctx context.Context, tx store.Tx, account, region, id string) (bool, error) {
	d, err := getRec[directoryRec](ctx, tx, tDirs, key(account, region, id))
	return d != nil, err
}

func (m *Module) describeDirectories(ctx context.Context, c *gateway.Call, in *describeDirsIn) (*describeDirsOut, error) {
	limit := 25
	if in.Limit != nil {
		limit = *in.Limit
	}
	after, err := parseToken(in.NextToken, "")
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, id := range in.DirectoryIds {
		ids[id] = true
	}
	names := map[string]bool{}
	for _, n := range in.WorkspaceDirectoryNames {
		names[n] = true
	}
	out := &describeDirsOut{Directories: []WorkspaceDirectory{}}
	err = m.store.View(ctx, func(tx store.Tx) error {
		all, err := m.dirs.Directories(ctx, tx, c.Account, c.Region)
		if err != nil {
			return err
		}
		for _, d := range all {
			if d.DirectoryID <= after {
				continue
			}
			if len(ids) > 0 && !ids[d.DirectoryID] {
				continue
			}
			reg, err := getRec[directoryRec](ctx, tx, tDirs, key(c.Account, c.Region, d.DirectoryID))
			if err != nil {
				return err
			}
			wd := WorkspaceDirectory{DirectoryId: d.DirectoryID, Alias: d.Alias, DirectoryName: d.Name, DnsIpAddresses: d.DNSIPs,
				CustomerUserName: d.CustomerUserName, DirectoryType: dirType(d.Type), State: "DEREGISTERED", SubnetIds: d.SubnetIDs}
			if reg != nil {
				wd.State = reg.State
				wd.SubnetIds = reg.SubnetIDs
				wd.RegistrationCode = reg.RegistrationCode
				wd.WorkspaceSecurityGroupId = reg.SecurityGroupID
				wd.Tenancy = reg.Tenancy
				wd.IamRoleId = "arn:aws:iam::" + c.Account + ":role/workspaces_DefaultRole"
				cp := reg.Creation
				wd.WorkspaceCreationProperties = &cp
				wd.WorkspaceDirectoryName = reg.Name
				wd.WorkspaceDirectoryDescription = reg.Description
				wd.UserIdentityType = "AWS_DIRECTORY_SERVICE"
				wd.WorkspaceType = "PERSONAL"
				if reg.WorkspaceType != "" {
					wd.WorkspaceType = reg.WorkspaceType
				}
				props, err := getRec[dirPropsRec](ctx, tx, tDirProps, key(c.Account, c.Region, d.DirectoryID))
				if err != nil {
					return err
				}
				renderDirProps(reg, props, &wd)
			}
			if len(names) > 0 && !names[wd.WorkspaceDirectoryName] {
				continue
			}
			if !matchDirFilters(in, wd) {
				continue
			}
			if len(out.Directories) == limit {
				out.NextToken = pageToken(out.Directories[limit-1].DirectoryId)
				break
			}
			out.Directories = append(out.Directories, wd)
		}
		return nil
	})
	return out, err
}

func matchDirFilters(in *describeDirsIn, d WorkspaceDirectory) bool {
	for _, f := range in.Filters {
		v := d.UserIdentityType
		if f.Name == "WORKSPACE_TYPE" {
			v = d.WorkspaceType
		}
		ok := false
		for _, want := range f.Values {
			if want == v {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

var ouRe = regexp.MustCompile(`^(?i)(OU=[^,]+,)+(DC=[^,]+,)+DC=[^,]+$`)

func (m *Module) modifyCreationProperties(ctx context.Context, c *gateway.Call, in *modifyCreationIn) (*struct{}, error) {
	p := in.WorkspaceCreationProperties
	if p.DefaultOu != nil && *p.DefaultOu != "" && !ouRe.MatchString(*p.DefaultOu) {
		return nil, errInvalid("The DefaultOu %q is not a valid distinguished name of an organizational unit (OU=...,DC=...,DC=...).", *p.DefaultOu)
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		k := key(c.Account, c.Region, in.ResourceId)
		d, err := getRec[directoryRec](ctx, tx, tDirs, k)
		if err != nil {
			return err
		}
		if d == nil {
			return errNotFound("The directory %s is not registered with Amazon WorkSpaces.", in.ResourceId)
		}
		if p.CustomSecurityGroupId != nil {
			vpc, err := m.ec2.SecurityGroupVPC(ctx, tx, c.Account, c.Region, *p.CustomSecurityGroupId)
			if errors.Is(err, store.ErrNotFound) {
				return errInvalid("The security group %s could not be found.", *p.CustomSecurityGroupId)
			}
			if err != nil {
				return err
			}
			dd, err := m.dirs.Directory(ctx, tx, c.Account, c.Region, in.ResourceId)
			if err != nil {
				return err
			}
			if vpc != dd.VPCID {
				return errInvalid("The security group %s is in VPC %s, not in the directory's VPC %s.", *p.CustomSecurityGroupId, vpc, dd.VPCID)
			}
			d.Creation.CustomSecurityGroupId = p.CustomSecurityGroupId
		}
		if p.EnableInternetAccess != nil {
			d.Creation.EnableInternetAccess = p.EnableInternetAccess
		}
		if p.DefaultOu != nil {
			d.Creation.DefaultOu = p.DefaultOu
		}
		if p.UserEnabledAsLocalAdministrator != nil {
			d.Creation.UserEnabledAsLocalAdministrator = p.UserEnabledAsLocalAdministrator
		}
		if p.EnableMaintenanceMode != nil {
			d.Creation.EnableMaintenanceMode = p.EnableMaintenanceMode
		}
		if p.InstanceIamRoleArn != nil {
			d.Creation.InstanceIamRoleArn = p.InstanceIamRoleArn
		}
		return putRec(ctx, tx, tDirs, k, d)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) finishDirRegister(ctx context.Context, tx store.Tx, k string, now time.Time) error {
	d, err := getRec[directoryRec](ctx, tx, tDirs, k)
	if err != nil || d == nil || d.State != "REGISTERING" {
		return err
	}
	d.State = "REGISTERED"
	return putRec(ctx, tx, tDirs, k, d)
}

func (m *Module) finishDirDeregister(ctx context.Context, tx store.Tx, k string, now time.Time) error {
	d, err := getRec[directoryRec](ctx, tx, tDirs, k)
	if err != nil || d == nil || d.State != "DEREGISTERING" {
		return err
	}
	if err := m.dropDirProps(ctx, tx, k); err != nil {
		return err
	}
	return tx.Delete(ctx, tDirs, k)
}
