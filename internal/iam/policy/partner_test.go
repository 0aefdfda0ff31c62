package policy

import (
	"testing"
)

// Policies from the "Tag-based authorization guidelines" of the Amazon
// WorkSpaces Core Technology Partner Integration Guide
// (/work/shared/seeds/workspaces-core-partner-guide.txt, "Additional
// examples" table). The "TagKeys condition"/"ResourceTag condition"
// snippets of the guide spell the action unquoted as ws:...; the JSON below
// is the well-formed "Additional examples" version with the workspaces:
// prefix (ModifyWorkspaceProperties follows the same shape).
const (
	partnerCreate = `{
  "Version":"2012-10-17",
  "Statement":[ {
    "Effect":"Allow",
    "Action":[ "workspaces:CreateWorkspaces" ],
    "Resource":"*",
    "Condition":{
      "StringEquals": { "aws:RequestTag/PartnerManaged":"true" },
      "ForAllValues:StringEquals":{ "aws:TagKeys": "PartnerManaged" }
    }
  } ]
}`
	partnerModify = `{
  "Version":"2012-10-17",
  "Statement":[ {
    "Effect": "Allow",
    "Action":[ "workspaces:ModifyWorkspaceProperties" ],
    "Resource":"*",
    "Condition":{
      "StringEquals":{ "aws:ResourceTag/PartnerManaged":"true" },
      "ForAllValues:StringEquals": { "aws:TagKeys": "PartnerManaged" }
    }
  } ]
}`
	partnerTerminate = `{
  "Version":"2012-10-17",
  "Statement":[ {
    "Effect":"Allow",
    "Action":[ "workspaces:TerminateWorkspaces" ],
    "Resource":"*",
    "Condition":{
      "StringEquals": { "aws:ResourceTag/PartnerManaged":"true" },
      "ForAllValues:StringEquals":{ "aws:TagKeys":"PartnerManaged" }
    }
  } ]
}`
	// partnerGuideSnippet is the "TagKeys condition" snippet as printed in
	// the guide: the unquoted action makes it invalid JSON.
	partnerGuideSnippet = `{
"Version":"2012-10-17",
"Statement":[
{
"Effect":"Allow",
"Action":[
ws:CreateWorkspaces
],
"Resource":"*",
"Condition":{
"StringEquals": {
"aws:RequestTag/PartnerManaged": "true"
},
"ForAllValues:StringEquals": {
"aws:TagKeys": "PartnerManaged"
}
}
}
]
}`
)

// tagCtx builds the context of a request carrying tags (aws:RequestTag/k
// and aws:TagKeys) on a resource with resourceTags (aws:ResourceTag/k).
func tagCtx(requestTags, resourceTags [][2]string) map[string][]string {
	m := map[string][]string{}
	for _, t := range requestTags {
		m["aws:RequestTag/"+t[0]] = []string{t[1]}
		m["aws:TagKeys"] = append(m["aws:TagKeys"], t[0])
	}
	for _, t := range resourceTags {
		m["aws:ResourceTag/"+t[0]] = []string{t[1]}
	}
	return m
}

func TestPartnerGuidePolicies(t *testing.T) {
	pm := [2]string{"PartnerManaged", "true"}
	cases := []struct {
		name   string
		doc    string
		action string
		ctx    map[string][]string
		want   Decision
	}{
		{"create with PartnerManaged=true", partnerCreate, "workspaces:CreateWorkspaces", tagCtx([][2]string{pm}, nil), Allow},
		{"create action name case-insensitive", partnerCreate, "WorkSpaces:createworkspaces", tagCtx([][2]string{pm}, nil), Allow},
		{"create with extra tag key refused", partnerCreate, "workspaces:CreateWorkspaces", tagCtx([][2]string{pm, {"Owner", "x"}}, nil), NotApplicable},
		{"create without tags refused", partnerCreate, "workspaces:CreateWorkspaces", tagCtx(nil, nil), NotApplicable},
		{"create with only another tag refused", partnerCreate, "workspaces:CreateWorkspaces", tagCtx([][2]string{{"Owner", "x"}}, nil), NotApplicable},
		{"create with PartnerManaged=false refused", partnerCreate, "workspaces:CreateWorkspaces", tagCtx([][2]string{{"PartnerManaged", "false"}}, nil), NotApplicable},
		{"create with PartnerManaged=True refused (value case-sensitive)", partnerCreate, "workspaces:CreateWorkspaces", tagCtx([][2]string{{"PartnerManaged", "True"}}, nil), NotApplicable},
		{"create with key partnermanaged refused (aws:TagKeys value case-sensitive)", partnerCreate, "workspaces:CreateWorkspaces", tagCtx([][2]string{{"partnermanaged", "true"}}, nil), NotApplicable},
		{"create policy does not allow terminate", partnerCreate, "workspaces:TerminateWorkspaces", tagCtx([][2]string{pm}, [][2]string{pm}), NotApplicable},
		{"modify on PartnerManaged resource", partnerModify, "workspaces:ModifyWorkspaceProperties", tagCtx(nil, [][2]string{pm}), Allow},
		{"modify on resource with more tags", partnerModify, "workspaces:ModifyWorkspaceProperties", tagCtx(nil, [][2]string{pm, {"Owner", "customer"}}), Allow},
		{"modify on untagged resource refused", partnerModify, "workspaces:ModifyWorkspaceProperties", tagCtx(nil, nil), NotApplicable},
		{"modify on PartnerManaged=false refused", partnerModify, "workspaces:ModifyWorkspaceProperties", tagCtx(nil, [][2]string{{"PartnerManaged", "false"}}), NotApplicable},
		{"modify carrying another tag key refused", partnerModify, "workspaces:ModifyWorkspaceProperties", tagCtx([][2]string{{"Owner", "x"}}, [][2]string{pm}), NotApplicable},
		{"modify policy does not allow terminate", partnerModify, "workspaces:TerminateWorkspaces", tagCtx(nil, [][2]string{pm}), NotApplicable},
		{"terminate PartnerManaged workspace", partnerTerminate, "workspaces:TerminateWorkspaces", tagCtx(nil, [][2]string{pm}), Allow},
		{"terminate customer workspace refused", partnerTerminate, "workspaces:TerminateWorkspaces", tagCtx(nil, [][2]string{{"Owner", "customer"}}), NotApplicable},
		{"terminate untagged workspace refused", partnerTerminate, "workspaces:TerminateWorkspaces", nil, NotApplicable},
		{"terminate tag key in other case matches (key names case-insensitive)", partnerTerminate, "workspaces:TerminateWorkspaces", tagCtx(nil, [][2]string{{"partnermanaged", "true"}}), Allow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := MustParse(tc.doc, Identity)
			r := &Request{Action: tc.action, Resource: wsARN, Principal: sessR, Context: tc.ctx}
			if got, _ := p.Evaluate(r); got != tc.want {
				t.Fatalf("Evaluate: got %v want %v", got, tc.want)
			}
			// The same policy attached to the partner's role, evaluated for
			// the role session in the customer account.
			res := Authorize(Set{Identity: []*Policy{p}, IsSession: true}, r)
			if res.Decision != tc.want {
				t.Fatalf("Authorize: got %v (%s) want %v", res.Decision, res.Reason, tc.want)
			}
		})
	}
	if _, err := Parse(partnerGuideSnippet); err == nil {
		t.Fatal("guide snippet with unquoted action should be malformed")
	}
}
