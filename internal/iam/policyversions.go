package iam

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// MaxPolicyVersions is how many versions a managed policy may have.
const MaxPolicyVersions = 5

type listPolicyVersionsIn struct {
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
	Marker    string `query:"Marker" v:"max=320"`
	MaxItems  int    `query:"MaxItems" v:"max=1000"`
}

type listPolicyVersionsResult struct {
	Versions    []*policyVersionOut `xml:"Versions>member"`
	IsTruncated bool                `xml:"IsTruncated"`
	Marker      string              `xml:"Marker,omitempty"`
}

type createPolicyVersionIn struct {
	PolicyArn      string `query:"PolicyArn" v:"required,min=20,max=2048"`
	PolicyDocument string `query:"PolicyDocument" v:"required,min=1,max=131072"`
	SetAsDefault   bool   `query:"SetAsDefault"`
}

// versionNumber is the number of a version id (v3 is 3; 0 when malformed).
func versionNumber(id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "v"))
	if err != nil {
		return 0
	}
	return n
}

// versionIDs lists a policy's version ids, newest first.
func versionIDs(p *ManagedPolicy) []string {
	ids := make([]string, 0, len(p.Versions))
	for id := range p.Versions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return versionNumber(ids[i]) > versionNumber(ids[j]) })
	return ids
}

func versionOut(p *ManagedPolicy, id string, withDoc bool) *policyVersionOut {
	created := p.Created
	if t, ok := p.VersionDates[id]; ok {
		created = t
	}
	o := &policyVersionOut{VersionId: id, IsDefaultVersion: id == p.DefaultVersion, CreateDate: isoTime(created)}
	if withDoc {
		o.Document = EncodeDocument(p.Versions[id])
	}
	return o
}

func (m *Module) listPolicyVersions(ctx context.Context, c *gateway.Call, in *listPolicyVersionsIn) (*listPolicyVersionsResult, error) {
	var out []*policyVersionOut
	err := m.store.View(ctx, func(tx store.Tx) error {
		p, err := m.loadPolicy(ctx, tx, c.Account, in.PolicyArn)
		if err != nil {
			return err
		}
		for _, id := range versionIDs(p) {
			out = append(out, versionOut(p, id, false))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	items, next, trunc, err := page(out, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listPolicyVersionsResult{Versions: items, IsTruncated: trunc, Marker: next}, nil
}

// loadOwnPolicy loads a customer managed policy of the account for a
// change: AWS managed policies cannot be changed.
func (m *Module) loadOwnPolicy(ctx context.Context, tx store.Tx, account, arn string) (*ManagedPolicy, error) {
	p, err := m.loadPolicy(ctx, tx, account, arn)
	if err != nil {
		return nil, err
	}
	if p.Account == "aws" {
		return nil, errInvalidInput("AWS managed policies cannot be modified.")
	}
	return p, nil
}

func (m *Module) createPolicyVersion(ctx context.Context, c *gateway.Call, in *createPolicyVersionIn) (*policyVersionResult, error) {
	if err := m.validateIdentity(in.PolicyDocument); err != nil {
		return nil, err
	}
	if PolicySize(in.PolicyDocument) > MaxManagedPolicy {
		return nil, errLimit("Cannot exceed quota for PolicySize: %d", MaxManagedPolicy)
	}
	var out *policyVersionOut
	err := m.update(ctx, func(tx store.Tx) error {
		p, err := m.loadOwnPolicy(ctx, tx, c.Account, in.PolicyArn)
		if err != nil {
			return err
		}
		if len(p.Versions) >= MaxPolicyVersions {
			return errLimit("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", MaxPolicyVersions)
		}
		next := 0
		for id := range p.Versions {
			next = max(next, versionNumber(id))
		}
		id := "v" + strconv.Itoa(next+1)
		p.Versions[id] = in.PolicyDocument
		if p.VersionDates == nil {
			p.VersionDates = map[string]time.Time{}
		}
		p.VersionDates[id] = c.Now.UTC()
		if in.SetAsDefault {
			p.DefaultVersion = id
		}
		p.Updated = c.Now.UTC()
		out = versionOut(p, id, false)
		return store.PutJSON(ctx, tx, TablePolicies, p.ARN, p)
	})
	if err != nil {
		return nil, err
	}
	return &policyVersionResult{PolicyVersion: out}, nil
}

func (m *Module) deletePolicyVersion(ctx context.Context, c *gateway.Call, in *deletePolicyVersionIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		p, err := m.loadOwnPolicy(ctx, tx, c.Account, in.PolicyArn)
		if err != nil {
			return err
		}
		if _, ok := p.Versions[in.VersionId]; !ok {
			return errNoSuchEntity("Policy %s version %s does not exist or is not attachable.", in.PolicyArn, in.VersionId)
		}
		if in.VersionId == p.DefaultVersion {
			return errDeleteConflict("Cannot delete the default version of a policy.")
		}
		delete(p.Versions, in.VersionId)
		delete(p.VersionDates, in.VersionId)
		return store.PutJSON(ctx, tx, TablePolicies, p.ARN, p)
	})
}

func (m *Module) setDefaultPolicyVersion(ctx context.Context, c *gateway.Call, in *setDefaultPolicyVersionIn) (*struct{}, error) {
	return nil, m.update(ctx, func(tx store.Tx) error {
		p, err := m.loadOwnPolicy(ctx, tx, c.Account, in.PolicyArn)
		if err != nil {
			return err
		}
		if _, ok := p.Versions[in.VersionId]; !ok {
			return errNoSuchEntity("Policy %s version %s does not exist or is not attachable.", in.PolicyArn, in.VersionId)
		}
		p.DefaultVersion, p.Updated = in.VersionId, c.Now.UTC()
		return store.PutJSON(ctx, tx, TablePolicies, p.ARN, p)
	})
}
