package gateway

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
)

// tableAuthz answers by resource: allowed, explicitly denied, or (any other
// resource) not allowed; "broken" fails to evaluate.
type tableAuthz struct{ seen *[]string }

func (a tableAuthz) Authorize(_ context.Context, _ *Principal, action string, chk Check, _ Env) (Decision, error) {
	if a.seen != nil {
		*a.seen = append(*a.seen, chk.Resource)
	}
	switch {
	case strings.HasSuffix(chk.Resource, "/allowed"):
		return Decision{Allowed: true}, nil
	case strings.HasSuffix(chk.Resource, "/denied"):
		return Decision{ExplicitDeny: true, Reason: "explicit deny in key policy"}, nil
	case strings.HasSuffix(chk.Resource, "/broken"):
		return Decision{}, errors.New("injected")
	}
	return Decision{Reason: "no resource-based policy allows the " + action + " action"}, nil
}

type modeIn struct{ Items []string }

func modeCall(op *Operation, seen *[]string) *Call {
	svc := &Service{Name: "kms", ActionPrefix: "kms", Protocol: JSON}
	g := New(svc)
	g.Authz = tableAuthz{seen: seen}
	return &Call{g: g, Service: svc, Op: op, Account: "111122223333",
		Principal: &Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice"}}
}

func arn(name string) string { return "arn:aws:kms:us-east-1:111122223333:key/" + name }

func noop(context.Context, *Call, *modeIn) (*struct{}, error) { return nil, nil }

// TestResourcePolicyMode: the grants of a check are consulted only when no
// policy denies explicitly and the policies do not allow; GrantsOnly keeps
// the policies from allowing; an identity-mode operation may not carry a
// resource policy; NoReason and DenyReason shape the one message format.
func TestResourcePolicyMode(t *testing.T) {
	ctx := context.Background()
	grants := func(ok bool) func(context.Context) (bool, error) {
		return func(context.Context) (bool, error) { return ok, nil }
	}
	for _, tc := range []struct {
		name    string
		chk     Check
		wantErr string // the denial message's end; "" allowed
	}{
		{"policy allows", Check{Resource: arn("allowed"), Policy: &ResourcePolicy{}}, ""},
		{"grant allows", Check{Resource: arn("other"), Policy: &ResourcePolicy{Grants: grants(true)}}, ""},
		{"no grant", Check{Resource: arn("other"), Policy: &ResourcePolicy{Grants: grants(false)}},
			"because no resource-based policy allows the kms:Do action"},
		{"explicit deny beats grants", Check{Resource: arn("denied"), Policy: &ResourcePolicy{Grants: grants(true)}},
			"because explicit deny in key policy"},
		{"grants only", Check{Resource: arn("allowed"), Policy: &ResourcePolicy{GrantsOnly: true, DenyReason: "no grant allows it"}},
			"because no grant allows it"},
		{"grants only, grant", Check{Resource: arn("allowed"), Policy: &ResourcePolicy{GrantsOnly: true, Grants: grants(true)}}, ""},
		{"no reason", Check{Resource: arn("other"), Policy: &ResourcePolicy{NoReason: true}},
			"on resource: " + arn("other")},
	} {
		op := WithResources(Op("Do", noop), func(context.Context, *Call, *modeIn) ([]Check, error) { return []Check{tc.chk}, nil }).ResourcePolicy()
		err := modeCall(op, nil).authorizeOp(ctx, &modeIn{})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (awsproto.As(err) == nil || awsproto.As(err).Code != "AccessDeniedException" ||
			!strings.HasSuffix(awsproto.As(err).Message, tc.wantErr)):
			t.Errorf("%s: got %v, want a denial with %q", tc.name, err, tc.wantErr)
		}
	}
	op := WithResources(Op("Do", noop), func(context.Context, *Call, *modeIn) ([]Check, error) {
		return []Check{{Resource: arn("allowed"), Policy: &ResourcePolicy{}}}, nil
	})
	if err := modeCall(op, nil).authorizeOp(ctx, &modeIn{}); err == nil || awsproto.As(err) != nil {
		t.Errorf("identity-mode operation with a resource policy: got %v, want an internal error", err)
	}
}

// TestPerItemMode: each item is authorized on its own; the handler learns
// which were refused (a denial, or a failure to evaluate), the others go
// on, and a check repeated across items is evaluated once.
func TestPerItemMode(t *testing.T) {
	var seen []string
	op := PerItem(Op("Do", noop), func(_ context.Context, _ *Call, in *modeIn) ([][]Check, error) {
		out := make([][]Check, len(in.Items))
		for i, it := range in.Items {
			if it != "" {
				out[i] = []Check{{Resource: arn(it)}}
			}
		}
		return out, nil
	})
	if op.Auth != AuthPerItem {
		t.Fatalf("mode %s, want per-item", op.Auth)
	}
	c := modeCall(op, &seen)
	if err := c.authorizeOp(context.Background(), &modeIn{Items: []string{"allowed", "other", "", "broken", "allowed"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Refused(0); err != nil {
		t.Errorf("item 0 (allowed): %v", err)
	}
	if ae := awsproto.As(c.Refused(1)); ae == nil || ae.Code != "AccessDeniedException" {
		t.Errorf("item 1 (not allowed): %v", c.Refused(1))
	}
	if err := c.Refused(2); err != nil {
		t.Errorf("item 2 (no check): %v", err)
	}
	if err := c.Refused(3); err == nil || awsproto.As(err) != nil {
		t.Errorf("item 3 (broken): %v, want the evaluation failure", err)
	}
	if err := c.Refused(4); err != nil || c.Refused(99) != nil {
		t.Errorf("item 4 (allowed, repeated): %v", err)
	}
	if len(seen) != 3 {
		t.Errorf("evaluated %v, want each distinct check once", seen)
	}
	if len(c.resources) != 3 {
		t.Errorf("audit resources %v, want the 3 distinct checks", c.resources)
	}
}

// TestWithItems: an operation's own checks come first and a denial among
// them refuses the call before any item is asked; once they allow, each
// item's additional checks are asked and a refusal refuses that item only.
func TestWithItems(t *testing.T) {
	items := func(_ context.Context, _ *Call, in *modeIn) ([][]Check, error) {
		out := make([][]Check, len(in.Items))
		for i, it := range in.Items {
			if it != "" {
				out[i] = []Check{{Action: "kms:CreateGrant", Resource: arn(it)}}
			}
		}
		return out, nil
	}
	opOn := func(resource string) *Operation {
		return WithItems(WithResources(Op("Do", noop), func(context.Context, *Call, *modeIn) ([]Check, error) {
			return []Check{{Resource: arn(resource)}}, nil
		}), items)
	}
	var seen []string
	op := opOn("allowed")
	if op.Auth != AuthIdentity {
		t.Fatalf("mode %s, want identity: per-item checks do not change the operation's mode", op.Auth)
	}
	c := modeCall(op, &seen)
	if err := c.authorizeOp(context.Background(), &modeIn{Items: []string{"allowed", "other", ""}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Refused(0); err != nil {
		t.Errorf("item 0 (allowed): %v", err)
	}
	ae := awsproto.As(c.Refused(1))
	if ae == nil || ae.Code != "AccessDeniedException" || !strings.Contains(ae.Message, "kms:CreateGrant") {
		t.Errorf("item 1 (not allowed): %v", c.Refused(1))
	}
	if err := c.Refused(2); err != nil {
		t.Errorf("item 2 (no check): %v", err)
	}
	if want := []string{arn("allowed"), arn("allowed"), arn("other")}; !slices.Equal(seen, want) {
		t.Errorf("evaluated %v, want the operation's check, then each item's", seen)
	}

	seen = nil
	c = modeCall(opOn("other"), &seen)
	err := c.authorizeOp(context.Background(), &modeIn{Items: []string{"allowed"}})
	if ae := awsproto.As(err); ae == nil || ae.Code != "AccessDeniedException" {
		t.Fatalf("operation's own check denied: got %v, want the call refused", err)
	}
	if len(seen) != 1 || c.Refused(0) != nil {
		t.Errorf("evaluated %v: no item is asked once the call is refused", seen)
	}
}
