package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMalformed(t *testing.T) {
	const okStmt = `{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`
	cases := []struct {
		name string
		kind Kind
		doc  string
		want string // substring of the message
	}{
		{"empty", Any, ``, "empty"},
		{"whitespace", Any, "  \n ", "empty"},
		{"bad JSON", Any, `{"Version":"2012-10-17",`, "syntax error"},
		{"trailing comma", Any, `{"Version":"2012-10-17","Statement":[` + okStmt + `,]}`, "syntax error"},
		{"not an object", Any, `["Statement"]`, "must be a JSON object"},
		{"string document", Any, `"x"`, "must be a JSON object"},
		{"trailing data", Any, st(okStmt) + `{}`, "unexpected data"},
		{"duplicate top-level key", Any, `{"Version":"2012-10-17","Version":"2012-10-17","Statement":` + okStmt + `}`, "duplicate key"},
		{"duplicate statement key", Any, st(`{"Effect":"Allow","Effect":"Deny","Action":"s3:*","Resource":"*"}`), "duplicate key"},
		{"character out of range", Any, st(`{"Sid":"Ünicode€","Effect":"Allow","Action":"s3:*","Resource":"*"}`), "outside the allowed set"},
		{"control character", Any, "{\"Version\":\"2012-10-17\",\x01\"Statement\":" + okStmt + "}", "outside the allowed set"},
		{"bad version", Any, `{"Version":"2012-10-18","Statement":` + okStmt + `}`, "invalid Version"},
		{"version number", Any, `{"Version":2012,"Statement":` + okStmt + `}`, "Version must be a string"},
		{"unknown top-level element", Any, `{"Version":"2012-10-17","Statements":[` + okStmt + `]}`, "unknown policy element \"Statements\""},
		{"lower-case element", Any, `{"version":"2012-10-17","Statement":[` + okStmt + `]}`, "unknown policy element"},
		{"missing Statement", Any, `{"Version":"2012-10-17"}`, "missing required element Statement"},
		{"empty Statement", Any, `{"Version":"2012-10-17","Statement":[]}`, "at least one statement"},
		{"Statement string", Any, `{"Version":"2012-10-17","Statement":"x"}`, "Statement must be an object"},
		{"statement not object", Any, st(`"x"`), "statement must be a JSON object"},
		{"unknown statement element", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Actions":"s3:*"}`), "unknown statement element \"Actions\""},
		{"missing Effect", Any, st(`{"Action":"s3:*","Resource":"*"}`), "missing required field Effect"},
		{"bad Effect", Any, st(`{"Effect":"Permit","Action":"s3:*","Resource":"*"}`), "invalid Effect"},
		{"Effect case", Any, st(`{"Effect":"allow","Action":"s3:*","Resource":"*"}`), "case-sensitive"},
		{"Effect not string", Any, st(`{"Effect":true,"Action":"s3:*","Resource":"*"}`), "invalid Effect"},
		{"missing Action", Any, st(`{"Effect":"Allow","Resource":"*"}`), "missing required field Action"},
		{"Action and NotAction", Any, st(`{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}`), "both Action and NotAction"},
		{"empty Action list", Any, st(`{"Effect":"Allow","Action":[],"Resource":"*"}`), "must not be an empty array"},
		{"Action number", Any, st(`{"Effect":"Allow","Action":5,"Resource":"*"}`), "must be a string or an array"},
		{"Action list with number", Any, st(`{"Effect":"Allow","Action":["s3:*",5],"Resource":"*"}`), "entries must be strings"},
		{"Action without service", Any, st(`{"Effect":"Allow","Action":"GetObject","Resource":"*"}`), "invalid Action"},
		{"Action wildcard service", Any, st(`{"Effect":"Allow","Action":"*:GetObject","Resource":"*"}`), "invalid Action"},
		{"Action empty name", Any, st(`{"Effect":"Allow","Action":"s3:","Resource":"*"}`), "invalid Action"},
		{"missing Resource identity", Identity, st(`{"Effect":"Allow","Action":"s3:*"}`), "missing required field Resource"},
		{"missing Resource any", Any, st(`{"Effect":"Allow","Action":"s3:*"}`), "missing required field Resource"},
		{"Resource and NotResource", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"arn:aws:s3:::b"}`), "both Resource and NotResource"},
		{"Resource not ARN", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"bucket/key"}`), "not a valid ARN"},
		{"Resource five parts", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:workspaces:us-*:workspace/ws-1"}`), "not a valid ARN"},
		{"Resource service wildcard", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s*:::b"}`), "service part"},
		{"Resource variable in account", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:us-east-1:${aws:PrincipalAccount}:b"}`), "only allowed in the resource part"},
		{"Resource unterminated variable", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username"}`), "unterminated policy variable"},
		{"Resource empty variable", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${}"}`), "empty policy variable"},
		{"variable default without quotes", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username, default}"}`), "single quotes"},
		{"empty Resource list", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":[]}`), "must not be an empty array"},
		{"Principal in identity policy", Identity, st(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`), "should not specify a principal"},
		{"NotPrincipal in session policy", Session, st(`{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}`), "should not specify a principal"},
		{"missing Principal in resource policy", Resource, st(okStmt), "missing required field Principal"},
		{"missing Principal in trust policy", Trust, st(`{"Effect":"Allow","Action":"sts:AssumeRole"}`), "missing required field Principal"},
		{"Principal and NotPrincipal", Resource, st(`{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"s3:*","Resource":"*"}`), "both Principal and NotPrincipal"},
		{"Principal string not star", Resource, st(`{"Effect":"Allow","Principal":"111122223333","Action":"s3:*","Resource":"*"}`), "must be \"*\""},
		{"Principal empty object", Resource, st(`{"Effect":"Allow","Principal":{},"Action":"s3:*","Resource":"*"}`), "must not be empty"},
		{"Principal unknown type", Resource, st(`{"Effect":"Allow","Principal":{"User":"x"},"Action":"s3:*","Resource":"*"}`), "unknown principal type"},
		{"Principal partial wildcard", Resource, st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"s3:*","Resource":"*"}`), "wildcards are not allowed"},
		{"Principal bad account", Resource, st(`{"Effect":"Allow","Principal":{"AWS":"12345"},"Action":"s3:*","Resource":"*"}`), "invalid principal"},
		{"Principal non-IAM ARN", Resource, st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:s3:::bucket"},"Action":"s3:*","Resource":"*"}`), "invalid principal"},
		{"Principal array", Resource, st(`{"Effect":"Allow","Principal":["*"],"Action":"s3:*","Resource":"*"}`), "must be \"*\" or an object"},
		{"trust policy with Resource", Trust, st(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}`), "prohibited field Resource"},
		{"trust policy non-sts action", Trust, st(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject"}`), "only specify sts actions"},
		{"trust policy star action", Trust, st(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"*"}`), "only specify sts actions"},
		{"Id in identity policy", Identity, `{"Version":"2012-10-17","Id":"x","Statement":` + okStmt + `}`, "Id is not allowed"},
		{"Id not string", Resource, `{"Version":"2012-10-17","Id":1,"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}`, "Id must be a string"},
		{"Sid with spaces in identity policy", Identity, st(`{"Sid":"my sid","Effect":"Allow","Action":"s3:*","Resource":"*"}`), "invalid Sid"},
		{"Sid not string", Any, st(`{"Sid":1,"Effect":"Allow","Action":"s3:*","Resource":"*"}`), "Sid must be a string"},
		{"duplicate Sid", Any, st(`{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"}`, `{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"}`), "duplicate Sid"},
		{"Condition not object", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":"x"}`), "Condition must be a JSON object"},
		{"unknown condition operator", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqual":{"aws:x":"y"}}}`), "unknown condition operator \"StringEqual\""},
		{"operator wrong case", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"stringequals":{"aws:x":"y"}}}`), "unknown condition operator"},
		{"bad set qualifier", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"aws:x":"y"}}}`), "unknown condition operator"},
		{"NullIfExists", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NullIfExists":{"aws:x":"true"}}}`), "Null cannot be combined"},
		{"ForAllValues:Null", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAllValues:Null":{"aws:x":"true"}}}`), "Null cannot be combined"},
		{"operator block not object", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":"x"}}`), "must map to an object"},
		{"operator block empty", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{}}}`), "has no condition keys"},
		{"condition key empty", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"":"x"}}}`), "invalid condition key"},
		{"condition value object", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":{"a":"b"}}}}`), "value must be a string"},
		{"condition value null", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":null}}}`), "value must be a string"},
		{"condition empty list", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":[]}}}`), "empty list of values"},
		{"condition list with null", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":["a",null]}}}`), "values must be strings"},
		{"numeric not a number", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericEquals":{"s3:max-keys":"ten"}}}`), "not a valid number"},
		{"numeric exponent", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericEquals":{"s3:max-keys":"1e3"}}}`), "not a valid number"},
		{"numeric NaN", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericEquals":{"s3:max-keys":"NaN"}}}`), "not a valid number"},
		{"numeric variable", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericEquals":{"s3:max-keys":"${aws:x}"}}}`), "not a valid number"},
		{"date invalid", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"yesterday"}}}`), "not a valid date"},
		{"bool invalid", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}`), "not a valid boolean"},
		{"bool variable (strict)", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"${aws:x}"}}}`), "not a valid boolean"},
		{"null invalid", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Null":{"aws:x":"maybe"}}}`), "not a valid boolean"},
		{"binary invalid", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"BinaryEquals":{"aws:x":"!!!"}}}`), "not valid base64"},
		{"ip invalid", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1/24"}}}`), "not a valid IP"},
		{"ip bad prefix", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}`), "not a valid IP"},
		{"string unterminated variable", Any, st(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":"${aws:username"}}}`), "unterminated"},
		{"statement number in message", Any, st(okStmt, `{"Sid":"Second","Effect":"Allow","Action":"s3:*"}`), "statement 2 (Sid \"Second\")"},
		{"deep nesting", Any, strings.Repeat("[", 40) + strings.Repeat("]", 40), "too deep"},
		{"partner guide snippet", Any, partnerGuideSnippet, "syntax error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseKind(tc.doc, tc.kind)
			if err == nil {
				t.Fatalf("parsed without error: %+v", p)
			}
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not *MalformedError", err)
			}
			if !strings.Contains(me.Error(), tc.want) {
				t.Fatalf("message %q does not contain %q", me.Error(), tc.want)
			}
		})
	}
}

func TestValidDocuments(t *testing.T) {
	cases := []struct {
		name string
		kind Kind
		doc  string
	}{
		{"no version", Identity, `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`},
		{"2008 version", Identity, `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`},
		{"elements in any order", Identity, `{"Statement":[{"Resource":"*","Action":"s3:*","Effect":"Deny","Sid":"X1"}],"Version":"2012-10-17"}`},
		{"KMS default key policy with Id and spaced Sid", Resource, `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`},
		{"trust policy with empty Sid", Trust, `{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`},
		{"any kind trust-like", Any, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:sts::111122223333:assumed-role/R/s"]},"Action":"sts:AssumeRole"}]}`},
		{"tabs and CRLF", Identity, "{\r\n\t\"Version\": \"2012-10-17\",\r\n\t\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}\r\n}"},
		{"latin-1 characters", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/café/*"}}`},
		{"2008 dollar literal", Identity, `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:us-east-1:${x}:b"}}`},
		{"arn condition non-ARN value", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*"}}}}`},
	}
	for _, tc := range cases {
		if _, err := ParseKind(tc.doc, tc.kind); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestStatementPositionsAndContextKeys(t *testing.T) {
	doc := "{\"Version\":\"2012-10-17\",\"Statement\":[\n  {\"Sid\":\"A\",\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::b/${aws:username}/*\",\n   \"Condition\":{\"StringEquals\":{\"aws:PrincipalTag/Team\":\"${aws:PrincipalTag/team}\"},\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}},\n  {\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:sns:*:${aws:PrincipalAccount}:t\"}}}\n]}"
	p, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Statements[0].Start; got != (Position{Line: 2, Column: 3}) {
		t.Fatalf("start %+v", got)
	}
	if got := p.Statements[1].Start; got.Line != 4 || got.Column != 3 {
		t.Fatalf("start2 %+v", got)
	}
	if got := p.Statements[0].End; got.Line != 3 {
		t.Fatalf("end %+v", got)
	}
	want := []string{"aws:username", "aws:PrincipalTag/Team", "aws:SourceIp", "aws:SourceArn", "aws:PrincipalAccount"}
	if got := p.ContextKeys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ContextKeys %v want %v", got, want)
	}
	missing := MissingContextKeys(map[string][]string{"AWS:SOURCEIP": {"1.2.3.4"}, "aws:username": {"a"}}, p, nil)
	if !reflect.DeepEqual(missing, []string{"aws:PrincipalTag/Team", "aws:SourceArn", "aws:PrincipalAccount"}) {
		t.Fatalf("missing %v", missing)
	}
}

func TestMatchString(t *testing.T) {
	p := MustParse(st(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, `{"Sid":"D","Effect":"Deny","Action":"s3:Delete*","Resource":"*"}`), Identity)
	p.Name = "arn:aws:iam::111122223333:policy/P"
	_, m := p.Evaluate(&Request{Action: "s3:GetObject", Resource: "*"})
	if m.String() != `policy "arn:aws:iam::111122223333:policy/P" statement #1` {
		t.Fatal(m.String())
	}
	_, m = p.Evaluate(&Request{Action: "s3:DeleteObject", Resource: "*"})
	if m.String() != `policy "arn:aws:iam::111122223333:policy/P" statement "D"` || m.Effect != Deny || m.Index != 1 {
		t.Fatal(m.String())
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	MustParse("{}", Identity)
}
