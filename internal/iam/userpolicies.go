package iam

import (
	"context"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// ---- inline and attached policies ----

// putUserPolicyIn is the input of PutUserPolicy.
type putUserPolicyIn struct {
	UserName       string `query:"UserName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyName     string `query:"PolicyName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyDocument string `query:"PolicyDocument" v:"required,min=1,max=131072"`
}

// putRolePolicyIn is the input of PutRolePolicy.
type putRolePolicyIn struct {
	RoleName       string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyName     string `query:"PolicyName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyDocument string `query:"PolicyDocument" v:"required,min=1,max=131072"`
}

func aggregateSize(inline map[string]string, name, doc string) int {
	n := PolicySize(doc)
	for k, d := range inline {
		if k != name {
			n += PolicySize(d)
		}
	}
	return n
}

func (m *Module) putUserPolicy(ctx context.Context, c *gateway.Call, in *putUserPolicyIn) (*struct{}, error) {
	if err := m.validateIdentity(in.PolicyDocument); err != nil {
		return nil, err
	}
	return nil, m.update(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, in.UserName)
		if err != nil {
			return err
		}
		if aggregateSize(u.Inline, in.PolicyName, in.PolicyDocument) > MaxUserInline {
			return errLimit("Maximum policy size of %d bytes exceeded for user %s", MaxUserInline, u.Name)
		}
		if u.Inline == nil {
			u.Inline = map[string]string{}
		}
		u.Inline[in.PolicyName] = in.PolicyDocument
		return store.PutJSON(ctx, tx, TableUsers, UserKey(c.Account, u.Name), u)
	})
}

type userPolicyIn struct {
	UserName   string `query:"UserName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyName string `query:"PolicyName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
}

func (m *Module) deleteUserPolicy(ctx context.Context, c *gateway.Call, in *userPolicyIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, in.UserName)
		if err != nil {
			return err
		}
		if _, ok := u.Inline[in.PolicyName]; !ok {
			return errNoSuchEntity("The user policy with name %s cannot be found.", in.PolicyName)
		}
		delete(u.Inline, in.PolicyName)
		return store.PutJSON(ctx, tx, TableUsers, UserKey(c.Account, u.Name), u)
	})
}

// attachUserPolicyIn is the input of AttachUserPolicy.
type attachUserPolicyIn struct {
	UserName  string `query:"UserName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
}

// attachRolePolicyIn is the input of AttachRolePolicy.
type attachRolePolicyIn struct {
	RoleName  string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
}

// detachRolePolicyIn is the input of DetachRolePolicy.
type detachRolePolicyIn struct {
	RoleName  string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
}

// attachable loads a managed policy that account may attach.
func attachable(ctx context.Context, tx store.Tx, account, arn string) (*ManagedPolicy, error) {
	p, err := GetPolicy(ctx, tx, arn)
	if IsNotFound(err) || (err == nil && p.Account != "aws" && p.Account != account) {
		return nil, errNoSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return p, err
}

func attach(ctx context.Context, tx store.Tx, account string, list *[]string, arn, entity string) error {
	p, err := attachable(ctx, tx, account, arn)
	if err != nil {
		return err
	}
	for _, a := range *list {
		if a == arn {
			return nil
		}
	}
	if len(*list) >= MaxManagedPerEntity {
		return errLimit("Cannot exceed quota for PoliciesPer%s: %d", entity, MaxManagedPerEntity)
	}
	*list = append(*list, arn)
	if p.Account != "aws" {
		p.Attachments++
		return store.PutJSON(ctx, tx, TablePolicies, p.ARN, p)
	}
	return nil
}

func (m *Module) attachUserPolicy(ctx context.Context, c *gateway.Call, in *attachUserPolicyIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, in.UserName)
		if err != nil {
			return err
		}
		if err := attach(ctx, tx, c.Account, &u.Attached, in.PolicyArn, "User"); err != nil {
			return err
		}
		return store.PutJSON(ctx, tx, TableUsers, UserKey(c.Account, u.Name), u)
	})
}
