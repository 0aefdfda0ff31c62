package iam

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam/policy"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/store"
)

// Quotas of the IAM API (defaults of the IAM quotas page).
const (
	MaxAccessKeysPerUser   = 2
	MaxManagedPerEntity    = 10
	MaxTagsPerEntity       = 50
	defaultMaxItems        = 100
	defaultSessionDuration = 3600
)

func sortTags(t []Tag) { sort.Slice(t, func(i, j int) bool { return t[i].Key < t[j].Key }) }

// oneCheck declares an operation's single authorization check on the ARN
// that arn computes.
func oneCheck[In any](op *gateway.Operation, arn func(c *gateway.Call, in *In) string) *gateway.Operation {
	return gateway.WithResources(op, func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		return []gateway.Check{{Resource: arn(c, in)}}, nil
	})
}

// userCheck declares an operation's authorization check on an existing
// user: the user's real ARN (with its path) and its tags, so that
// path-scoped statements (user/admins/*) and aws:ResourceTag conditions
// apply. An empty name means the calling user.
func userCheck[In any](m *Module, op *gateway.Operation, name func(in *In) string) *gateway.Operation {
	return gateway.WithResources(op, func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		n := name(in)
		if n == "" && c.Principal != nil && c.Principal.Type == "IAMUser" {
			n = c.Principal.UserName
		}
		if n == "" {
			return []gateway.Check{{Resource: UserARN(c.Account, "/", n)}}, nil // the handler refuses it
		}
		var u *User
		err := m.store.View(ctx, func(tx store.Tx) error {
			var err error
			u, err = GetUser(ctx, tx, c.Account, n)
			return err
		})
		if IsNotFound(err) {
			// Nothing to protect: the handler answers NoSuchEntity.
			return []gateway.Check{{Resource: UserARN(c.Account, "/", n)}}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("iam: authorize on user %s: %w", n, err)
		}
		return []gateway.Check{{Resource: u.ARN, ResourceTags: u.Tags}}, nil
	})
}

// roleCheck declares an operation's authorization check on an existing
// role: the role's real ARN (with its path) and its tags.
func roleCheck[In any](m *Module, op *gateway.Operation, name func(in *In) string) *gateway.Operation {
	return gateway.WithResources(op, func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		n := name(in)
		var r *Role
		err := m.store.View(ctx, func(tx store.Tx) error {
			var err error
			r, err = GetRole(ctx, tx, c.Account, n)
			return err
		})
		if IsNotFound(err) {
			return []gateway.Check{{Resource: RoleARN(c.Account, "/", n)}}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("iam: authorize on role %s: %w", n, err)
		}
		return []gateway.Check{{Resource: r.ARN, ResourceTags: r.Tags}}, nil
	})
}

// page returns the page of items after marker (an opaque offset).
func page[T any](items []T, marker string, maxItems int) ([]T, string, bool, error) {
	start, end, next, trunc, err := pageRange(len(items), marker, maxItems)
	if err != nil {
		return nil, "", false, err
	}
	return items[start:end], next, trunc, nil
}

// pageRange returns the bounds [start, end) of the page after marker (an
// opaque offset) among total items, the next page's marker and whether
// there is one.
func pageRange(total int, marker string, maxItems int) (start, end int, next string, trunc bool, err error) {
	if marker != "" {
		b, err := base64.RawURLEncoding.DecodeString(marker)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > total {
			return 0, 0, "", false, errInvalidInput("Invalid Marker.")
		}
		start = n
	}
	if maxItems <= 0 {
		maxItems = defaultMaxItems
	}
	end = start + min(maxItems, total-start)
	if end < total {
		return start, end, base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))), true, nil
	}
	return start, end, "", false, nil
}

// NewAccessKeyID returns a random access key id with the given prefix
// (AKIA for long-term keys, ASIA for temporary ones): 20 characters.
func NewAccessKeyID(prefix string) string {
	return prefix + ids.FromAlphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 20-len(prefix))
}

// NewSecretKey returns a random 40-character secret access key.
func NewSecretKey() string {
	return ids.FromAlphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
}

func checkPath(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
		return "", errValidation("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return p, nil
}

func tagMap(tags []Tag, into map[string]string) (map[string]string, error) {
	if into == nil {
		into = map[string]string{}
	}
	seen := map[string]bool{}
	for _, t := range tags {
		l := strings.ToLower(t.Key)
		if seen[l] {
			return nil, errInvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[l] = true
		for k := range into { // IAM tag keys are case-insensitive, case-preserving
			if strings.EqualFold(k, t.Key) {
				delete(into, k)
			}
		}
		into[t.Key] = t.Value
	}
	if len(into) > MaxTagsPerEntity {
		return nil, errLimit("The number of tags has reached the maximum limit.")
	}
	return into, nil
}

// validateIdentity parses an identity policy (MalformedPolicyDocument).
func (m *Module) validateIdentity(doc string) error {
	_, err := m.authz.Parse(doc, policy.Identity)
	return MalformedError(err)
}

// ---- users ----

type createUserIn struct {
	UserName string `query:"UserName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Path     string `query:"Path" v:"max=512"`
	Tags     []Tag  `query:"Tags" v:"max=50"`
}
type userResult struct {
	User *userOut `xml:"User"`
}

type userNameIn struct {
	UserName string `query:"UserName" v:"max=128"`
}

type listIn struct {
	PathPrefix string `query:"PathPrefix" v:"max=512"`
	Marker     string `query:"Marker" v:"max=320"`
	MaxItems   int    `query:"MaxItems" v:"max=1000"`
}

type listUsersResult struct {
	Users       []*userOut `xml:"Users>member"`
	IsTruncated bool       `xml:"IsTruncated"`
	Marker      string     `xml:"Marker,omitempty"`
}

func (m *Module) register() {
	m.svc.Add(
		oneCheck(gateway.Op("CreateUser", m.createUser), func(c *gateway.Call, in *createUserIn) string { return UserARN(c.Account, in.Path, in.UserName) }),
		userCheck(m, gateway.Op("GetUser", m.getUser), func(in *userNameIn) string { return in.UserName }).RO(),
		gateway.Op("ListUsers", m.listUsers).RO(),
		userCheck(m, gateway.Op("DeleteUser", m.deleteUser), func(in *userNameIn) string { return in.UserName }),
		userCheck(m, gateway.Op("CreateAccessKey", m.createAccessKey), func(in *userNameIn) string { return in.UserName }),
		userCheck(m, gateway.Op("ListAccessKeys", m.listAccessKeys), func(in *listKeysIn) string { return in.UserName }).RO(),
		userCheck(m, gateway.Op("DeleteAccessKey", m.deleteAccessKey), func(in *deleteKeyIn) string { return in.UserName }),
		userCheck(m, gateway.Op("PutUserPolicy", m.putUserPolicy), func(in *putPolicyIn) string { return in.UserName }),
		userCheck(m, gateway.Op("AttachUserPolicy", m.attachUserPolicy), func(in *attachIn) string { return in.UserName }),
		userCheck(m, gateway.Op("DeleteUserPolicy", m.deleteUserPolicy), func(in *userPolicyIn) string { return in.UserName }),

		oneCheck(gateway.Op("CreateRole", m.createRole), func(c *gateway.Call, in *createRoleIn) string { return RoleARN(c.Account, in.Path, in.RoleName) }),
		roleCheck(m, gateway.Op("GetRole", m.getRole), func(in *roleNameIn) string { return in.RoleName }).RO(),
		gateway.Op("ListRoles", m.listRoles).RO(),
		roleCheck(m, gateway.Op("DeleteRole", m.deleteRole), func(in *roleNameIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("UpdateAssumeRolePolicy", m.updateAssumeRolePolicy), func(in *updateTrustIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("PutRolePolicy", m.putRolePolicy), func(in *putPolicyIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("GetRolePolicy", m.getRolePolicy), func(in *rolePolicyIn) string { return in.RoleName }).RO(),
		roleCheck(m, gateway.Op("ListRolePolicies", m.listRolePolicies), func(in *listRolePoliciesIn) string { return in.RoleName }).RO(),
		roleCheck(m, gateway.Op("DeleteRolePolicy", m.deleteRolePolicy), func(in *rolePolicyIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("AttachRolePolicy", m.attachRolePolicy), func(in *attachIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("DetachRolePolicy", m.detachRolePolicy), func(in *attachIn) string { return in.RoleName }),
		roleCheck(m, gateway.Op("ListAttachedRolePolicies", m.listAttachedRolePolicies), func(in *listAttachedIn) string { return in.RoleName }).RO(),
		roleCheck(m, gateway.Op("TagRole", m.tagRole), func(in *tagRoleIn) string { return in.RoleName }),

		oneCheck(gateway.Op("CreatePolicy", m.createPolicy), func(c *gateway.Call, in *createPolicyIn) string {
			p, _ := checkPath(in.Path)
			return PolicyARN(c.Account, p, in.PolicyName)
		}),
		oneCheck(gateway.Op("GetPolicy", m.getPolicy), func(c *gateway.Call, in *policyArnIn) string { return in.PolicyArn }).RO(),
		oneCheck(gateway.Op("GetPolicyVersion", m.getPolicyVersion), func(c *gateway.Call, in *policyVersionIn) string { return in.PolicyArn }).RO(),
		gateway.Op("ListPolicies", m.listPolicies).RO(),
		oneCheck(gateway.Op("DeletePolicy", m.deletePolicy), func(c *gateway.Call, in *policyArnIn) string { return in.PolicyArn }),

		gateway.WithResources(gateway.Op("SimulatePrincipalPolicy", m.simulatePrincipalPolicy), m.simulateChecks).RO(),
	)
}

// PolicyARN builds a customer managed policy's ARN.
func PolicyARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":policy" + orSlash(path) + name
}

func (m *Module) createUser(ctx context.Context, c *gateway.Call, in *createUserIn) (*userResult, error) {
	path, err := checkPath(in.Path)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags, nil)
	if err != nil {
		return nil, err
	}
	u := &User{Account: c.Account, Name: in.UserName, Path: path, UserID: UniqueID("AIDA", c.Account+"/"+in.UserName+"/"+c.RequestID),
		ARN: UserARN(c.Account, path, in.UserName), Created: c.Now, Tags: tags, Inline: map[string]string{}}
	err = m.update(ctx, func(tx store.Tx) error {
		err := store.CreateJSON(ctx, tx, TableUsers, UserKey(c.Account, in.UserName), u)
		if errors.Is(err, store.ErrExists) {
			return errExists("User with name %s already exists.", in.UserName)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &userResult{User: userShape(u)}, nil
}

var nameRe = regexp.MustCompile(`^[\w+=,.@-]+$`)

// checkName validates an optional user or role name member.
func checkName(member, name string) error {
	if !nameRe.MatchString(name) {
		return errValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name, member)
	}
	return nil
}

// callerUser resolves an optional UserName to the caller's user name.
func callerUser(c *gateway.Call, name string) (string, error) {
	if name != "" {
		return name, checkName("userName", name)
	}
	if c.Principal == nil || c.Principal.Type != "IAMUser" {
		return "", errValidation("Must specify userName when calling with non-User credentials")
	}
	return c.Principal.UserName, nil
}

func (m *Module) loadUser(ctx context.Context, tx store.Tx, account, name string) (*User, error) {
	u, err := GetUser(ctx, tx, account, name)
	if IsNotFound(err) {
		return nil, errNoSuchEntity("The user with name %s cannot be found.", name)
	}
	return u, err
}

func (m *Module) getUser(ctx context.Context, c *gateway.Call, in *userNameIn) (*userResult, error) {
	name, err := callerUser(c, in.UserName)
	if err != nil {
		return nil, err
	}
	var u *User
	err = m.store.View(ctx, func(tx store.Tx) error {
		u, err = m.loadUser(ctx, tx, c.Account, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &userResult{User: userShape(u)}, nil
}

func (m *Module) listUsers(ctx context.Context, c *gateway.Call, in *listIn) (*listUsersResult, error) {
	var all []*userOut
	err := m.store.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(ctx, tx, TableUsers, c.Account+"/", "", 0, func(_ string, u *User) error {
			if strings.HasPrefix(orSlash(u.Path), orSlash(in.PathPrefix)) {
				o := userShape(u)
				o.Tags = nil
				all = append(all, o)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	items, next, trunc, err := page(all, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listUsersResult{Users: items, IsTruncated: trunc, Marker: next}, nil
}

// userKeys lists the access keys of a user.
func userKeys(ctx context.Context, tx store.Tx, account, name string) ([]*AccessKey, error) {
	var out []*AccessKey
	err := store.ScanJSON(ctx, tx, TableKeys, "", "", 0, func(_ string, k *AccessKey) error {
		if k.Account == account && strings.EqualFold(k.UserName, name) {
			out = append(out, k)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

func (m *Module) deleteUser(ctx context.Context, c *gateway.Call, in *userNameIn) (*struct{}, error) {
	if in.UserName == "" {
		return nil, errValidation("1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkName("userName", in.UserName); err != nil {
		return nil, err
	}
	return nil, m.update(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, in.UserName)
		if err != nil {
			return err
		}
		keys, err := userKeys(ctx, tx, c.Account, u.Name)
		if err != nil {
			return err
		}
		switch {
		case len(keys) > 0:
			return errDeleteConflict("Cannot delete entity, must delete access keys first.")
		case len(u.Inline) > 0:
			return errDeleteConflict("Cannot delete entity, must delete policies first.")
		case len(u.Attached) > 0:
			return errDeleteConflict("Cannot delete entity, must detach all policies first.")
		}
		return tx.Delete(ctx, TableUsers, UserKey(c.Account, u.Name))
	})
}

// ---- access keys ----

type createKeyResult struct {
	AccessKey *accessKeyOut `xml:"AccessKey"`
}

func (m *Module) createAccessKey(ctx context.Context, c *gateway.Call, in *userNameIn) (*createKeyResult, error) {
	name, err := callerUser(c, in.UserName)
	if err != nil {
		return nil, err
	}
	var k *AccessKey
	err = m.update(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, name)
		if err != nil {
			return err
		}
		keys, err := userKeys(ctx, tx, c.Account, u.Name)
		if err != nil {
			return err
		}
		if len(keys) >= MaxAccessKeysPerUser {
			return errLimit("Cannot exceed quota for AccessKeysPerUser: %d", MaxAccessKeysPerUser)
		}
		k = &AccessKey{ID: NewAccessKeyID("AKIA"), Secret: NewSecretKey(), Account: c.Account, UserName: u.Name, UserID: u.UserID, Status: "Active", Created: c.Now}
		return store.CreateJSON(ctx, tx, TableKeys, k.ID, sealed(m.Secrets, k))
	})
	if err != nil {
		return nil, err
	}
	return &createKeyResult{AccessKey: &accessKeyOut{UserName: k.UserName, AccessKeyId: k.ID, Status: k.Status, SecretAccessKey: k.Secret, CreateDate: isoTime(k.Created)}}, nil
}

type listKeysIn struct {
	UserName string `query:"UserName" v:"max=128"`
	Marker   string `query:"Marker" v:"max=320"`
	MaxItems int    `query:"MaxItems" v:"max=1000"`
}

type listKeysResult struct {
	AccessKeyMetadata []*accessKeyOut `xml:"AccessKeyMetadata>member"`
	IsTruncated       bool            `xml:"IsTruncated"`
	Marker            string          `xml:"Marker,omitempty"`
}

func (m *Module) listAccessKeys(ctx context.Context, c *gateway.Call, in *listKeysIn) (*listKeysResult, error) {
	name, err := callerUser(c, in.UserName)
	if err != nil {
		return nil, err
	}
	var out []*accessKeyOut
	err = m.store.View(ctx, func(tx store.Tx) error {
		u, err := m.loadUser(ctx, tx, c.Account, name)
		if err != nil {
			return err
		}
		keys, err := userKeys(ctx, tx, c.Account, u.Name)
		for _, k := range keys {
			out = append(out, &accessKeyOut{UserName: u.Name, AccessKeyId: k.ID, Status: k.Status, CreateDate: isoTime(k.Created)})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	items, next, trunc, err := page(out, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listKeysResult{AccessKeyMetadata: items, IsTruncated: trunc, Marker: next}, nil
}

type deleteKeyIn struct {
	UserName    string `query:"UserName" v:"max=128"`
	AccessKeyId string `query:"AccessKeyId" v:"required,min=16,max=128,pattern=^[A-Za-z0-9_]+$"`
}

func (m *Module) deleteAccessKey(ctx context.Context, c *gateway.Call, in *deleteKeyIn) (*struct{}, error) {
	name, err := callerUser(c, in.UserName)
	if err != nil {
		return nil, err
	}
	return nil, m.update(ctx, func(tx store.Tx) error {
		if _, err := m.loadUser(ctx, tx, c.Account, name); err != nil {
			return err
		}
		k, err := store.GetJSON[AccessKey](ctx, tx, TableKeys, in.AccessKeyId)
		if IsNotFound(err) || (err == nil && (k.Account != c.Account || !strings.EqualFold(k.UserName, name))) {
			return errNoSuchEntity("The Access Key with id %s cannot be found.", in.AccessKeyId)
		}
		if err != nil {
			return err
		}
		return tx.Delete(ctx, TableKeys, k.ID)
	})
}

// ---- inline and attached policies ----

type putPolicyIn struct {
	UserName       string `query:"UserName" v:"max=128"`
	RoleName       string `query:"RoleName" v:"max=64"`
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

func (m *Module) putUserPolicy(ctx context.Context, c *gateway.Call, in *putPolicyIn) (*struct{}, error) {
	if in.UserName == "" {
		return nil, errValidation("1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkName("userName", in.UserName); err != nil {
		return nil, err
	}
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

type attachIn struct {
	UserName  string `query:"UserName" v:"max=128"`
	RoleName  string `query:"RoleName" v:"max=64"`
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

func (m *Module) attachUserPolicy(ctx context.Context, c *gateway.Call, in *attachIn) (*struct{}, error) {
	if in.UserName == "" {
		return nil, errValidation("1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkName("userName", in.UserName); err != nil {
		return nil, err
	}
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

// ---- roles ----

type createRoleIn struct {
	RoleName                 string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	Path                     string `query:"Path" v:"max=512"`
	AssumeRolePolicyDocument string `query:"AssumeRolePolicyDocument" v:"required,min=1,max=131072"`
	Description              string `query:"Description" v:"max=1000"`
	MaxSessionDuration       int    `query:"MaxSessionDuration"`
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
	if in.MaxSessionDuration < 3600 || in.MaxSessionDuration > 43200 {
		return nil, errValidation("1 validation error detected: Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200", in.MaxSessionDuration)
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

type roleNameIn struct {
	RoleName string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
}

func (m *Module) loadRole(ctx context.Context, tx store.Tx, account, name string) (*Role, error) {
	r, err := GetRole(ctx, tx, account, name)
	if IsNotFound(err) {
		return nil, errNoSuchEntity("The role with name %s cannot be found.", name)
	}
	return r, err
}

func (m *Module) getRole(ctx context.Context, c *gateway.Call, in *roleNameIn) (*roleResult, error) {
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

func (m *Module) listRoles(ctx context.Context, c *gateway.Call, in *listIn) (*listRolesResult, error) {
	var all []*roleOut
	err := m.store.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(ctx, tx, TableRoles, c.Account+"/", "", 0, func(_ string, r *Role) error {
			if strings.HasPrefix(orSlash(r.Path), orSlash(in.PathPrefix)) {
				o := roleShape(r, true)
				o.Tags = nil
				all = append(all, o)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	items, next, trunc, err := page(all, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listRolesResult{Roles: items, IsTruncated: trunc, Marker: next}, nil
}

func (m *Module) deleteRole(ctx context.Context, c *gateway.Call, in *roleNameIn) (*struct{}, error) {
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

func (m *Module) putRolePolicy(ctx context.Context, c *gateway.Call, in *putPolicyIn) (*struct{}, error) {
	if in.RoleName == "" {
		return nil, errValidation("1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkName("roleName", in.RoleName); err != nil {
		return nil, err
	}
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

type rolePolicyIn struct {
	RoleName   string `query:"RoleName" v:"required,min=1,max=64,pattern=^[A-Za-z0-9_+=,.@-]+$"`
	PolicyName string `query:"PolicyName" v:"required,min=1,max=128,pattern=^[A-Za-z0-9_+=,.@-]+$"`
}

type getRolePolicyResult struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func (m *Module) getRolePolicy(ctx context.Context, c *gateway.Call, in *rolePolicyIn) (*getRolePolicyResult, error) {
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

func (m *Module) deleteRolePolicy(ctx context.Context, c *gateway.Call, in *rolePolicyIn) (*struct{}, error) {
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

func (m *Module) attachRolePolicy(ctx context.Context, c *gateway.Call, in *attachIn) (*struct{}, error) {
	if in.RoleName == "" {
		return nil, errValidation("1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkName("roleName", in.RoleName); err != nil {
		return nil, err
	}
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

func (m *Module) detachRolePolicy(ctx context.Context, c *gateway.Call, in *attachIn) (*struct{}, error) {
	if in.RoleName == "" {
		return nil, errValidation("1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkName("roleName", in.RoleName); err != nil {
		return nil, err
	}
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

type policyArnIn struct {
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
}

func (m *Module) loadPolicy(ctx context.Context, tx store.Tx, account, arn string) (*ManagedPolicy, error) {
	p, err := GetPolicy(ctx, tx, arn)
	if IsNotFound(err) || (err == nil && p.Account != "aws" && p.Account != account) {
		return nil, errNoSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return p, err
}

func (m *Module) getPolicy(ctx context.Context, c *gateway.Call, in *policyArnIn) (*policyResult, error) {
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

type policyVersionIn struct {
	PolicyArn string `query:"PolicyArn" v:"required,min=20,max=2048"`
	VersionId string `query:"VersionId" v:"required,pattern=^v[1-9][0-9]*([.][A-Za-z0-9-]*)?$"`
}

type policyVersionOut struct {
	Document         string `xml:"Document"`
	VersionId        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       string `xml:"CreateDate"`
}

type policyVersionResult struct {
	PolicyVersion *policyVersionOut `xml:"PolicyVersion"`
}

func (m *Module) getPolicyVersion(ctx context.Context, c *gateway.Call, in *policyVersionIn) (*policyVersionResult, error) {
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

func (m *Module) deletePolicy(ctx context.Context, c *gateway.Call, in *policyArnIn) (*struct{}, error) {
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
