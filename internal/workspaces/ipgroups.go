package workspaces

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// IP access control groups (the real service's quotas).
const (
	tIPGroups       = "ws_ipgroups" // ACCOUNT/REGION/GROUPID
	ipGroupPattern  = `^wsipg-[0-9a-z]{8,63}$`
	maxIPGroups     = 100 // per account and Region
	maxRulesPerIPG  = 10  // rules per group
	maxIPGroupsDir  = 25  // groups associated with one directory
	ipGroupNameMax  = 100
	ipGroupDescrMax = 255
)

// IPRule is the model's IpRuleItem.
type IPRule struct {
	IPRule   string `json:"ipRule"`
	RuleDesc string `json:"ruleDesc,omitempty"`
}

// ipGroupRec is an IP access control group.
type ipGroupRec struct {
	GroupID     string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Rules       []IPRule `json:"rules,omitempty"`
	// Dirs are the directories the group is associated with.
	Dirs []string `json:"dirs,omitempty"`
	Tags Tags     `json:"tags,omitempty"`
}

type createIPGroupIn struct {
	GroupName string   `json:"GroupName" v:"required"`
	GroupDesc *string  `json:"GroupDesc,omitempty"`
	UserRules []IPRule `json:"UserRules,omitempty"`
	Tags      []Tag    `json:"Tags,omitempty"`
}

type createIPGroupOut struct {
	GroupID string `json:"GroupId"`
}

type ipGroupIDIn struct {
	GroupID string `json:"GroupId" v:"required,pattern=wsipg-[0-9a-z]{8,63}$"`
}

type describeIPGroupsIn struct {
	GroupIDs   []string `json:"GroupIds,omitempty"`
	NextToken  *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
	MaxResults *int     `json:"MaxResults,omitempty" v:"min=1,max=25"`
}

type ipGroupOut struct {
	GroupID   string   `json:"groupId"`
	GroupName string   `json:"groupName"`
	GroupDesc string   `json:"groupDesc,omitempty"`
	UserRules []IPRule `json:"userRules"`
}

type describeIPGroupsOut struct {
	Result    []ipGroupOut `json:"Result"`
	NextToken *string      `json:"NextToken,omitempty"`
}

// ipRulesRef is the shape AuthorizeIpRules' and UpdateRulesOfIpGroup's
// requests share; each operation has its own type of it.
type ipRulesRef struct {
	GroupID   string   `json:"GroupId" v:"required,pattern=wsipg-[0-9a-z]{8,63}$"`
	UserRules []IPRule `json:"UserRules" v:"required"`
}

// authorizeIPRulesIn is AuthorizeIpRulesRequest.
type authorizeIPRulesIn ipRulesRef

// updateIPRulesIn is UpdateRulesOfIpGroupRequest.
type updateIPRulesIn ipRulesRef

type revokeIPRulesIn struct {
	GroupID   string   `json:"GroupId" v:"required,pattern=wsipg-[0-9a-z]{8,63}$"`
	UserRules []string `json:"UserRules" v:"required"`
}

// ipGroupsDirRef is the shape Associate and DisassociateIpGroups' requests
// share; each operation has its own type of it.
type ipGroupsDirRef struct {
	DirectoryID string   `json:"DirectoryId" v:"required,min=10,max=65,pattern=^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)"`
	GroupIDs    []string `json:"GroupIds" v:"required"`
}

// associateIPGroupsIn is AssociateIpGroupsRequest.
type associateIPGroupsIn ipGroupsDirRef

// disassociateIPGroupsIn is DisassociateIpGroupsRequest.
type disassociateIPGroupsIn ipGroupsDirRef

// associateIpGroupsResources resolves the resources AssociateIpGroups is authorized on.
func (m *Module) associateIpGroupsResources(ctx context.Context, c *gateway.Call, in *associateIPGroupsIn) ([]gateway.Check, error) {
	return m.ipGroupsDirChecks(ctx, c, (*ipGroupsDirRef)(in))
}

// disassociateIpGroupsResources resolves the resources DisassociateIpGroups is authorized on.
func (m *Module) disassociateIpGroupsResources(ctx context.Context, c *gateway.Call, in *disassociateIPGroupsIn) ([]gateway.Check, error) {
	return m.ipGroupsDirChecks(ctx, c, (*ipGroupsDirRef)(in))
}

// deleteIpGroupResources resolves the resources DeleteIpGroup is authorized on.
func (m *Module) deleteIpGroupResources(ctx context.Context, c *gateway.Call, in *ipGroupIDIn) ([]gateway.Check, error) {
	return m.ipGroupChecks(ctx, c, in.GroupID)
}

// authorizeIpRulesResources resolves the resources AuthorizeIpRules is authorized on.
func (m *Module) authorizeIpRulesResources(ctx context.Context, c *gateway.Call, in *authorizeIPRulesIn) ([]gateway.Check, error) {
	return m.ipGroupChecks(ctx, c, in.GroupID)
}

// revokeIpRulesResources resolves the resources RevokeIpRules is authorized on.
func (m *Module) revokeIpRulesResources(ctx context.Context, c *gateway.Call, in *revokeIPRulesIn) ([]gateway.Check, error) {
	return m.ipGroupChecks(ctx, c, in.GroupID)
}

// updateRulesOfIpGroupResources resolves the resources UpdateRulesOfIpGroup is authorized on.
func (m *Module) updateRulesOfIpGroupResources(ctx context.Context, c *gateway.Call, in *updateIPRulesIn) ([]gateway.Check, error) {
	return m.ipGroupChecks(ctx, c, in.GroupID)
}

func (m *Module) createIPGroupChecks(ctx context.Context, c *gateway.Call, in *createIPGroupIn) ([]gateway.Check, error) {
	return []gateway.Check{withRequestTags(gateway.Check{Resource: ARN(c.Region, c.Account, "workspaceipgroup", "*")}, in.Tags)}, nil
}

// ipGroupChecks authorizes an operation on one group, with its tags.
func (m *Module) ipGroupChecks(ctx context.Context, c *gateway.Call, id string) ([]gateway.Check, error) {
	tags, err := m.resourceTags(ctx, c.Account, c.Region, id)
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "workspaceipgroup", id), ResourceTags: orEmpty(tags)}}, err
}

// ipGroupsDirChecks authorizes AssociateIpGroups and DisassociateIpGroups:
// the directory and every group.
func (m *Module) ipGroupsDirChecks(ctx context.Context, c *gateway.Call, in *ipGroupsDirRef) ([]gateway.Check, error) {
	checks, err := m.dirChecks(ctx, c, in.DirectoryID)
	if err != nil {
		return nil, err
	}
	for _, id := range in.GroupIDs {
		if !ipGroupRe.MatchString(id) {
			continue // refused by the handler with the model's error
		}
		g, err := m.ipGroupChecks(ctx, c, id)
		if err != nil {
			return nil, err
		}
		checks = append(checks, g...)
	}
	return checks, nil
}

// checkIPRules validates rules: IPv4 addresses or CIDR ranges, no repeats.
func checkIPRules(rules []IPRule) error {
	seen := map[string]bool{}
	for _, r := range rules {
		if err := checkIPRule(r.IPRule); err != nil {
			return err
		}
		if len(r.RuleDesc) > 100 {
			return errInvalid("The rule description of %s is longer than 100 characters.", r.IPRule)
		}
		if seen[r.IPRule] {
			return errInvalid("The rule %s is given more than once.", r.IPRule)
		}
		seen[r.IPRule] = true
	}
	return nil
}

func checkIPRule(s string) error {
	if p, err := netip.ParsePrefix(s); err == nil {
		if !p.Addr().Is4() {
			return errInvalid("The rule %s is not an IPv4 address range; IP access control groups accept IPv4 only.", s)
		}
		if p.Masked() != p {
			return errInvalid("The rule %s is not a valid CIDR block; the network address is %s.", s, p.Masked())
		}
		return nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return nil
	}
	return errInvalid("The rule %q is not a valid IPv4 address or CIDR range.", s)
}

func (m *Module) getIPGroup(ctx context.Context, tx store.Tx, account, region, id string) (*ipGroupRec, error) {
	g, err := getRec[ipGroupRec](ctx, tx, tIPGroups, key(account, region, id))
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, errNotFound("The IP access control group %s could not be found.", id)
	}
	return g, nil
}

func (m *Module) createIPGroup(ctx context.Context, c *gateway.Call, in *createIPGroupIn) (*createIPGroupOut, error) {
	name := strings.TrimSpace(in.GroupName)
	if name == "" || len(in.GroupName) > ipGroupNameMax {
		return nil, errInvalid("The group name must be 1 to %d characters.", ipGroupNameMax)
	}
	if len(ptr.Deref(in.GroupDesc)) > ipGroupDescrMax {
		return nil, errInvalid("The group description must be at most %d characters.", ipGroupDescrMax)
	}
	if len(in.UserRules) > maxRulesPerIPG {
		return nil, errLimit("An IP access control group can have at most %d rules; %d given.", maxRulesPerIPG, len(in.UserRules))
	}
	if err := checkIPRules(in.UserRules); err != nil {
		return nil, err
	}
	tags, err := tagsFromList(in.Tags)
	if err != nil {
		return nil, err
	}
	id := newID("wsipg-")
	err = m.store.Update(ctx, func(tx store.Tx) error {
		n := 0
		err := store.ScanJSON[ipGroupRec](ctx, tx, tIPGroups, prefix(c.Account, c.Region), "", 0, func(_ string, g *ipGroupRec) error {
			n++
			if g.Name == in.GroupName {
				return errExists("An IP access control group named %q already exists (%s).", in.GroupName, g.GroupID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n >= maxIPGroups {
			return errLimit("The account has %d IP access control groups in %s, the limit.", n, c.Region)
		}
		return putRec(ctx, tx, tIPGroups, key(c.Account, c.Region, id), &ipGroupRec{
			GroupID: id, Name: in.GroupName, Description: ptr.Deref(in.GroupDesc), Rules: in.UserRules, Tags: tags})
	})
	if err != nil {
		return nil, err
	}
	c.AddResource(gateway.Check{Resource: ARN(c.Region, c.Account, "workspaceipgroup", id)})
	return &createIPGroupOut{GroupID: id}, nil
}

func (m *Module) deleteIPGroup(ctx context.Context, c *gateway.Call, in *ipGroupIDIn) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		g, err := m.getIPGroup(ctx, tx, c.Account, c.Region, in.GroupID)
		if err != nil {
			return err
		}
		if len(g.Dirs) > 0 {
			return errAssociated("The IP access control group %s is associated with the directories %s; disassociate it first.", in.GroupID, strings.Join(g.Dirs, ", "))
		}
		return tx.Delete(ctx, tIPGroups, key(c.Account, c.Region, in.GroupID))
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

var ipGroupRe = mustRe(ipGroupPattern)

func (m *Module) describeIPGroups(ctx context.Context, c *gateway.Call, in *describeIPGroupsIn) (*describeIPGroupsOut, error) {
	for _, id := range in.GroupIDs {
		if !ipGroupRe.MatchString(id) {
			return nil, errInvalid("The group id %q is not valid.", id)
		}
	}
	limit := 25
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	p := prefix(c.Account, c.Region)
	after, err := parseToken(in.NextToken, p)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range in.GroupIDs {
		want[id] = true
	}
	out := &describeIPGroupsOut{Result: []ipGroupOut{}}
	err = m.store.View(ctx, func(tx store.Tx) error {
		last := ""
		return store.ScanJSON[ipGroupRec](ctx, tx, tIPGroups, p, after, 0, func(k string, g *ipGroupRec) error {
			if len(want) > 0 && !want[g.GroupID] {
				return nil
			}
			if len(out.Result) == limit {
				out.NextToken = pageToken(last)
				return store.ErrStop
			}
			rules := g.Rules
			if rules == nil {
				rules = []IPRule{}
			}
			out.Result = append(out.Result, ipGroupOut{GroupID: g.GroupID, GroupName: g.Name, GroupDesc: g.Description, UserRules: rules})
			last = k
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// changeRules loads a group, lets fn change its rules and stores it.
func (m *Module) changeRules(ctx context.Context, c *gateway.Call, id string, fn func(g *ipGroupRec) error) (*struct{}, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		g, err := m.getIPGroup(ctx, tx, c.Account, c.Region, id)
		if err != nil {
			return err
		}
		if err := fn(g); err != nil {
			return err
		}
		if len(g.Rules) > maxRulesPerIPG {
			return errLimit("An IP access control group can have at most %d rules; %s would have %d.", maxRulesPerIPG, id, len(g.Rules))
		}
		return putRec(ctx, tx, tIPGroups, key(c.Account, c.Region, id), g)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (m *Module) authorizeIPRules(ctx context.Context, c *gateway.Call, in *authorizeIPRulesIn) (*struct{}, error) {
	if err := checkIPRules(in.UserRules); err != nil {
		return nil, err
	}
	return m.changeRules(ctx, c, in.GroupID, func(g *ipGroupRec) error {
		for _, r := range in.UserRules {
			if slices.ContainsFunc(g.Rules, func(x IPRule) bool { return x.IPRule == r.IPRule }) {
				return errInvalid("The group %s already has a rule for %s.", in.GroupID, r.IPRule)
			}
			g.Rules = append(g.Rules, r)
		}
		return nil
	})
}

func (m *Module) revokeIPRules(ctx context.Context, c *gateway.Call, in *revokeIPRulesIn) (*struct{}, error) {
	for _, r := range in.UserRules {
		if err := checkIPRule(r); err != nil {
			return nil, err
		}
	}
	return m.changeRules(ctx, c, in.GroupID, func(g *ipGroupRec) error {
		for _, r := range in.UserRules {
			i := slices.IndexFunc(g.Rules, func(x IPRule) bool { return x.IPRule == r })
			if i < 0 {
				return errInvalid("The group %s has no rule for %s.", in.GroupID, r)
			}
			g.Rules = slices.Delete(g.Rules, i, i+1)
		}
		return nil
	})
}

func (m *Module) updateIPRules(ctx context.Context, c *gateway.Call, in *updateIPRulesIn) (*struct{}, error) {
	if err := checkIPRules(in.UserRules); err != nil {
		return nil, err
	}
	if len(in.UserRules) > maxRulesPerIPG {
		return nil, errLimit("An IP access control group can have at most %d rules; %d given.", maxRulesPerIPG, len(in.UserRules))
	}
	return m.changeRules(ctx, c, in.GroupID, func(g *ipGroupRec) error {
		g.Rules = in.UserRules
		return nil
	})
}

// registeredDir returns the caller's directory registration:
// ResourceNotFoundException when it is not registered, and
// InvalidResourceStateException while it is in another state (being
// registered or deregistered).
func registeredDir(ctx context.Context, tx store.Tx, account, region, id string) (*directoryRec, error) {
	d, err := getRec[directoryRec](ctx, tx, tDirs, key(account, region, id))
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errNotFound("The directory %s is not registered with Amazon WorkSpaces.", id)
	}
	if d.State != "REGISTERED" {
		return nil, errState("The directory %s is %s; it must be REGISTERED.", id, d.State)
	}
	return d, nil
}

func (m *Module) associateIPGroups(ctx context.Context, c *gateway.Call, in *associateIPGroupsIn) (*struct{}, error) {
	return m.changeDirIPGroups(ctx, c, (*ipGroupsDirRef)(in), true)
}

func (m *Module) disassociateIPGroups(ctx context.Context, c *gateway.Call, in *disassociateIPGroupsIn) (*struct{}, error) {
	return m.changeDirIPGroups(ctx, c, (*ipGroupsDirRef)(in), false)
}

func (m *Module) changeDirIPGroups(ctx context.Context, c *gateway.Call, in *ipGroupsDirRef, add bool) (*struct{}, error) {
	for _, id := range in.GroupIDs {
		if !ipGroupRe.MatchString(id) {
			return nil, errInvalid("The group id %q is not valid.", id)
		}
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		if _, err := registeredDir(ctx, tx, c.Account, c.Region, in.DirectoryID); err != nil {
			return err
		}
		p, err := m.dirProps(ctx, tx, c.Account, c.Region, in.DirectoryID)
		if err != nil {
			return err
		}
		for _, id := range in.GroupIDs {
			has := slices.Contains(p.IPGroups, id)
			if !add && !has {
				// Disassociating a group the directory does not have (or
				// one deleted since) changes nothing and succeeds: tools
				// rely on it (Terraform's provider disassociates a group
				// from its directories before deleting it, then updates the
				// directory, which disassociates it again).
				continue
			}
			g, err := m.getIPGroup(ctx, tx, c.Account, c.Region, id)
			if err != nil {
				return err
			}
			switch {
			case add && !has:
				p.IPGroups = append(p.IPGroups, id)
				g.Dirs = append(g.Dirs, in.DirectoryID)
			case !add:
				p.IPGroups = slices.DeleteFunc(p.IPGroups, func(x string) bool { return x == id })
				g.Dirs = slices.DeleteFunc(g.Dirs, func(x string) bool { return x == in.DirectoryID })
			}
			if err := putRec(ctx, tx, tIPGroups, key(c.Account, c.Region, id), g); err != nil {
				return err
			}
		}
		if len(p.IPGroups) > maxIPGroupsDir {
			return errLimit("A directory can have at most %d IP access control groups; %s would have %d.", maxIPGroupsDir, in.DirectoryID, len(p.IPGroups))
		}
		return m.putDirProps(ctx, tx, c.Account, c.Region, in.DirectoryID, p)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// dropDirIPGroups removes a deregistered directory from its groups.
func (m *Module) dropDirIPGroups(ctx context.Context, tx store.Tx, account, region, dir string, groups []string) error {
	for _, id := range groups {
		g, err := getRec[ipGroupRec](ctx, tx, tIPGroups, key(account, region, id))
		if err != nil {
			return err
		}
		if g == nil {
			continue
		}
		g.Dirs = slices.DeleteFunc(g.Dirs, func(x string) bool { return x == dir })
		if err := putRec(ctx, tx, tIPGroups, key(account, region, id), g); err != nil {
			return err
		}
	}
	return nil
}
