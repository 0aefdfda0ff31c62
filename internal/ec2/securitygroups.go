package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

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
	malformed := func(id string) error {
		if !sgRe.MatchString(id) {
			return awsproto.Errorf("InvalidGroupId.Malformed", "Invalid id: %q (expecting \"sg-...\")", id)
		}
		return nil
	}
	filters, err := describeStart(in.GroupIds, malformed, in.Filters, func(n string) bool { _, ok := groupField(&SecurityGroup{})(n); return ok }, in.DryRun)
	if err != nil {
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
