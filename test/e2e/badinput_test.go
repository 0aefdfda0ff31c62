package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// raw sends a request signed with the aws-sdk-go-v2 signer. Real clients
// validate input before sending, so malformed input needs a raw request.
type raw struct {
	url, service, target, contentType string
	body                              []byte
	akid, secret                      string
	region                            string // "": us-east-1
	signedAt                          time.Time
	unsigned                          bool
	tamper                            func(r *http.Request)
}

type rawResp struct {
	status int
	code   string
	body   string
}

func (r raw) do(t *testing.T) rawResp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url+"/", bytes.NewReader(r.body))
	req.Header.Set("Content-Type", r.contentType)
	if r.target != "" {
		req.Header.Set("X-Amz-Target", r.target)
	}
	if !r.unsigned {
		akid, secret := r.akid, r.secret
		if akid == "" {
			akid, secret = config.AdminKeyID, config.AdminSecret
		}
		at := r.signedAt
		if at.IsZero() {
			at = time.Now()
		}
		region := r.region
		if region == "" {
			region = "us-east-1"
		}
		sum := sha256.Sum256(r.body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
			req, hex.EncodeToString(sum[:]), r.service, region, at); err != nil {
			t.Fatal(err)
		}
	}
	if r.tamper != nil {
		r.tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := rawResp{status: resp.StatusCode, body: string(b)}
	if strings.Contains(r.contentType, "json") {
		var e struct {
			Type string `json:"__type"`
		}
		json.Unmarshal(b, &e)
		out.code = e.Type
	} else {
		var e struct {
			Code  string `xml:"Error>Code"`
			Codes string `xml:"Errors>Error>Code"`
		}
		xml.Unmarshal(b, &e)
		out.code = e.Code + e.Codes
	}
	if id := resp.Header.Get("X-Amzn-RequestId"); id == "" {
		t.Fatalf("response without a request id: %s", b)
	}
	return out
}

func TestBadInputTable(t *testing.T) {
	s := testserver.Start(t)
	ws := func(op, body string) raw {
		return raw{url: s.URL, service: "workspaces", target: "WorkspacesService." + op, contentType: "application/x-amz-json-1.1", body: []byte(body)}
	}
	iamq := func(body string) raw {
		return raw{url: s.URL, service: "iam", contentType: "application/x-www-form-urlencoded; charset=utf-8", body: []byte(body)}
	}
	ec2q := func(body string) raw {
		return raw{url: s.URL, service: "ec2", contentType: "application/x-www-form-urlencoded; charset=utf-8", body: []byte(body)}
	}
	cases := []struct {
		name   string
		req    raw
		status int
		code   string
	}{
		{"malformed JSON", ws("DescribeWorkspaces", `{"WorkspaceIds":[`), 400, "SerializationException"},
		{"wrong type", ws("DescribeWorkspaces", `{"Limit":"ten"}`), 400, "SerializationException"},
		{"out of range", ws("DescribeWorkspaces", `{"Limit":26}`), 400, "ValidationException"},
		{"too many ids", ws("DescribeWorkspaces", `{"WorkspaceIds":[`+strings.Repeat(`"ws-aaaaaaaaa",`, 25)+`"ws-aaaaaaaaa"]}`), 400, "ValidationException"},
		{"missing required", ws("CreateWorkspaces", `{}`), 400, "ValidationException"},
		{"missing nested required", ws("CreateWorkspaces", `{"Workspaces":[{"DirectoryId":"d-1234567890"}]}`), 400, "ValidationException"},
		{"bad enum", ws("ModifyWorkspaceState", `{"WorkspaceId":"ws-aaaaaaaaa","WorkspaceState":"RUNNING"}`), 400, "ValidationException"},
		{"bad pattern", ws("DescribeWorkspaceSnapshots", `{"WorkspaceId":"not-an-id"}`), 400, "ValidationException"},
		{"unknown id", ws("RestoreWorkspace", `{"WorkspaceId":"ws-aaaaaaaaa"}`), 400, "ResourceNotFoundException"},
		{"bad token", ws("DescribeWorkspaces", `{"NextToken":"!!!"}`), 400, "InvalidParameterValuesException"},
		{"token not a range", ws("ListAvailableManagementCidrRanges", `{"ManagementCidrRangeConstraint":"10.0.0.0/8","NextToken":"bm9wZQ"}`), 400, "InvalidParameterValuesException"},
		{"aws: tag", ws("CreateTags", `{"ResourceId":"d-1234567890","Tags":[{"Key":"aws:x","Value":"1"}]}`), 400, "InvalidParameterValuesException"},
		{"51 tags", ws("RegisterWorkspaceDirectory", `{"DirectoryId":"d-1234567890","Tags":[`+strings.TrimSuffix(strings.Repeat(`{"Key":"k","Value":"v"},`, 51), ",")+`]}`), 400, "InvalidParameterValuesException"},
		{"unknown operation", ws("LaunchRockets", `{}`), 400, "UnknownOperationException"},
		{"body over the cap", ws("DescribeWorkspaces", `{"x":"`+strings.Repeat("a", 1<<20)+`"}`), 413, "RequestEntityTooLargeException"},
		{"query: body over the cap", iamq("Action=ListUsers&Version=2010-05-08&x=" + strings.Repeat("a", 1<<20)), 413, "RequestEntityTooLarge"},
		{"ec2: body over the cap", ec2q("Action=DescribeVpcs&Version=2016-11-15&x=" + strings.Repeat("a", 1<<20)), 413, "InvalidRequest"},
		{"query: missing member", iamq("Action=CreateUser&Version=2010-05-08"), 400, "ValidationError"},
		{"query: bad integer", iamq("Action=ListUsers&Version=2010-05-08&MaxItems=lots"), 400, "ValidationError"},
		{"query: unknown action", iamq("Action=Frobnicate&Version=2010-05-08"), 400, "InvalidAction"},
		{"query: malformed policy", iamq("Action=PutUserPolicy&Version=2010-05-08&UserName=admin&PolicyName=p&PolicyDocument=%7Bnope"), 400, "MalformedPolicyDocument"},
		{"ec2: unknown image", ec2q("Action=DescribeImages&Version=2016-11-15&ImageId.1=ami-0123456789abcdef0"), 400, "InvalidAMIID.NotFound"},
		{"ec2: malformed image id", ec2q("Action=DescribeImages&Version=2016-11-15&ImageId.1=bogus"), 400, "InvalidAMIID.Malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.req.do(t)
			if got.status != c.status || got.code != c.code {
				t.Fatalf("got %d %q, want %d %q: %.300s", got.status, got.code, c.status, c.code, got.body)
			}
		})
	}
	// Nothing of a rejected request is persisted: the refused tag is absent.
	cli := workspaces.NewFromConfig(s.Admin())
	if d, err := cli.DescribeWorkspaces(context.Background(), &workspaces.DescribeWorkspacesInput{}); err != nil || len(d.Workspaces) != 0 {
		t.Fatalf("describe after bad input: %v %d", err, len(d.Workspaces))
	}
}

func TestSigV4Rejections(t *testing.T) {
	s := testserver.Start(t)
	type proto struct {
		name, service, target, ct, body string
	}
	protos := []proto{
		{"json", "workspaces", "WorkspacesService.DescribeAccount", "application/x-amz-json-1.1", `{}`},
		{"query", "iam", "", "application/x-www-form-urlencoded; charset=utf-8", "Action=ListUsers&Version=2010-05-08"},
		{"ec2", "ec2", "", "application/x-www-form-urlencoded; charset=utf-8", "Action=DescribeVpcs&Version=2016-11-15"},
	}
	want := map[string]map[string][2]any{
		"unsigned":     {"json": {400, "MissingAuthenticationTokenException"}, "query": {403, "MissingAuthenticationToken"}, "ec2": {401, "MissingAuthenticationToken"}},
		"unknown key":  {"json": {400, "UnrecognizedClientException"}, "query": {403, "InvalidClientTokenId"}, "ec2": {401, "AuthFailure"}},
		"wrong secret": {"json": {400, "InvalidSignatureException"}, "query": {403, "SignatureDoesNotMatch"}, "ec2": {401, "AuthFailure"}},
		"tampered":     {"json": {400, "InvalidSignatureException"}, "query": {403, "SignatureDoesNotMatch"}, "ec2": {401, "AuthFailure"}},
		"skewed":       {"json": {400, "InvalidSignatureException"}, "query": {403, "SignatureDoesNotMatch"}, "ec2": {400, "RequestExpired"}},
		"good":         {"json": {200, ""}, "query": {200, ""}, "ec2": {200, ""}},
	}
	for _, p := range protos {
		for name, w := range want {
			t.Run(p.name+"/"+name, func(t *testing.T) {
				r := raw{url: s.URL, service: p.service, target: p.target, contentType: p.ct, body: []byte(p.body)}
				switch name {
				case "unsigned":
					r.unsigned = true
				case "unknown key":
					r.akid, r.secret = "AKIAUNKNOWNKEY000000", "x"
				case "wrong secret":
					r.akid, r.secret = config.AdminKeyID, "wrong"
				case "tampered":
					r.tamper = func(req *http.Request) {
						b := append([]byte(p.body), ' ')
						req.Body = io.NopCloser(bytes.NewReader(b))
						req.ContentLength = int64(len(b))
					}
				case "skewed":
					r.signedAt = time.Now().Add(-16 * time.Minute)
				}
				got := r.do(t)
				exp := w[p.name]
				if got.status != exp[0].(int) || got.code != exp[1].(string) {
					t.Fatalf("got %d %q, want %d %q: %.200s", got.status, got.code, exp[0], exp[1], got.body)
				}
			})
		}
	}
}

// TestRegionNotServed: a call signed for a region the server does not serve
// is refused (it created KMS keys in "zz-fake-1" and "US-EAST-1" until the
// hostile-input suite found it); IAM, global, takes any signing region.
func TestRegionNotServed(t *testing.T) {
	s := testserver.Start(t)
	cases := []struct {
		name, region, service, target, ct, body string
		status                                  int
		code                                    string
	}{
		{"json unknown", "zz-fake-1", "kms", "TrentService.ListKeys", "application/x-amz-json-1.1", `{}`, 400, "InvalidSignatureException"},
		{"json upper case", "US-EAST-1", "workspaces", "WorkspacesService.DescribeAccount", "application/x-amz-json-1.1", `{}`, 400, "InvalidSignatureException"},
		{"query", "zz-fake-1", "sts", "", "application/x-www-form-urlencoded; charset=utf-8", "Action=GetCallerIdentity&Version=2011-06-15", 403, "SignatureDoesNotMatch"},
		{"ec2", "zz-fake-1", "ec2", "", "application/x-www-form-urlencoded; charset=utf-8", "Action=DescribeVpcs&Version=2016-11-15", 401, "AuthFailure"},
		{"served", "eu-west-1", "kms", "TrentService.ListKeys", "application/x-amz-json-1.1", `{}`, 200, ""},
		{"global", "zz-fake-1", "iam", "", "application/x-www-form-urlencoded; charset=utf-8", "Action=ListUsers&Version=2010-05-08", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := raw{url: s.URL, service: c.service, target: c.target, contentType: c.ct, body: []byte(c.body), region: c.region}.do(t)
			if got.status != c.status || got.code != c.code {
				t.Fatalf("got %d %q, want %d %q: %.300s", got.status, got.code, c.status, c.code, got.body)
			}
		})
	}
}
