package iam

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

// BenchmarkAuthorize measures one DescribeWorkspaces-style authorization
// through the Authorizer with a cached 10-statement identity policy.
func BenchmarkAuthorize(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var stmts []string
	for i := 0; i < 9; i++ {
		stmts = append(stmts, fmt.Sprintf(`{"Effect":"Allow","Action":"workspaces:Modify%dWorkspace*","Resource":"arn:aws:workspaces:*:111122223333:workspace/*","Condition":{"StringEquals":{"aws:ResourceTag/PartnerManaged":"true"}}}`, i))
	}
	stmts = append(stmts, `{"Effect":"Allow","Action":"workspaces:Describe*","Resource":"*"}`)
	doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
	u := &User{Account: "111122223333", Name: "bench", ARN: UserARN("111122223333", "/", "bench"), UserID: "AIDABENCH", Inline: map[string]string{"p": doc}}
	if err := db.Update(ctx, func(tx store.Tx) error { return store.PutJSON(ctx, tx, TableUsers, UserKey(u.Account, u.Name), u) }); err != nil {
		b.Fatal(err)
	}
	a := NewAuthorizer(db)
	a.TTL = time.Hour // measure the cached path
	p := UserPrincipal(u, "AKIABENCH")
	env := gateway.Env{SourceIP: "127.0.0.1", Now: time.Now(), Region: "us-east-1"}
	chk := gateway.Check{Resource: "*", ResourceAccount: "111122223333"}
	d, err := a.Authorize(ctx, p, "workspaces:DescribeWorkspaces", chk, env)
	if err != nil || !d.Allowed {
		b.Fatalf("not allowed: %+v %v", d, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d, _ := a.Authorize(ctx, p, "workspaces:DescribeWorkspaces", chk, env); !d.Allowed {
			b.Fatal("denied")
		}
	}
}
