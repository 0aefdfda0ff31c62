package iam

import (
	"context"
	"sort"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// ---- managed policies ----

type createPolicyIn struct {
	PolicyName     string `query:"PolicyName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Path           string `query:"Path" v:"max=512"`
	PolicyDocument string `query:"PolicyDocument" v:"required,min=1,max=131072"`
	Description    string `query:"Description" v:"max=1000"`
	Tags           []Tag  `query:"Tags" v:"max=50"`
}

type policyResult struct {
	Policy *policyOut `xml:"Policy"`
}

func (m *Module) createPolicy(ctx context.Context, c *gateway.Call, in *createPolicyIn) (*policyResult, error) {
	path, err := checkPath(in.Path)
	if err != nil {
		return nil, err
	}
	if err := m.validateIdentity(in.PolicyDocument); err != nil {
		return nil, err
	}
	if PolicySize(in.PolicyDocument) > MaxManagedPolicy {
		return nil, errLimit("Cannot exceed quota for PolicySize: %d", MaxManagedPolicy)
	}
	tags, err := tagMap(in.Tags, nil)
	if err != nil {
		return nil, err
	}
	arn := PolicyARN(c.Account, path, in.PolicyName)
	p := &ManagedPolicy{ARN: arn, Account: c.Account, Name: in.PolicyName, Path: path, PolicyID: UniqueID("ANPA", arn+"/"+c.RequestID),
		Description: in.Description, DefaultVersion: "v1", Versions: map[string]string{"v1": in.PolicyDocument},
		Created: c.Now, Updated: c.Now, Tags: tags}
	err = m.update(ctx, func(tx store.Tx) error {
		// Policy names are unique in an account regardless of path.
		dup := false
		err := store.ScanJSON(ctx, tx, TablePolicies, "arn:aws:iam::"+c.Account+":policy/", "", 0, func(_ string, q *ManagedPolicy) error {
			if strings.EqualFold(q.Name, in.PolicyName) {
				dup = true
				return store.ErrStop
			}
			return nil
		})
		if err != nil {
			return err
		}
		if dup {
			return errExists("A policy called %s already exists. Duplicate names are not allowed.", in.PolicyName)
		}
		return store.CreateJSON(ctx, tx, TablePolicies, arn, p)
	})
	if err != nil {
		return nil, err
	}
	return &policyResult{Policy: policyShape(p)}, nil
}

// policyArnRef is the shape the requests of GetPolicy and DeletePolicy share;
// each operation has its own type of it.
type policyArnRef struct {
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
}

// getPolicyIn is the GetPolicy request.
type getPolicyIn policyArnRef

// deletePolicyIn is the DeletePolicy request.
type deletePolicyIn policyArnRef

func (m *Module) loadPolicy(ctx context.Context, tx store.Tx, account, arn string) (*ManagedPolicy, error) {
	p, err := GetPolicy(ctx, tx, arn)
	if IsNotFound(err) || (err == nil && p.Account != "aws" && p.Account != account) {
		return nil, errNoSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return p, err
}

func (m *Module) getPolicy(ctx context.Context, c *gateway.Call, in *getPolicyIn) (*policyResult, error) {
	var p *ManagedPolicy
	err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		p, err = m.loadPolicy(ctx, tx, c.Account, in.PolicyArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &policyResult{Policy: policyShape(p)}, nil
}

// policyVersionRef is the shape the requests of GetPolicyVersion,
// DeletePolicyVersion and SetDefaultPolicyVersion share;
// each operation has its own type of it.
type policyVersionRef struct {
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
	VersionId string `query:"VersionId" v:"required,pattern=^v[1-9][0-9]*([.][A-Za-z0-9-]*)?$"`
}

// getPolicyVersionIn is the GetPolicyVersion request.
type getPolicyVersionIn policyVersionRef

// deletePolicyVersionIn is the DeletePolicyVersion request.
type deletePolicyVersionIn policyVersionRef

// setDefaultPolicyVersionIn is the SetDefaultPolicyVersion request.
type setDefaultPolicyVersionIn policyVersionRef

type policyVersionOut struct {
	Document         string `xml:"Document"`
	VersionId        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       string `xml:"CreateDate"`
}

type policyVersionResult struct {
	PolicyVersion *policyVersionOut `xml:"PolicyVersion"`
}

func (m *Module) getPolicyVersion(ctx context.Context, c *gateway.Call, in *getPolicyVersionIn) (*policyVersionResult, error) {
	var out *policyVersionOut
	err := m.store.View(ctx, func(tx store.Tx) error {
		p, err := m.loadPolicy(ctx, tx, c.Account, in.PolicyArn)
		if err != nil {
			return err
		}
		doc, ok := p.Versions[in.VersionId]
		if !ok {
			return errNoSuchEntity("Policy %s version %s does not exist or is not attachable.", in.PolicyArn, in.VersionId)
		}
		created := p.Created
		if t, ok := p.VersionDates[in.VersionId]; ok {
			created = t
		}
		out = &policyVersionOut{Document: EncodeDocument(doc), VersionId: in.VersionId, IsDefaultVersion: in.VersionId == p.DefaultVersion, CreateDate: isoTime(created)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &policyVersionResult{PolicyVersion: out}, nil
}

type listPoliciesIn struct {
	Scope        string `query:"Scope" v:"enum=All|AWS|Local"`
	OnlyAttached bool   `query:"OnlyAttached"`
	PathPrefix   string `query:"PathPrefix" v:"max=512"`
	Marker       string `query:"Marker" v:"max=320"`
	MaxItems     int    `query:"MaxItems" v:"max=1000"`
}

type listPoliciesResult struct {
	Policies    []*policyOut `xml:"Policies>member"`
	IsTruncated bool         `xml:"IsTruncated"`
	Marker      string       `xml:"Marker,omitempty"`
}

func (m *Module) listPolicies(ctx context.Context, c *gateway.Call, in *listPoliciesIn) (*listPoliciesResult, error) {
	var all []*ManagedPolicy
	if in.Scope == "" || in.Scope == "All" || in.Scope == "AWS" {
		aws := AWSManagedPolicies()
		sort.Slice(aws, func(i, j int) bool { return aws[i].Name < aws[j].Name })
		all = append(all, aws...)
	}
	if in.Scope == "" || in.Scope == "All" || in.Scope == "Local" {
		err := m.store.View(ctx, func(tx store.Tx) error {
			return store.ScanJSON(ctx, tx, TablePolicies, "arn:aws:iam::"+c.Account+":policy/", "", 0, func(_ string, p *ManagedPolicy) error {
				all = append(all, p)
				return nil
			})
		})
		if err != nil {
			return nil, err
		}
	}
	var out []*policyOut
	for _, p := range all {
		if in.OnlyAttached && p.Attachments == 0 {
			continue
		}
		if !strings.HasPrefix(orSlash(p.Path), orSlash(in.PathPrefix)) {
			continue
		}
		o := policyShape(p)
		o.Tags = nil
		out = append(out, o)
	}
	items, next, trunc, err := page(out, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listPoliciesResult{Policies: items, IsTruncated: trunc, Marker: next}, nil
}

func (m *Module) deletePolicy(ctx context.Context, c *gateway.Call, in *deletePolicyIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		p, err := m.loadPolicy(ctx, tx, c.Account, in.PolicyArn)
		if err != nil {
			return err
		}
		if p.Account == "aws" {
			return errInvalidInput("AWS managed policies cannot be deleted.")
		}
		if p.Attachments > 0 {
			return errDeleteConflict("Cannot delete a policy attached to entities.")
		}
		return tx.Delete(ctx, TablePolicies, p.ARN)
	})
}
