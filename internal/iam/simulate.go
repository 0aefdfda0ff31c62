package iam

import (
	"context"
	"fmt"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam/policy"
	"github.com/deskplane/deskplane/internal/store"
)

// ContextEntry is one SimulatePrincipalPolicy context value.
type ContextEntry struct {
	ContextKeyName   string   `query:"ContextKeyName" v:"max=256"`
	ContextKeyValues []string `query:"ContextKeyValues"`
	ContextKeyType   string   `query:"ContextKeyType" v:"enum=string|stringList|numeric|numericList|boolean|booleanList|ip|ipList|binary|binaryList|date|dateList"`
}

type simulateIn struct {
	PolicySourceArn                    string         `query:"PolicySourceArn" v:"required,min=20,max=2048"`
	PolicyInputList                    []string       `query:"PolicyInputList" v:"mmin=1,mmax=131072"`
	PermissionsBoundaryPolicyInputList []string       `query:"PermissionsBoundaryPolicyInputList" v:"max=1"`
	ActionNames                        []string       `query:"ActionNames" v:"required,max=1000,mmin=3,mmax=128"`
	ResourceArns                       []string       `query:"ResourceArns" v:"max=1000,mmin=1,mmax=2048"`
	ResourcePolicy                     string         `query:"ResourcePolicy" v:"max=131072"`
	ResourceOwner                      string         `query:"ResourceOwner"`
	CallerArn                          string         `query:"CallerArn"`
	ContextEntries                     []ContextEntry `query:"ContextEntries"`
	ResourceHandlingOption             string         `query:"ResourceHandlingOption"`
	MaxItems                           int            `query:"MaxItems" v:"max=1000"`
	Marker                             string         `query:"Marker" v:"max=320"`
}

type position struct {
	Line   int `xml:"Line"`
	Column int `xml:"Column"`
}

type statementOut struct {
	SourcePolicyId   string    `xml:"SourcePolicyId"`
	SourcePolicyType string    `xml:"SourcePolicyType"`
	StartPosition    *position `xml:"StartPosition"`
	EndPosition      *position `xml:"EndPosition"`
}

type resourceResultOut struct {
	EvalResourceName     string          `xml:"EvalResourceName"`
	EvalResourceDecision string          `xml:"EvalResourceDecision"`
	MatchedStatements    []*statementOut `xml:"MatchedStatements>member"`
	MissingContextValues []string        `xml:"MissingContextValues>member"`
}

type evalResultOut struct {
	EvalActionName          string               `xml:"EvalActionName"`
	EvalResourceName        string               `xml:"EvalResourceName"`
	EvalDecision            string               `xml:"EvalDecision"`
	MatchedStatements       []*statementOut      `xml:"MatchedStatements>member"`
	MissingContextValues    []string             `xml:"MissingContextValues>member"`
	ResourceSpecificResults []*resourceResultOut `xml:"ResourceSpecificResults>member,omitempty"`
}

type simulateResult struct {
	EvaluationResults []*evalResultOut `xml:"EvaluationResults>member"`
	IsTruncated       bool             `xml:"IsTruncated"`
	Marker            string           `xml:"Marker,omitempty"`
}

// EvalDecision spells a decision the way the simulator reports it.
func EvalDecision(d policy.Decision) string {
	switch d {
	case policy.Allow:
		return "allowed"
	case policy.Deny:
		return "explicitDeny"
	}
	return "implicitDeny"
}

// parseEntityARN splits an IAM user or role ARN into account, type and name.
func parseEntityARN(arn string) (account, typ, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" {
		return "", "", "", false
	}
	res := parts[5]
	typ, rest, ok := strings.Cut(res, "/")
	if !ok || (typ != "user" && typ != "role") {
		return "", "", "", false
	}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		rest = rest[i+1:]
	}
	return parts[4], typ, rest, rest != ""
}

// simulateChecks authorizes SimulatePrincipalPolicy on the source entity's
// real ARN (with its path and tags), whatever spelling the caller used.
func (m *Module) simulateChecks(ctx context.Context, c *gateway.Call, in *simulateIn) ([]gateway.Check, error) {
	acct, typ, name, ok := parseEntityARN(in.PolicySourceArn)
	if !ok || acct != c.Account {
		return []gateway.Check{{Resource: in.PolicySourceArn}}, nil // the handler refuses it
	}
	chk := gateway.Check{Resource: in.PolicySourceArn}
	err := m.store.View(ctx, func(tx store.Tx) error {
		if typ == "user" {
			u, err := GetUser(ctx, tx, acct, name)
			if err == nil {
				chk.Resource, chk.ResourceTags = u.ARN, u.Tags
			}
			return err
		}
		r, err := GetRole(ctx, tx, acct, name)
		if err == nil {
			chk.Resource, chk.ResourceTags = r.ARN, r.Tags
		}
		return err
	})
	if err != nil && !IsNotFound(err) {
		return nil, fmt.Errorf("iam: authorize on %s: %w", in.PolicySourceArn, err)
	}
	return []gateway.Check{chk}, nil
}

// Simulation limits. The model bounds each member's length but not the
// lists; deskplane takes at most MaxSimulateActions action names and
// MaxSimulateResources resource ARNs (ValidationError beyond), and evaluates
// only the requested page of their product.
const (
	MaxSimulateActions   = 1000
	MaxSimulateResources = 1000
)

func (m *Module) simulatePrincipalPolicy(ctx context.Context, c *gateway.Call, in *simulateIn) (*simulateResult, error) {
	acct, typ, name, ok := parseEntityARN(in.PolicySourceArn)
	if !ok {
		return nil, errInvalidInput("Invalid ARN: %s. PolicySourceArn must be the ARN of a user, group or role.", in.PolicySourceArn)
	}
	if acct != c.Account {
		return nil, errNoSuchEntity("The %s with name %s cannot be found.", typ, name)
	}
	var ent *identEntry
	var entARN string
	err := m.store.View(ctx, func(tx store.Tx) error {
		if typ == "user" {
			u, err := m.loadUser(ctx, tx, acct, name)
			if err != nil {
				return err
			}
			if u.ARN != in.PolicySourceArn { // another path: not this user
				return errNoSuchEntity("The user with name %s cannot be found.", name)
			}
			entARN = u.ARN
			ent, err = m.authz.loadEntity(ctx, tx, u.Inline, u.Attached, SourceUser)
			return err
		}
		r, err := m.loadRole(ctx, tx, acct, name)
		if err != nil {
			return err
		}
		if r.ARN != in.PolicySourceArn { // another path: not this role
			return errNoSuchEntity("The role with name %s cannot be found.", name)
		}
		entARN = r.ARN
		ent, err = m.authz.loadEntity(ctx, tx, r.Inline, r.Attached, SourceRole)
		return err
	})
	if err != nil {
		return nil, err
	}
	pols := append([]*policy.Policy(nil), ent.pols...)
	types := map[string]string{}
	for k, v := range ent.types {
		types[k] = v
	}
	for i, doc := range in.PolicyInputList {
		p, err := m.authz.Parse(doc, policy.Identity)
		if err != nil {
			return nil, errInvalidInput("PolicyInputList.%d: %v", i+1, err)
		}
		id := fmt.Sprintf("PolicyInputList.%d", i+1)
		pols = append(pols, named(p, id))
		types[id] = SourceNone
	}
	var boundary []*policy.Policy
	for i, doc := range in.PermissionsBoundaryPolicyInputList {
		p, err := m.authz.Parse(doc, policy.Identity)
		if err != nil {
			return nil, errInvalidInput("PermissionsBoundaryPolicyInputList.%d: %v", i+1, err)
		}
		id := fmt.Sprintf("PermissionsBoundaryPolicyInputList.%d", i+1)
		boundary = append(boundary, named(p, id))
		types[id] = SourceNone
	}
	caller := in.CallerArn
	if caller == "" {
		if typ == "role" && in.ResourcePolicy != "" {
			return nil, errInvalidInput("CallerArn must be specified when simulating a resource policy for a role.")
		}
		caller = entARN
	}
	var resPols []*policy.Policy
	if in.ResourcePolicy != "" {
		p, err := m.authz.Parse(in.ResourcePolicy, policy.Resource)
		if err != nil {
			return nil, errInvalidInput("ResourcePolicy: %v", err)
		}
		resPols = []*policy.Policy{named(p, "ResourcePolicy")}
		types["ResourcePolicy"] = SourceResource
	}
	ctxMap := map[string][]string{}
	for _, e := range in.ContextEntries {
		if e.ContextKeyName == "" {
			return nil, errInvalidInput("ContextKeyName must be specified.")
		}
		k := strings.ToLower(e.ContextKeyName)
		ctxMap[k] = append(ctxMap[k], e.ContextKeyValues...)
	}
	all := append(append(append([]*policy.Policy(nil), pols...), boundary...), resPols...)
	missing := policy.MissingContextKeys(ctxMap, all...)
	if missing == nil {
		missing = []string{}
	}
	resources := in.ResourceArns
	explicit := len(resources) > 0
	if !explicit {
		resources = []string{"*"}
	}
	set := policy.Set{Identity: pols, Boundary: boundary, Resource: resPols, ResourceAccount: in.ResourceOwner}
	if in.ResourceOwner != "" && !strings.HasPrefix(in.ResourceOwner, "arn:") {
		set.ResourceAccount = in.ResourceOwner
	} else if in.ResourceOwner != "" {
		if parts := strings.SplitN(in.ResourceOwner, ":", 6); len(parts) == 6 {
			set.ResourceAccount = parts[4]
		}
	}
	pr := policy.Principal{ARN: caller, Account: acct}
	// Only the requested page of the action × resource product is evaluated.
	start, end, next, trunc, err := pageRange(len(in.ActionNames)*len(resources), in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	results := make([]*evalResultOut, 0, end-start)
	for i := start; i < end; i++ {
		action, res := in.ActionNames[i/len(resources)], resources[i%len(resources)]
		r := policy.Request{Action: action, Resource: res, Principal: pr, Context: ctxMap}
		out := policy.Authorize(set, &r)
		stmts := make([]*statementOut, 0, len(out.Matched))
		for _, mt := range out.Matched {
			t := types[mt.Policy]
			if t == "" {
				t = SourceNone
			}
			stmts = append(stmts, &statementOut{SourcePolicyId: mt.Policy, SourcePolicyType: t,
				StartPosition: &position{mt.Start.Line, mt.Start.Column}, EndPosition: &position{mt.End.Line, mt.End.Column}})
		}
		er := &evalResultOut{EvalActionName: action, EvalResourceName: res, EvalDecision: EvalDecision(out.Decision), MatchedStatements: stmts, MissingContextValues: missing}
		if explicit {
			er.ResourceSpecificResults = []*resourceResultOut{{EvalResourceName: res, EvalResourceDecision: er.EvalDecision, MatchedStatements: stmts, MissingContextValues: missing}}
			er.MissingContextValues = []string{}
		}
		results = append(results, er)
	}
	return &simulateResult{EvaluationResults: results, IsTruncated: trunc, Marker: next}, nil
}
