package policy

import (
	"strings"
	"testing"
)

const (
	acctA = "111122223333"
	acctB = "444455556666"
)

var (
	userAlice = Principal{ARN: "arn:aws:iam::111122223333:user/alice", Account: acctA}
	userBob   = Principal{ARN: "arn:aws:iam::444455556666:user/Bob", Account: acctB}
	userCarol = Principal{ARN: "arn:aws:iam::444455556666:user/carol", Account: acctB}
	rootA     = Principal{ARN: "arn:aws:iam::111122223333:root", Account: acctA}
	sessR     = Principal{ARN: "arn:aws:sts::111122223333:assumed-role/R/s1", Account: acctA, IssuerARN: "arn:aws:iam::111122223333:role/R"}
	sessBobR  = Principal{ARN: "arn:aws:sts::444455556666:assumed-role/R/s1", Account: acctB, IssuerARN: "arn:aws:iam::444455556666:role/R"}
	svcWS     = Principal{Service: "workspaces.amazonaws.com"}
	anon      = Principal{}
)

type evalCase struct {
	name      string
	kind      Kind
	doc       string
	action    string
	resource  string
	principal Principal
	ctx       map[string][]string
	want      Decision
	wantSid   string // optional: Sid of the deciding statement
}

// st wraps statements into a 2012-10-17 document.
func st(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func ctx(kv ...string) map[string][]string {
	m := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

const (
	bucketObj = "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/file.txt"
	wsARN     = "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-abc123"
)

var evalCases = []evalCase{
	// ---- Action / NotAction -------------------------------------------------
	{name: "action exact", doc: st(`{"Effect":"Allow","Action":"workspaces:CreateWorkspaces","Resource":"*"}`), action: "workspaces:CreateWorkspaces", resource: "*", want: Allow},
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html (iam:ListAccessKeys ≡ IAM:listaccesskeys)
	{name: "action case-insensitive (ACT doc example)", doc: st(`{"Effect":"Allow","Action":"IAM:listaccesskeys","Resource":"*"}`), action: "iam:ListAccessKeys", resource: "*", want: Allow},
	{name: "action other", doc: st(`{"Effect":"Allow","Action":"workspaces:CreateWorkspaces","Resource":"*"}`), action: "workspaces:TerminateWorkspaces", resource: "*", want: NotApplicable},
	{name: "action service wildcard", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"*"}`), action: "workspaces:RebootWorkspaces", resource: "*", want: Allow},
	{name: "action service wildcard other service", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"*"}`), action: "kms:Decrypt", resource: "*", want: NotApplicable},
	{name: "action star", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`), action: "kms:Decrypt", resource: "*", want: Allow},
	{name: "action prefix wildcard", doc: st(`{"Effect":"Allow","Action":"workspaces:Describe*","Resource":"*"}`), action: "workspaces:DescribeWorkspaces", resource: "*", want: Allow},
	{name: "action prefix wildcard miss", doc: st(`{"Effect":"Allow","Action":"workspaces:Describe*","Resource":"*"}`), action: "workspaces:ModifyWorkspaceState", resource: "*", want: NotApplicable},
	{name: "action infix wildcard", doc: st(`{"Effect":"Allow","Action":"kms:*Encrypt*","Resource":"*"}`), action: "kms:ReEncryptFrom", resource: "*", want: Allow},
	{name: "action question mark", doc: st(`{"Effect":"Allow","Action":"workspaces:?tartWorkspaces","Resource":"*"}`), action: "workspaces:StartWorkspaces", resource: "*", want: Allow},
	{name: "action question mark needs one char", doc: st(`{"Effect":"Allow","Action":"workspaces:?StartWorkspaces","Resource":"*"}`), action: "workspaces:StartWorkspaces", resource: "*", want: NotApplicable},
	{name: "action list", doc: st(`{"Effect":"Allow","Action":["kms:Decrypt","workspaces:StopWorkspaces"],"Resource":"*"}`), action: "workspaces:stopworkspaces", resource: "*", want: Allow},
	{name: "action ws: prefix does not match workspaces (partner guide typo)", doc: st(`{"Effect":"Allow","Action":"ws:CreateWorkspaces","Resource":"*"}`), action: "workspaces:CreateWorkspaces", resource: "*", want: NotApplicable},
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
	{name: "NotAction allow everything except iam (NotAction doc)", doc: st(`{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`), action: "s3:ListBucket", resource: "*", want: Allow},
	{name: "NotAction excludes listed", doc: st(`{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`), action: "iam:CreateUser", resource: "*", want: NotApplicable},
	// NotAction doc: deny everything except iam when MFA is absent.
	{name: "NotAction deny without MFA (NotAction doc)", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Sid":"DenyAllUsersNotUsingMFA","Effect":"Deny","NotAction":"iam:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}`), action: "s3:GetObject", resource: "*", want: Deny, wantSid: "DenyAllUsersNotUsingMFA"},
	{name: "NotAction deny not applied with MFA", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Sid":"DenyAllUsersNotUsingMFA","Effect":"Deny","NotAction":"iam:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:MultiFactorAuthPresent", "true"), want: Allow},
	{name: "NotAction deny skips iam", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}`), action: "iam:GetUser", resource: "*", want: Allow},

	// ---- Resource / NotResource ----------------------------------------------
	{name: "resource exact", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"` + wsARN + `"}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: Allow},
	{name: "resource other id", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"` + wsARN + `"}`), action: "workspaces:RebootWorkspaces", resource: wsARN + "x", want: NotApplicable},
	{name: "resource case-sensitive (strict)", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"arn:aws:workspaces:us-east-1:111122223333:workspace/WS-ABC123"}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: NotApplicable},
	{name: "resource wildcard in resource part", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"arn:aws:workspaces:us-east-1:111122223333:workspace/*"}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: Allow},
	{name: "resource wildcard region and account", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"arn:aws:workspaces:*:*:workspace/ws-*"}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: Allow},
	{name: "resource wildcard in region only", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"arn:aws:workspaces:us-*:111122223333:workspace/ws-abc123"}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: Allow},
	{name: "resource wildcard in region does not match other account", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"arn:aws:workspaces:us-*:444455556666:workspace/ws-abc123"}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: NotApplicable},
	{name: "resource star spans slash", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}`), action: "s3:GetObject", resource: bucketObj, want: Allow},
	{name: "resource star spans colon in resource part", doc: st(`{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:111122223333:log-group:g:*"}`), action: "logs:PutLogEvents", resource: "arn:aws:logs:us-east-1:111122223333:log-group:g:log-stream:s", want: Allow},
	{name: "resource question mark", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"arn:aws:workspaces:us-east-?:111122223333:workspace/ws-abc12?"}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: Allow},
	{name: "resource star pattern matches request star", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"*"}`), action: "workspaces:DescribeWorkspaces", resource: "*", want: Allow},
	{name: "resource ARN pattern does not match request star", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"arn:aws:workspaces:*:*:*"}`), action: "workspaces:DescribeWorkspaces", resource: "*", want: NotApplicable},
	{name: "resource list second entry", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":["arn:aws:workspaces:us-east-1:111122223333:directory/*","arn:aws:workspaces:us-east-1:111122223333:workspace/*"]}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: Allow},
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
	{name: "NotResource deny everything except payroll (NotResource doc)", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, `{"Sid":"DenyOutside","Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::HRBucket/Payroll","arn:aws:s3:::HRBucket/Payroll/*"]}`), action: "s3:GetObject", resource: "arn:aws:s3:::HRBucket/Other/x", want: Deny, wantSid: "DenyOutside"},
	{name: "NotResource excluded resource not denied", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::HRBucket/Payroll","arn:aws:s3:::HRBucket/Payroll/*"]}`), action: "s3:GetObject", resource: "arn:aws:s3:::HRBucket/Payroll/jan.csv", want: Allow},
	{name: "NotResource allow", doc: st(`{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::public/x", want: Allow},
	{name: "NotResource allow excluded", doc: st(`{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::secret/x", want: NotApplicable},

	// ---- Deny precedence -----------------------------------------------------
	{name: "deny wins over allow", doc: st(`{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"}`, `{"Sid":"D","Effect":"Deny","Action":"workspaces:TerminateWorkspaces","Resource":"*"}`), action: "workspaces:TerminateWorkspaces", resource: wsARN, want: Deny, wantSid: "D"},
	{name: "deny before allow in document", doc: st(`{"Sid":"D","Effect":"Deny","Action":"workspaces:TerminateWorkspaces","Resource":"*"}`, `{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"}`), action: "workspaces:TerminateWorkspaces", resource: wsARN, want: Deny, wantSid: "D"},
	{name: "deny not applicable lets allow through", doc: st(`{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"}`, `{"Sid":"D","Effect":"Deny","Action":"workspaces:TerminateWorkspaces","Resource":"*"}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: Allow, wantSid: "A"},
	{name: "deny only is not an allow", doc: st(`{"Effect":"Deny","Action":"kms:*","Resource":"*"}`), action: "workspaces:RebootWorkspaces", resource: wsARN, want: NotApplicable},
	{name: "single statement object", doc: `{"Version":"2012-10-17","Statement":{"Sid":"One","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}`, action: "kms:Decrypt", resource: "*", want: Allow, wantSid: "One"},

	// ---- Conditions: combination rules -----------------------------------------
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
	{name: "two keys under one operator AND (MV doc) both", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/department":"finance","aws:PrincipalTag/role":"audit"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:PrincipalTag/department", "finance", "aws:PrincipalTag/role", "audit"), want: Allow},
	{name: "two keys under one operator AND one missing", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/department":"finance","aws:PrincipalTag/role":"audit"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:PrincipalTag/department", "finance"), want: NotApplicable},
	{name: "values OR", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":["a","b","c"]}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:PrincipalTag/team", "b"), want: Allow},
	{name: "negated values NOR: matches one", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":["a","b"]}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:PrincipalTag/team", "b"), want: NotApplicable},
	{name: "negated values NOR: matches none", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":["a","b"]}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:PrincipalTag/team", "c"), want: Allow},
	{name: "two operators AND both", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:SourceIp", "10.1.2.3", "aws:SecureTransport", "true"), want: Allow},
	{name: "two operators AND one false", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:SourceIp", "10.1.2.3", "aws:SecureTransport", "false"), want: NotApplicable},
	{name: "condition key name case-insensitive in policy", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"AWS:SOURCEIP":"10.0.0.0/8"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:SourceIp", "10.1.2.3"), want: Allow},
	{name: "tag key part case-insensitive", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/TagKey1":"v"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:resourcetag/tagkey1", "v"), want: Allow},
	{name: "tag key in two casings merged", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/ec2":"test2"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:ResourceTag/ec2", "test1", "aws:ResourceTag/EC2", "test2"), want: Allow},
	{name: "condition value case-sensitive for StringEquals", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"Blue"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:PrincipalTag/team", "blue"), want: NotApplicable},

	// ---- Condition operator doc examples ----------------------------------------
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
	{name: "OPS StringEquals job-category", doc: st(`{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::111122223333:user/*","Condition":{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}}`), action: "iam:CreateAccessKey", resource: "arn:aws:iam::111122223333:user/bob", ctx: ctx("aws:PrincipalTag/job-category", "iamuser-admin"), want: Allow},
	{name: "OPS StringLike s3:prefix with variable", doc: st(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/"]}}}`), action: "s3:ListBucket", resource: "arn:aws:s3:::amzn-s3-demo-bucket", ctx: ctx("s3:prefix", "home/alice/", "aws:username", "alice"), want: Allow},
	{name: "OPS StringLike s3:prefix other user", doc: st(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/"]}}}`), action: "s3:ListBucket", resource: "arn:aws:s3:::amzn-s3-demo-bucket", ctx: ctx("s3:prefix", "home/bob/", "aws:username", "alice"), want: NotApplicable},
	{name: "OPS StringLike empty prefix", doc: st(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/"]}}}`), action: "s3:ListBucket", resource: "arn:aws:s3:::amzn-s3-demo-bucket", ctx: ctx("s3:prefix", ""), want: Allow},
	{name: "OPS NumericLessThanEquals s3:max-keys", doc: st(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"}}}`), action: "s3:ListBucket", resource: "arn:aws:s3:::amzn-s3-demo-bucket", ctx: ctx("s3:max-keys", "10"), want: Allow},
	{name: "OPS NumericLessThanEquals s3:max-keys over", doc: st(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"}}}`), action: "s3:ListBucket", resource: "arn:aws:s3:::amzn-s3-demo-bucket", ctx: ctx("s3:max-keys", "11"), want: NotApplicable},
	{name: "OPS numeric JSON number value", doc: st(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThanEquals":{"s3:max-keys":10}}}`), action: "s3:ListBucket", resource: "*", ctx: ctx("s3:max-keys", "9"), want: Allow},
	{name: "OPS numeric unparsable request value", doc: st(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThanEquals":{"s3:max-keys":10}}}`), action: "s3:ListBucket", resource: "*", ctx: ctx("s3:max-keys", "ten"), want: NotApplicable},
	{name: "OPS DateGreaterThan aws:TokenIssueTime", doc: st(`{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}}`), action: "iam:GetUser", resource: "*", ctx: ctx("aws:TokenIssueTime", "2020-01-02T00:00:00Z"), want: Allow},
	{name: "OPS DateGreaterThan earlier token", doc: st(`{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}}`), action: "iam:GetUser", resource: "*", ctx: ctx("aws:TokenIssueTime", "2019-12-31T23:00:00Z"), want: NotApplicable},
	{name: "OPS DateLessThan epoch policy value vs ISO request", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":1735689600}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:CurrentTime", "2024-12-31T23:59:59Z"), want: Allow},
	{name: "OPS Date with millis", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateEquals":{"aws:CurrentTime":"2024-01-01T00:00:00.500Z"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:CurrentTime", "2024-01-01T01:00:00.5+01:00"), want: Allow},
	{name: "OPS Bool aws:SecureTransport", doc: st(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:SecureTransport", "false"), want: Deny},
	{name: "OPS Bool JSON boolean value", doc: st(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:SecureTransport", "true"), want: NotApplicable},
	{name: "OPS Bool missing key", doc: st(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`), action: "s3:GetObject", resource: "*", want: NotApplicable},
	{name: "OPS BinaryEquals", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"BinaryEquals":{"key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("key", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="), want: Allow},
	{name: "OPS IpAddress doc range", doc: st(`{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}`), action: "iam:GetUser", resource: "*", ctx: ctx("aws:SourceIp", "203.0.113.254"), want: Allow},
	{name: "OPS IpAddress mixed v4 v6 list", doc: st(`{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}}`), action: "iam:GetUser", resource: "*", ctx: ctx("aws:SourceIp", "2001:db8:1234:5678::abcd"), want: Allow},
	{name: "OPS IpAddress v4-mapped v6 request", doc: st(`{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}`), action: "iam:GetUser", resource: "*", ctx: ctx("aws:SourceIp", "::ffff:203.0.113.9"), want: Allow},
	{name: "OPS NotIpAddress deny outside range", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:SourceIp", "198.51.100.7"), want: Deny},
	{name: "OPS NotIpAddress missing key denies", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24"]}}}`), action: "s3:GetObject", resource: "*", want: Deny},
	{name: "OPS ArnEquals aws:SourceArn", doc: st(`{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-west-2:123456789012:TOPIC-ID"}}}`), action: "sqs:SendMessage", resource: "*", ctx: ctx("aws:SourceArn", "arn:aws:sns:us-west-2:123456789012:TOPIC-ID"), want: Allow},
	{name: "ArnLike star does not cross colon", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:TOPIC-ID"}}}`), action: "sqs:SendMessage", resource: "*", ctx: ctx("aws:SourceArn", "arn:aws:sns:us-west-2:123456789012:TOPIC-ID"), want: NotApplicable},
	{name: "StringLike star crosses colon", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:SourceArn":"arn:aws:sns:*:TOPIC-ID"}}}`), action: "sqs:SendMessage", resource: "*", ctx: ctx("aws:SourceArn", "arn:aws:sns:us-west-2:123456789012:TOPIC-ID"), want: Allow},
	{name: "ArnLike with account variable", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:role/*"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:PrincipalArn", "arn:aws:iam::111122223333:role/R", "aws:PrincipalAccount", "111122223333"), want: Allow},
	{name: "ArnLike with account variable other account", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:role/*"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:PrincipalArn", "arn:aws:iam::444455556666:role/R", "aws:PrincipalAccount", "111122223333"), want: NotApplicable},
	{name: "ArnEquals non-ARN request value", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:us-west-2:123456789012:T"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:SourceArn", "not-an-arn"), want: Allow},
	// IfExists doc example (instance type)
	{name: "OPS StringLikeIfExists present match", doc: st(`{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}}`), action: "ec2:RunInstances", resource: "*", ctx: ctx("ec2:InstanceType", "t2.micro"), want: Allow},
	{name: "OPS StringLikeIfExists present other", doc: st(`{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}}`), action: "ec2:RunInstances", resource: "*", ctx: ctx("ec2:InstanceType", "c5.large"), want: NotApplicable},
	{name: "OPS StringLikeIfExists absent", doc: st(`{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}}`), action: "ec2:RunInstances", resource: "*", want: Allow},
	{name: "Deny negated IfExists absent denies", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:RequestedRegion":"us-east-1"}}}`), action: "s3:GetObject", resource: "*", want: Deny},

	// ---- Multivalued keys (SVMV doc examples) ------------------------------------
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
	{name: "SVMV Deny ForAllValues:StringNotLike key1* vs key2:audit", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:TagKeys", "key2"), want: Deny},
	{name: "SVMV Deny ForAllValues:StringNotLike key1* missing key", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}}`), action: "ec2:CreateTags", resource: "*", want: Deny},
	{name: "SVMV Deny ForAllValues:StringNotLike key1* vs key1", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:TagKeys", "key1"), want: Allow},
	{name: "SVMV ForAllValues + Null false requires key", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]},"Null":{"aws:TagKeys":"false"}}}`), action: "ec2:CreateTags", resource: "*", want: NotApplicable},
	{name: "SVMV ForAllValues + Null false with allowed keys", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]},"Null":{"aws:TagKeys":"false"}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:TagKeys", "environment", "aws:TagKeys", "cost-center"), want: Allow},
	{name: "SVMV ForAllValues subset with extra key", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:TagKeys", "environment", "aws:TagKeys", "owner"), want: NotApplicable},
	{name: "SVMV ForAnyValue one matches", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:TagKeys", "owner", "aws:TagKeys", "cost-center"), want: Allow},
	{name: "SVMV ForAnyValue missing", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}`), action: "ec2:CreateTags", resource: "*", want: NotApplicable},
	{name: "ForAnyValue:StringNotEquals one outside", doc: st(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:TagKeys", "a", "aws:TagKeys", "z"), want: Deny},
	{name: "ForAnyValue:StringNotEquals all inside", doc: st(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:TagKeys", "a", "aws:TagKeys", "b"), want: NotApplicable},
	{name: "ForAnyValue:StringNotEquals missing", doc: st(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}}`), action: "ec2:CreateTags", resource: "*", want: NotApplicable},
	{name: "ForAllValues:StringLike wildcard set", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["team-*","cost?"]}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:TagKeys", "team-a", "aws:TagKeys", "costs"), want: Allow},
	{name: "kms EncryptionContextKeys ForAnyValue", doc: st(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Department"}}}`), action: "kms:Decrypt", resource: "*", ctx: ctx("kms:EncryptionContextKeys", "Project", "kms:EncryptionContextKeys", "Department"), want: Allow},
	{name: "single-valued op with multiple request values: any", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:TagKeys":"b"}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:TagKeys", "a", "aws:TagKeys", "b"), want: Allow},
	{name: "IfExists inside ForAllValues does not change missing", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"a"}}}`), action: "ec2:CreateTags", resource: "*", want: NotApplicable},

	// ---- Policy variables ----------------------------------------------------------
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
	{name: "VARS resource ${aws:username}", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}`), action: "s3:GetObject", resource: bucketObj, ctx: ctx("aws:username", "alice"), want: Allow},
	{name: "VARS resource ${aws:username} other user", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}`), action: "s3:GetObject", resource: bucketObj, ctx: ctx("aws:username", "bob"), want: NotApplicable},
	{name: "VARS resource unresolved matches nothing", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}`), action: "s3:GetObject", resource: bucketObj, want: NotApplicable},
	{name: "VARS variable key case-insensitive", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${AWS:UserName}/*"}`), action: "s3:GetObject", resource: bucketObj, ctx: ctx("aws:username", "alice"), want: Allow},
	{name: "VARS variable value is literal (no wildcard)", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/file.txt"}`), action: "s3:GetObject", resource: bucketObj, ctx: ctx("aws:username", "a*"), want: NotApplicable},
	{name: "VARS default value used when tag missing", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team, 'company-wide'}/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::amzn-s3-demo-bucket/company-wide/x", want: Allow},
	{name: "VARS default value ignored when tag present", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team, 'company-wide'}/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::amzn-s3-demo-bucket/company-wide/x", ctx: ctx("aws:PrincipalTag/team", "blue"), want: NotApplicable},
	{name: "VARS principal tag in resource", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team, 'company-wide'}/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::amzn-s3-demo-bucket/blue/x", ctx: ctx("aws:PrincipalTag/Team", "blue"), want: Allow},
	{name: "VARS condition ResourceTag equals PrincipalTag", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}`), action: "workspaces:RebootWorkspaces", resource: wsARN, ctx: ctx("aws:ResourceTag/team", "blue", "aws:PrincipalTag/team", "blue"), want: Allow},
	{name: "VARS condition tags differ", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}`), action: "workspaces:RebootWorkspaces", resource: wsARN, ctx: ctx("aws:ResourceTag/team", "red", "aws:PrincipalTag/team", "blue"), want: NotApplicable},
	{name: "VARS unresolved positive does not match", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}`), action: "workspaces:RebootWorkspaces", resource: wsARN, ctx: ctx("aws:ResourceTag/team", ""), want: NotApplicable},
	{name: "VARS unresolved negated matches", doc: st(`{"Effect":"Allow","Action":"workspaces:*","Resource":"*","Condition":{"StringNotEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}`), action: "workspaces:RebootWorkspaces", resource: wsARN, ctx: ctx("aws:ResourceTag/team", "red"), want: Allow},
	{name: "VARS multivalued key cannot be a variable", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/k":"${aws:TagKeys}"}}}`), action: "ec2:CreateTags", resource: "*", ctx: ctx("aws:ResourceTag/k", "a", "aws:TagKeys", "a", "aws:TagKeys", "b"), want: NotApplicable},
	{name: "VARS StringEqualsIgnoreCase with variable", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"aws:ResourceTag/owner":"${aws:username}"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("aws:ResourceTag/owner", "ALICE", "aws:username", "alice"), want: Allow},
	{name: "VARS ${*} literal star in StringLike", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"svc:k":"a${*}b*"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("svc:k", "a*bcd"), want: Allow},
	{name: "VARS ${*} is not a wildcard", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"svc:k":"a${*}b"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("svc:k", "axxb"), want: NotApplicable},
	{name: "VARS ${?} and ${$}", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"svc:k":"${?}${$}"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("svc:k", "?$"), want: Allow},
	{name: "VARS ${?} literal in resource", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/what${?}"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/whatX", want: NotApplicable},
	{name: "VARS userid", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:userid}/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/AROAEXAMPLE:s1/x", ctx: ctx("aws:userid", "AROAEXAMPLE:s1"), want: Allow},
	{name: "VARS NotResource unresolved Allow fails closed", doc: st(`{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::b/${aws:username}/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::other/x", want: NotApplicable},
	{name: "VARS NotResource unresolved Deny fails closed", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/${aws:username}/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/alice/x", want: Deny},
	{name: "VARS NotResource resolved excludes", doc: st(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/${aws:username}/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/alice/x", ctx: ctx("aws:username", "alice"), want: Allow},
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
	{name: "VER 2008 variable is literal (no match)", doc: `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}`, action: "s3:GetObject", resource: "arn:aws:s3:::b/alice/x", ctx: ctx("aws:username", "alice"), want: NotApplicable},
	{name: "VER 2008 variable is literal (literal match)", doc: `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}`, action: "s3:GetObject", resource: "arn:aws:s3:::b/${aws:username}/x", want: Allow},
	{name: "VER missing Version variable literal", doc: `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"svc:k":"${aws:username}"}}}]}`, action: "s3:GetObject", resource: "*", ctx: ctx("svc:k", "${aws:username}", "aws:username", "alice"), want: Allow},
	{name: "VER 2012 variable resolved in condition", doc: st(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"svc:k":"${aws:username}"}}}`), action: "s3:GetObject", resource: "*", ctx: ctx("svc:k", "${aws:username}", "aws:username", "alice"), want: NotApplicable},

	// ---- Principal / NotPrincipal (resource policies) ------------------------------
	{kind: Resource, name: "principal star", doc: st(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: anon, want: Allow},
	{kind: Resource, name: "principal AWS star", doc: st(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: userBob, want: Allow},
	{kind: Resource, name: "principal account id", doc: st(`{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: userBob, want: Allow},
	{kind: Resource, name: "principal account root ARN matches user in account", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: userCarol, want: Allow},
	{kind: Resource, name: "principal account root ARN other account", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: userAlice, want: NotApplicable},
	{kind: Resource, name: "principal user ARN", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/Bob"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: userBob, want: Allow},
	{kind: Resource, name: "principal user ARN case-sensitive name", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/bob"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: userBob, want: NotApplicable},
	{kind: Resource, name: "principal role ARN matches its session", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: sessR, want: Allow},
	{kind: Resource, name: "principal session ARN", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/R/s1"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: sessR, want: Allow},
	{kind: Resource, name: "principal other session name", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/R/s2"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: sessR, want: NotApplicable},
	{kind: Resource, name: "principal service", doc: st(`{"Effect":"Allow","Principal":{"Service":"workspaces.amazonaws.com"},"Action":"kms:CreateGrant","Resource":"*"}`), action: "kms:CreateGrant", resource: "*", principal: svcWS, want: Allow},
	{kind: Resource, name: "principal service list other", doc: st(`{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"kms:CreateGrant","Resource":"*"}`), action: "kms:CreateGrant", resource: "*", principal: svcWS, want: NotApplicable},
	{kind: Resource, name: "principal service does not match user", doc: st(`{"Effect":"Allow","Principal":{"Service":"workspaces.amazonaws.com"},"Action":"kms:CreateGrant","Resource":"*"}`), action: "kms:CreateGrant", resource: "*", principal: userAlice, want: NotApplicable},
	{kind: Trust, name: "principal federated", doc: st(`{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}`), action: "sts:AssumeRoleWithWebIdentity", resource: "arn:aws:iam::111122223333:role/R", principal: Principal{Federated: "cognito-identity.amazonaws.com"}, want: Allow},
	{kind: Resource, name: "principal anonymous not matched by account", doc: st(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: anon, want: NotApplicable},
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
	{kind: Resource, name: "NOTPRINC deny all except Bob: Bob excluded (NotPrincipal doc)", doc: st(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::444455556666:user/Bob","arn:aws:iam::444455556666:root"]},"Action":"s3:*","Resource":"arn:aws:s3:::BUCKETNAME/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::BUCKETNAME/x", principal: userBob, want: Allow},
	{kind: Resource, name: "NOTPRINC deny all except Bob: Carol denied", doc: st(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::444455556666:user/Bob","arn:aws:iam::444455556666:root"]},"Action":"s3:*","Resource":"arn:aws:s3:::BUCKETNAME/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::BUCKETNAME/x", principal: userCarol, want: Deny},
	{kind: Resource, name: "NOTPRINC without account ARN Bob still denied", doc: st(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::444455556666:user/Bob"},"Action":"s3:*","Resource":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: userBob, want: Deny},
	{kind: Resource, name: "NOTPRINC session needs session, role and account", doc: st(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:sts::444455556666:assumed-role/R/s1","arn:aws:iam::444455556666:role/R","444455556666"]},"Action":"s3:*","Resource":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: sessBobR, want: Allow},
	{kind: Resource, name: "NOTPRINC session missing role ARN denied", doc: st(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:sts::444455556666:assumed-role/R/s1","444455556666"]},"Action":"s3:*","Resource":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: sessBobR, want: Deny},
	{kind: Resource, name: "NOTPRINC anonymous denied", doc: st(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","NotPrincipal":{"AWS":"444455556666"},"Action":"s3:*","Resource":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: anon, want: Deny},
	{kind: Resource, name: "NOTPRINC allow everyone but account", doc: st(`{"Effect":"Allow","NotPrincipal":{"AWS":"444455556666"},"Action":"s3:*","Resource":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: userAlice, want: Allow},
	{kind: Resource, name: "NOTPRINC service excluded", doc: st(`{"Effect":"Deny","NotPrincipal":{"Service":"workspaces.amazonaws.com"},"Action":"kms:*","Resource":"*"}`), action: "kms:Decrypt", resource: "*", principal: svcWS, want: NotApplicable},

	// ---- Trust policies ----------------------------------------------------------------
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html
	{kind: Trust, name: "EXTID trust with external id", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"Unique ID Assigned by Example Corp"}}}`), action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/Partner", principal: userBob, ctx: ctx("sts:ExternalId", "Unique ID Assigned by Example Corp"), want: Allow},
	{kind: Trust, name: "EXTID wrong external id", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"Unique ID Assigned by Example Corp"}}}`), action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/Partner", principal: userBob, ctx: ctx("sts:ExternalId", "guess"), want: NotApplicable},
	{kind: Trust, name: "EXTID missing external id", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"Unique ID Assigned by Example Corp"}}}`), action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/Partner", principal: userBob, want: NotApplicable},
	{kind: Trust, name: "trust TagSession not allowed by AssumeRole statement", doc: st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole"}`), action: "sts:TagSession", resource: "arn:aws:iam::111122223333:role/Partner", principal: userBob, want: NotApplicable},
	{kind: Trust, name: "trust MFA required", doc: st(`{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}`), action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/Partner", principal: userBob, want: NotApplicable},
}

func TestEvaluateTable(t *testing.T) {
	for _, tc := range evalCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseKind(tc.doc, tc.kind)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			r := &Request{Action: tc.action, Resource: tc.resource, Principal: tc.principal, Context: tc.ctx}
			got, m := p.Evaluate(r)
			if got != tc.want {
				t.Fatalf("got %v want %v", got, tc.want)
			}
			if (m == nil) != (got == NotApplicable) {
				t.Fatalf("match %v for decision %v", m, got)
			}
			if tc.wantSid != "" && m.Sid != tc.wantSid {
				t.Fatalf("deciding statement %q, want %q", m.Sid, tc.wantSid)
			}
		})
	}
}
