package ds

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
)

// Directory Service Data shapes. DirectoryId travels in the query string;
// the gateway merges it into the JSON body, so every member is a json tag.

// ListUsersInput is the ListUsers request.
type ListUsersInput struct {
	DirectoryID *string `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	MaxResults  *int    `json:"MaxResults" v:"min=1,max=250"`
	NextToken   *string `json:"NextToken" v:"min=1,max=6144"`
	Realm       *string `json:"Realm" v:"min=1,max=255"`
}

// UserSummary is a user in ListUsers.
type UserSummary struct {
	Enabled        bool   `json:"Enabled"`
	GivenName      string `json:"GivenName,omitempty"`
	SAMAccountName string `json:"SAMAccountName"`
	SID            string `json:"SID"`
	Surname        string `json:"Surname,omitempty"`
}

// ListUsersOutput is the ListUsers response.
type ListUsersOutput struct {
	DirectoryID string        `json:"DirectoryId"`
	NextToken   string        `json:"NextToken,omitempty"`
	Realm       string        `json:"Realm"`
	Users       []UserSummary `json:"Users"`
}

// DescribeUserInput is the DescribeUser request.
type DescribeUserInput struct {
	DirectoryID     *string  `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	OtherAttributes []string `json:"OtherAttributes" v:"min=1,max=25"`
	Realm           *string  `json:"Realm" v:"min=1,max=255"`
	SAMAccountName  *string  `json:"SAMAccountName" v:"required,min=1,max=20,pattern=^[\\w\\-.]+$"`
}

// DescribeUserOutput is the DescribeUser response.
type DescribeUserOutput struct {
	DirectoryID       string                    `json:"DirectoryId"`
	DistinguishedName string                    `json:"DistinguishedName,omitempty"`
	EmailAddress      string                    `json:"EmailAddress,omitempty"`
	Enabled           bool                      `json:"Enabled"`
	GivenName         string                    `json:"GivenName,omitempty"`
	OtherAttributes   map[string]AttributeValue `json:"OtherAttributes,omitempty"`
	Realm             string                    `json:"Realm"`
	SAMAccountName    string                    `json:"SAMAccountName"`
	SID               string                    `json:"SID"`
	Surname           string                    `json:"Surname,omitempty"`
	UserPrincipalName string                    `json:"UserPrincipalName,omitempty"`
}

// CreateUserInput is the CreateUser request.
type CreateUserInput struct {
	ClientToken     *string                   `json:"ClientToken" v:"min=1,max=128"`
	DirectoryID     *string                   `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	EmailAddress    *string                   `json:"EmailAddress" v:"min=1,max=256"`
	GivenName       *string                   `json:"GivenName" v:"min=1,max=64"`
	OtherAttributes map[string]AttributeValue `json:"OtherAttributes" v:"min=1,max=25"`
	SAMAccountName  *string                   `json:"SAMAccountName" v:"required,min=1,max=20,pattern=^[\\w\\-.]+$"`
	Surname         *string                   `json:"Surname" v:"min=1,max=64"`
}

// CreateUserOutput is the CreateUser response.
type CreateUserOutput struct {
	DirectoryID    string `json:"DirectoryId"`
	SAMAccountName string `json:"SAMAccountName"`
	SID            string `json:"SID"`
}

// UserRef names a user: the shape of the DeleteUser and DisableUser
// requests, each operation with its own type of it.
type UserRef struct {
	ClientToken    *string `json:"ClientToken" v:"min=1,max=128"`
	DirectoryID    *string `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	SAMAccountName *string `json:"SAMAccountName" v:"required,min=1,max=20,pattern=^[\\w\\-.]+$"`
}

// DeleteUserInput is the DeleteUser request.
type DeleteUserInput UserRef

// DisableUserInput is the DisableUser request.
type DisableUserInput UserRef

// UpdateUserInput is the UpdateUser request.
type UpdateUserInput struct {
	ClientToken     *string                   `json:"ClientToken" v:"min=1,max=128"`
	DirectoryID     *string                   `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	EmailAddress    *string                   `json:"EmailAddress" v:"min=1,max=256"`
	GivenName       *string                   `json:"GivenName" v:"min=1,max=64"`
	OtherAttributes map[string]AttributeValue `json:"OtherAttributes" v:"min=1,max=25"`
	SAMAccountName  *string                   `json:"SAMAccountName" v:"required,min=1,max=20,pattern=^[\\w\\-.]+$"`
	Surname         *string                   `json:"Surname" v:"min=1,max=64"`
	UpdateType      *string                   `json:"UpdateType" v:"enum=ADD|REPLACE|REMOVE"`
}

// SearchUsersInput is the SearchUsers request.
type SearchUsersInput struct {
	DirectoryID      *string  `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	MaxResults       *int     `json:"MaxResults" v:"min=1,max=250"`
	NextToken        *string  `json:"NextToken" v:"min=1,max=6144"`
	Realm            *string  `json:"Realm" v:"min=1,max=255"`
	SearchAttributes []string `json:"SearchAttributes" v:"required,min=1,max=25"`
	SearchString     *string  `json:"SearchString" v:"required,min=1,max=64"`
}

// UserXML is a full user in SearchUsers (named for the model's User shape).
type UserXML struct {
	DistinguishedName string                    `json:"DistinguishedName,omitempty"`
	EmailAddress      string                    `json:"EmailAddress,omitempty"`
	Enabled           bool                      `json:"Enabled"`
	GivenName         string                    `json:"GivenName,omitempty"`
	OtherAttributes   map[string]AttributeValue `json:"OtherAttributes,omitempty"`
	SAMAccountName    string                    `json:"SAMAccountName"`
	SID               string                    `json:"SID"`
	Surname           string                    `json:"Surname,omitempty"`
	UserPrincipalName string                    `json:"UserPrincipalName,omitempty"`
}

// SearchUsersOutput is the SearchUsers response.
type SearchUsersOutput struct {
	DirectoryID string    `json:"DirectoryId"`
	NextToken   string    `json:"NextToken,omitempty"`
	Realm       string    `json:"Realm"`
	Users       []UserXML `json:"Users"`
}

// CreateGroupInput is the CreateGroup request.
type CreateGroupInput struct {
	ClientToken     *string                   `json:"ClientToken" v:"min=1,max=128"`
	DirectoryID     *string                   `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	GroupScope      *string                   `json:"GroupScope" v:"enum=DomainLocal|Global|Universal|BuiltinLocal"`
	GroupType       *string                   `json:"GroupType" v:"enum=Distribution|Security"`
	OtherAttributes map[string]AttributeValue `json:"OtherAttributes" v:"min=1,max=25"`
	SAMAccountName  *string                   `json:"SAMAccountName" v:"required,min=1,max=64,pattern=^[^:;|=+\"*?<>/\\\\,\\[\\]@]+$"`
}

// CreateGroupOutput is the CreateGroup response.
type CreateGroupOutput struct {
	DirectoryID    string `json:"DirectoryId"`
	SAMAccountName string `json:"SAMAccountName"`
	SID            string `json:"SID"`
}

// GroupRef names a group: DeleteGroup.
type GroupRef struct {
	ClientToken    *string `json:"ClientToken" v:"min=1,max=128"`
	DirectoryID    *string `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	SAMAccountName *string `json:"SAMAccountName" v:"required,min=1,max=64,pattern=^[^:;|=+\"*?<>/\\\\,\\[\\]@]+$"`
}

// DescribeGroupInput is the DescribeGroup request.
type DescribeGroupInput struct {
	DirectoryID     *string  `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	OtherAttributes []string `json:"OtherAttributes" v:"min=1,max=25"`
	Realm           *string  `json:"Realm" v:"min=1,max=255"`
	SAMAccountName  *string  `json:"SAMAccountName" v:"required,min=1,max=64,pattern=^[^:;|=+\"*?<>/\\\\,\\[\\]@]+$"`
}

// DescribeGroupOutput is the DescribeGroup response.
type DescribeGroupOutput struct {
	DirectoryID       string                    `json:"DirectoryId"`
	DistinguishedName string                    `json:"DistinguishedName,omitempty"`
	GroupScope        string                    `json:"GroupScope"`
	GroupType         string                    `json:"GroupType"`
	OtherAttributes   map[string]AttributeValue `json:"OtherAttributes,omitempty"`
	Realm             string                    `json:"Realm"`
	SAMAccountName    string                    `json:"SAMAccountName"`
	SID               string                    `json:"SID"`
}

// ListGroupsInput is the ListGroups request.
type ListGroupsInput struct {
	DirectoryID *string `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	MaxResults  *int    `json:"MaxResults" v:"min=1,max=250"`
	NextToken   *string `json:"NextToken" v:"min=1,max=6144"`
	Realm       *string `json:"Realm" v:"min=1,max=255"`
}

// GroupSummary is a group in list responses.
type GroupSummary struct {
	GroupScope     string `json:"GroupScope"`
	GroupType      string `json:"GroupType"`
	SAMAccountName string `json:"SAMAccountName"`
	SID            string `json:"SID"`
}

// ListGroupsOutput is the ListGroups response.
type ListGroupsOutput struct {
	DirectoryID string         `json:"DirectoryId"`
	Groups      []GroupSummary `json:"Groups"`
	NextToken   string         `json:"NextToken,omitempty"`
	Realm       string         `json:"Realm"`
}

// GroupMemberInput is the shape of the AddGroupMember and RemoveGroupMember
// requests, each operation with its own type of it.
type GroupMemberInput struct {
	ClientToken *string `json:"ClientToken" v:"min=1,max=128"`
	DirectoryID *string `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	GroupName   *string `json:"GroupName" v:"required,min=1,max=64,pattern=^[^:;|=+\"*?<>/\\\\,\\[\\]@]+$"`
	MemberName  *string `json:"MemberName" v:"required,min=1,max=63"`
	MemberRealm *string `json:"MemberRealm" v:"min=1,max=255"`
}

// AddGroupMemberInput is the AddGroupMember request.
type AddGroupMemberInput GroupMemberInput

// RemoveGroupMemberInput is the RemoveGroupMember request.
type RemoveGroupMemberInput GroupMemberInput

// Empty is the output of operations without members.
type Empty struct{}

// ListGroupMembersInput is the ListGroupMembers request.
type ListGroupMembersInput struct {
	DirectoryID    *string `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	MaxResults     *int    `json:"MaxResults" v:"min=1,max=250"`
	MemberRealm    *string `json:"MemberRealm" v:"min=1,max=255"`
	NextToken      *string `json:"NextToken" v:"min=1,max=6144"`
	Realm          *string `json:"Realm" v:"min=1,max=255"`
	SAMAccountName *string `json:"SAMAccountName" v:"required,min=1,max=64,pattern=^[^:;|=+\"*?<>/\\\\,\\[\\]@]+$"`
}

// Member is a group member in ListGroupMembers.
type Member struct {
	MemberType     string `json:"MemberType"`
	SAMAccountName string `json:"SAMAccountName"`
	SID            string `json:"SID"`
}

// ListGroupMembersOutput is the ListGroupMembers response.
type ListGroupMembersOutput struct {
	DirectoryID string   `json:"DirectoryId"`
	MemberRealm string   `json:"MemberRealm"`
	Members     []Member `json:"Members"`
	NextToken   string   `json:"NextToken,omitempty"`
	Realm       string   `json:"Realm"`
}

// ListGroupsForMemberInput is the ListGroupsForMember request.
type ListGroupsForMemberInput struct {
	DirectoryID    *string `json:"DirectoryId" v:"required,pattern=^d-[0-9a-f]{10}$"`
	MaxResults     *int    `json:"MaxResults" v:"min=1,max=250"`
	MemberRealm    *string `json:"MemberRealm" v:"min=1,max=255"`
	NextToken      *string `json:"NextToken" v:"min=1,max=6144"`
	Realm          *string `json:"Realm" v:"min=1,max=255"`
	SAMAccountName *string `json:"SAMAccountName" v:"required,min=1,max=63"`
}

// ListGroupsForMemberOutput is the ListGroupsForMember response.
type ListGroupsForMemberOutput struct {
	DirectoryID string         `json:"DirectoryId"`
	Groups      []GroupSummary `json:"Groups"`
	MemberRealm string         `json:"MemberRealm"`
	NextToken   string         `json:"NextToken,omitempty"`
	Realm       string         `json:"Realm"`
}

// dataCheck builds the ds-data authorization checks: the ds-data action and
// the ds:AccessDSData permission, both on the directory.
func (m *Module) dataCheck(ctx context.Context, c *gateway.Call, dirID string, keys map[string]*string) ([]gateway.Check, error) {
	chk, err := m.directoryCheck(ctx, c, dirID)
	if err != nil {
		return nil, err
	}
	chk.Context = map[string][]string{}
	for k, v := range keys {
		if v != nil && *v != "" {
			chk.Context["ds-data:"+k] = []string{*v}
		}
	}
	access := chk
	access.Action = "ds:AccessDSData"
	access.Context = nil
	return []gateway.Check{chk, access}, nil
}

func dataOp[In, Out any](m *Module, name string, h func(ctx context.Context, c *gateway.Call, in *In) (*Out, error), keys func(in *In) (string, map[string]*string)) *gateway.Operation {
	return gateway.WithResources(gateway.Op(name, h), func(ctx context.Context, c *gateway.Call, in *In) ([]gateway.Check, error) {
		id, k := keys(in)
		return m.dataCheck(ctx, c, id, k)
	})
}

// ---- errors ----

func notFoundErr(format string, args ...any) error {
	return awsproto.ErrorStatus(http.StatusNotFound, "ResourceNotFoundException", format, args...)
}

func conflict(format string, args ...any) error {
	return awsproto.ErrorStatus(http.StatusConflict, "ConflictException", format, args...)
}

func validation(format string, args ...any) error {
	return awsproto.Errorf("ValidationException", format, args...)
}

// dataDirectory loads the directory a ds-data call names and checks that it
// serves the Data API: an unknown directory is AccessDeniedException (as
// the model documents), one of another type a ValidationException, one not
// Active a DirectoryUnavailableException.
func dataDirectory(ctx context.Context, tx store.Tx, c *gateway.Call, id string) (*Directory, error) {
	d, err := getDirectory(ctx, tx, c.Account, c.Region, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, awsproto.ErrorStatus(http.StatusForbidden, "AccessDeniedException", "You do not have access to directory %s, or it does not exist.", id)
	}
	if err != nil {
		return nil, err
	}
	if d.Type != "MicrosoftAD" {
		return nil, validation("Directory %s is of type %s; the Directory Service Data API supports AWS Managed Microsoft AD only.", id, d.Type)
	}
	if d.Stage != "Active" {
		return nil, awsproto.Errorf("DirectoryUnavailableException", "Directory %s is in stage %s and cannot serve requests.", id, d.Stage)
	}
	return d, nil
}

// checkRealm accepts an absent realm or the directory's own domain
// (case-insensitive, with an optional trailing dot). Trusted domains are
// not modelled.
func checkRealm(d *Directory, realm *string) error {
	if realm == nil {
		return nil
	}
	r := strings.TrimSuffix(*realm, ".")
	if !strings.EqualFold(r, d.Name) {
		return validation("Realm %s is not the directory's domain or a domain it trusts.", *realm)
	}
	return nil
}

// pageNames windows a sorted list of lower-cased names.
func pageNames(names []string, token *string, max *int) (start, end int, next string, err error) {
	if token != nil {
		b, derr := base64.RawURLEncoding.DecodeString(*token)
		if derr != nil || len(b) == 0 {
			return 0, 0, "", validation("The NextToken value is not valid.")
		}
		start = sort.SearchStrings(names, string(b))
		if start < len(names) && names[start] == string(b) {
			start++
		}
	}
	n := 250
	if max != nil {
		n = *max
	}
	end = len(names)
	if start+n < end {
		end = start + n
		next = base64.RawURLEncoding.EncodeToString([]byte(names[end-1]))
	}
	return start, end, next, nil
}

// reservedAttrs are first-class members that may not travel in OtherAttributes.
var reservedAttrs = map[string]bool{"samaccountname": true, "objectsid": true, "distinguishedname": true, "userprincipalname": true, "memberof": true, "member": true}

func checkAttrs(attrs map[string]AttributeValue) error {
	for k, v := range attrs {
		if reservedAttrs[strings.ToLower(k)] {
			return validation("Attribute %s cannot be set through OtherAttributes.", k)
		}
		if v.set() != 1 {
			return validation("Attribute %s must have exactly one of S, N, BOOL or SS.", k)
		}
	}
	return nil
}

func pick(attrs map[string]AttributeValue, names []string) map[string]AttributeValue {
	var out map[string]AttributeValue
	for _, n := range names {
		for k, v := range attrs {
			if strings.EqualFold(k, n) {
				if out == nil {
					out = map[string]AttributeValue{}
				}
				out[k] = v
			}
		}
	}
	return out
}

// ---- users ----

func listUsersOf(ctx context.Context, tx store.Tx, d *Directory) (map[string]*User, []string, error) {
	users := map[string]*User{}
	var keys []string
	err := store.ScanJSON(ctx, tx, TableUsers, objPrefix(d), "", 0, func(k string, u *User) error {
		k = strings.TrimPrefix(k, objPrefix(d))
		users[k] = u
		keys = append(keys, k)
		return nil
	})
	sort.Strings(keys)
	return users, keys, err
}

func (m *Module) listUsers(ctx context.Context, c *gateway.Call, in *ListUsersInput) (*ListUsersOutput, error) {
	out := &ListUsersOutput{DirectoryID: *in.DirectoryID, Users: []UserSummary{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if err := checkRealm(d, in.Realm); err != nil {
			return err
		}
		out.Realm = d.Name
		users, keys, err := listUsersOf(ctx, tx, d)
		if err != nil {
			return err
		}
		start, end, next, err := pageNames(keys, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		out.NextToken = next
		for _, k := range keys[start:end] {
			u := users[k]
			out.Users = append(out.Users, UserSummary{Enabled: u.Enabled, GivenName: u.GivenName, SAMAccountName: u.SAMAccountName, SID: u.SID, Surname: u.Surname})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Module) describeUser(ctx context.Context, c *gateway.Call, in *DescribeUserInput) (*DescribeUserOutput, error) {
	var out *DescribeUserOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if err := checkRealm(d, in.Realm); err != nil {
			return err
		}
		u, err := getUser(ctx, tx, d, *in.SAMAccountName)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundErr("User %s does not exist in directory %s.", *in.SAMAccountName, d.ID)
		}
		if err != nil {
			return err
		}
		out = &DescribeUserOutput{DirectoryID: d.ID, DistinguishedName: u.DN, EmailAddress: u.EmailAddress, Enabled: u.Enabled,
			GivenName: u.GivenName, OtherAttributes: pick(u.Other, in.OtherAttributes), Realm: d.Name, SAMAccountName: u.SAMAccountName,
			SID: u.SID, Surname: u.Surname, UserPrincipalName: u.UPN}
		return nil
	})
	return out, err
}

func (m *Module) searchUsers(ctx context.Context, c *gateway.Call, in *SearchUsersInput) (*SearchUsersOutput, error) {
	out := &SearchUsersOutput{DirectoryID: *in.DirectoryID, Users: []UserXML{}}
	needle := strings.ToLower(*in.SearchString)
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if err := checkRealm(d, in.Realm); err != nil {
			return err
		}
		out.Realm = d.Name
		users, keys, err := listUsersOf(ctx, tx, d)
		if err != nil {
			return err
		}
		var hits []string
		for _, k := range keys {
			u := users[k]
			for _, a := range in.SearchAttributes {
				if matchesAttr(u, a, needle) {
					hits = append(hits, k)
					break
				}
			}
		}
		start, end, next, err := pageNames(hits, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		out.NextToken = next
		for _, k := range hits[start:end] {
			u := users[k]
			out.Users = append(out.Users, UserXML{DistinguishedName: u.DN, EmailAddress: u.EmailAddress, Enabled: u.Enabled, GivenName: u.GivenName,
				SAMAccountName: u.SAMAccountName, SID: u.SID, Surname: u.Surname, UserPrincipalName: u.UPN})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// matchesAttr reports whether a user's LDAP attribute contains needle
// (lower case), case-insensitively.
func matchesAttr(u *User, attr, needle string) bool {
	var vals []string
	switch strings.ToLower(attr) {
	case "samaccountname":
		vals = []string{u.SAMAccountName}
	case "givenname":
		vals = []string{u.GivenName}
	case "sn", "surname":
		vals = []string{u.Surname}
	case "mail", "emailaddress":
		vals = []string{u.EmailAddress}
	case "userprincipalname":
		vals = []string{u.UPN}
	case "distinguishedname":
		vals = []string{u.DN}
	case "displayname", "name", "cn":
		vals = []string{strings.TrimSpace(u.GivenName + " " + u.Surname), u.SAMAccountName}
	default:
		for k, v := range u.Other {
			if strings.EqualFold(k, attr) {
				vals = v.strings()
			}
		}
	}
	for _, v := range vals {
		if strings.Contains(strings.ToLower(v), needle) {
			return true
		}
	}
	return false
}

// nameTaken reports a SAM account name used by a user or a group.
func nameTaken(ctx context.Context, tx store.Tx, d *Directory, name string) (bool, error) {
	for _, table := range []string{TableUsers, TableGroups} {
		_, err := tx.Get(ctx, table, objKey(d, name))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
	}
	return false, nil
}

func (m *Module) createUser(ctx context.Context, c *gateway.Call, in *CreateUserInput) (*CreateUserOutput, error) {
	if err := checkAttrs(in.OtherAttributes); err != nil {
		return nil, err
	}
	var out *CreateUserOutput
	err := m.store.Update(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if taken, err := nameTaken(ctx, tx, d, *in.SAMAccountName); err != nil {
			return err
		} else if taken {
			return conflict("An object named %s already exists in directory %s.", *in.SAMAccountName, d.ID)
		}
		u, err := m.addUser(ctx, tx, d, &User{SAMAccountName: *in.SAMAccountName, GivenName: strOr(in.GivenName), Surname: strOr(in.Surname),
			EmailAddress: strOr(in.EmailAddress), Enabled: true, Other: in.OtherAttributes})
		if err != nil {
			return err
		}
		out = &CreateUserOutput{DirectoryID: d.ID, SAMAccountName: u.SAMAccountName, SID: u.SID}
		return store.PutJSON(ctx, tx, TableDirectories, dirKey(d.Account, d.Region, d.ID), d)
	})
	return out, err
}

// withUser loads a user for a write and stores it back after fn.
func (m *Module) withUser(ctx context.Context, c *gateway.Call, dirID, name string, fn func(tx store.Tx, d *Directory, u *User) error) error {
	return m.store.Update(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, dirID)
		if err != nil {
			return err
		}
		u, err := getUser(ctx, tx, d, name)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundErr("User %s does not exist in directory %s.", name, d.ID)
		}
		if err != nil {
			return err
		}
		return fn(tx, d, u)
	})
}

func (m *Module) updateUser(ctx context.Context, c *gateway.Call, in *UpdateUserInput) (*Empty, error) {
	if err := checkAttrs(in.OtherAttributes); err != nil {
		return nil, err
	}
	mode := strOr(in.UpdateType)
	if mode == "" {
		mode = "REPLACE"
	}
	err := m.withUser(ctx, c, *in.DirectoryID, *in.SAMAccountName, func(tx store.Tx, d *Directory, u *User) error {
		apply := func(dst *string, v *string, name string) error {
			if v == nil {
				return nil
			}
			switch mode {
			case "ADD":
				if *dst != "" {
					return validation("Attribute %s already has a value; use REPLACE.", name)
				}
				*dst = *v
			case "REPLACE":
				*dst = *v
			case "REMOVE":
				*dst = ""
			}
			return nil
		}
		if err := apply(&u.GivenName, in.GivenName, "GivenName"); err != nil {
			return err
		}
		if err := apply(&u.Surname, in.Surname, "Surname"); err != nil {
			return err
		}
		if err := apply(&u.EmailAddress, in.EmailAddress, "EmailAddress"); err != nil {
			return err
		}
		for k, v := range in.OtherAttributes {
			if u.Other == nil {
				u.Other = map[string]AttributeValue{}
			}
			switch mode {
			case "ADD":
				if _, ok := u.Other[k]; ok {
					return validation("Attribute %s already has a value; use REPLACE.", k)
				}
				u.Other[k] = v
			case "REPLACE":
				u.Other[k] = v
			case "REMOVE":
				delete(u.Other, k)
			}
		}
		return store.PutJSON(ctx, tx, TableUsers, objKey(d, u.SAMAccountName), u)
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

func (m *Module) deleteUser(ctx context.Context, c *gateway.Call, in *DeleteUserInput) (*Empty, error) {
	err := m.withUser(ctx, c, *in.DirectoryID, *in.SAMAccountName, func(tx store.Tx, d *Directory, u *User) error {
		if u.RID < 1000 || strings.EqualFold(u.SAMAccountName, "Admin") {
			return validation("The built-in account %s cannot be deleted.", u.SAMAccountName)
		}
		if err := removeEverywhere(ctx, tx, d, u.SAMAccountName); err != nil {
			return err
		}
		return tx.Delete(ctx, TableUsers, objKey(d, u.SAMAccountName))
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

func (m *Module) disableUser(ctx context.Context, c *gateway.Call, in *DisableUserInput) (*Empty, error) {
	err := m.withUser(ctx, c, *in.DirectoryID, *in.SAMAccountName, func(tx store.Tx, d *Directory, u *User) error {
		u.Enabled = false
		return store.PutJSON(ctx, tx, TableUsers, objKey(d, u.SAMAccountName), u)
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// removeEverywhere drops a member from every group of the directory.
func removeEverywhere(ctx context.Context, tx store.Tx, d *Directory, name string) error {
	groups, err := listGroups(ctx, tx, d)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if i := g.memberIndex(name); i >= 0 {
			g.Members = append(g.Members[:i], g.Members[i+1:]...)
			if err := store.PutJSON(ctx, tx, TableGroups, objKey(d, g.SAMAccountName), g); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- groups ----

func summary(g *Group) GroupSummary {
	return GroupSummary{GroupScope: g.Scope, GroupType: g.Type, SAMAccountName: g.SAMAccountName, SID: g.SID}
}

func (m *Module) createGroup(ctx context.Context, c *gateway.Call, in *CreateGroupInput) (*CreateGroupOutput, error) {
	if err := checkAttrs(in.OtherAttributes); err != nil {
		return nil, err
	}
	scope, typ := strOr(in.GroupScope), strOr(in.GroupType)
	if scope == "" {
		scope = "Global"
	}
	if typ == "" {
		typ = "Security"
	}
	if scope == "BuiltinLocal" {
		return nil, validation("Groups with scope BuiltinLocal cannot be created.")
	}
	var out *CreateGroupOutput
	err := m.store.Update(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if taken, err := nameTaken(ctx, tx, d, *in.SAMAccountName); err != nil {
			return err
		} else if taken {
			return conflict("An object named %s already exists in directory %s.", *in.SAMAccountName, d.ID)
		}
		g, err := m.addGroup(ctx, tx, d, &Group{SAMAccountName: *in.SAMAccountName, Scope: scope, Type: typ, Other: in.OtherAttributes})
		if err != nil {
			return err
		}
		out = &CreateGroupOutput{DirectoryID: d.ID, SAMAccountName: g.SAMAccountName, SID: g.SID}
		return store.PutJSON(ctx, tx, TableDirectories, dirKey(d.Account, d.Region, d.ID), d)
	})
	return out, err
}

func (m *Module) describeGroup(ctx context.Context, c *gateway.Call, in *DescribeGroupInput) (*DescribeGroupOutput, error) {
	var out *DescribeGroupOutput
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if err := checkRealm(d, in.Realm); err != nil {
			return err
		}
		g, err := getGroup(ctx, tx, d, *in.SAMAccountName)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundErr("Group %s does not exist in directory %s.", *in.SAMAccountName, d.ID)
		}
		if err != nil {
			return err
		}
		out = &DescribeGroupOutput{DirectoryID: d.ID, DistinguishedName: g.DN, GroupScope: g.Scope, GroupType: g.Type,
			OtherAttributes: pick(g.Other, in.OtherAttributes), Realm: d.Name, SAMAccountName: g.SAMAccountName, SID: g.SID}
		return nil
	})
	return out, err
}

func (m *Module) deleteGroup(ctx context.Context, c *gateway.Call, in *GroupRef) (*Empty, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		g, err := getGroup(ctx, tx, d, *in.SAMAccountName)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundErr("Group %s does not exist in directory %s.", *in.SAMAccountName, d.ID)
		}
		if err != nil {
			return err
		}
		if g.RID < 1000 || strings.EqualFold(g.SAMAccountName, "AWS Delegated Administrators") {
			return validation("The built-in group %s cannot be deleted.", g.SAMAccountName)
		}
		if err := removeEverywhere(ctx, tx, d, g.SAMAccountName); err != nil {
			return err
		}
		return tx.Delete(ctx, TableGroups, objKey(d, g.SAMAccountName))
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

func (m *Module) listGroups(ctx context.Context, c *gateway.Call, in *ListGroupsInput) (*ListGroupsOutput, error) {
	out := &ListGroupsOutput{DirectoryID: *in.DirectoryID, Groups: []GroupSummary{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if err := checkRealm(d, in.Realm); err != nil {
			return err
		}
		out.Realm = d.Name
		groups, err := listGroups(ctx, tx, d)
		if err != nil {
			return err
		}
		out.Groups, out.NextToken, err = pageGroups(groups, in.NextToken, in.MaxResults)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func pageGroups(groups []*Group, token *string, max *int) ([]GroupSummary, string, error) {
	byName := map[string]*Group{}
	names := make([]string, 0, len(groups))
	for _, g := range groups {
		k := strings.ToLower(g.SAMAccountName)
		byName[k] = g
		names = append(names, k)
	}
	sort.Strings(names)
	start, end, next, err := pageNames(names, token, max)
	if err != nil {
		return nil, "", err
	}
	out := []GroupSummary{}
	for _, n := range names[start:end] {
		out = append(out, summary(byName[n]))
	}
	return out, next, nil
}

// memberOf resolves a member name to a user or a group.
func memberOf(ctx context.Context, tx store.Tx, d *Directory, name string) (MemberRef, string, error) {
	u, err := getUser(ctx, tx, d, name)
	if err == nil {
		return MemberRef{Name: u.SAMAccountName, Type: "USER"}, u.SID, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return MemberRef{}, "", err
	}
	g, err := getGroup(ctx, tx, d, name)
	if err == nil {
		return MemberRef{Name: g.SAMAccountName, Type: "GROUP"}, g.SID, nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return MemberRef{}, "", notFoundErr("Member %s does not exist in directory %s.", name, d.ID)
	}
	return MemberRef{}, "", err
}

func (m *Module) changeMember(ctx context.Context, c *gateway.Call, in *GroupMemberInput, add bool) (*Empty, error) {
	err := m.store.Update(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if err := checkRealm(d, in.MemberRealm); err != nil {
			return err
		}
		g, err := getGroup(ctx, tx, d, *in.GroupName)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundErr("Group %s does not exist in directory %s.", *in.GroupName, d.ID)
		}
		if err != nil {
			return err
		}
		ref, _, err := memberOf(ctx, tx, d, *in.MemberName)
		if err != nil {
			return err
		}
		i := g.memberIndex(ref.Name)
		switch {
		case add && i >= 0:
			return conflict("%s is already a member of group %s.", ref.Name, g.SAMAccountName)
		case add && strings.EqualFold(ref.Name, g.SAMAccountName):
			return conflict("A group cannot be a member of itself.")
		case add:
			g.Members = append(g.Members, ref)
		case i < 0:
			return notFoundErr("%s is not a member of group %s.", ref.Name, g.SAMAccountName)
		default:
			g.Members = append(g.Members[:i], g.Members[i+1:]...)
		}
		return store.PutJSON(ctx, tx, TableGroups, objKey(d, g.SAMAccountName), g)
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

func (m *Module) addGroupMember(ctx context.Context, c *gateway.Call, in *AddGroupMemberInput) (*Empty, error) {
	return m.changeMember(ctx, c, (*GroupMemberInput)(in), true)
}

func (m *Module) removeGroupMember(ctx context.Context, c *gateway.Call, in *RemoveGroupMemberInput) (*Empty, error) {
	return m.changeMember(ctx, c, (*GroupMemberInput)(in), false)
}

func (m *Module) listGroupMembers(ctx context.Context, c *gateway.Call, in *ListGroupMembersInput) (*ListGroupMembersOutput, error) {
	out := &ListGroupMembersOutput{DirectoryID: *in.DirectoryID, Members: []Member{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if err := checkRealm(d, in.Realm); err != nil {
			return err
		}
		if err := checkRealm(d, in.MemberRealm); err != nil {
			return err
		}
		out.Realm, out.MemberRealm = d.Name, d.Name
		g, err := getGroup(ctx, tx, d, *in.SAMAccountName)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundErr("Group %s does not exist in directory %s.", *in.SAMAccountName, d.ID)
		}
		if err != nil {
			return err
		}
		byName := map[string]Member{}
		var names []string
		for _, ref := range g.Members {
			r, sid, err := memberOf(ctx, tx, d, ref.Name)
			if err != nil {
				continue // a dangling member is not listed
			}
			k := strings.ToLower(r.Name)
			byName[k] = Member{MemberType: r.Type, SAMAccountName: r.Name, SID: sid}
			names = append(names, k)
		}
		sort.Strings(names)
		start, end, next, err := pageNames(names, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		out.NextToken = next
		for _, n := range names[start:end] {
			out.Members = append(out.Members, byName[n])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Module) listGroupsForMember(ctx context.Context, c *gateway.Call, in *ListGroupsForMemberInput) (*ListGroupsForMemberOutput, error) {
	out := &ListGroupsForMemberOutput{DirectoryID: *in.DirectoryID, Groups: []GroupSummary{}}
	err := m.store.View(ctx, func(tx store.Tx) error {
		d, err := dataDirectory(ctx, tx, c, *in.DirectoryID)
		if err != nil {
			return err
		}
		if err := checkRealm(d, in.Realm); err != nil {
			return err
		}
		if err := checkRealm(d, in.MemberRealm); err != nil {
			return err
		}
		out.Realm, out.MemberRealm = d.Name, d.Name
		if _, _, err := memberOf(ctx, tx, d, *in.SAMAccountName); err != nil {
			return err
		}
		groups, err := listGroups(ctx, tx, d)
		if err != nil {
			return err
		}
		var mine []*Group
		for _, g := range groups {
			if g.memberIndex(*in.SAMAccountName) >= 0 {
				mine = append(mine, g)
			}
		}
		out.Groups, out.NextToken, err = pageGroups(mine, in.NextToken, in.MaxResults)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
