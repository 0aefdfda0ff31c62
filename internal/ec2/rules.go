package ec2

import (
	"context"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

func (m *Module) authorizeEgressResources(ctx context.Context, c *gateway.Call, in *AuthorizeSecurityGroupEgressInput) ([]gateway.Check, error) {
	return m.authorizeIngressResources(ctx, c, &AuthorizeSecurityGroupIngressInput{GroupID: in.GroupID, TagSpecifications: in.TagSpecifications})
}

func (m *Module) revokeIngressResources(ctx context.Context, c *gateway.Call, in *RevokeSecurityGroupIngressInput) ([]gateway.Check, error) {
	return m.authorizeIngressResources(ctx, c, &AuthorizeSecurityGroupIngressInput{GroupID: in.GroupID, GroupName: in.GroupName})
}

func (m *Module) revokeEgressResources(ctx context.Context, c *gateway.Call, in *RevokeSecurityGroupEgressInput) ([]gateway.Check, error) {
	return m.authorizeIngressResources(ctx, c, &AuthorizeSecurityGroupIngressInput{GroupID: in.GroupID})
}

// legacyPermission turns the flat members (IpProtocol, ports, CidrIp,
// SourceSecurityGroupName) into IpPermissions, or checks they are not mixed.
func legacyPermission(perms []IPPermission, proto string, from, to *int, cidr, sourceGroup string) ([]IPPermission, error) {
	if proto == "" && cidr == "" && sourceGroup == "" && from == nil && to == nil {
		return perms, nil
	}
	if len(perms) > 0 {
		return nil, awsproto.Errorf("InvalidParameterCombination", "The parameter 'ipPermissions' may not be used in combination with 'ipProtocol', 'cidrIp', 'fromPort' or 'toPort'")
	}
	p := IPPermission{IPProtocol: proto, FromPort: from, ToPort: to}
	if p.IPProtocol == "" {
		p.IPProtocol = "-1"
	}
	if cidr != "" {
		p.IPRanges = []IPRange{{CidrIP: cidr}}
	}
	if sourceGroup != "" {
		p.UserIDGroupPairs = []UserIDGroupPair{{GroupName: sourceGroup}}
	}
	return []IPPermission{p}, nil
}

// targetGroup reads the group a rule operation names by id or name.
func targetGroup(ctx context.Context, tx store.Tx, c *gateway.Call, id, name string) (*SecurityGroup, error) {
	if id != "" {
		g, err := getGroup(ctx, tx, c.Account, c.Region, id)
		return g, notFound(err, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
	}
	g, err := groupByName(ctx, tx, c.Account, c.Region, "", name)
	return g, notFound(err, "InvalidGroup.NotFound", "The security group '%s' does not exist", name)
}

func checkGroupRef(id, name string) error {
	if id == "" && name == "" {
		return missing("GroupId")
	}
	if id != "" && !sgRe.MatchString(id) {
		return awsproto.Errorf("InvalidGroupId.Malformed", "Invalid id: %q (expecting \"sg-...\")", id)
	}
	return nil
}

// authorize adds the permissions to a group's ingress or egress rules.
func (m *Module) authorize(ctx context.Context, c *gateway.Call, id, name string, perms []IPPermission, specs []TagSpecification, dry, egress bool) (*AuthorizeSecurityGroupIngressOutput, error) {
	if err := checkGroupRef(id, name); err != nil {
		return nil, err
	}
	if len(perms) == 0 {
		return nil, missing("IpPermissions")
	}
	tags, err := tagsFor(specs, "security-group-rule")
	if err != nil {
		return nil, err
	}
	if err := dryRun(dry); err != nil {
		return nil, err
	}
	out := &AuthorizeSecurityGroupIngressOutput{Return: true}
	err = m.store.Update(ctx, func(tx store.Tx) error {
		out.SecurityGroupRules = nil
		g, err := targetGroup(ctx, tx, c, id, name)
		if err != nil {
			return err
		}
		list := &g.Ingress
		if egress {
			list = &g.Egress
		}
		var added []Rule
		for _, p := range perms {
			rules, err := rulesOf(ctx, tx, c, p)
			if err != nil {
				return err
			}
			for _, r := range rules {
				for _, o := range append((*list)[:len(*list):len(*list)], added...) {
					if o.same(r) {
						return awsproto.Errorf("InvalidPermission.Duplicate", "the specified rule %s already exists", describeRule(r))
					}
				}
				r.Tags = tags
				added = append(added, r)
			}
		}
		if len(*list)+len(added) > 60 {
			return awsproto.Errorf("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
		}
		*list = append(*list, added...)
		for _, r := range added {
			x := SecurityGroupRuleXML{SecurityGroupRuleID: r.ID, GroupID: g.ID, GroupOwnerID: g.Account, IsEgress: egress, IPProtocol: r.Protocol,
				FromPort: r.FromPort, ToPort: r.ToPort, CidrIpv4: r.CIDR, CidrIpv6: r.CIDR6, Description: r.Description, Tags: tagList(r.Tags),
				SecurityGroupRuleArn: ARN(c.Region, c.Account, "security-group-rule/"+r.ID)}
			if r.GroupID != "" {
				x.ReferencedGroupInfo = &ReferencedXML{GroupID: r.GroupID, UserID: r.GroupOwner}
			}
			out.SecurityGroupRules = append(out.SecurityGroupRules, x)
		}
		return store.PutJSON(ctx, tx, TableSecGroup, key(c.Account, c.Region, g.ID), g)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Module) authorizeIngress(ctx context.Context, c *gateway.Call, in *AuthorizeSecurityGroupIngressInput) (*AuthorizeSecurityGroupIngressOutput, error) {
	perms, err := legacyPermission(in.IPPermissions, in.IPProtocol, in.FromPort, in.ToPort, in.CidrIP, in.SourceSecurityGroupName)
	if err != nil {
		return nil, err
	}
	return m.authorize(ctx, c, in.GroupID, in.GroupName, perms, in.TagSpecifications, in.DryRun, false)
}

func (m *Module) authorizeEgress(ctx context.Context, c *gateway.Call, in *AuthorizeSecurityGroupEgressInput) (*AuthorizeSecurityGroupIngressOutput, error) {
	if in.GroupID == "" {
		return nil, missing("GroupId")
	}
	perms, err := legacyPermission(in.IPPermissions, in.IPProtocol, in.FromPort, in.ToPort, in.CidrIP, in.SourceSecurityGroupName)
	if err != nil {
		return nil, err
	}
	return m.authorize(ctx, c, in.GroupID, "", perms, in.TagSpecifications, in.DryRun, true)
}

// revoke removes rules from a group by their ids or by permissions; a rule
// that is not there is InvalidPermission.NotFound.
func (m *Module) revoke(ctx context.Context, c *gateway.Call, id, name string, ruleIDs []string, perms []IPPermission, dry, egress bool) (*RevokeOutput, error) {
	if err := checkGroupRef(id, name); err != nil {
		return nil, err
	}
	if len(ruleIDs) > 0 && len(perms) > 0 {
		return nil, awsproto.Errorf("InvalidParameterCombination", "The parameter 'SecurityGroupRuleIds' may not be used in combination with 'ipPermissions'")
	}
	if len(ruleIDs) == 0 && len(perms) == 0 {
		return nil, missing("IpPermissions")
	}
	for _, r := range ruleIDs {
		if !idPattern("sgr").MatchString(r) {
			return nil, awsproto.Errorf("InvalidSecurityGroupRuleId.Malformed", "Invalid id: %q (expecting \"sgr-...\")", r)
		}
	}
	if err := dryRun(dry); err != nil {
		return nil, err
	}
	out := &RevokeOutput{Return: true}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		out.RevokedSecurityGroupRules = nil
		g, err := targetGroup(ctx, tx, c, id, name)
		if err != nil {
			return err
		}
		list := &g.Ingress
		if egress {
			list = &g.Egress
		}
		drop := map[string]bool{}
		for _, rid := range ruleIDs {
			found := false
			for _, r := range *list {
				if r.ID == rid {
					drop[r.ID], found = true, true
				}
			}
			if !found {
				return awsproto.Errorf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist in security group '%s'", rid, g.ID)
			}
		}
		for _, p := range perms {
			want, err := rulesOf(ctx, tx, c, p)
			if err != nil {
				return err
			}
			for _, w := range want {
				found := false
				for _, r := range *list {
					if r.same(w) {
						drop[r.ID], found = true, true
					}
				}
				if !found {
					return awsproto.Errorf("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
				}
			}
		}
		kept := (*list)[:0:0]
		for _, r := range *list {
			if !drop[r.ID] {
				kept = append(kept, r)
				continue
			}
			out.RevokedSecurityGroupRules = append(out.RevokedSecurityGroupRules, RevokedRuleXML{SecurityGroupRuleID: r.ID, GroupID: g.ID,
				IsEgress: egress, IPProtocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort, CidrIpv4: r.CIDR, CidrIpv6: r.CIDR6,
				ReferencedGroupID: r.GroupID, Description: r.Description})
		}
		*list = kept
		return store.PutJSON(ctx, tx, TableSecGroup, key(c.Account, c.Region, g.ID), g)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Module) revokeIngress(ctx context.Context, c *gateway.Call, in *RevokeSecurityGroupIngressInput) (*RevokeOutput, error) {
	perms, err := legacyPermission(in.IPPermissions, in.IPProtocol, in.FromPort, in.ToPort, in.CidrIP, in.SourceSecurityGroupName)
	if err != nil {
		return nil, err
	}
	return m.revoke(ctx, c, in.GroupID, in.GroupName, in.SecurityGroupRuleIDs, perms, in.DryRun, false)
}

func (m *Module) revokeEgress(ctx context.Context, c *gateway.Call, in *RevokeSecurityGroupEgressInput) (*RevokeOutput, error) {
	if in.GroupID == "" {
		return nil, missing("GroupId")
	}
	perms, err := legacyPermission(in.IPPermissions, in.IPProtocol, in.FromPort, in.ToPort, in.CidrIP, in.SourceSecurityGroupName)
	if err != nil {
		return nil, err
	}
	return m.revoke(ctx, c, in.GroupID, "", in.SecurityGroupRuleIDs, perms, in.DryRun, true)
}
