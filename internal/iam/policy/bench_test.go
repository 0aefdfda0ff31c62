package policy

import (
	"testing"
)

// benchPolicy has 10 statements with conditions; the request is decided by
// the last Allow statement after all Deny statements were checked.
const benchPolicy = `{
 "Version": "2012-10-17",
 "Statement": [
  {"Sid":"S1","Effect":"Allow","Action":["ec2:Describe*","ec2:Get*"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}},
  {"Sid":"S2","Effect":"Deny","Action":"workspaces:TerminateWorkspaces","Resource":"*","Condition":{"StringNotEquals":{"aws:ResourceTag/PartnerManaged":"true"}}},
  {"Sid":"S3","Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Department"}}},
  {"Sid":"S4","Effect":"Deny","NotAction":["workspaces:*","kms:*","ec2:*"],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}},
  {"Sid":"S5","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"},
  {"Sid":"S6","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24","2001:db8::/32"]}}},
  {"Sid":"S7","Effect":"Allow","Action":"workspaces:Describe*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
  {"Sid":"S8","Effect":"Deny","Action":"workspaces:*","Resource":"*","Condition":{"NumericGreaterThan":{"workspaces:count":"25"}}},
  {"Sid":"S9","Effect":"Allow","Action":"workspaces:CreateWorkspaces","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/PartnerManaged":"true"},"ForAllValues:StringEquals":{"aws:TagKeys":"PartnerManaged"}}},
  {"Sid":"S10","Effect":"Allow","Action":["workspaces:ModifyWorkspaceProperties","workspaces:RebootWorkspaces"],"Resource":"arn:aws:workspaces:*:111122223333:workspace/*","Condition":{"StringEquals":{"aws:ResourceTag/PartnerManaged":"true"},"StringLike":{"aws:PrincipalArn":"arn:aws:sts::*:assumed-role/Partner*"}}}
 ]
}`

func benchRequest() *Request {
	return &Request{
		Action:    "workspaces:ModifyWorkspaceProperties",
		Resource:  "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-abc123",
		Principal: sessR,
		Context: map[string][]string{
			"aws:resourcetag/partnermanaged": {"true"},
			"aws:sourceip":                   {"10.1.2.3"},
			"aws:principalarn":               {"arn:aws:sts::111122223333:assumed-role/PartnerRole/s1"},
			"aws:multifactorauthpresent":     {"true"},
			"aws:currenttime":                {"2025-06-01T12:00:00Z"},
			"workspaces:count":               {"3"},
			"aws:requestedregion":            {"us-east-1"},
		},
	}
}

func TestBenchPolicyDecision(t *testing.T) {
	d, m := MustParse(benchPolicy, Identity).Evaluate(benchRequest())
	if d != Allow || m.Sid != "S10" {
		t.Fatalf("got %v %+v", d, m)
	}
}

// BenchmarkEvaluate10Statements measures Policy.Evaluate on a 10-statement
// policy with conditions (target: < 5 µs/op).
func BenchmarkEvaluate10Statements(b *testing.B) {
	p := MustParse(benchPolicy, Identity)
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Evaluate(r); d != Allow {
			b.Fatal(d)
		}
	}
}

// BenchmarkEvaluateMixedCaseContext is the same with a context whose keys
// are not lower-case (slow lookup path).
func BenchmarkEvaluateMixedCaseContext(b *testing.B) {
	p := MustParse(benchPolicy, Identity)
	r := benchRequest()
	r.Context["AWS:ResourceTag/PartnerManaged"] = r.Context["aws:resourcetag/partnermanaged"]
	delete(r.Context, "aws:resourcetag/partnermanaged")
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Evaluate(r); d != Allow {
			b.Fatal(d)
		}
	}
}

// BenchmarkAuthorize measures Authorize with identity, session and boundary.
func BenchmarkAuthorize(b *testing.B) {
	p := MustParse(benchPolicy, Identity)
	r := benchRequest()
	s := Set{Identity: []*Policy{p}, Boundary: []*Policy{p}, IsSession: true, Session: []*Policy{p}}
	b.ReportAllocs()
	for b.Loop() {
		if res := Authorize(s, r); res.Decision != Allow {
			b.Fatal(res.Reason)
		}
	}
}

// BenchmarkParse measures parsing and compiling the 10-statement policy.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseKind(benchPolicy, Identity); err != nil {
			b.Fatal(err)
		}
	}
}
