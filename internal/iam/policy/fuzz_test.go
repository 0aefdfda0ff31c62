package policy

import (
	"errors"
	"testing"
)

// FuzzParseEvaluate feeds arbitrary documents and requests through the
// parser and the evaluator; neither may panic, parse errors must be
// *MalformedError and evaluation results must be self-consistent.
func FuzzParseEvaluate(f *testing.F) {
	seeds := []string{
		partnerCreate, partnerModify, partnerTerminate, partnerGuideSnippet,
		st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username, 'x'}/*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["a*","${*}?"]},"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}}`),
		st(`{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/R"]},"NotAction":"iam:*","NotResource":"arn:aws:s3:::*","Condition":{"DateLessThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"},"NumericGreaterThan":{"s3:max-keys":"1.5"},"Null":{"x:y":"true"}}}`),
		st(`{"Effect":"Allow","Principal":{"Service":"workspaces.amazonaws.com"},"Action":"kms:*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:*:*:${aws:PrincipalAccount}:*"},"BinaryEquals":{"k:b":"QQ=="},"Bool":{"aws:SecureTransport":true}}}`),
		`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`,
		`{"Statement":[{"Effect":"Allow","Action":"a:*?*?b","Resource":"arn:*:*:*:*:**?*"}]}`,
	}
	for i, s := range seeds {
		f.Add(s, "s3:GetObject", "arn:aws:s3:::b/alice/x", "aws:TagKeys", "a1", uint8(i))
	}
	f.Add(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "x:y", "*", "AWS:SourceIP", "::ffff:10.0.0.1", uint8(0))
	f.Fuzz(func(t *testing.T, doc, action, resource, key, val string, kind uint8) {
		p, err := ParseKind(doc, Kind(kind%5))
		if err != nil {
			var me *MalformedError
			if !errors.As(err, &me) || me.Error() == "" {
				t.Fatalf("bad error %T %v", err, err)
			}
			return
		}
		ctx := map[string][]string{key: {val}, "aws:username": {val}, "aws:TagKeys": {val, key}, "empty:key": {}}
		princ := []Principal{userAlice, sessR, rootA, svcWS, anon, {ARN: val, Account: key, IssuerARN: resource}}
		for _, pr := range princ {
			r := &Request{Action: action, Resource: resource, Principal: pr, Context: ctx}
			d, m := p.Evaluate(r)
			if (d == NotApplicable) != (m == nil) {
				t.Fatalf("decision %v with match %v", d, m)
			}
			if m != nil && m.Effect != d {
				t.Fatalf("decision %v from %v statement", d, m.Effect)
			}
			_ = m.String
			res := Authorize(Set{Identity: []*Policy{p}, Session: []*Policy{p}, IsSession: true, Boundary: []*Policy{p}, Resource: []*Policy{p}, ResourceAccount: key, ResourceMustAllow: kind&1 == 0}, r)
			if d == Deny && res.Decision != Deny {
				t.Fatalf("policy denies but Authorize says %v", res.Decision)
			}
			if res.Reason == "" {
				t.Fatal("empty reason")
			}
		}
		_ = p.ContextKeys()
	})
}
