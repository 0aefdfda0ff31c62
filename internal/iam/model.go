// Package iam holds identities — users, access keys, roles and managed
// policies per account — authenticates callers from their access keys and
// answers authorization questions with the policy evaluator (iam/policy).
package iam

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/store"
)

// Store tables.
const (
	TableUsers    = "iam_users"    // ACCOUNT/NAME
	TableKeys     = "iam_keys"     // ACCESSKEYID
	TableRoles    = "iam_roles"    // ACCOUNT/NAME
	TablePolicies = "iam_policies" // ARN
)

// User is an IAM user.
type User struct {
	Account  string            `json:"account"`
	Name     string            `json:"name"`
	Path     string            `json:"path"`
	UserID   string            `json:"user_id"`
	ARN      string            `json:"arn"`
	Created  time.Time         `json:"created"`
	Tags     map[string]string `json:"tags,omitempty"`
	Inline   map[string]string `json:"inline,omitempty"`   // policy name -> document
	Attached []string          `json:"attached,omitempty"` // managed policy ARNs
}

// AccessKey is a long-term access key of a user.
type AccessKey struct {
	ID       string `json:"id"`
	Secret   string `json:"secret"`
	Account  string `json:"account"`
	UserName string `json:"user_name"`
	// UserID binds the key to the user's unique id (AIDA…): a key left
	// behind by a deleted user never authenticates as a new user of the
	// same name. Empty on keys stored before the binding existed.
	UserID  string    `json:"user_id,omitempty"`
	Status  string    `json:"status"` // Active or Inactive
	Created time.Time `json:"created"`
}

// Role is an IAM role.
type Role struct {
	Account            string            `json:"account"`
	Name               string            `json:"name"`
	Path               string            `json:"path"`
	RoleID             string            `json:"role_id"`
	ARN                string            `json:"arn"`
	Description        string            `json:"description,omitempty"`
	AssumeRolePolicy   string            `json:"assume_role_policy"`
	MaxSessionDuration int               `json:"max_session_duration"`
	Created            time.Time         `json:"created"`
	Tags               map[string]string `json:"tags,omitempty"`
	Inline             map[string]string `json:"inline,omitempty"`
	Attached           []string          `json:"attached,omitempty"`
}

// ManagedPolicy is a customer managed (or AWS managed) policy.
type ManagedPolicy struct {
	ARN            string               `json:"arn"`
	Account        string               `json:"account"` // "aws" for AWS managed policies
	Name           string               `json:"name"`
	Path           string               `json:"path"`
	PolicyID       string               `json:"policy_id"`
	Description    string               `json:"description,omitempty"`
	DefaultVersion string               `json:"default_version"`
	Versions       map[string]string    `json:"versions"` // version id -> document
	VersionDates   map[string]time.Time `json:"version_dates,omitempty"`
	Attachments    int                  `json:"attachments"`
	Created        time.Time            `json:"created"`
	Updated        time.Time            `json:"updated"`
	Tags           map[string]string    `json:"tags,omitempty"`
}

// UniqueID derives a stable IAM unique id (AIDA…, AROA…, ANPA…) from a seed.
func UniqueID(prefix, seed string) string {
	h := sha256.Sum256([]byte(seed))
	s := base32.StdEncoding.EncodeToString(h[:])
	s = strings.NewReplacer("=", "", "0", "Q", "1", "R", "8", "S", "9", "T").Replace(s)
	return prefix + s[:17]
}

// UserKey is the store key of a user.
func UserKey(account, name string) string { return account + "/" + strings.ToLower(name) }

// RoleKey is the store key of a role.
func RoleKey(account, name string) string { return account + "/" + strings.ToLower(name) }

// UserARN builds a user's ARN.
func UserARN(account, path, name string) string {
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("arn:aws:iam::%s:user%s%s", account, path, name)
}

// RoleARN builds a role's ARN.
func RoleARN(account, path, name string) string {
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("arn:aws:iam::%s:role%s%s", account, path, name)
}

// GetUser loads a user.
func GetUser(ctx context.Context, tx store.Tx, account, name string) (*User, error) {
	return store.GetJSON[User](ctx, tx, TableUsers, UserKey(account, name))
}

// GetRole loads a role.
func GetRole(ctx context.Context, tx store.Tx, account, name string) (*Role, error) {
	return store.GetJSON[Role](ctx, tx, TableRoles, RoleKey(account, name))
}

// GetPolicy loads a managed policy by ARN, including AWS managed policies.
func GetPolicy(ctx context.Context, tx store.Tx, arn string) (*ManagedPolicy, error) {
	if p, ok := awsManaged[arn]; ok {
		cp := *p
		return &cp, nil
	}
	return store.GetJSON[ManagedPolicy](ctx, tx, TablePolicies, arn)
}

// IsNotFound reports whether err is store.ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

var awsManaged = map[string]*ManagedPolicy{}

func init() {
	addV := func(name, version, description, doc string, created, updated time.Time) {
		arn := "arn:aws:iam::aws:policy/" + name
		awsManaged[arn] = &ManagedPolicy{ARN: arn, Account: "aws", Name: name, Path: "/", PolicyID: UniqueID("ANPA", arn), Description: description,
			DefaultVersion: version, Versions: map[string]string{version: doc}, VersionDates: map[string]time.Time{version: updated}, Created: created, Updated: updated}
	}
	add := func(name, doc string) {
		t := time.Date(2015, 2, 6, 18, 39, 46, 0, time.UTC)
		addV(name, "v1", "", doc, t, t)
	}
	// The WorkSpaces service policies, as the AWS managed policy reference
	// documents them (docs.aws.amazon.com/aws-managed-policy/latest/reference).
	addV("AmazonWorkSpacesServiceAccess", "v2", "Provides customer account access to AWS WorkSpaces service for launching a Workspace.",
		`{"Version":"2012-10-17","Statement":[{"Action":["ec2:CreateNetworkInterface","ec2:DeleteNetworkInterface","ec2:DescribeNetworkInterfaces"],"Effect":"Allow","Resource":"*"}]}`,
		time.Date(2019, 6, 27, 19, 19, 0, 0, time.UTC), time.Date(2020, 3, 18, 23, 32, 0, 0, time.UTC))
	addV("AmazonWorkSpacesSelfServiceAccess", "v1", "Provides access to Amazon WorkSpaces backend service to perform Workspace Self Service actions",
		`{"Version":"2012-10-17","Statement":[{"Action":["workspaces:RebootWorkspaces","workspaces:RebuildWorkspaces","workspaces:ModifyWorkspaceProperties"],"Effect":"Allow","Resource":"*"}]}`,
		time.Date(2019, 6, 27, 19, 22, 0, 0, time.UTC), time.Date(2019, 6, 27, 19, 22, 0, 0, time.UTC))
	add("AdministratorAccess", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	add("AmazonWorkSpacesAdmin", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["workspaces:*","ds:*","ds-data:*","ec2:Describe*","kms:CreateGrant","kms:DescribeKey","kms:ListAliases","kms:ListKeys"],"Resource":"*"}]}`)
	add("ReadOnlyAccess", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["workspaces:Describe*","workspaces:List*","ec2:Describe*","ds:Describe*","ds-data:List*","ds-data:Describe*","kms:Describe*","kms:List*","kms:Get*","iam:Get*","iam:List*","cloudtrail:LookupEvents"],"Resource":"*"}]}`)
}

// AWSManagedPolicies lists the AWS managed policies deskplane knows.
func AWSManagedPolicies() []*ManagedPolicy {
	out := make([]*ManagedPolicy, 0, len(awsManaged))
	for _, p := range awsManaged {
		out = append(out, p)
	}
	return out
}
