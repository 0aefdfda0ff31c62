package ec2

import (
	"context"
	"fmt"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// findGroup resolves a DeleteSecurityGroup target by id or by name.
func (m *Module) findGroup(ctx context.Context, tx store.Tx, c *gateway.Call, id, name string) (*SecurityGroup, error) {
	if id != "" {
		g, err := getGroup(ctx, tx, c.Account, c.Region, id)
		if err != nil {
			return nil, notFound(err, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
		}
		return g, nil
	}
	g, err := groupByName(ctx, tx, c.Account, c.Region, "", name)
	if err != nil {
		return nil, notFound(err, "InvalidGroup.NotFound", "The security group '%s' does not exist", name)
	}
	return g, nil
}

func (m *Module) deleteSecurityGroupResources(ctx context.Context, c *gateway.Call, in *DeleteSecurityGroupInput) ([]gateway.Check, error) {
	id := in.GroupID
	var tags map[string]string
	// A group that does not exist has no tags (the handler reports it
	// missing); any other failure to read it is an error, never "no tags".
	err := m.store.View(ctx, func(tx store.Tx) error {
		g, err := m.findGroup(ctx, tx, c, in.GroupID, in.GroupName)
		if awsproto.As(err) != nil {
			return nil
		}
		if err != nil {
			return err
		}
		id, tags = g.ID, g.Tags
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ec2: read the tags of security group %s%s: %w", in.GroupID, in.GroupName, err)
	}
	if id == "" {
		id = "*"
	}
	return []gateway.Check{{Resource: ARN(c.Region, c.Account, "security-group/"+id), ResourceTags: orEmptyTags(tags)}}, nil
}

func orEmptyTags(t map[string]string) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return t
}

// deleteSecurityGroup deletes a security group. The VPC's default group
// cannot be deleted, nor the groups WorkSpaces and Directory Service attach
// to their network interfaces (DependencyViolation: a directory's controllers
// group while the directory's interfaces use it), nor one that another
// group's rules reference.
func (m *Module) deleteSecurityGroup(ctx context.Context, c *gateway.Call, in *DeleteSecurityGroupInput) (*DeleteSecurityGroupOutput, error) {
	if in.GroupID == "" && in.GroupName == "" {
		return nil, missing("GroupId")
	}
	if in.GroupID != "" && !sgRe.MatchString(in.GroupID) {
		return nil, awsproto.Errorf("InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", in.GroupID)
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var id string
	err := m.store.Update(ctx, func(tx store.Tx) error {
		g, err := m.findGroup(ctx, tx, c, in.GroupID, in.GroupName)
		if err != nil {
			return err
		}
		id = g.ID
		if g.Name == "default" {
			return awsproto.Errorf("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
		}
		if strings.HasSuffix(g.Name, "_workspacesMembers") {
			return awsproto.Errorf("DependencyViolation", "resource %s has a dependent object", g.ID)
		}
		enis, err := m.listInterfaces(ctx, tx, c.Account, c.Region)
		if err != nil {
			return err
		}
		for _, e := range enis {
			for _, gid := range e.GroupIDs {
				if gid == g.ID {
					return awsproto.Errorf("DependencyViolation", "resource %s has a dependent object", g.ID)
				}
			}
		}
		groups, err := listAll[SecurityGroup](ctx, tx, TableSecGroup, c.Account, c.Region)
		if err != nil {
			return err
		}
		for _, o := range groups {
			for _, r := range append(append([]Rule{}, o.Ingress...), o.Egress...) {
				if o.ID != g.ID && r.GroupID == g.ID {
					return awsproto.Errorf("DependencyViolation", "resource %s has a dependent object", g.ID)
				}
			}
		}
		return tx.Delete(ctx, TableSecGroup, key(c.Account, c.Region, g.ID))
	})
	if err != nil {
		return nil, err
	}
	return &DeleteSecurityGroupOutput{Return: true, GroupID: id}, nil
}
