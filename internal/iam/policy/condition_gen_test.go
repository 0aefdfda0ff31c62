package policy

import (
	"encoding/json"
	"fmt"
	"testing"
)

// opCase gives, for one base operator, a policy value, a request value that
// satisfies the positive form of the operator and one that does not.
type opCase struct {
	op       string // positive base operator used for the test values
	negated  string // name of the negated operator sharing the test values ("" if none)
	pv       string
	matching string
	other    string
}

var opCases = []opCase{
	{"StringEquals", "StringNotEquals", "abc", "abc", "ABC"},
	{"StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "abc", "ABC", "abd"},
	{"StringLike", "StringNotLike", "ab*c?", "abXXcd", "abXXc"},
	{"NumericEquals", "NumericNotEquals", "10", "10.0", "11"},
	{"NumericLessThan", "", "10", "9.5", "10"},
	{"NumericLessThanEquals", "", "10", "10", "10.01"},
	{"NumericGreaterThan", "", "10", "11", "10"},
	{"NumericGreaterThanEquals", "", "10", "10", "9"},
	{"DateEquals", "DateNotEquals", "2024-01-01T00:00:00Z", "1704067200", "2024-01-01T00:00:01Z"},
	{"DateLessThan", "", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z", "2024-01-01T00:00:00Z"},
	{"DateLessThanEquals", "", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"},
	{"DateGreaterThan", "", "2024-01-01T00:00:00Z", "2024-06-01T00:00:00+02:00", "2023-06-01"},
	{"DateGreaterThanEquals", "", "1704067200", "2024-01-01T00:00:00Z", "1704067199"},
	{"Bool", "", "true", "TRUE", "false"},
	{"BinaryEquals", "", "QmluYXJ5VmFsdWU=", "QmluYXJ5VmFsdWU=", "T3RoZXI="},
	{"IpAddress", "NotIpAddress", "203.0.113.0/24", "203.0.113.7", "198.51.100.1"},
	{"IpAddress", "NotIpAddress", "2001:db8::/32", "2001:db8::1", "2001:db9::1"},
	{"IpAddress", "NotIpAddress", "192.0.2.10", "192.0.2.10", "192.0.2.11"},
	{"ArnEquals", "ArnNotEquals", "arn:aws:iam::123456789012:role/R", "arn:aws:iam::123456789012:role/R", "arn:aws:iam::123456789012:role/r"},
	{"ArnLike", "ArnNotLike", "arn:aws:iam::*:role/*", "arn:aws:iam::123456789012:role/x/y", "arn:aws:iam::123456789012:user/x"},
}

// reqState is the state of the condition key in the request context.
type reqState int

const (
	stMatch   reqState = iota // key has one value that satisfies the positive operator
	stOther                   // key has one value that does not
	stBoth                    // key has both values
	stMissing                 // key absent
	stEmpty                   // key present with zero values
)

func (s reqState) String() string {
	return [...]string{"match", "other", "both", "missing", "empty"}[s]
}

// expected is the independent truth table from the IAM docs ([OPS], [MV],
// [SVMV], [CC] in the reference): positive operator result for each state,
// per qualifier; negated operators flip the per-value test as documented.
func expected(qual string, negated, ifExists bool, st reqState) bool {
	switch qual {
	case "":
		switch st {
		case stMissing, stEmpty:
			return ifExists || negated
		case stMatch, stBoth:
			return !negated
		default:
			return negated
		}
	case "ForAllValues:":
		switch st {
		case stMissing, stEmpty:
			return true
		case stMatch:
			return !negated
		case stOther:
			return negated
		default: // both: one value fails either way
			return false
		}
	case "ForAnyValue:":
		switch st {
		case stMissing, stEmpty:
			return false
		case stMatch:
			return !negated
		case stOther:
			return negated
		default: // both: one value passes either way
			return true
		}
	}
	panic(qual)
}

func TestConditionOperatorMatrix(t *testing.T) {
	n := 0
	for _, oc := range opCases {
		names := []struct {
			name    string
			negated bool
		}{{oc.op, false}}
		if oc.negated != "" {
			names = append(names, struct {
				name    string
				negated bool
			}{oc.negated, true})
		}
		for _, nm := range names {
			for _, qual := range []string{"", "ForAllValues:", "ForAnyValue:"} {
				for _, ifExists := range []bool{false, true} {
					for _, effect := range []string{"Allow", "Deny"} {
						for st := stMatch; st <= stEmpty; st++ {
							op := qual + nm.name
							if ifExists {
								op += "IfExists"
							}
							doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":{"Effect":%q,"Action":"svc:Do","Resource":"*","Condition":{%q:{"svc:Key":%q}}}}`, effect, op, oc.pv)
							ctx := map[string][]string{}
							switch st {
							case stMatch:
								ctx["svc:key"] = []string{oc.matching}
							case stOther:
								ctx["SVC:Key"] = []string{oc.other}
							case stBoth:
								ctx["svc:key"] = []string{oc.other, oc.matching}
							case stEmpty:
								ctx["svc:key"] = []string{}
							}
							want := NotApplicable
							if expected(qual, nm.negated, ifExists, st) {
								want = Allow
								if effect == "Deny" {
									want = Deny
								}
							}
							name := fmt.Sprintf("%s/%s=%s/%s/%s", effect, op, oc.pv, st, oc.matching)
							n++
							t.Run(name, func(t *testing.T) {
								p, err := Parse(doc)
								if err != nil {
									t.Fatalf("parse: %v", err)
								}
								got, _ := p.Evaluate(&Request{Action: "svc:Do", Resource: "*", Context: ctx})
								if got != want {
									ctxJSON, _ := json.Marshal(ctx)
									t.Fatalf("got %v want %v\npolicy %s\ncontext %s", got, want, doc, ctxJSON)
								}
							})
						}
					}
				}
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d generated cases", n)
	}
}

// TestNullOperator: "true" means the key must be absent (or an empty set),
// "false" means it must be present.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null
func TestNullOperator(t *testing.T) {
	for _, tc := range []struct {
		val  string
		ctx  map[string][]string
		want Decision
	}{
		{`"true"`, nil, Allow},
		{`"true"`, map[string][]string{"aws:tokenissuetime": {"x"}}, NotApplicable},
		{`"true"`, map[string][]string{"aws:TokenIssueTime": {}}, Allow},
		{`"false"`, nil, NotApplicable},
		{`"false"`, map[string][]string{"AWS:TOKENISSUETIME": {"x"}}, Allow},
		{`false`, map[string][]string{"aws:tokenissuetime": {"x"}}, Allow},
		{`true`, nil, Allow},
		{`["true","false"]`, nil, Allow},
		{`"false"`, map[string][]string{"aws:tokenissuetime": {}}, NotApplicable},
	} {
		doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":` + tc.val + `}}}}`
		got, _ := MustParse(doc, Identity).Evaluate(&Request{Action: "s3:GetObject", Resource: "*", Context: tc.ctx})
		if got != tc.want {
			t.Errorf("Null %s ctx %v: got %v want %v", tc.val, tc.ctx, got, tc.want)
		}
	}
}
