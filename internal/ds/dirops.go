package ds

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// Tag is a Directory Service tag.
type Tag struct {
	Key   string `json:"Key" v:"required,min=1,max=128"`
	Value string `json:"Value" v:"required,max=256"`
}

// DirectoryVpcSettings is the VpcSettings of CreateDirectory and CreateMicrosoftAD.
type DirectoryVpcSettings struct {
	VpcID     *string  `json:"VpcId" v:"required,pattern=^(vpc-[0-9a-f]{8}|vpc-[0-9a-f]{17})$"`
	SubnetIDs []string `json:"SubnetIds" v:"required"`
}

// DirectoryConnectSettings is the ConnectSettings of ConnectDirectory.
type DirectoryConnectSettings struct {
	VpcID            *string  `json:"VpcId" v:"required,pattern=^(vpc-[0-9a-f]{8}|vpc-[0-9a-f]{17})$"`
	SubnetIDs        []string `json:"SubnetIds" v:"required"`
	CustomerDNSIPs   []string `json:"CustomerDnsIps"`
	CustomerDNSIPsV6 []string `json:"CustomerDnsIpsV6"`
	CustomerUserName *string  `json:"CustomerUserName" v:"required,min=1,pattern=^[a-zA-Z0-9._-]+$"`
}

// CreateMicrosoftADInput is the CreateMicrosoftAD request.
type CreateMicrosoftADInput struct {
	Name        *string               `json:"Name" v:"required,pattern=^([a-zA-Z0-9]+[\\.-])+([a-zA-Z0-9])+$"`
	ShortName   *string               `json:"ShortName"`
	Password    *string               `json:"Password" v:"required"`
	Description *string               `json:"Description" v:"max=128,pattern=^([a-zA-Z0-9_])[\\\\a-zA-Z0-9_@#%*+=:?./!\\s-]*$"`
	VpcSettings *DirectoryVpcSettings `json:"VpcSettings" v:"required"`
	Edition     *string               `json:"Edition" v:"enum=Enterprise|Standard|Hybrid"`
	Tags        []Tag                 `json:"Tags"`
	NetworkType *string               `json:"NetworkType" v:"enum=Dual-stack|IPv4|IPv6"`
}

// CreateDirectoryInput is the CreateDirectory (Simple AD) request.
type CreateDirectoryInput struct {
	Name        *string               `json:"Name" v:"required,pattern=^([a-zA-Z0-9]+[\\.-])+([a-zA-Z0-9])+$"`
	ShortName   *string               `json:"ShortName"`
	Password    *string               `json:"Password" v:"required"`
	Description *string               `json:"Description" v:"max=128,pattern=^([a-zA-Z0-9_])[\\\\a-zA-Z0-9_@#%*+=:?./!\\s-]*$"`
	Size        *string               `json:"Size" v:"required,enum=Small|Large"`
	VpcSettings *DirectoryVpcSettings `json:"VpcSettings"`
	Tags        []Tag                 `json:"Tags"`
	NetworkType *string               `json:"NetworkType" v:"enum=Dual-stack|IPv4|IPv6"`
}

// ConnectDirectoryInput is the ConnectDirectory (AD Connector) request.
type ConnectDirectoryInput struct {
	Name            *string                   `json:"Name" v:"required,pattern=^([a-zA-Z0-9]+[\\.-])+([a-zA-Z0-9])+$"`
	ShortName       *string                   `json:"ShortName"`
	Password        *string                   `json:"Password" v:"required,min=1,max=128"`
	Description     *string                   `json:"Description" v:"max=128,pattern=^([a-zA-Z0-9_])[\\\\a-zA-Z0-9_@#%*+=:?./!\\s-]*$"`
	Size            *string                   `json:"Size" v:"required,enum=Small|Large"`
	ConnectSettings *DirectoryConnectSettings `json:"ConnectSettings" v:"required"`
	Tags            []Tag                     `json:"Tags"`
	NetworkType     *string                   `json:"NetworkType" v:"enum=Dual-stack|IPv4|IPv6"`
}

// CreateDirectoryOutput is the output of the three create operations.
type CreateDirectoryOutput struct {
	DirectoryID string `json:"DirectoryId"`
}

// DescribeDirectoriesInput is the DescribeDirectories request.
type DescribeDirectoriesInput struct {
	DirectoryIDs []string `json:"DirectoryIds" v:"pattern=^d-[0-9a-f]{10}$"`
	NextToken    string   `json:"NextToken"`
	Limit        *int     `json:"Limit" v:"min=0"`
}

// DescribeDirectoriesOutput is the DescribeDirectories response.
type DescribeDirectoriesOutput struct {
	DirectoryDescriptions []DirectoryDescription `json:"DirectoryDescriptions"`
	NextToken             string                 `json:"NextToken,omitempty"`
}

// DirectoryDescription describes one directory.
type DirectoryDescription struct {
	DirectoryID                      string                               `json:"DirectoryId"`
	Name                             string                               `json:"Name"`
	ShortName                        string                               `json:"ShortName,omitempty"`
	Size                             string                               `json:"Size,omitempty"`
	Edition                          string                               `json:"Edition,omitempty"`
	Alias                            string                               `json:"Alias,omitempty"`
	AccessURL                        string                               `json:"AccessUrl,omitempty"`
	Description                      string                               `json:"Description,omitempty"`
	DNSIPAddrs                       []string                             `json:"DnsIpAddrs,omitempty"`
	Stage                            string                               `json:"Stage"`
	LaunchTime                       *awsproto.Time                       `json:"LaunchTime,omitempty"`
	StageLastUpdatedDateTime         *awsproto.Time                       `json:"StageLastUpdatedDateTime,omitempty"`
	Type                             string                               `json:"Type"`
	VpcSettings                      *DirectoryVpcSettingsDescription     `json:"VpcSettings,omitempty"`
	ConnectSettings                  *DirectoryConnectSettingsDescription `json:"ConnectSettings,omitempty"`
	SsoEnabled                       bool                                 `json:"SsoEnabled"`
	DesiredNumberOfDomainControllers int                                  `json:"DesiredNumberOfDomainControllers,omitempty"`
	RegionsInfo                      *RegionsInfo                         `json:"RegionsInfo,omitempty"`
	OsVersion                        string                               `json:"OsVersion,omitempty"`
	NetworkType                      string                               `json:"NetworkType,omitempty"`
}

// DirectoryVpcSettingsDescription is the network of a directory.
type DirectoryVpcSettingsDescription struct {
	VpcID             string   `json:"VpcId"`
	SubnetIDs         []string `json:"SubnetIds"`
	SecurityGroupID   string   `json:"SecurityGroupId"`
	AvailabilityZones []string `json:"AvailabilityZones"`
}

// DirectoryConnectSettingsDescription is the network of an AD Connector.
type DirectoryConnectSettingsDescription struct {
	VpcID             string   `json:"VpcId"`
	SubnetIDs         []string `json:"SubnetIds"`
	CustomerUserName  string   `json:"CustomerUserName"`
	SecurityGroupID   string   `json:"SecurityGroupId"`
	AvailabilityZones []string `json:"AvailabilityZones"`
	ConnectIPs        []string `json:"ConnectIps"`
}

// RegionsInfo lists a Managed Microsoft AD's regions.
type RegionsInfo struct {
	PrimaryRegion string `json:"PrimaryRegion"`
}

// DeleteDirectoryInput is the DeleteDirectory request.
type DeleteDirectoryInput struct {
	DirectoryID *string `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
}

// DeleteDirectoryOutput is the DeleteDirectory response.
type DeleteDirectoryOutput struct {
	DirectoryID string `json:"DirectoryId"`
}

// createMicrosoftADResources resolves the resources CreateMicrosoftAD is authorized on.
func (m *Module) createMicrosoftADResources(ctx context.Context, c *gateway.Call, in *CreateMicrosoftADInput) ([]gateway.Check, error) {
	return createChecks(in.Tags), nil
}

// createDirectoryResources resolves the resources CreateDirectory is authorized on.
func (m *Module) createDirectoryResources(ctx context.Context, c *gateway.Call, in *CreateDirectoryInput) ([]gateway.Check, error) {
	return createChecks(in.Tags), nil
}

// connectDirectoryResources resolves the resources ConnectDirectory is authorized on.
func (m *Module) connectDirectoryResources(ctx context.Context, c *gateway.Call, in *ConnectDirectoryInput) ([]gateway.Check, error) {
	return createChecks(in.Tags), nil
}

// deleteDirectoryResources resolves the resources DeleteDirectory is authorized on.
func (m *Module) deleteDirectoryResources(ctx context.Context, c *gateway.Call, in *DeleteDirectoryInput) ([]gateway.Check, error) {
	chk, err := m.directoryCheck(ctx, c, *in.DirectoryID)
	if err != nil {
		return nil, err
	}
	return []gateway.Check{chk}, nil
}

// createChecks authorizes a create on "*" with the request's tags.
func createChecks(tags []Tag) []gateway.Check {
	chk := gateway.Check{Resource: "*"}
	if len(tags) > 0 {
		chk.RequestTags = map[string]string{}
		for _, t := range tags {
			chk.RequestTags[t.Key] = t.Value
		}
	}
	return []gateway.Check{chk}
}

// directoryCheck is the authorization check on a directory with its tags
// (none when it does not exist: the handler then reports it missing). Any
// other failure to read the directory is an error: its tags are unknown, so
// no tag condition may be decided without them.
func (m *Module) directoryCheck(ctx context.Context, c *gateway.Call, id string) (gateway.Check, error) {
	chk := gateway.Check{Resource: DirectoryARN(c.Region, c.Account, id)}
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := getDirectory(ctx, tx, c.Account, c.Region, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		chk.ResourceTags = d.Tags
		if chk.ResourceTags == nil {
			chk.ResourceTags = map[string]string{}
		}
		return nil
	})
	if err != nil {
		return gateway.Check{}, fmt.Errorf("ds: read the tags of directory %s: %w", id, err)
	}
	return chk, nil
}

var (
	shortNameRe = regexp.MustCompile(`^[^\\/:*?"<>|.]+[^\\/:*?"<>|]*$`)
	samRe       = regexp.MustCompile(`^[\w\-.]+$`)
)

func invalid(format string, args ...any) error {
	return awsproto.Errorf("InvalidParameterException", format, args...)
}

// checkCommon validates what the create operations share beyond their
// inputs' v: tags (the name's and description's patterns are tags).
func checkCommon(short *string, tags []Tag) error {
	if short != nil && (!shortNameRe.MatchString(*short) || len(*short) > 15) {
		return invalid("Invalid directory short name %q: it must be a NetBIOS name of at most 15 characters without \\/:*?\"<>|", *short)
	}
	if len(tags) > 50 {
		return invalid("Too many tags: at most 50 are allowed")
	}
	for _, t := range tags {
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return invalid("Tag keys starting with 'aws:' are reserved")
		}
	}
	return nil
}

// checkPassword applies the Directory Service password rule: 8-64
// characters from at least three of lower case, upper case, digits and
// other characters.
func checkPassword(p string) error {
	var lower, upper, digit, other bool
	for _, r := range p {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		case !unicode.IsSpace(r):
			other = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			n++
		}
	}
	if l := len([]rune(p)); l < 8 || l > 64 || n < 3 || !lower && n < 4 {
		return invalid("Invalid directory password. The password must be 8 to 64 characters long and contain characters from three of these categories: lower case, upper case, numbers, and non-alphanumeric characters.")
	}
	return nil
}

// subnets validates a VPC and its subnets: two, existing, in the VPC, in
// different availability zones.
func (m *Module) subnets(ctx context.Context, tx store.Tx, c *gateway.Call, vpcID string, ids []string) ([]*workspaces.Subnet, error) {
	if len(ids) != 2 {
		return nil, invalid("Invalid subnet ID(s). Exactly two subnets in different Availability Zones are required.")
	}
	var out []*workspaces.Subnet
	for _, id := range ids {
		s, err := m.net.Subnet(ctx, tx, c.Account, c.Region, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalid("Invalid subnet ID(s). The subnet %s does not exist.", id)
		}
		if err != nil {
			return nil, err
		}
		if s.VPCID != vpcID {
			return nil, invalid("Invalid subnet ID(s). The subnet %s is not in VPC %s.", id, vpcID)
		}
		out = append(out, s)
	}
	if out[0].AZ == out[1].AZ {
		return nil, invalid("Invalid subnet ID(s). They must correspond to two subnets in different Availability Zones.")
	}
	return out, nil
}

// create writes a new directory in stage Creating and schedules its activation.
func (m *Module) create(ctx context.Context, c *gateway.Call, d *Directory, vpcID string, subnetIDs []string, tags []Tag) (string, error) {
	d.ID = "d-" + ids.Hex(10)
	d.Account, d.Region, d.Stage = c.Account, c.Region, "Creating"
	for _, t := range tags {
		if d.Tags == nil {
			d.Tags = map[string]string{}
		}
		d.Tags[t.Key] = t.Value
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		if m.limit > 0 {
			n, err := tx.Count(ctx, TableDirectories, c.Account+"/"+c.Region+"/")
			if err != nil {
				return err
			}
			if n >= m.limit {
				return awsproto.Errorf("DirectoryLimitExceededException", "Directory limit exceeded: the account may have at most %d directories in %s.", m.limit, c.Region)
			}
		}
		subs, err := m.subnets(ctx, tx, c, vpcID, subnetIDs)
		if err != nil {
			return err
		}
		if err := m.place(ctx, tx, d, subs, c.Now); err != nil {
			return err
		}
		if err := store.CreateJSON(ctx, tx, TableDirectories, dirKey(d.Account, d.Region, d.ID), d); err != nil {
			return err
		}
		if m.engine == nil {
			return nil
		}
		due := c.Now.Add(m.engine.Timing().Duration(lifecycle.DirectoryMake))
		return m.engine.Schedule(ctx, tx, "ds-active/"+d.Account+"/"+d.Region+"/"+d.ID, JobDirectoryActive, due,
			activatePayload{Account: d.Account, Region: d.Region, ID: d.ID})
	})
	if err != nil {
		return "", err
	}
	return d.ID, nil
}

func strOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (m *Module) createMicrosoftAD(ctx context.Context, c *gateway.Call, in *CreateMicrosoftADInput) (*CreateDirectoryOutput, error) {
	if err := checkCommon(in.ShortName, in.Tags); err != nil {
		return nil, err
	}
	if err := checkPassword(*in.Password); err != nil {
		return nil, err
	}
	ed := strOr(in.Edition)
	if ed == "" {
		ed = "Enterprise"
	}
	if ed == "Hybrid" {
		return nil, awsproto.Errorf("UnsupportedOperationException", "Hybrid edition directories are created with CreateHybridAD")
	}
	d := &Directory{Name: *in.Name, ShortName: strOr(in.ShortName), Description: strOr(in.Description), Type: "MicrosoftAD",
		Edition: ed, NetworkType: strOr(in.NetworkType)}
	hash, err := hashPassword(*in.Password)
	if err != nil {
		return nil, err
	}
	d.AdminPasswordHash = hash
	id, err := m.create(ctx, c, d, *in.VpcSettings.VpcID, in.VpcSettings.SubnetIDs, in.Tags)
	if err != nil {
		return nil, err
	}
	return &CreateDirectoryOutput{DirectoryID: id}, nil
}

func (m *Module) createDirectory(ctx context.Context, c *gateway.Call, in *CreateDirectoryInput) (*CreateDirectoryOutput, error) {
	if err := checkCommon(in.ShortName, in.Tags); err != nil {
		return nil, err
	}
	if err := checkPassword(*in.Password); err != nil {
		return nil, err
	}
	if in.VpcSettings == nil {
		return nil, invalid("VpcSettings is required for a Simple AD directory")
	}
	d := &Directory{Name: *in.Name, ShortName: strOr(in.ShortName), Description: strOr(in.Description), Type: "SimpleAD",
		Size: *in.Size, NetworkType: strOr(in.NetworkType)}
	hash, err := hashPassword(*in.Password)
	if err != nil {
		return nil, err
	}
	d.AdminPasswordHash = hash
	id, err := m.create(ctx, c, d, *in.VpcSettings.VpcID, in.VpcSettings.SubnetIDs, in.Tags)
	if err != nil {
		return nil, err
	}
	return &CreateDirectoryOutput{DirectoryID: id}, nil
}

func (m *Module) connectDirectory(ctx context.Context, c *gateway.Call, in *ConnectDirectoryInput) (*CreateDirectoryOutput, error) {
	if err := checkCommon(in.ShortName, in.Tags); err != nil {
		return nil, err
	}
	cs := in.ConnectSettings
	if len(cs.CustomerDNSIPs) == 0 && len(cs.CustomerDNSIPsV6) == 0 {
		return nil, invalid("ConnectSettings.CustomerDnsIps must list the on-premises DNS servers")
	}
	for _, ip := range cs.CustomerDNSIPs {
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			return nil, invalid("Invalid IP address %q in CustomerDnsIps", ip)
		}
	}
	d := &Directory{Name: *in.Name, ShortName: strOr(in.ShortName), Description: strOr(in.Description), Type: "ADConnector",
		Size: *in.Size, CustomerUserName: *cs.CustomerUserName, CustomerDNSIPs: cs.CustomerDNSIPs, NetworkType: strOr(in.NetworkType)}
	id, err := m.create(ctx, c, d, *cs.VpcID, cs.SubnetIDs, in.Tags)
	if err != nil {
		return nil, err
	}
	return &CreateDirectoryOutput{DirectoryID: id}, nil
}

func describe(d *Directory) DirectoryDescription {
	out := DirectoryDescription{DirectoryID: d.ID, Name: d.Name, ShortName: d.ShortName, Size: d.Size, Edition: d.Edition,
		Alias: d.Alias, AccessURL: d.Alias + ".awsapps.com", Description: d.Description, DNSIPAddrs: dnsOf(d), Stage: d.Stage,
		LaunchTime: awsproto.NewTime(d.LaunchTime), StageLastUpdatedDateTime: awsproto.NewTime(d.StageUpdated),
		Type: d.Type, NetworkType: d.NetworkType}
	if d.Type == "ADConnector" {
		out.ConnectSettings = &DirectoryConnectSettingsDescription{VpcID: d.VPCID, SubnetIDs: d.SubnetIDs, CustomerUserName: d.CustomerUserName,
			SecurityGroupID: d.SecurityGroupID, AvailabilityZones: d.AZs, ConnectIPs: d.DNSIPs}
	} else {
		out.VpcSettings = &DirectoryVpcSettingsDescription{VpcID: d.VPCID, SubnetIDs: d.SubnetIDs, SecurityGroupID: d.SecurityGroupID, AvailabilityZones: d.AZs}
	}
	if d.Type == "MicrosoftAD" {
		out.DesiredNumberOfDomainControllers = 2
		out.RegionsInfo = &RegionsInfo{PrimaryRegion: d.Region}
		out.OsVersion = "SERVER_2019"
	}
	if d.Stage == "Creating" {
		out.DNSIPAddrs = nil
	}
	return out
}

var dirIDRe = regexp.MustCompile(`^d-[0-9a-f]{10}$`)

func (m *Module) describeDirectories(ctx context.Context, c *gateway.Call, in *DescribeDirectoriesInput) (*DescribeDirectoriesOutput, error) {
	var after string
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || !dirIDRe.Match(b) {
			return nil, awsproto.Errorf("InvalidNextTokenException", "The NextToken value is not valid.")
		}
		after = string(b)
	}
	var dirs []*Directory
	err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		dirs, err = listDirectories(ctx, tx, c.Account, c.Region)
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := map[string]*Directory{}
	for _, d := range dirs {
		byID[d.ID] = d
	}
	var ids []string
	if len(in.DirectoryIDs) > 0 {
		var missing []string
		seen := map[string]bool{}
		for _, id := range in.DirectoryIDs {
			if byID[id] == nil {
				missing = append(missing, id)
			} else if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if len(missing) > 0 {
			return nil, awsproto.Errorf("EntityDoesNotExistException", "Directory %s does not exist.", strings.Join(missing, ", "))
		}
	} else {
		for _, d := range dirs {
			ids = append(ids, d.ID)
		}
	}
	sort.Strings(ids)
	start := 0
	if after != "" {
		start = sort.SearchStrings(ids, after)
		if start < len(ids) && ids[start] == after {
			start++
		}
	}
	end := len(ids)
	out := &DescribeDirectoriesOutput{DirectoryDescriptions: []DirectoryDescription{}}
	if in.Limit != nil && *in.Limit > 0 && start+*in.Limit < end {
		end = start + *in.Limit
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(ids[end-1]))
	}
	for _, id := range ids[start:end] {
		out.DirectoryDescriptions = append(out.DirectoryDescriptions, describe(byID[id]))
	}
	return out, nil
}

func (m *Module) deleteDirectory(ctx context.Context, c *gateway.Call, in *DeleteDirectoryInput) (*DeleteDirectoryOutput, error) {
	id := *in.DirectoryID
	err := m.store.Update(ctx, func(tx store.Tx) error {
		d, err := getDirectory(ctx, tx, c.Account, c.Region, id)
		if errors.Is(err, store.ErrNotFound) {
			return awsproto.Errorf("EntityDoesNotExistException", "Directory %s does not exist.", id)
		}
		if err != nil {
			return err
		}
		if f := m.inUseFunc(); f != nil {
			used, err := f(ctx, tx, c.Account, c.Region, id)
			if err != nil {
				return err
			}
			if used {
				return awsproto.Errorf("ClientException", "Directory %s is registered with Amazon WorkSpaces; deregister it first.", id)
			}
		}
		for _, table := range []string{TableUsers, TableGroups} {
			var keys []string
			if err := tx.Scan(ctx, table, objPrefix(d), "", 0, func(k string, _ []byte) error {
				keys = append(keys, k)
				return nil
			}); err != nil {
				return err
			}
			for _, k := range keys {
				if err := tx.Delete(ctx, table, k); err != nil {
					return err
				}
			}
		}
		if m.engine != nil {
			if err := tx.CancelJob(ctx, "ds-active/"+d.Account+"/"+d.Region+"/"+d.ID); err != nil {
				return err
			}
		}
		if err := tx.Delete(ctx, TableDirectories, dirKey(c.Account, c.Region, id)); err != nil {
			return err
		}
		// The controllers' security group goes with the directory, as
		// on AWS (its network interfaces went with the directory too).
		if d.SecurityGroupID != "" {
			if err := m.net.DeleteSecurityGroup(ctx, tx, d.Account, d.Region, d.SecurityGroupID); err != nil {
				return fmt.Errorf("ds: delete the controllers security group %s of %s: %w", d.SecurityGroupID, id, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DeleteDirectoryOutput{DirectoryID: id}, nil
}
