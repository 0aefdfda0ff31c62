package sts

import (
	"testing"

	"github.com/deskplane/deskplane/internal/awsproto"
)

// TestAccessDeniedGolden records how STS spells a denial (code, status,
// message without a reason), so that it stays byte for byte the same.
func TestAccessDeniedGolden(t *testing.T) {
	ae := awsproto.As(accessDenied("arn:aws:iam::123456789012:user/alice", "sts:AssumeRole", "arn:aws:iam::123456789012:role/r"))
	want := "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/r"
	if ae == nil || ae.Code != "AccessDenied" || ae.HTTPStatus() != 403 || !ae.Sender || ae.Message != want {
		t.Errorf("got %+v, want AccessDenied 403 %q", ae, want)
	}
}
