package hostile

import (
	"bytes"
	"strings"
)

// policyMember tells the string members that hold a policy document:
// IAM's PolicyDocument and AssumeRolePolicyDocument, SimulatePrincipalPolicy's
// PolicyInputList, KMS's and STS's Policy.
func policyMember(name string) bool {
	if !strings.Contains(name, "Policy") {
		return false
	}
	for _, not := range []string{"Arn", "Name", "Id", "Version", "Type"} {
		if strings.Contains(name, not) {
			return false
		}
	}
	return true
}

// stars is a glob with many wildcards that matches nothing it is tried
// on: a glob matcher that backtracks takes exponential time on it.
var stars = strings.Repeat("a*", 30) + "z"

// policyDoc is a policy document, plausible in its shape, with hostile
// actions, resources, principals and conditions when hostile is true.
func (g *gen) policyDoc(hostile bool) string {
	if hostile && g.r.IntN(8) == 0 {
		return pick(g.r, []string{
			`{"Statement":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
			`{"Version":"2012-10-17","Statement":{}}`,
			`{"Version":"2012-10-17","Statement":[]}`,
			`{"Version":"2012-10-17","Statement":[null]}`,
			`{"Version":"2012-10-17","Statement":"x"}`,
			`[]`, `null`, `""`, `{}`, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Resource":"x"}]}`,
		})
	}
	var b bytes.Buffer
	version := "2012-10-17"
	if hostile && g.r.IntN(5) == 0 {
		version = pick(g.r, []string{"2008-10-17", "", "9999-12-31", "\x00"})
	}
	b.WriteString(`{"Version":`)
	writeJSONString(&b, version)
	b.WriteString(`,"Statement":[`)
	n := 1 + g.r.IntN(3)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"Effect":`)
		writeJSONString(&b, g.policyPick(hostile, []string{"Allow", "Deny"}, []string{"allow", "", "Maybe"}))
		if g.r.IntN(2) == 0 {
			b.WriteString(`,"Sid":`)
			writeJSONString(&b, g.policyPick(hostile, []string{"s1", "Stmt0"}, []string{"", strings.Repeat("s", 5000), "\u202e"}))
		}
		if g.r.IntN(3) == 0 {
			b.WriteString(`,"Principal":`)
			b.WriteString(g.policyPick(hostile,
				[]string{`{"AWS":"arn:aws:iam::111122223333:root"}`, `{"AWS":"*"}`, `"*"`, `{"Service":"workspaces.amazonaws.com"}`, `{"AWS":["111122223333"]}`},
				[]string{`{"AWS":"arn:aws:iam::111122223333:"}`, `{"AWS":""}`, `{"Federated":"x"}`, `{"AWS":[]}`, `{"AWS":{"a":1}}`, `{"CanonicalUser":"` + stars + `"}`, `{"AWS":"arn:aws:iam::` + strings.Repeat("9", 500) + `:root"}`}))
		}
		act := "Action"
		if g.r.IntN(6) == 0 {
			act = "NotAction"
		}
		b.WriteString(`,"` + act + `":`)
		b.WriteString(g.policyPick(hostile,
			[]string{`"*"`, `"kms:*"`, `["workspaces:Describe*","iam:Get*"]`, `"sts:AssumeRole"`, `"kms:Encrypt"`},
			[]string{`"` + stars + `"`, `"*:` + stars + `"`, `""`, `[]`, `[""]`, `":"`, `"kms:"`, `"?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*x"`, `["` + strings.Repeat(`*",  "`, 500) + `*"]`}))
		if g.r.IntN(8) > 0 {
			res := "Resource"
			if g.r.IntN(6) == 0 {
				res = "NotResource"
			}
			b.WriteString(`,"` + res + `":`)
			b.WriteString(g.policyPick(hostile,
				[]string{`"*"`, `"arn:aws:kms:*:111122223333:key/*"`, `"arn:aws:workspaces:*:*:workspace/*"`},
				[]string{`"arn:aws:*:*:*:` + stars + `"`, `"` + stars + `"`, `""`, `"arn:aws:iam::111122223333:user/${aws:username}"`, `"arn:aws:workspaces:${` + strings.Repeat("x", 3000) + `}"`, `"${${${}}}"`, `"arn:aws:iam::111122223333"`}))
		}
		if g.r.IntN(2) == 0 {
			b.WriteString(`,"Condition":`)
			b.WriteString(g.policyPick(hostile,
				[]string{`{"StringEquals":{"aws:ResourceTag/PartnerManaged":"true"}}`, `{"StringEquals":{"sts:ExternalId":"x"}}`, `{"Bool":{"aws:SecureTransport":"false"}}`, `{"ForAnyValue:StringLike":{"aws:TagKeys":["Part*"]}}`},
				[]string{
					`{"StringLike":{"aws:ResourceTag/x":"` + stars + `"}}`,
					`{"StringLike":{"aws:PrincipalArn":"` + stars + `"}}`,
					`{"DateGreaterThan":{"aws:CurrentTime":"9999-12-31T23:59:59Z"}}`,
					`{"DateLessThan":{"aws:CurrentTime":"0"}}`,
					`{"DateLessThan":{"aws:EpochTime":"99999999999999999999"}}`,
					`{"IpAddress":{"aws:SourceIp":"999.1.1.1/99"}}`,
					`{"IpAddress":{"aws:SourceIp":["::/0","0.0.0.0/0","1.2.3.4/33"]}}`,
					`{"NumericLessThan":{"kms:GrantCount":"1e400"}}`,
					`{"NumericEquals":{"x":"NaN"}}`,
					`{"UnknownOperator":{"x":"y"}}`,
					`{"ForAllValues:StringEquals":{"aws:TagKeys":[]}}`,
					`{"StringEqualsIfExists":{"":""}}`,
					`{"Null":{"aws:RequestTag/x":"maybe"}}`,
					`{"ArnLike":{"aws:SourceArn":"arn:` + stars + `"}}`,
					`{"StringEquals":{"aws:username":{"nested":{"deep":1}}}}`,
					`{"StringEquals":{}}`, `{}`, `[]`, `"x"`,
					`{"BinaryEquals":{"x":"!!!"}}`,
				}))
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return b.String()
}

func (g *gen) policyPick(hostile bool, plausible, bad []string) string {
	if hostile && g.r.IntN(3) == 0 {
		g.hostile++
		return pick(g.r, bad)
	}
	return pick(g.r, plausible)
}
