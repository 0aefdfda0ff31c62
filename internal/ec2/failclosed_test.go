package ec2

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
	"github.com/deskplane/deskplane/internal/store/storetest"
)

// TestTagLookupFailsClosed: the tags of a security group or VPC feed tag
// conditions, so a store that cannot read them fails the authorization
// instead of evaluating it with no tags.
func TestTagLookupFailsClosed(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	errRead := errors.New("injected read failure")
	c := &gateway.Call{Account: "111122223333", Region: "us-east-1"}
	name, desc := "sg1", "d"
	calls := []struct {
		op string
		in any
	}{
		{"DeleteSecurityGroup", &DeleteSecurityGroupInput{GroupID: "sg-0123456789abcdef0"}},
		{"DeleteSecurityGroup", &DeleteSecurityGroupInput{GroupName: "sg1"}},
		{"CreateSecurityGroup", &CreateSecurityGroupInput{GroupName: &name, Description: &desc, VpcID: "vpc-0123456789abcdef0"}},
		{"AuthorizeSecurityGroupIngress", &AuthorizeSecurityGroupIngressInput{GroupID: "sg-0123456789abcdef0"}},
		{"AuthorizeSecurityGroupIngress", &AuthorizeSecurityGroupIngressInput{GroupName: "sg1"}},
	}
	for _, tc := range []struct {
		name    string
		st      store.Store
		wantErr error
	}{{"readable, nothing there", db, nil}, {"failing reads", storetest.FailReads{Store: db, Err: errRead}, errRead}} {
		m := New(tc.st)
		for _, call := range calls {
			op, ok := m.svc.Operation(call.op)
			if !ok || op.Resources == nil {
				t.Fatalf("%s has no resource resolver", call.op)
			}
			checks, err := op.Resources(ctx, c, call.in)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && len(checks) == 0) {
				t.Fatalf("%s, %s %+v: checks %+v, error %v; want error %v", tc.name, call.op, call.in, checks, err, tc.wantErr)
			}
		}
	}
}
