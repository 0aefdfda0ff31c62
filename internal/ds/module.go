// Package ds is deskplane's AWS Directory Service (awsJson1.1: Simple AD,
// AWS Managed Microsoft AD and AD Connector directories) and Directory
// Service Data (rest-json: the users and groups inside a Managed Microsoft
// AD). The Module also implements workspaces.Directories.
package ds

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/lifecycle"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// Network is what Directory Service needs from EC2: subnets to place domain
// controllers in and a security group for them. The ec2 module implements it.
type Network interface {
	Subnet(ctx context.Context, tx store.Tx, account, region, subnetID string) (*workspaces.Subnet, error)
	Subnets(ctx context.Context, tx store.Tx, account, region string) ([]*workspaces.Subnet, error)
	CreateSecurityGroup(ctx context.Context, tx store.Tx, account, region, vpcID, name, description string) (string, error)
	// DeleteSecurityGroup removes the group CreateSecurityGroup made, when
	// its directory is deleted.
	DeleteSecurityGroup(ctx context.Context, tx store.Tx, account, region, groupID string) error
}

// InUseFunc reports whether a directory is registered with another service
// (WorkSpaces), which forbids deleting it.
type InUseFunc func(ctx context.Context, tx store.Tx, account, region, dirID string) (bool, error)

// JobDirectoryActive is the lifecycle job kind that makes a new directory Active.
const JobDirectoryActive = "ds.directory-active"

// Module is the Directory Service and Directory Service Data module.
type Module struct {
	store  store.Store
	engine *lifecycle.Engine
	net    Network
	limit  int // directories per account and region; 0: no limit

	mu    sync.RWMutex
	inUse InUseFunc

	ds, data *gateway.Service
}

var _ workspaces.Directories = (*Module)(nil)

// New returns the module. limit bounds the directories of one account in one
// region (0: no limit).
func New(st store.Store, engine *lifecycle.Engine, net Network, limit int) *Module {
	m := &Module{store: st, engine: engine, net: net, limit: limit}
	m.ds = &gateway.Service{Name: "ds", ActionPrefix: "ds", EventSource: "ds.amazonaws.com", Protocol: gateway.JSON,
		TargetPrefix: "DirectoryService_20150416", ValidationCode: "InvalidParameterException"}
	m.data = &gateway.Service{Name: "ds-data", ActionPrefix: "ds-data", EventSource: "ds-data.amazonaws.com",
		Protocol: gateway.RestJSON, ValidationCode: "ValidationException"}
	m.register()
	m.registerData()
	if engine != nil {
		engine.Register(JobDirectoryActive, m.activate)
	}
	return m
}

// SetInUse installs the hook DeleteDirectory consults: when it reports true
// the directory is refused deletion with a ClientException.
func (m *Module) SetInUse(f InUseFunc) {
	m.mu.Lock()
	m.inUse = f
	m.mu.Unlock()
}

func (m *Module) inUseFunc() InUseFunc {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.inUse
}

// Services returns the ds and ds-data operation tables.
func (m *Module) Services() []*gateway.Service { return []*gateway.Service{m.ds, m.data} }

// Seed creates each configured directory, Active, in every configured region
// over the first two subnets (in different zones) of the account's first
// VPC, with its built-in and configured users and groups. Directory ids are
// derived from account, region and name, so seeding is idempotent; it must
// run after the EC2 module's seed.
func (m *Module) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	for _, a := range cfg.Accounts {
		if len(a.Directories) == 0 {
			continue
		}
		if len(a.VPCs) == 0 {
			return fmt.Errorf("ds seed: account %s declares directories but no VPC", a.ID)
		}
		for _, region := range cfg.Regions {
			subs, err := m.seedSubnets(ctx, tx, a, region)
			if err != nil {
				return err
			}
			for _, cd := range a.Directories {
				if err := m.seedDirectory(ctx, tx, a.ID, region, cd, subs, now); err != nil {
					return fmt.Errorf("ds seed %s/%s/%s: %w", a.ID, region, cd.Name, err)
				}
			}
		}
	}
	return nil
}

// seedSubnets picks two subnets of the account's first configured VPC in
// different availability zones.
func (m *Module) seedSubnets(ctx context.Context, tx store.Tx, a config.Account, region string) ([]*workspaces.Subnet, error) {
	all, err := m.net.Subnets(ctx, tx, a.ID, region)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, s := range a.VPCs[0].Subnets {
		want[s.CIDR] = true
	}
	var out []*workspaces.Subnet
	azs := map[string]bool{}
	for _, cs := range a.VPCs[0].Subnets {
		for _, s := range all {
			if s.CIDR == cs.CIDR && want[s.CIDR] && !azs[s.AZ] && len(out) < 2 {
				out = append(out, s)
				azs[s.AZ] = true
			}
		}
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("ds seed: account %s needs two subnets in different zones in its first VPC in %s", a.ID, region)
	}
	return out, nil
}

func (m *Module) seedDirectory(ctx context.Context, tx store.Tx, account, region string, cd config.Directory, subs []*workspaces.Subnet, now time.Time) error {
	id := "d-" + hashID(10, account, region, "directory", strings.ToLower(cd.Name))
	if _, err := getDirectory(ctx, tx, account, region, id); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	typ := cd.Type
	if typ == "" {
		typ = "MicrosoftAD"
	}
	d := &Directory{ID: id, Account: account, Region: region, Name: cd.Name, ShortName: cd.ShortName, Type: typ, Stage: "Active"}
	switch typ {
	case "MicrosoftAD":
		d.Edition = cd.Edition
		if d.Edition == "" {
			d.Edition = "Standard"
		}
	case "SimpleAD", "ADConnector":
		d.Size = "Small"
	default:
		return fmt.Errorf("unknown directory type %q", typ)
	}
	if typ == "ADConnector" {
		d.CustomerUserName = "Admin"
		d.CustomerDNSIPs = []string{"10.0.0.10", "10.0.0.11"}
	}
	if err := m.place(ctx, tx, d, subs, now); err != nil {
		return err
	}
	if err := store.PutJSON(ctx, tx, TableDirectories, dirKey(account, region, id), d); err != nil {
		return err
	}
	if !d.hasData() {
		return nil
	}
	if err := m.createBuiltins(ctx, tx, d); err != nil {
		return err
	}
	for _, u := range cd.Users {
		if _, err := m.addUser(ctx, tx, d, &User{SAMAccountName: u.Name, GivenName: u.GivenName, Surname: u.Surname, EmailAddress: u.Email, Enabled: true}); err != nil {
			return err
		}
	}
	for _, gname := range sortedKeys(cd.Groups) {
		g, err := m.addGroup(ctx, tx, d, &Group{SAMAccountName: gname, Scope: "Global", Type: "Security"})
		if err != nil {
			return err
		}
		for _, member := range cd.Groups[gname] {
			u, err := getUser(ctx, tx, d, member)
			if err != nil {
				return fmt.Errorf("group %s: member %s: %w", gname, member, err)
			}
			if g.memberIndex(u.SAMAccountName) < 0 {
				g.Members = append(g.Members, MemberRef{Name: u.SAMAccountName, Type: "USER"})
			}
		}
		if err := store.PutJSON(ctx, tx, TableGroups, objKey(d, g.SAMAccountName), g); err != nil {
			return err
		}
	}
	return store.PutJSON(ctx, tx, TableDirectories, dirKey(account, region, id), d)
}

// place fills in the network side of a new directory: VPC, zones, a
// security group for its controllers and two DNS addresses.
func (m *Module) place(ctx context.Context, tx store.Tx, d *Directory, subs []*workspaces.Subnet, now time.Time) error {
	d.VPCID = subs[0].VPCID
	d.SubnetIDs, d.AZs, d.DNSIPs = nil, nil, nil
	for i, s := range subs {
		d.SubnetIDs = append(d.SubnetIDs, s.SubnetID)
		d.AZs = append(d.AZs, s.AZ)
		d.DNSIPs = append(d.DNSIPs, dnsIP(s.CIDR, d.ID, i))
	}
	sort.Strings(d.AZs)
	sg, err := m.net.CreateSecurityGroup(ctx, tx, d.Account, d.Region, d.VPCID, d.ID+"_controllers",
		"AWS created security group for "+d.ID+" directory controllers")
	if err != nil {
		return err
	}
	d.SecurityGroupID = sg
	if d.ShortName == "" {
		d.ShortName = strings.ToUpper(strings.SplitN(d.Name, ".", 2)[0])
		if len(d.ShortName) > 15 {
			d.ShortName = d.ShortName[:15]
		}
	}
	if d.Alias == "" {
		d.Alias = d.ID
	}
	d.SIDBase = sidBase(d.ID)
	d.NextRID = 1104
	d.LaunchTime, d.StageUpdated = now.UTC(), now.UTC()
	return nil
}

// builtinGroups are the well-known groups of a new domain (name, RID, scope).
var builtinGroups = []struct {
	name  string
	rid   int
	scope string
}{
	{"Domain Admins", 512, "Global"}, {"Domain Users", 513, "Global"}, {"Domain Guests", 514, "Global"},
	{"Domain Computers", 515, "Global"}, {"Domain Controllers", 516, "Global"}, {"Schema Admins", 518, "Universal"},
	{"Enterprise Admins", 519, "Universal"}, {"Group Policy Creator Owners", 520, "Global"},
}

// createBuiltins writes the built-in accounts and groups: Administrator
// (RID 500, disabled as AWS keeps it), Guest and krbtgt, the well-known
// groups, and for Managed Microsoft AD the Admin user of the customer and
// the AWS Delegated Administrators group.
func (m *Module) createBuiltins(ctx context.Context, tx store.Tx, d *Directory) error {
	users := []*User{
		{SAMAccountName: "Administrator", RID: 500, Enabled: d.Type == "SimpleAD"},
		{SAMAccountName: "Guest", RID: 501},
		{SAMAccountName: "krbtgt", RID: 502},
	}
	if d.Type == "SimpleAD" {
		users[0].PasswordHash = d.AdminPasswordHash
	}
	for _, u := range users {
		u.SID = fmt.Sprintf("%s-%d", d.SIDBase, u.RID)
		u.DN = "CN=" + u.SAMAccountName + ",CN=Users," + d.baseDN()
		u.UPN = u.SAMAccountName + "@" + d.realm()
		if err := store.PutJSON(ctx, tx, TableUsers, objKey(d, u.SAMAccountName), u); err != nil {
			return err
		}
	}
	for _, b := range builtinGroups {
		g := &Group{SAMAccountName: b.name, Scope: b.scope, Type: "Security", RID: b.rid,
			SID: fmt.Sprintf("%s-%d", d.SIDBase, b.rid), DN: "CN=" + b.name + ",CN=Users," + d.baseDN()}
		switch b.name {
		case "Domain Admins", "Schema Admins", "Enterprise Admins", "Group Policy Creator Owners":
			g.Members = []MemberRef{{Name: "Administrator", Type: "USER"}}
		case "Domain Users":
			g.Members = []MemberRef{{Name: "Administrator", Type: "USER"}, {Name: "krbtgt", Type: "USER"}}
		case "Domain Guests":
			g.Members = []MemberRef{{Name: "Guest", Type: "USER"}}
		}
		if err := store.PutJSON(ctx, tx, TableGroups, objKey(d, g.SAMAccountName), g); err != nil {
			return err
		}
	}
	if d.Type != "MicrosoftAD" {
		return nil
	}
	del, err := m.addGroup(ctx, tx, d, &Group{SAMAccountName: "AWS Delegated Administrators", Scope: "DomainLocal", Type: "Security",
		DN: "CN=AWS Delegated Administrators,OU=AWS Delegated Groups," + d.baseDN()})
	if err != nil {
		return err
	}
	admin, err := m.addUser(ctx, tx, d, &User{SAMAccountName: "Admin", Enabled: true, PasswordHash: d.AdminPasswordHash})
	if err != nil {
		return err
	}
	del.Members = append(del.Members, MemberRef{Name: admin.SAMAccountName, Type: "USER"})
	return store.PutJSON(ctx, tx, TableGroups, objKey(d, del.SAMAccountName), del)
}

// addUser creates a user with the directory's next RID and makes it a
// member of Domain Users. d must be written back by the caller.
func (m *Module) addUser(ctx context.Context, tx store.Tx, d *Directory, u *User) (*User, error) {
	u.RID = d.NextRID
	d.NextRID++
	u.SID = fmt.Sprintf("%s-%d", d.SIDBase, u.RID)
	u.DN = "CN=" + u.SAMAccountName + ",OU=Users,OU=" + d.ShortName + "," + d.baseDN()
	u.UPN = u.SAMAccountName + "@" + d.realm()
	if err := store.CreateJSON(ctx, tx, TableUsers, objKey(d, u.SAMAccountName), u); err != nil {
		return nil, err
	}
	du, err := getGroup(ctx, tx, d, "Domain Users")
	if err == nil {
		du.Members = append(du.Members, MemberRef{Name: u.SAMAccountName, Type: "USER"})
		err = store.PutJSON(ctx, tx, TableGroups, objKey(d, du.SAMAccountName), du)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return u, nil
}

// addGroup creates a group with the directory's next RID. d must be
// written back by the caller.
func (m *Module) addGroup(ctx context.Context, tx store.Tx, d *Directory, g *Group) (*Group, error) {
	g.RID = d.NextRID
	d.NextRID++
	g.SID = fmt.Sprintf("%s-%d", d.SIDBase, g.RID)
	if g.DN == "" {
		g.DN = "CN=" + g.SAMAccountName + ",OU=Users,OU=" + d.ShortName + "," + d.baseDN()
	}
	if err := store.CreateJSON(ctx, tx, TableGroups, objKey(d, g.SAMAccountName), g); err != nil {
		return nil, err
	}
	return g, nil
}

type activatePayload struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	ID      string `json:"id"`
}

// activate is the lifecycle job: a Creating directory becomes Active.
func (m *Module) activate(ctx context.Context, tx store.Tx, job store.Job, now time.Time) error {
	var p activatePayload
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return fmt.Errorf("ds: bad job payload: %w", err)
	}
	d, err := getDirectory(ctx, tx, p.Account, p.Region, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if d.Stage != "Creating" {
		return nil
	}
	if d.hasData() {
		if err := m.createBuiltins(ctx, tx, d); err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	d.Stage, d.StageUpdated = "Active", now.UTC()
	return store.PutJSON(ctx, tx, TableDirectories, dirKey(d.Account, d.Region, d.ID), d)
}

func toWS(d *Directory) *workspaces.Directory {
	return &workspaces.Directory{DirectoryID: d.ID, Name: d.Name, ShortName: d.ShortName, Alias: d.Alias, Type: d.Type,
		Stage: d.Stage, VPCID: d.VPCID, SubnetIDs: append([]string(nil), d.SubnetIDs...), DNSIPs: append([]string(nil), dnsOf(d)...),
		CustomerUserName: d.CustomerUserName}
}

func dnsOf(d *Directory) []string {
	if d.Type == "ADConnector" {
		return d.CustomerDNSIPs
	}
	return d.DNSIPs
}

// Directory implements workspaces.Directories.
func (m *Module) Directory(ctx context.Context, tx store.Tx, account, region, directoryID string) (*workspaces.Directory, error) {
	d, err := getDirectory(ctx, tx, account, region, directoryID)
	if err != nil {
		return nil, err
	}
	return toWS(d), nil
}

// Directories implements workspaces.Directories.
func (m *Module) Directories(ctx context.Context, tx store.Tx, account, region string) ([]*workspaces.Directory, error) {
	ds, err := listDirectories(ctx, tx, account, region)
	if err != nil {
		return nil, err
	}
	out := make([]*workspaces.Directory, 0, len(ds))
	for _, d := range ds {
		out = append(out, toWS(d))
	}
	return out, nil
}

// User implements workspaces.Directories: a user by SAM account name,
// case-insensitively. Users of an AD Connector's on-premises directory are
// not known here; any valid name resolves with a SID derived from it.
func (m *Module) User(ctx context.Context, tx store.Tx, account, region, directoryID, userName string) (*workspaces.DirectoryUser, error) {
	d, err := getDirectory(ctx, tx, account, region, directoryID)
	if err != nil {
		return nil, err
	}
	if !d.hasData() {
		if !samRe.MatchString(userName) {
			return nil, store.ErrNotFound
		}
		return &workspaces.DirectoryUser{SAMAccountName: userName, SID: fmt.Sprintf("%s-%d", sidBase(d.ID+"/on-premises"), onPremRID(userName)), Enabled: true}, nil
	}
	u, err := getUser(ctx, tx, d, userName)
	if err != nil {
		return nil, err
	}
	return &workspaces.DirectoryUser{SAMAccountName: u.SAMAccountName, SID: u.SID, Enabled: u.Enabled}, nil
}

// onPremRID derives a stable RID (>= 1104) for a user of an AD Connector's
// on-premises directory.
func onPremRID(name string) int {
	h := sha256.Sum256([]byte(strings.ToLower(name)))
	return 1104 + int(binary.BigEndian.Uint32(h[:4])%1000000)
}
