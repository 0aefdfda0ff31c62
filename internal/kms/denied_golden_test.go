package kms

import (
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
)

// TestAccessDeniedGolden records how KMS spells a denial (code, status,
// message), so that it stays byte for byte the same.
func TestAccessDeniedGolden(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tc := range []struct {
		p    *gateway.Principal
		rp   *gateway.ResourcePolicy
		d    gateway.Decision
		want string
	}{
		{&gateway.Principal{ARN: "arn:aws:iam::123456789012:user/alice"}, &gateway.ResourcePolicy{}, gateway.Decision{},
			"User: arn:aws:iam::123456789012:user/alice is not authorized to perform: kms:Decrypt on resource: " + key + " because no resource-based policy allows the kms:Decrypt action"},
		{&gateway.Principal{Service: "ebs.amazonaws.com"}, &gateway.ResourcePolicy{}, gateway.Decision{Reason: "no grant allows the operation with this encryption context"},
			"User: ebs.amazonaws.com is not authorized to perform: kms:Decrypt on resource: " + key + " because no grant allows the operation with this encryption context"},
	} {
		ae := awsproto.As(keyDenied(tc.p, gateway.Check{Action: "kms:Decrypt", Resource: key, Policy: tc.rp}, tc.d))
		if ae == nil || ae.Code != "AccessDeniedException" || ae.HTTPStatus() != 400 || !ae.Sender || ae.Message != tc.want {
			t.Errorf("got %+v, want AccessDeniedException 400 %q", ae, tc.want)
		}
	}
}
