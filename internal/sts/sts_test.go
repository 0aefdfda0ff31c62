package sts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// Trust policies of the roles the tests create in the customer account.
const (
	// trustWithExternalID trusts the partner account with ExternalId ext-1.
	trustWithExternalID = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ext-1"}}}]}`
	// trustPlain trusts the partner account with no condition.
	trustPlain = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole"}]}`
	// trustTags also lets the partner account tag its sessions.
	trustTags = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	// trustSelf trusts the customer account itself (for role chaining).
	trustSelf = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::111122223333:root"]},"Action":"sts:AssumeRole"}]}`
	// readRoles lets a role read IAM roles.
	readRoles = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetRole","iam:ListRoles","sts:AssumeRole"],"Resource":"*"}]}`
	// getRoleIfBlue allows iam:GetRole only to sessions tagged team=blue.
	getRoleIfBlue = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}]}`
)

// newRole creates a role in the customer account with the trust policy,
// the inline permissions policy and the maximum session duration, and
// returns its ARN.
func newRole(t *testing.T, s *testserver.Server, name, trust, perms string, maxSession int32) string {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(s.Admin())
	r, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust),
		MaxSessionDuration: aws.Int32(maxSession)})
	if err != nil {
		t.Fatalf("create role %s: %v", name, err)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("perms"), PolicyDocument: aws.String(perms)}); err != nil {
		t.Fatalf("put role policy %s: %v", name, err)
	}
	return aws.ToString(r.Role.Arn)
}

// session returns a configuration that signs with temporary credentials.
func session(s *testserver.Server, cr *ststypes.Credentials) aws.Config {
	return testserver.ConfigFor(s.URL, aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken))
}

// wantCode fails unless err is an API error with the code ("" wants no
// error).
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("want success, got %v", err)
		}
		return
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
}

// deniedUnless is the error code wanted of a call: none when it is
// allowed, AccessDenied otherwise.
func deniedUnless(allowed bool) string {
	if allowed {
		return ""
	}
	return "AccessDenied"
}

func TestAssumeRoleExternalID(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	withExt := newRole(t, s, "WithExt", trustWithExternalID, readRoles, 3600)
	plain := newRole(t, s, "Plain", trustPlain, readRoles, 3600)
	partner := sts.NewFromConfig(s.Partner())
	for _, tc := range []struct {
		name, role string
		ext        *string
		code       string
	}{
		{"required and right", withExt, aws.String("ext-1"), ""},
		{"required and missing", withExt, nil, "AccessDenied"},
		{"required and wrong", withExt, aws.String("ext-2"), "AccessDenied"},
		{"required, case differs", withExt, aws.String("EXT-1"), "AccessDenied"},
		{"not required, none given", plain, nil, ""},
		{"not required, one given", plain, aws.String("anything"), ""},
		{"too short", plain, aws.String("x"), "ValidationError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := partner.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String("ss"), ExternalId: tc.ext})
			wantCode(t, err, tc.code)
			if tc.code == "" {
				name := tc.role[strings.LastIndexByte(tc.role, '/')+1:]
				if got, want := aws.ToString(out.AssumedRoleUser.Arn), "arn:aws:sts::"+config.CustomerAccount+":assumed-role/"+name+"/ss"; got != want {
					t.Fatalf("assumed role %s, want %s", got, want)
				}
			}
		})
	}
}

func TestAssumeRoleDuration(t *testing.T) {
	s := testserver.Start(t, testserver.VirtualClock())
	ctx := context.Background()
	role := newRole(t, s, "Long", trustSelf, readRoles, 7200)
	partner := sts.NewFromConfig(s.Partner())
	chainFrom, err := partner.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("first")})
	wantCode(t, err, "")
	chained := sts.NewFromConfig(session(s, chainFrom.Credentials))
	for _, tc := range []struct {
		name   string
		client *sts.Client
		dur    *int32
		want   time.Duration // the session's length when it succeeds
		code   string
	}{
		{"default is an hour", partner, nil, time.Hour, ""},
		{"minimum", partner, aws.Int32(900), 900 * time.Second, ""},
		{"below the minimum", partner, aws.Int32(899), 0, "ValidationError"},
		{"the role's maximum", partner, aws.Int32(7200), 2 * time.Hour, ""},
		{"above the role's maximum", partner, aws.Int32(7201), 0, "ValidationError"},
		{"above the API's maximum", partner, aws.Int32(43201), 0, "ValidationError"},
		{"chained, an hour", chained, aws.Int32(3600), time.Hour, ""},
		{"chained, default", chained, nil, time.Hour, ""},
		{"chained, above an hour", chained, aws.Int32(3601), 0, "ValidationError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Now().Truncate(time.Second)
			out, err := tc.client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("dd"), DurationSeconds: tc.dur})
			after := s.Now()
			wantCode(t, err, tc.code)
			if tc.code != "" {
				return
			}
			// The server's virtual clock moves with the wall clock between
			// advances: the expiry is the duration after some instant of
			// the call (to the second).
			if got := aws.ToTime(out.Credentials.Expiration); got.Before(before.Add(tc.want)) || got.After(after.Add(tc.want)) {
				t.Fatalf("expires %s, want %s after a time in [%s, %s]", got, tc.want, before, after)
			}
		})
	}
}

func TestSessionExpiresOnTheServerClock(t *testing.T) {
	s := testserver.Start(t, testserver.VirtualClock())
	ctx := context.Background()
	role := newRole(t, s, "Short", trustPlain, readRoles, 3600)
	rs, err := sts.NewFromConfig(s.Partner()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("ee"), DurationSeconds: aws.Int32(900)})
	wantCode(t, err, "")
	us, err := sts.NewFromConfig(s.Admin()).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(1800)})
	wantCode(t, err, "")
	role15 := sts.NewFromConfig(session(s, rs.Credentials))
	user30 := sts.NewFromConfig(session(s, us.Credentials))
	roleExp, userExp := aws.ToTime(rs.Credentials.Expiration), aws.ToTime(us.Credentials.Expiration)
	for _, tc := range []struct {
		name           string
		at             time.Time
		roleOK, userOK bool
	}{
		// The virtual clock also moves with the wall clock, hence the
		// minute of margin before each expiry.
		{"a minute before the role session ends", roleExp.Add(-time.Minute), true, true},
		{"when the role session ends", roleExp, false, true},
		{"a minute before the user session ends", userExp.Add(-time.Minute), false, true},
		{"when the user session ends", userExp, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.AdvanceTo(tc.at)
			for _, c := range []struct {
				who    string
				client *sts.Client
				ok     bool
			}{{"role", role15, tc.roleOK}, {"user", user30, tc.userOK}} {
				_, err := c.client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				if c.ok {
					wantCode(t, err, "")
				} else {
					wantCode(t, err, "ExpiredToken")
				}
			}
		})
	}
}

func TestSessionPolicyNarrows(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	role := newRole(t, s, "Reader", trustPlain, readRoles, 3600)
	// A managed policy in the customer account, for PolicyArns.
	mp, err := iam.NewFromConfig(s.Admin()).CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("only-list"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}`)})
	wantCode(t, err, "")
	partner := sts.NewFromConfig(s.Partner())
	for _, tc := range []struct {
		name                  string
		policy                *string
		arns                  []ststypes.PolicyDescriptorType
		getRoleOK, listRoleOK bool
	}{
		{"no session policy: the role's permissions", nil, nil, true, true},
		{"inline session policy allows GetRole only", aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}]}`), nil, true, false},
		{"session policy cannot widen", aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`), nil, true, true},
		{"managed session policy allows ListRoles only", nil, []ststypes.PolicyDescriptorType{{Arn: mp.Policy.Arn}}, false, true},
		{"a session policy that denies", aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"iam:ListRoles","Resource":"*"}]}`), nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := partner.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("nn"), Policy: tc.policy, PolicyArns: tc.arns})
			wantCode(t, err, "")
			c := iam.NewFromConfig(session(s, out.Credentials))
			_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Reader")})
			wantCode(t, err, deniedUnless(tc.getRoleOK))
			_, err = c.ListRoles(ctx, &iam.ListRolesInput{})
			wantCode(t, err, deniedUnless(tc.listRoleOK))
			// A session that cannot create users never can, whatever its session policy.
			_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("nobody")})
			wantCode(t, err, "AccessDenied")
		})
	}
	// A managed policy of another account cannot narrow this session.
	_, err = partner.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("nn"),
		PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::999999999999:policy/elsewhere")}}})
	wantCode(t, err, "InvalidParameterValue")
}

func TestSessionTags(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	tagged := newRole(t, s, "Tagged", trustTags, getRoleIfBlue, 3600)
	untagged := newRole(t, s, "NoTagSession", trustPlain, getRoleIfBlue, 3600)
	partner := sts.NewFromConfig(s.Partner())
	tag := func(k, v string) ststypes.Tag { return ststypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	for _, tc := range []struct {
		name       string
		role       string
		tags       []ststypes.Tag
		transitive []string
		code       string // of AssumeRole
		getRoleOK  bool
	}{
		{"tag team=blue", tagged, []ststypes.Tag{tag("team", "blue")}, nil, "", true},
		{"tag team=red", tagged, []ststypes.Tag{tag("team", "red")}, nil, "", false},
		{"no tags", tagged, nil, nil, "", false},
		{"trust policy without sts:TagSession", untagged, []ststypes.Tag{tag("team", "blue")}, nil, "AccessDenied", false},
		{"no tags, no sts:TagSession needed", untagged, nil, nil, "", false},
		{"duplicate keys differing in case", tagged, []ststypes.Tag{tag("team", "blue"), tag("Team", "red")}, nil, "ValidationError", false},
		{"aws: prefix", tagged, []ststypes.Tag{tag("aws:team", "blue")}, nil, "ValidationError", false},
		{"transitive key among the tags", tagged, []ststypes.Tag{tag("team", "blue")}, []string{"team"}, "", true},
		{"transitive key not among the tags", tagged, []ststypes.Tag{tag("team", "blue")}, []string{"cost"}, "InvalidParameterValue", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := partner.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String("tt"), Tags: tc.tags, TransitiveTagKeys: tc.transitive})
			wantCode(t, err, tc.code)
			if tc.code != "" {
				return
			}
			_, err = iam.NewFromConfig(session(s, out.Credentials)).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Tagged")})
			wantCode(t, err, deniedUnless(tc.getRoleOK))
		})
	}
}

func TestGetCallerIdentity(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	role := newRole(t, s, "Who", trustPlain, readRoles, 3600)
	ar, err := sts.NewFromConfig(s.Partner()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("me")})
	wantCode(t, err, "")
	st, err := sts.NewFromConfig(s.Admin()).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantCode(t, err, "")
	// A user with no policies at all may still ask who it is.
	padmin := iam.NewFromConfig(s.Partner())
	_, err = padmin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bare"), Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, err, "")
	k, err := padmin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bare")})
	wantCode(t, err, "")
	for _, tc := range []struct {
		name             string
		cfg              aws.Config
		account, arn, id string // id: a prefix of UserId, or the whole when it ends in ":me"
	}{
		{"IAM user (long-term key)", s.Admin(), config.CustomerAccount, "arn:aws:iam::111122223333:user/admin", "AIDA"},
		{"IAM user of another account", s.Partner(), config.PartnerAccount, "arn:aws:iam::444455556666:user/partner", "AIDA"},
		{"IAM user without policies", s.Config(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)), config.PartnerAccount, "arn:aws:iam::444455556666:user/bare", "AIDA"},
		{"assumed role", session(s, ar.Credentials), config.CustomerAccount, "arn:aws:sts::111122223333:assumed-role/Who/me", "AROA"},
		{"GetSessionToken session", session(s, st.Credentials), config.CustomerAccount, "arn:aws:iam::111122223333:user/admin", "AIDA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := sts.NewFromConfig(tc.cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			wantCode(t, err, "")
			if aws.ToString(out.Account) != tc.account || aws.ToString(out.Arn) != tc.arn || !strings.HasPrefix(aws.ToString(out.UserId), tc.id) {
				t.Fatalf("identity {%s %s %s}, want {%s %s %s…}", aws.ToString(out.Account), aws.ToString(out.Arn), aws.ToString(out.UserId), tc.account, tc.arn, tc.id)
			}
		})
	}
	// The assumed role's UserId is the role id and the session name.
	if id := aws.ToString(ar.AssumedRoleUser.AssumedRoleId); !strings.HasSuffix(id, ":me") {
		t.Fatalf("AssumedRoleId %s", id)
	}
}

// TestAssumeRoleThroughThePipeline: AssumeRole is authorized by the
// pipeline (ResourcePolicy): the trust policy with the caller's policies.
// A role that does not exist is refused in the same words as a role that
// does not trust the caller (no reason given, as AWS words it); a user's
// GetSessionToken credentials may tag the session they assume, because
// sts:TagSession is a permission AssumeRole checks, not an STS operation
// those credentials are barred from.
func TestAssumeRoleThroughThePipeline(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	tagged := newRole(t, s, "Tagged", trustTags, getRoleIfBlue, 3600)
	distrust := newRole(t, s, "Distrust", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`, readRoles, 3600)
	partner := sts.NewFromConfig(s.Partner())
	who, err := partner.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	missing := "arn:aws:iam::" + config.CustomerAccount + ":role/NoSuchRole"
	for _, role := range []string{missing, distrust} {
		_, err := partner.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("ss")})
		wantCode(t, err, "AccessDenied")
		var ae smithy.APIError
		errors.As(err, &ae)
		want := "User: " + aws.ToString(who.Arn) + " is not authorized to perform: sts:AssumeRole on resource: " + role
		if ae.ErrorMessage() != want {
			t.Errorf("%s: message %q, want %q", role, ae.ErrorMessage(), want)
		}
	}
	tok, err := partner.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(session(s, tok.Credentials)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tagged),
		RoleSessionName: aws.String("tt"), Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}})
	wantCode(t, err, "")
	_, err = iam.NewFromConfig(session(s, out.Credentials)).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Tagged")})
	wantCode(t, err, "")
}
