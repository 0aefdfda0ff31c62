// Package sts is deskplane's AWS Security Token Service (query protocol):
// AssumeRole with trust-policy evaluation (ExternalId, session tags, role
// chaining, session policies), GetSessionToken and GetCallerIdentity. Its
// temporary credentials carry their claims in a session token sealed with a
// key shared by every node through the store, so tokens cannot be forged or
// altered and any node can verify them without a lookup.
package sts

import (
	"bytes"
	"compress/flate"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam"
	"github.com/deskplane/deskplane/internal/iam/policy"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/secrets"
	"github.com/deskplane/deskplane/internal/store"
)

// Limits of the STS API.
const (
	MaxChainedDuration  = 3600
	MaxPackedSize       = 2048 // compressed bytes of session policies, policy ARNs and tags
	DefaultDuration     = 3600
	DefaultTokenSeconds = 43200
)

// Module is the STS service. It implements iam.SessionResolver.
type Module struct {
	store  store.Store
	authz  *iam.Authorizer
	sealer *Sealer
	svc    *gateway.Service
}

var _ iam.SessionResolver = (*Module)(nil)

// New returns the STS module; authz evaluates trust and identity policies.
func New(st store.Store, authz *iam.Authorizer) *Module {
	m := &Module{store: st, authz: authz, sealer: &Sealer{Store: st}}
	m.svc = &gateway.Service{Name: "sts", ActionPrefix: "sts", EventSource: "sts.amazonaws.com", Protocol: gateway.Query,
		XMLNamespace: "https://sts.amazonaws.com/doc/2011-06-15/", ValidationCode: "ValidationError"}
	m.register()
	return m
}

// Services returns the sts operation table.
func (m *Module) Services() []*gateway.Service { return []*gateway.Service{m.svc} }

// Seed creates the shared token sealing key on first start (and seals a
// plaintext one).
func (m *Module) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	return EnsureKey(ctx, tx, m.sealer.Box)
}

// SetSecrets makes the module keep its sealing key sealed under box; call
// it before the first Seed.
func (m *Module) SetSecrets(box *secrets.Box) { m.sealer.Box = box }

// Tag is a session tag.
type Tag struct {
	Key   string `query:"Key" v:"required,min=1,max=128"`
	Value string `query:"Value" v:"max=256"`
}

// PolicyArn names a managed session policy.
type PolicyArn struct {
	Arn string `query:"arn" v:"min=20,max=2048"`
}

type assumeRoleIn struct {
	RoleArn           string      `query:"RoleArn" v:"required,min=20,max=2048"`
	RoleSessionName   string      `query:"RoleSessionName" v:"required,min=2,max=64,pattern=^[A-Za-z0-9_+=,.@-]*$"`
	PolicyArns        []PolicyArn `query:"PolicyArns" v:"max=10"`
	Policy            *string     `query:"Policy" v:"min=1,max=2048"`
	DurationSeconds   *int        `query:"DurationSeconds" v:"min=900,max=43200"`
	Tags              []Tag       `query:"Tags" v:"max=50"`
	TransitiveTagKeys []string    `query:"TransitiveTagKeys" v:"max=50"`
	ExternalId        *string     `query:"ExternalId" v:"min=2,max=1224,pattern=^[A-Za-z0-9_+=,.@:/-]*$"`
	SerialNumber      *string     `query:"SerialNumber" v:"min=9,max=256"`
	TokenCode         *string     `query:"TokenCode" v:"min=6,max=6"`
	SourceIdentity    *string     `query:"SourceIdentity" v:"min=2,max=64,pattern=^[A-Za-z0-9_+=,.@-]*$"`
}

type credentialsOut struct {
	AccessKeyId     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	AssumedRoleId string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

type assumeRoleResult struct {
	Credentials      *credentialsOut  `xml:"Credentials"`
	AssumedRoleUser  *assumedRoleUser `xml:"AssumedRoleUser"`
	PackedPolicySize *int             `xml:"PackedPolicySize,omitempty"`
	SourceIdentity   string           `xml:"SourceIdentity,omitempty"`
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// accessDenied is the denial of action on resource to caller, in the one
// format of every denial (gateway.Denied); STS gives no reason.
func accessDenied(caller, action, resource string) error {
	return gateway.Denied(gateway.Query, &gateway.Principal{ARN: caller},
		gateway.Check{Action: action, Resource: resource, Policy: &gateway.ResourcePolicy{NoReason: true}}, gateway.Decision{})
}

// parseRoleARN splits arn:aws:iam::ACCOUNT:role/PATH/NAME.
func parseRoleARN(arn string) (account, path, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "iam" || parts[3] != "" || len(parts[4]) != 12 {
		return "", "", "", false
	}
	rest, ok := strings.CutPrefix(parts[5], "role/")
	if !ok || rest == "" {
		return "", "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	return parts[4], "/" + rest[:i+1], rest[i+1:], rest[i+1:] != ""
}

// packedSize approximates AWS's packed (compressed) size of the session
// policies, policy ARNs and tags.
func packedSize(policyDoc string, arns []PolicyArn, tags []Tag) int {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	var compact bytes.Buffer
	if policyDoc != "" {
		for _, r := range policyDoc {
			if r != ' ' && r != '\n' && r != '\t' && r != '\r' {
				compact.WriteRune(r)
			}
		}
	}
	for _, a := range arns {
		compact.WriteString(a.Arn)
	}
	for _, t := range tags {
		compact.WriteString(t.Key)
		compact.WriteString(t.Value)
	}
	if compact.Len() == 0 {
		return 0
	}
	w.Write(compact.Bytes())
	w.Close()
	return buf.Len()
}

// assumePlan is an AssumeRole request checked against its role: what the
// resolver authorizes and the handler issues.
type assumePlan struct {
	acct                            string
	role                            *iam.Role // nil: no such role
	chained                         bool
	dur, packed                     int
	policyDoc, externalID, sourceID string
	reqTags                         map[string]string
	sessionPols                     []string
}

// planAssume reads the role an AssumeRole request names and checks the
// request against it. A role that does not exist leaves plan.role nil (AWS
// does not reveal whether it exists: the call is denied).
func (m *Module) planAssume(ctx context.Context, c *gateway.Call, in *assumeRoleIn) (*assumePlan, error) {
	pl := &assumePlan{policyDoc: ptr.Deref(in.Policy), externalID: ptr.Deref(in.ExternalId), sourceID: ptr.Deref(in.SourceIdentity)}
	acct, path, name, ok := parseRoleARN(in.RoleArn)
	if !ok {
		return nil, awsproto.Errorf("ValidationError", "%s is invalid", in.RoleArn)
	}
	pl.acct = acct
	err := m.store.View(ctx, func(tx store.Tx) error {
		r, err := iam.GetRole(ctx, tx, acct, name)
		if err == nil && r.Path == path {
			pl.role = r
			return nil
		}
		if err != nil && !iam.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	role := pl.role
	if role == nil {
		return pl, nil
	}
	// Request validation that needs the role.
	pl.chained = c.Principal.Type == "AssumedRole"
	pl.dur = DefaultDuration
	if in.DurationSeconds != nil {
		pl.dur = *in.DurationSeconds
	}
	if pl.chained && pl.dur > MaxChainedDuration {
		return nil, awsproto.Errorf("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if pl.dur > role.MaxSessionDuration {
		return nil, awsproto.Errorf("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	if strings.HasPrefix(strings.ToLower(pl.sourceID), "aws:") {
		return nil, awsproto.Errorf("ValidationError", "SourceIdentity must not start with 'aws:'")
	}
	pl.reqTags = map[string]string{}
	for _, t := range in.Tags {
		for k := range pl.reqTags {
			if strings.EqualFold(k, t.Key) {
				return nil, awsproto.Errorf("ValidationError", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
			}
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return nil, awsproto.Errorf("ValidationError", "Tag keys must not start with 'aws:'")
		}
		pl.reqTags[t.Key] = t.Value
	}
	for _, k := range in.TransitiveTagKeys {
		if _, ok := lookupFold(pl.reqTags, k); !ok {
			return nil, awsproto.Errorf("InvalidParameterValue", "The specified transitive tag key %s must be included in the requested tags.", k)
		}
	}
	if pl.policyDoc != "" {
		if _, err := m.authz.Parse(pl.policyDoc, policy.Session); err != nil {
			return nil, iam.MalformedError(err)
		}
		pl.sessionPols = append(pl.sessionPols, pl.policyDoc)
	}
	if len(in.PolicyArns) > 0 {
		err := m.store.View(ctx, func(tx store.Tx) error {
			for _, pa := range in.PolicyArns {
				mp, err := iam.GetPolicy(ctx, tx, pa.Arn)
				if iam.IsNotFound(err) || (err == nil && mp.Account != "aws" && mp.Account != role.Account) {
					return awsproto.Errorf("InvalidParameterValue", "Policy %s does not exist or is not attachable.", pa.Arn)
				}
				if err != nil {
					return err
				}
				pl.sessionPols = append(pl.sessionPols, pa.Arn)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	pl.packed = packedSize(pl.policyDoc, in.PolicyArns, in.Tags)
	if pl.packed > MaxPackedSize {
		return nil, awsproto.Errorf("PackedPolicyTooLarge", "Packed size of the session policies, policy ARNs and tags is %d%% of the allowed limit.", pl.packed*100/MaxPackedSize)
	}
	return pl, nil
}

// assumeRoleChecks is the resolver of AssumeRole: sts:AssumeRole on the
// role (and sts:TagSession with session tags, sts:SetSourceIdentity with a
// source identity), each evaluated with the role's trust policy (which
// must allow the caller, or delegate to the account's IAM policies) and,
// when it only delegates or the call is cross-account, the caller's own
// identity policies. A role that does not exist has no trust policy, so
// the call is denied as if it did not trust the caller.
func (m *Module) assumeRoleChecks(ctx context.Context, c *gateway.Call, in *assumeRoleIn) ([]gateway.Check, error) {
	pl, err := m.planAssume(ctx, c, in)
	if err != nil {
		return nil, err
	}
	role := pl.role
	if role == nil {
		return []gateway.Check{{Action: "sts:AssumeRole", Resource: in.RoleArn, ResourceAccount: pl.acct,
			Policy: &gateway.ResourcePolicy{Trust: true, NoReason: true}}}, nil
	}
	sctx := map[string][]string{"sts:rolesessionname": {in.RoleSessionName}}
	if pl.externalID != "" {
		sctx["sts:externalid"] = []string{pl.externalID}
	}
	if pl.sourceID != "" {
		sctx["sts:sourceidentity"] = []string{pl.sourceID}
	}
	if len(in.TransitiveTagKeys) > 0 {
		sctx["sts:transitivetagkeys"] = in.TransitiveTagKeys
	}
	for k, v := range role.Tags {
		sctx["iam:resourcetag/"+strings.ToLower(k)] = []string{v}
	}
	resTags := role.Tags
	if resTags == nil {
		resTags = map[string]string{}
	}
	rp := &gateway.ResourcePolicy{Documents: []string{role.AssumeRolePolicy}, Trust: true, NoReason: true}
	chk := gateway.Check{Action: "sts:AssumeRole", Resource: role.ARN, ResourceAccount: role.Account, ResourceTags: resTags, Context: sctx, Policy: rp}
	if len(in.Tags) > 0 {
		chk.RequestTags = pl.reqTags
	}
	checks := []gateway.Check{chk}
	if len(in.Tags) > 0 {
		chk.Action = "sts:TagSession"
		checks = append(checks, chk)
	}
	if pl.sourceID != "" {
		chk.Action = "sts:SetSourceIdentity"
		checks = append(checks, chk)
	}
	return checks, nil
}

func (m *Module) assumeRole(ctx context.Context, c *gateway.Call, in *assumeRoleIn) (*assumeRoleResult, error) {
	caller := c.Principal
	pl, err := m.planAssume(ctx, c, in)
	if err != nil {
		return nil, err
	}
	role := pl.role
	if role == nil {
		// Deleted since the pipeline authorized the call.
		return nil, accessDenied(caller.ARN, "sts:AssumeRole", in.RoleArn)
	}
	chained, dur, packed, sourceID, sessionPols := pl.chained, pl.dur, pl.packed, pl.sourceID, pl.sessionPols

	// Session tags: role tags, then transitive tags of a chained session,
	// then the request's tags (later ones replace earlier keys regardless
	// of case).
	tags := map[string]string{}
	put := func(k, v string) {
		if old, ok := lookupKeyFold(tags, k); ok {
			delete(tags, old)
		}
		tags[k] = v
	}
	for k, v := range role.Tags {
		put(k, v)
	}
	var transitive []string
	if chained {
		for _, k := range callerTransitive(caller) {
			if v, ok := lookupFold(caller.Tags, k); ok {
				put(k, v)
				transitive = append(transitive, k)
			}
		}
	}
	for _, t := range in.Tags {
		put(t.Key, t.Value)
	}
	transitive = append(transitive, in.TransitiveTagKeys...)
	now := c.Now
	claims := &Claims{Account: role.Account, Kind: "role", ARN: "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/" + in.RoleSessionName,
		UserID: role.RoleID + ":" + in.RoleSessionName, RoleARN: role.ARN, RoleName: role.Name, SessionName: in.RoleSessionName,
		Issued: now.Unix(), Expires: now.Add(time.Duration(dur) * time.Second).Unix(), Policies: sessionPols, Tags: tags,
		Transitive: transitive, SourceID: sourceID, Chained: chained}
	if len(claims.Tags) == 0 {
		claims.Tags = nil
	}
	akid, secret, token, err := m.sealer.Seal(ctx, claims)
	if err != nil {
		return nil, err
	}
	out := &assumeRoleResult{
		Credentials:     &credentialsOut{AccessKeyId: akid, SecretAccessKey: secret, SessionToken: token, Expiration: isoTime(time.Unix(claims.Expires, 0))},
		AssumedRoleUser: &assumedRoleUser{AssumedRoleId: claims.UserID, Arn: claims.ARN},
		SourceIdentity:  sourceID,
	}
	if packed > 0 {
		pct := (packed*100 + MaxPackedSize - 1) / MaxPackedSize
		out.PackedPolicySize = &pct
	}
	return out, nil
}

// callerTransitive returns the transitive session tag keys of a chained
// caller. gateway.Principal has no field for them yet, so chained sessions
// currently inherit no session tags (see the package notes).
func callerTransitive(p *gateway.Principal) []string { return nil }

func lookupFold(m map[string]string, key string) (string, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func lookupKeyFold(m map[string]string, key string) (string, bool) {
	for k := range m {
		if strings.EqualFold(k, key) {
			return k, true
		}
	}
	return "", false
}

type callerIdentityResult struct {
	UserId  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

func (m *Module) getCallerIdentity(ctx context.Context, c *gateway.Call, in *struct{}) (*callerIdentityResult, error) {
	p := c.Principal
	return &callerIdentityResult{UserId: p.UserID, Account: p.Account, Arn: p.ARN}, nil
}

type sessionTokenIn struct {
	DurationSeconds *int    `query:"DurationSeconds" v:"min=900,max=129600"`
	SerialNumber    *string `query:"SerialNumber" v:"min=9,max=256"`
	TokenCode       *string `query:"TokenCode" v:"min=6,max=6"`
}

type sessionTokenResult struct {
	Credentials *credentialsOut `xml:"Credentials"`
}

func (m *Module) getSessionToken(ctx context.Context, c *gateway.Call, in *sessionTokenIn) (*sessionTokenResult, error) {
	p := c.Principal
	if p.Type != "IAMUser" || strings.HasPrefix(p.AccessKeyID, "ASIA") {
		return nil, &awsproto.Error{Code: "AccessDenied", Status: http.StatusForbidden, Sender: true, Message: "Cannot call GetSessionToken with session credentials"}
	}
	dur := DefaultTokenSeconds
	if in.DurationSeconds != nil {
		dur = *in.DurationSeconds
	}
	claims := &Claims{Account: p.Account, Kind: "user", ARN: p.ARN, UserName: p.UserName, UserID: p.UserID,
		Issued: c.Now.Unix(), Expires: c.Now.Add(time.Duration(dur) * time.Second).Unix(), Tags: p.Tags}
	akid, secret, token, err := m.sealer.Seal(ctx, claims)
	if err != nil {
		return nil, err
	}
	return &sessionTokenResult{Credentials: &credentialsOut{AccessKeyId: akid, SecretAccessKey: secret, SessionToken: token, Expiration: isoTime(time.Unix(claims.Expires, 0))}}, nil
}
