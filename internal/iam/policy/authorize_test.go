package policy

import (
	"strings"
	"testing"
)

func ident(stmts ...string) *Policy {
	p := MustParse(st(stmts...), Identity)
	p.Name = "id"
	return p
}

func named(p *Policy, name string) *Policy { p.Name = name; return p }

var (
	allowAllWS    = `{"Sid":"AllowWS","Effect":"Allow","Action":"workspaces:*","Resource":"*"}`
	allowReboot   = `{"Sid":"AllowReboot","Effect":"Allow","Action":"workspaces:RebootWorkspaces","Resource":"*"}`
	denyTerminate = `{"Sid":"NoTerminate","Effect":"Deny","Action":"workspaces:TerminateWorkspaces","Resource":"*"}`
	allowKMS      = `{"Sid":"AllowKMS","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`
	roleR         = "arn:aws:iam::111122223333:role/R"
	keyARN        = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// keyPolicy builds a KMS key policy; the default statement
// "Enable IAM User Permissions" delegates to IAM
// (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
func keyPolicy(stmts ...string) *Policy {
	p := MustParse(st(stmts...), Resource)
	p.Name = "key-policy"
	return p
}

const enableIAM = `{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`

func trust(stmts ...string) *Policy {
	p := MustParse(st(stmts...), Trust)
	p.Name = "trust"
	return p
}

type authCase struct {
	name       string
	set        Set
	action     string
	resource   string
	principal  Principal
	ctx        map[string][]string
	want       Decision
	wantReason string // substring
}

var authCases = []authCase{
	// ---- identity only ----
	{name: "identity allow", set: Set{Identity: []*Policy{ident(allowAllWS)}}, action: "workspaces:RebootWorkspaces", resource: wsARN, principal: userAlice, want: Allow, wantReason: `allowed by identity policy "id" statement "AllowWS"`},
	{name: "no policies implicit deny", set: Set{}, action: "workspaces:RebootWorkspaces", resource: wsARN, principal: userAlice, want: NotApplicable, wantReason: "no identity-based policy allows"},
	{name: "identity policies OR", set: Set{Identity: []*Policy{ident(allowKMS), ident(allowReboot)}}, action: "workspaces:RebootWorkspaces", resource: wsARN, principal: userAlice, want: Allow},
	{name: "deny in one identity policy wins", set: Set{Identity: []*Policy{ident(allowAllWS), named(ident(denyTerminate), "guard")}}, action: "workspaces:TerminateWorkspaces", resource: wsARN, principal: userAlice, want: Deny, wantReason: `explicit deny in identity policy "guard" statement "NoTerminate"`},
	{name: "root user implicitly allowed", set: Set{}, action: "workspaces:TerminateWorkspaces", resource: wsARN, principal: rootA, want: Allow, wantReason: "account root user"},
	{name: "root user still subject to explicit deny", set: Set{Resource: []*Policy{keyPolicy(`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}`)}}, action: "kms:Decrypt", resource: keyARN, principal: rootA, want: Deny},

	// ---- permissions boundary (identity ∩ boundary) ----
	{name: "boundary allows", set: Set{Identity: []*Policy{ident(allowAllWS)}, Boundary: []*Policy{named(ident(allowReboot), "pb")}}, action: "workspaces:RebootWorkspaces", resource: wsARN, principal: userAlice, want: Allow},
	{name: "boundary does not allow", set: Set{Identity: []*Policy{ident(allowAllWS)}, Boundary: []*Policy{named(ident(allowReboot), "pb")}}, action: "workspaces:StopWorkspaces", resource: wsARN, principal: userAlice, want: NotApplicable, wantReason: "permissions boundary does not allow"},
	{name: "boundary alone grants nothing", set: Set{Boundary: []*Policy{ident(allowAllWS)}}, action: "workspaces:StopWorkspaces", resource: wsARN, principal: userAlice, want: NotApplicable, wantReason: "no identity-based policy allows"},
	{name: "boundary explicit deny", set: Set{Identity: []*Policy{ident(allowAllWS)}, Boundary: []*Policy{named(ident(allowAllWS, denyTerminate), "pb")}}, action: "workspaces:TerminateWorkspaces", resource: wsARN, principal: userAlice, want: Deny, wantReason: `boundary policy "pb"`},

	// ---- session policies (identity ∩ session) ----
	{name: "session policy intersection allows", set: Set{Identity: []*Policy{ident(allowAllWS)}, IsSession: true, Session: []*Policy{named(MustParse(st(allowReboot), Session), "sp")}}, action: "workspaces:RebootWorkspaces", resource: wsARN, principal: sessR, want: Allow},
	{name: "session policy narrows", set: Set{Identity: []*Policy{ident(allowAllWS)}, IsSession: true, Session: []*Policy{named(MustParse(st(allowReboot), Session), "sp")}}, action: "workspaces:StopWorkspaces", resource: wsARN, principal: sessR, want: NotApplicable, wantReason: "no session policy allows"},
	{name: "session policy cannot exceed role", set: Set{Identity: []*Policy{ident(allowReboot)}, IsSession: true, Session: []*Policy{MustParse(st(allowAllWS), Session)}}, action: "workspaces:StopWorkspaces", resource: wsARN, principal: sessR, want: NotApplicable, wantReason: "no identity-based policy allows"},
	{name: "role session without session policy", set: Set{Identity: []*Policy{ident(allowAllWS)}, IsSession: true}, action: "workspaces:StopWorkspaces", resource: wsARN, principal: sessR, want: Allow},
	{name: "session policy ignored for non-session", set: Set{Identity: []*Policy{ident(allowAllWS)}, Session: []*Policy{MustParse(st(allowReboot), Session)}}, action: "workspaces:StopWorkspaces", resource: wsARN, principal: userAlice, want: Allow},
	{name: "session policy explicit deny", set: Set{Identity: []*Policy{ident(allowAllWS)}, IsSession: true, Session: []*Policy{named(MustParse(st(allowAllWS, denyTerminate), Session), "sp")}}, action: "workspaces:TerminateWorkspaces", resource: wsARN, principal: sessR, want: Deny, wantReason: `session policy "sp"`},
	{name: "multiple session policies OR", set: Set{Identity: []*Policy{ident(allowAllWS)}, IsSession: true, Session: []*Policy{MustParse(st(allowKMS), Session), MustParse(st(allowReboot), Session)}}, action: "workspaces:RebootWorkspaces", resource: wsARN, principal: sessR, want: Allow},

	// ---- resource-based policies, same account ----
	{name: "resource policy naming user grants alone", set: Set{Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}`)}}, action: "kms:Decrypt", resource: keyARN, principal: userAlice, want: Allow, wantReason: `allowed by resource policy "key-policy"`},
	{name: "resource policy naming user ignores boundary", set: Set{Boundary: []*Policy{ident(allowReboot)}, Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}`)}}, action: "kms:Decrypt", resource: keyARN, principal: userAlice, want: Allow},
	{name: "resource policy naming session ARN not limited by session policy", set: Set{IsSession: true, Session: []*Policy{MustParse(st(allowReboot), Session)}, Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/R/s1"},"Action":"kms:Decrypt","Resource":"*"}`)}}, action: "kms:Decrypt", resource: keyARN, principal: sessR, want: Allow},
	{name: "resource policy naming role ARN limited by session policy", set: Set{IsSession: true, Session: []*Policy{MustParse(st(allowReboot), Session)}, Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"kms:Decrypt","Resource":"*"}`)}}, action: "kms:Decrypt", resource: keyARN, principal: sessR, want: NotApplicable, wantReason: "no session policy allows"},
	{name: "resource policy naming role ARN within session policy", set: Set{IsSession: true, Session: []*Policy{MustParse(st(allowKMS), Session)}, Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"kms:Decrypt","Resource":"*"}`)}}, action: "kms:Decrypt", resource: keyARN, principal: sessR, want: Allow},
	{name: "resource policy naming role ARN limited by boundary", set: Set{IsSession: true, Boundary: []*Policy{ident(allowReboot)}, Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"kms:Decrypt","Resource":"*"}`)}}, action: "kms:Decrypt", resource: keyARN, principal: sessR, want: NotApplicable, wantReason: "permissions boundary"},
	{name: "resource policy naming account delegates (not alone)", set: Set{Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"*"}`)}}, action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: userAlice, want: NotApplicable, wantReason: "no identity-based policy allows"},
	{name: "resource policy deny beats identity allow", set: Set{Identity: []*Policy{ident(allowKMS)}, Resource: []*Policy{keyPolicy(enableIAM, `{"Sid":"DenyAlice","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}`)}}, action: "kms:Decrypt", resource: keyARN, principal: userAlice, want: Deny, wantReason: `resource policy "key-policy" statement "DenyAlice"`},
	{name: "resource policy star grants anonymous", set: Set{Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}`)}}, action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: anon, want: Allow},
	{name: "anonymous without resource policy", set: Set{}, action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: anon, want: NotApplicable, wantReason: "no resource-based policy allows"},
	{name: "service principal allowed by resource policy", set: Set{Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"Service":"workspaces.amazonaws.com"},"Action":"kms:CreateGrant","Resource":"*"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:CreateGrant", resource: keyARN, principal: svcWS, want: Allow},
	{name: "service principal ignores identity policies", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"*","Resource":"*"}`)}}, action: "kms:CreateGrant", resource: keyARN, principal: svcWS, want: NotApplicable},

	// ---- KMS key policies (ResourceMustAllow) ----
	{name: "KMS default key policy + IAM allow", set: Set{Identity: []*Policy{ident(allowKMS)}, Resource: []*Policy{keyPolicy(enableIAM)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:Decrypt", resource: keyARN, principal: userAlice, want: Allow, wantReason: "delegates to the account"},
	{name: "KMS default key policy without IAM allow", set: Set{Resource: []*Policy{keyPolicy(enableIAM)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:Decrypt", resource: keyARN, principal: userAlice, want: NotApplicable, wantReason: "no identity-based policy allows"},
	{name: "KMS key policy without root: IAM allow is not enough", set: Set{Identity: []*Policy{ident(allowKMS)}, Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:Decrypt", resource: keyARN, principal: userAlice, want: NotApplicable, wantReason: "must allow the principal"},
	{name: "KMS no key policy at all", set: Set{Identity: []*Policy{ident(allowKMS)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:Decrypt", resource: keyARN, principal: userAlice, want: NotApplicable},
	{name: "KMS key policy names user directly", set: Set{Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:Decrypt", resource: keyARN, principal: userAlice, want: Allow},
	{name: "KMS root allowed via enable IAM statement", set: Set{Resource: []*Policy{keyPolicy(enableIAM)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:ScheduleKeyDeletion", resource: keyARN, principal: rootA, want: Allow},
	{name: "KMS root denied when key policy omits account", set: Set{Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:ScheduleKeyDeletion", resource: keyARN, principal: rootA, want: NotApplicable},
	{name: "KMS cross-account key policy names account + caller IAM allows", set: Set{Identity: []*Policy{ident(allowKMS)}, Resource: []*Policy{keyPolicy(enableIAM, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:Decrypt", resource: keyARN, principal: userBob, want: Allow, wantReason: "cross-account"},
	{name: "KMS cross-account caller IAM missing", set: Set{Resource: []*Policy{keyPolicy(enableIAM, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:Decrypt", resource: keyARN, principal: userBob, want: NotApplicable, wantReason: "cross-account request: no identity-based policy allows"},
	{name: "KMS cross-account key policy does not name account", set: Set{Identity: []*Policy{ident(allowKMS)}, Resource: []*Policy{keyPolicy(enableIAM)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:Decrypt", resource: keyARN, principal: userBob, want: NotApplicable, wantReason: "no resource-based policy in account 111122223333"},
	{name: "KMS encryption context condition in key policy", set: Set{Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "kms:Decrypt", resource: keyARN, principal: userAlice, ctx: ctx("kms:EncryptionContext:Department", "HR"), want: NotApplicable},

	// ---- cross-account without ResourceMustAllow ----
	{name: "cross-account needs resource policy", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`)}, ResourceAccount: acctA}, action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: userBob, want: NotApplicable, wantReason: "cross-account"},
	{name: "cross-account resource names user still needs identity", set: Set{Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/Bob"},"Action":"s3:*","Resource":"*"}`)}, ResourceAccount: acctA}, action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: userBob, want: NotApplicable, wantReason: "no identity-based policy allows"},
	{name: "cross-account both allow", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`)}, Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/Bob"},"Action":"s3:*","Resource":"*"}`)}, ResourceAccount: acctA}, action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: userBob, want: Allow},
	{name: "cross-account boundary limits", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`)}, Boundary: []*Policy{ident(allowKMS)}, Resource: []*Policy{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"s3:*","Resource":"*"}`)}, ResourceAccount: acctA}, action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: userBob, want: NotApplicable, wantReason: "permissions boundary"},

	// ---- STS AssumeRole trust policies ----
	// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
	{name: "trust same account names caller: no identity policy needed", set: Set{Resource: []*Policy{trust(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "sts:AssumeRole", resource: roleR, principal: userAlice, want: Allow},
	{name: "trust same account trusts account: identity needed", set: Set{Resource: []*Policy{trust(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "sts:AssumeRole", resource: roleR, principal: userAlice, want: NotApplicable, wantReason: "no identity-based policy allows"},
	{name: "trust same account trusts account + identity allows", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/R"}`)}, Resource: []*Policy{trust(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "sts:AssumeRole", resource: roleR, principal: userAlice, want: Allow},
	{name: "trust does not trust caller: identity allow insufficient", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}`)}, Resource: []*Policy{trust(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "sts:AssumeRole", resource: roleR, principal: userAlice, want: NotApplicable, wantReason: "must allow the principal"},
	{name: "trust cross-account partner with external id", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/*"}`)}, Resource: []*Policy{trust(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"partner-42"}}}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "sts:AssumeRole", resource: roleR, principal: userBob, ctx: ctx("sts:ExternalId", "partner-42"), want: Allow},
	{name: "trust cross-account wrong external id", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/*"}`)}, Resource: []*Policy{trust(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"partner-42"}}}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "sts:AssumeRole", resource: roleR, principal: userBob, ctx: ctx("sts:ExternalId", "partner-43"), want: NotApplicable},
	{name: "trust cross-account names user but caller lacks identity policy", set: Set{Resource: []*Policy{trust(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/Bob"},"Action":"sts:AssumeRole"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "sts:AssumeRole", resource: roleR, principal: userBob, want: NotApplicable, wantReason: "cross-account"},
	{name: "trust role chaining: session of role trusted by role ARN", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}`)}, IsSession: true, Resource: []*Policy{trust(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"sts:AssumeRole"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/Other", principal: sessR, want: Allow},
	{name: "trust explicit deny", set: Set{Identity: []*Policy{ident(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}`)}, Resource: []*Policy{trust(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}`, `{"Sid":"NoAlice","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:*"}`)}, ResourceAccount: acctA, ResourceMustAllow: true}, action: "sts:AssumeRole", resource: roleR, principal: userAlice, want: Deny, wantReason: "NoAlice"},
}

func TestAuthorizeTable(t *testing.T) {
	for _, tc := range authCases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Action: tc.action, Resource: tc.resource, Principal: tc.principal, Context: tc.ctx}
			res := Authorize(tc.set, r)
			if res.Decision != tc.want {
				t.Fatalf("got %v (%s) want %v", res.Decision, res.Reason, tc.want)
			}
			if tc.wantReason != "" && !strings.Contains(res.Reason, tc.wantReason) {
				t.Fatalf("reason %q does not contain %q", res.Reason, tc.wantReason)
			}
			if res.Reason == "" {
				t.Fatal("empty reason")
			}
			switch res.Decision {
			case NotApplicable:
				if len(res.Matched) != 0 {
					t.Fatalf("implicit deny with matched statements %v", res.Matched)
				}
			case Deny:
				for _, m := range res.Matched {
					if m.Effect != Deny {
						t.Fatalf("deny result lists non-deny statement %v", m)
					}
				}
				if len(res.Matched) == 0 {
					t.Fatal("deny without matched statements")
				}
			case Allow:
				for _, m := range res.Matched {
					if m.Effect != Allow {
						t.Fatalf("allow result lists deny statement %v", m)
					}
				}
			}
		})
	}
}

func TestAuthorizeDetails(t *testing.T) {
	set := Set{
		Identity: []*Policy{ident(allowAllWS)},
		Boundary: []*Policy{named(ident(allowReboot), "pb")},
	}
	res := Authorize(set, &Request{Action: "workspaces:StopWorkspaces", Resource: wsARN, Principal: userAlice})
	if res.IdentityDecision != Allow || res.BoundaryDecision != NotApplicable || res.Decision != NotApplicable {
		t.Fatalf("details: %+v", res)
	}
	res = Authorize(set, &Request{Action: "workspaces:RebootWorkspaces", Resource: wsARN, Principal: userAlice})
	if res.Decision != Allow || len(res.Matched) != 2 || res.Matched[0].Type != TypeIdentity || res.Matched[1].Type != TypeBoundary {
		t.Fatalf("matched: %+v", res.Matched)
	}
	if res.Decision.String() != "allowed" || Deny.String() != "explicitDeny" || NotApplicable.String() != "implicitDeny" {
		t.Fatal("decision strings")
	}
}

func TestResourceSlotIgnoresStatementsWithoutPrincipal(t *testing.T) {
	p := MustParse(st(`{"Effect":"Allow","Action":"kms:*","Resource":"*"}`), Any)
	res := Authorize(Set{Resource: []*Policy{p}, ResourceAccount: acctA, ResourceMustAllow: true}, &Request{Action: "kms:Decrypt", Resource: keyARN, Principal: userAlice})
	if res.Decision != NotApplicable {
		t.Fatalf("got %v (%s)", res.Decision, res.Reason)
	}
	if d, _ := p.Evaluate(&Request{Action: "kms:Decrypt", Resource: keyARN, Principal: userAlice}); d != Allow {
		t.Fatalf("Evaluate: %v", d)
	}
}
