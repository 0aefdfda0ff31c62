// Package dsdata is a small client for the AWS Directory Service Data API
// (service "ds-data", protocol rest-json), which has no aws-sdk-go-v2 module
// on the module proxy. It signs requests with aws-sdk-go-v2's SigV4 signer
// and the same credentials provider as the SDK clients, and covers the
// operations the broker needs: ListUsers, ListGroups, ListGroupMembers,
// ListGroupsForMember, DescribeUser, and (for setup and tests) CreateUser,
// CreateGroup and AddGroupMember. Shapes follow botocore's
// ds-data/2023-05-31 model.
package dsdata

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigningName is the SigV4 service name of the API.
const SigningName = "ds-data"

// Client calls the Directory Service Data API.
type Client struct {
	// Endpoint is the base URL; empty means https://ds-data.<region>.amazonaws.com.
	Endpoint string
	// Region is the signing region.
	Region string
	// Credentials sign every request (e.g. an aws.CredentialsCache over
	// stscreds.AssumeRoleProvider).
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests (default http.DefaultClient); an
	// aws.Config's HTTPClient fits.
	HTTPClient aws.HTTPClient
	// MaxAttempts bounds attempts of throttled or 5xx calls (default 5).
	MaxAttempts int
	// MaxBackoff caps the jittered exponential backoff (default 5s).
	MaxBackoff time.Duration

	signer *v4.Signer
}

// New returns a client for the region, signing with creds.
func New(endpoint, region string, creds aws.CredentialsProvider, hc aws.HTTPClient) *Client {
	return &Client{Endpoint: endpoint, Region: region, Credentials: creds, HTTPClient: hc}
}

// Error is an error returned by the service.
type Error struct {
	StatusCode int
	Code       string
	Message    string
	RequestID  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("ds-data: %s (%d): %s", e.Code, e.StatusCode, e.Message)
}

// IsNotFound reports whether err is a ResourceNotFoundException.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "ResourceNotFoundException"
}

// IsConflict reports whether err is a ConflictException (e.g. the user or
// membership already exists).
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "ConflictException"
}

func (c *Client) endpoint() string {
	if c.Endpoint != "" {
		return strings.TrimRight(c.Endpoint, "/")
	}
	return "https://ds-data." + c.Region + ".amazonaws.com"
}

// call POSTs body to path?DirectoryId=dir and decodes the answer into out,
// retrying throttling and server errors with jittered exponential backoff.
func (c *Client) call(ctx context.Context, path, dir string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	attempts := c.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	maxBackoff := c.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 5 * time.Second
	}
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			d := time.Duration(rand.Int64N(int64(min(maxBackoff, 50*time.Millisecond<<attempt)) + 1))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		retry, err := c.once(ctx, path, dir, payload, out)
		if err == nil || !retry {
			return err
		}
		lastErr = err
	}
	return lastErr
}

func (c *Client) once(ctx context.Context, path, dir string, payload []byte, out any) (retry bool, err error) {
	u := c.endpoint() + path + "?DirectoryId=" + url.QueryEscape(dir)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(payload)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if c.Credentials == nil {
		return false, errors.New("ds-data: no credentials")
	}
	creds, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return false, fmt.Errorf("ds-data: credentials: %w", err)
	}
	if c.signer == nil {
		c.signer = v4.NewSigner()
	}
	if err := c.signer.SignHTTP(ctx, creds, req, hash, SigningName, c.Region, time.Now().UTC()); err != nil {
		return false, err
	}
	var hc aws.HTTPClient = http.DefaultClient
	if c.HTTPClient != nil {
		hc = c.HTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("ds-data %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return true, err
	}
	if resp.StatusCode/100 != 2 {
		e := decodeError(resp, b)
		if e.Code == "ExpiredTokenException" || e.Code == "ExpiredToken" {
			// The service's clock says the temporary credentials expired:
			// drop them (an aws.CredentialsCache can) and retry.
			if inv, ok := c.Credentials.(interface{ Invalidate() }); ok {
				inv.Invalidate()
				return true, e
			}
		}
		return resp.StatusCode == 429 || resp.StatusCode >= 500 || e.Code == "ThrottlingException", e
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return false, fmt.Errorf("ds-data %s: decode: %w", path, err)
		}
	}
	return false, nil
}

func decodeError(resp *http.Response, b []byte) *Error {
	e := &Error{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Amzn-Requestid")}
	var body struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(b, &body)
	e.Code = resp.Header.Get("X-Amzn-Errortype")
	if e.Code == "" {
		e.Code = body.Code
	}
	if e.Code == "" {
		e.Code = body.Type
	}
	// Codes may carry a namespace prefix and a ":"-suffixed URL.
	if i := strings.IndexByte(e.Code, ':'); i >= 0 {
		e.Code = e.Code[:i]
	}
	if i := strings.LastIndexByte(e.Code, '#'); i >= 0 {
		e.Code = e.Code[i+1:]
	}
	if e.Code == "" {
		e.Code = "HTTP" + strconv.Itoa(resp.StatusCode)
	}
	e.Message = body.Message
	if e.Message == "" {
		e.Message = body.Message2
	}
	return e
}

// UserSummary is one user of ListUsers.
type UserSummary struct {
	SAMAccountName string `json:"SAMAccountName"`
	SID            string `json:"SID,omitempty"`
	Enabled        bool   `json:"Enabled"`
	GivenName      string `json:"GivenName,omitempty"`
	Surname        string `json:"Surname,omitempty"`
}

// GroupSummary is one group of ListGroups or ListGroupsForMember.
type GroupSummary struct {
	SAMAccountName string `json:"SAMAccountName"`
	SID            string `json:"SID,omitempty"`
	GroupScope     string `json:"GroupScope,omitempty"`
	GroupType      string `json:"GroupType,omitempty"`
}

// Member is one member of ListGroupMembers.
type Member struct {
	SAMAccountName string `json:"SAMAccountName"`
	SID            string `json:"SID,omitempty"`
	MemberType     string `json:"MemberType,omitempty"` // USER, GROUP, COMPUTER
}

type page struct {
	MaxResults *int32  `json:"MaxResults,omitempty"`
	NextToken  *string `json:"NextToken,omitempty"`
	Realm      string  `json:"Realm,omitempty"`
}

// ListUsersPage is one ListUsers call.
func (c *Client) ListUsersPage(ctx context.Context, dir, realm, token string) ([]UserSummary, string, error) {
	var out struct {
		Users     []UserSummary `json:"Users"`
		NextToken *string       `json:"NextToken"`
	}
	err := c.call(ctx, "/Users/ListUsers", dir, page{NextToken: strPtr(token), Realm: realm}, &out)
	return out.Users, aws.ToString(out.NextToken), err
}

// ListUsers returns every user of the directory (all pages).
func (c *Client) ListUsers(ctx context.Context, dir string) ([]UserSummary, error) {
	return all(func(tok string) ([]UserSummary, string, error) { return c.ListUsersPage(ctx, dir, "", tok) })
}

// ListGroups returns every group of the directory (all pages).
func (c *Client) ListGroups(ctx context.Context, dir string) ([]GroupSummary, error) {
	return all(func(tok string) ([]GroupSummary, string, error) {
		var out struct {
			Groups    []GroupSummary `json:"Groups"`
			NextToken *string        `json:"NextToken"`
		}
		err := c.call(ctx, "/Groups/ListGroups", dir, page{NextToken: strPtr(tok)}, &out)
		return out.Groups, aws.ToString(out.NextToken), err
	})
}

// ListGroupMembers returns every member of a group (all pages).
func (c *Client) ListGroupMembers(ctx context.Context, dir, group string) ([]Member, error) {
	return all(func(tok string) ([]Member, string, error) {
		var out struct {
			Members   []Member `json:"Members"`
			NextToken *string  `json:"NextToken"`
		}
		in := struct {
			SAMAccountName string  `json:"SAMAccountName"`
			NextToken      *string `json:"NextToken,omitempty"`
		}{group, strPtr(tok)}
		err := c.call(ctx, "/GroupMemberships/ListGroupMembers", dir, in, &out)
		return out.Members, aws.ToString(out.NextToken), err
	})
}

// ListGroupsForMember returns every group the member belongs to (all pages).
func (c *Client) ListGroupsForMember(ctx context.Context, dir, member string) ([]GroupSummary, error) {
	return all(func(tok string) ([]GroupSummary, string, error) {
		var out struct {
			Groups    []GroupSummary `json:"Groups"`
			NextToken *string        `json:"NextToken"`
		}
		in := struct {
			SAMAccountName string  `json:"SAMAccountName"`
			NextToken      *string `json:"NextToken,omitempty"`
		}{member, strPtr(tok)}
		err := c.call(ctx, "/GroupMemberships/ListGroupsForMember", dir, in, &out)
		return out.Groups, aws.ToString(out.NextToken), err
	})
}

// User is the answer of DescribeUser.
type User struct {
	SAMAccountName    string `json:"SAMAccountName"`
	SID               string `json:"SID,omitempty"`
	Enabled           bool   `json:"Enabled"`
	GivenName         string `json:"GivenName,omitempty"`
	Surname           string `json:"Surname,omitempty"`
	EmailAddress      string `json:"EmailAddress,omitempty"`
	UserPrincipalName string `json:"UserPrincipalName,omitempty"`
}

// DescribeUser returns one user.
func (c *Client) DescribeUser(ctx context.Context, dir, name string) (*User, error) {
	var out User
	in := struct {
		SAMAccountName string `json:"SAMAccountName"`
	}{name}
	if err := c.call(ctx, "/Users/DescribeUser", dir, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateUserInput is the input of CreateUser.
type CreateUserInput struct {
	SAMAccountName string `json:"SAMAccountName"`
	GivenName      string `json:"GivenName,omitempty"`
	Surname        string `json:"Surname,omitempty"`
	EmailAddress   string `json:"EmailAddress,omitempty"`
	ClientToken    string `json:"ClientToken,omitempty"`
}

// CreateUser creates a user; it returns the new user's SID.
func (c *Client) CreateUser(ctx context.Context, dir string, in CreateUserInput) (string, error) {
	var out struct {
		SID string `json:"SID"`
	}
	err := c.call(ctx, "/Users/CreateUser", dir, in, &out)
	return out.SID, err
}

// CreateGroup creates a global security group; it returns its SID.
func (c *Client) CreateGroup(ctx context.Context, dir, name string) (string, error) {
	var out struct {
		SID string `json:"SID"`
	}
	in := struct {
		SAMAccountName string `json:"SAMAccountName"`
		GroupScope     string `json:"GroupScope"`
		GroupType      string `json:"GroupType"`
	}{name, "Global", "Security"}
	err := c.call(ctx, "/Groups/CreateGroup", dir, in, &out)
	return out.SID, err
}

// AddGroupMember adds a member (by sAMAccountName) to a group.
func (c *Client) AddGroupMember(ctx context.Context, dir, group, member string) error {
	in := struct {
		GroupName  string `json:"GroupName"`
		MemberName string `json:"MemberName"`
	}{group, member}
	return c.call(ctx, "/GroupMemberships/AddGroupMember", dir, in, nil)
}

func all[T any](f func(tok string) ([]T, string, error)) ([]T, error) {
	var out []T
	tok := ""
	for i := 0; ; i++ {
		items, next, err := f(tok)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" || next == tok || i > 100000 {
			return out, nil
		}
		tok = next
	}
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
