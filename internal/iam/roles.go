package iam

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam/policy"
	"github.com/deskplane/deskplane/internal/store"
)

// ---- roles ----

type createRoleIn struct {
	RoleName                 string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Path                     string `query:"Path" v:"max=512"`
	AssumeRolePolicyDocument string `query:"AssumeRolePolicyDocument" v:"required,min=1,max=131072"`
	Description              string `query:"Description" v:"max=1000"`
	MaxSessionDuration       int    `query:"MaxSessionDuration" v:"min=3600,max=43200"`
	PermissionsBoundary      string `query:"PermissionsBoundary"`
	Tags                     []Tag  `query:"Tags" v:"max=50"`
}

type roleResult struct {
	Role *roleOut `xml:"Role"`
}

// validateTrust parses a trust policy and checks its size quota.
func (m *Module) validateTrust(doc string) error {
	if _, err := m.authz.Parse(doc, policy.Trust); err != nil {
		return MalformedError(err)
	}
	if PolicySize(doc) > MaxTrustPolicy {
		return errLimit("Cannot exceed quota for ACLSizePerRole: %d", MaxTrustPolicy)
	}
	return nil
}

func (m *Module) createRole(ctx context.Context, c *gateway.Call, in *createRoleIn) (*roleResult, error) {
	path, err := checkPath(in.Path)
	if err != nil {
		return nil, err
	}
	if in.MaxSessionDuration == 0 {
		in.MaxSessionDuration = defaultSessionDuration
	}
	if in.PermissionsBoundary != "" {
		return nil, errInvalidInput("Permissions boundaries are not supported by deskplane.")
	}
	if err := m.validateTrust(in.AssumeRolePolicyDocument); err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags, nil)
	if err != nil {
		return nil, err
	}
	r := &Role{Account: c.Account, Name: in.RoleName, Path: path, RoleID: UniqueID("AROA", c.Account+"/"+in.RoleName+"/"+c.RequestID),
		ARN: RoleARN(c.Account, path, in.RoleName), Description: in.Description, AssumeRolePolicy: in.AssumeRolePolicyDocument,
		MaxSessionDuration: in.MaxSessionDuration, Created: c.Now, Tags: tags}
	err = m.update(ctx, func(tx store.Tx) error {
		err := store.CreateJSON(ctx, tx, TableRoles, RoleKey(c.Account, in.RoleName), r)
		if errors.Is(err, store.ErrExists) {
			return errExists("Role with name %s already exists.", in.RoleName)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &roleResult{Role: roleShape(r, true)}, nil
}

// roleNameRef is the shape the requests of GetRole and DeleteRole share;
// each operation has its own type of it.
type roleNameRef struct {
	RoleName string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
}

// getRoleIn is the GetRole request.
type getRoleIn roleNameRef

// deleteRoleIn is the DeleteRole request.
type deleteRoleIn roleNameRef

func (m *Module) loadRole(ctx context.Context, tx store.Tx, account, name string) (*Role, error) {
	r, err := GetRole(ctx, tx, account, name)
	if IsNotFound(err) {
		return nil, errNoSuchEntity("The role with name %s cannot be found.", name)
	}
	return r, err
}

func (m *Module) getRole(ctx context.Context, c *gateway.Call, in *getRoleIn) (*roleResult, error) {
	var r *Role
	err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		r, err = m.loadRole(ctx, tx, c.Account, in.RoleName)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &roleResult{Role: roleShape(r, true)}, nil
}

type listRolesResult struct {
	Roles       []*roleOut `xml:"Roles>member"`
	IsTruncated bool       `xml:"IsTruncated"`
	Marker      string     `xml:"Marker,omitempty"`
}

func (m *Module) listRoles(ctx context.Context, c *gateway.Call, in *listRolesIn) (*listRolesResult, error) {
	items, next, trunc, err := listByPath(ctx, m, TableRoles, c.Account, (*listIn)(in),
		func(r *Role) string { return r.Path },
		func(r *Role) *roleOut { o := roleShape(r, true); o.Tags = nil; return o })
	if err != nil {
		return nil, err
	}
	return &listRolesResult{Roles: items, IsTruncated: trunc, Marker: next}, nil
}

func (m *Module) deleteRole(ctx context.Context, c *gateway.Call, in *deleteRoleIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		if len(r.Inline) > 0 {
			return errDeleteConflict("Cannot delete entity, must delete policies first.")
		}
		if len(r.Attached) > 0 {
			return errDeleteConflict("Cannot delete entity, must detach all policies first.")
		}
		return tx.Delete(ctx, TableRoles, RoleKey(c.Account, r.Name))
	})
}

type updateTrustIn struct {
	RoleName       string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyDocument string `query:"PolicyDocument" v:"required,min=1,max=131072"`
}

func (m *Module) updateAssumeRolePolicy(ctx context.Context, c *gateway.Call, in *updateTrustIn) (*struct{}, error) {
	if err := m.validateTrust(in.PolicyDocument); err != nil {
		return nil, err
	}
	return nil, m.update(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		r.AssumeRolePolicy = in.PolicyDocument
		return store.PutJSON(ctx, tx, TableRoles, RoleKey(c.Account, r.Name), r)
	})
}

func (m *Module) putRolePolicy(ctx context.Context, c *gateway.Call, in *putRolePolicyIn) (*struct{}, error) {
	if err := m.validateIdentity(in.PolicyDocument); err != nil {
		return nil, err
	}
	return nil, m.update(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		if aggregateSize(r.Inline, in.PolicyName, in.PolicyDocument) > MaxRoleInline {
			return errLimit("Maximum policy size of %d bytes exceeded for role %s", MaxRoleInline, r.Name)
		}
		if r.Inline == nil {
			r.Inline = map[string]string{}
		}
		r.Inline[in.PolicyName] = in.PolicyDocument
		return store.PutJSON(ctx, tx, TableRoles, RoleKey(c.Account, r.Name), r)
	})
}

// rolePolicyRef is the shape the requests of GetRolePolicy and DeleteRolePolicy share;
// each operation has its own type of it.
type rolePolicyRef struct {
	RoleName   string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyName string `query:"PolicyName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
}

// getRolePolicyIn is the GetRolePolicy request.
type getRolePolicyIn rolePolicyRef

// deleteRolePolicyIn is the DeleteRolePolicy request.
type deleteRolePolicyIn rolePolicyRef

type getRolePolicyResult struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func (m *Module) getRolePolicy(ctx context.Context, c *gateway.Call, in *getRolePolicyIn) (*getRolePolicyResult, error) {
	var out *getRolePolicyResult
	err := m.store.View(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		doc, ok := r.Inline[in.PolicyName]
		if !ok {
			return errNoSuchEntity("The role policy with name %s cannot be found.", in.PolicyName)
		}
		out = &getRolePolicyResult{RoleName: r.Name, PolicyName: in.PolicyName, PolicyDocument: EncodeDocument(doc)}
		return nil
	})
	return out, err
}

type listRolePoliciesIn struct {
	RoleName string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Marker   string `query:"Marker" v:"max=320"`
	MaxItems int    `query:"MaxItems" v:"max=1000"`
}

type listRolePoliciesResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool     `xml:"IsTruncated"`
	Marker      string   `xml:"Marker,omitempty"`
}

func (m *Module) listRolePolicies(ctx context.Context, c *gateway.Call, in *listRolePoliciesIn) (*listRolePoliciesResult, error) {
	var names []string
	err := m.store.View(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		for n := range r.Inline {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil
	})
	if err != nil {
		return nil, err
	}
	items, next, trunc, err := page(names, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listRolePoliciesResult{PolicyNames: items, IsTruncated: trunc, Marker: next}, nil
}

func (m *Module) deleteRolePolicy(ctx context.Context, c *gateway.Call, in *deleteRolePolicyIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		if _, ok := r.Inline[in.PolicyName]; !ok {
			return errNoSuchEntity("The role policy with name %s cannot be found.", in.PolicyName)
		}
		delete(r.Inline, in.PolicyName)
		return store.PutJSON(ctx, tx, TableRoles, RoleKey(c.Account, r.Name), r)
	})
}

func (m *Module) attachRolePolicy(ctx context.Context, c *gateway.Call, in *attachRolePolicyIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		if err := attach(ctx, tx, c.Account, &r.Attached, in.PolicyArn, "Role"); err != nil {
			return err
		}
		return store.PutJSON(ctx, tx, TableRoles, RoleKey(c.Account, r.Name), r)
	})
}

func (m *Module) detachRolePolicy(ctx context.Context, c *gateway.Call, in *detachRolePolicyIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		i := -1
		for j, a := range r.Attached {
			if a == in.PolicyArn {
				i = j
			}
		}
		if i < 0 {
			return errNoSuchEntity("Policy %s was not found.", in.PolicyArn)
		}
		r.Attached = append(r.Attached[:i:i], r.Attached[i+1:]...)
		if p, err := GetPolicy(ctx, tx, in.PolicyArn); err == nil && p.Account != "aws" && p.Attachments > 0 {
			p.Attachments--
			if err := store.PutJSON(ctx, tx, TablePolicies, p.ARN, p); err != nil {
				return err
			}
		}
		return store.PutJSON(ctx, tx, TableRoles, RoleKey(c.Account, r.Name), r)
	})
}

type listAttachedIn struct {
	RoleName   string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PathPrefix string `query:"PathPrefix" v:"max=512"`
	Marker     string `query:"Marker" v:"max=320"`
	MaxItems   int    `query:"MaxItems" v:"max=1000"`
}

type listAttachedResult struct {
	AttachedPolicies []attachedPolicy `xml:"AttachedPolicies>member"`
	IsTruncated      bool             `xml:"IsTruncated"`
	Marker           string           `xml:"Marker,omitempty"`
}

func (m *Module) listAttachedRolePolicies(ctx context.Context, c *gateway.Call, in *listAttachedIn) (*listAttachedResult, error) {
	var all []attachedPolicy
	err := m.store.View(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		for _, arn := range r.Attached {
			p, err := GetPolicy(ctx, tx, arn)
			if IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			if strings.HasPrefix(orSlash(p.Path), orSlash(in.PathPrefix)) {
				all = append(all, attachedPolicy{PolicyName: p.Name, PolicyArn: p.ARN})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	items, next, trunc, err := page(all, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listAttachedResult{AttachedPolicies: items, IsTruncated: trunc, Marker: next}, nil
}

type tagRoleIn struct {
	RoleName string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Tags     []Tag  `query:"Tags" v:"required,max=50"`
}

func (m *Module) tagRole(ctx context.Context, c *gateway.Call, in *tagRoleIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		r, err := m.loadRole(ctx, tx, c.Account, in.RoleName)
		if err != nil {
			return err
		}
		r.Tags, err = tagMap(in.Tags, r.Tags)
		if err != nil {
			return err
		}
		return store.PutJSON(ctx, tx, TableRoles, RoleKey(c.Account, r.Name), r)
	})
}
