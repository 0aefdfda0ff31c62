package iam

import (
	"errors"
	"net/http"
	"unicode"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/iam/policy"
)

// IAM error constructors, with the HTTP statuses of the IAM 2010-05-08 model.

func errNoSuchEntity(format string, args ...any) error {
	return awsproto.ErrorStatus(http.StatusNotFound, "NoSuchEntity", format, args...)
}

func errExists(format string, args ...any) error {
	return awsproto.ErrorStatus(http.StatusConflict, "EntityAlreadyExists", format, args...)
}

func errDeleteConflict(format string, args ...any) error {
	return awsproto.ErrorStatus(http.StatusConflict, "DeleteConflict", format, args...)
}

func errLimit(format string, args ...any) error {
	return awsproto.ErrorStatus(http.StatusConflict, "LimitExceeded", format, args...)
}

func errInvalidInput(format string, args ...any) error {
	return awsproto.Errorf("InvalidInput", format, args...)
}

// errInvalidClientToken is the authentication failure of a session token
// whose user or role no longer exists.
func errInvalidClientToken() error {
	return &awsproto.Error{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden, Sender: true}
}

func errValidation(format string, args ...any) error {
	return awsproto.Errorf("ValidationError", format, args...)
}

// MalformedError converts a policy parse error into the AWS
// MalformedPolicyDocument error (HTTP 400); other errors pass unchanged.
func MalformedError(err error) error {
	var me *policy.MalformedError
	if errors.As(err, &me) {
		return awsproto.Errorf("MalformedPolicyDocument", "%s", me.Message)
	}
	return err
}

// PolicySize counts the characters of a policy document that count against
// IAM's size quotas: every character except white space.
func PolicySize(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// Policy size quotas (non-whitespace characters).
const (
	MaxUserInline    = 2048  // aggregate inline policies of one user
	MaxRoleInline    = 10240 // aggregate inline policies of one role
	MaxManagedPolicy = 6144  // one managed policy version
	MaxTrustPolicy   = 2048  // a role trust policy (ACLSizePerRole)
)

// EncodeDocument percent-encodes a policy document the way IAM returns it
// (RFC 3986: everything but unreserved characters is escaped).
func EncodeDocument(doc string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(doc)*2)
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}
