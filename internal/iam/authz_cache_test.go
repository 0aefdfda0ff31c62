package iam

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/iam/policy"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

// cacheTestPolicy reads resource tags, the source address, the caller's
// name (a policy variable) and the request tags, and denies explicitly.
const cacheTestPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"workspaces:Describe*","Resource":"*"},
 {"Effect":"Allow","Action":"workspaces:StartWorkspaces","Resource":"arn:aws:workspaces:*:111122223333:workspace/*",
  "Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}},
 {"Effect":"Allow","Action":"workspaces:StopWorkspaces","Resource":"arn:aws:workspaces:*:111122223333:workspace/ws-${aws:username}"},
 {"Effect":"Allow","Action":"workspaces:CreateTags","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}},
 {"Effect":"Deny","Action":"workspaces:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`

func cacheTestAuthorizer(t *testing.T, doc string) (*Authorizer, *sqlite.DB, *User) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	u := &User{Account: "111122223333", Name: "alice", ARN: UserARN("111122223333", "/", "alice"), UserID: "AIDAALICE", Inline: map[string]string{"p": doc}}
	if err := db.Update(ctx, func(tx store.Tx) error { return store.PutJSON(ctx, tx, TableUsers, UserKey(u.Account, u.Name), u) }); err != nil {
		t.Fatal(err)
	}
	a := NewAuthorizer(db)
	a.TTL = time.Hour
	return a, db, u
}

// uncached is the decision Authorize gives without the decision cache.
func uncached(t *testing.T, a *Authorizer, p *gateway.Principal, action string, chk gateway.Check, env gateway.Env) gateway.Decision {
	t.Helper()
	chk.Action = action
	res, err := a.Evaluate(context.Background(), p, chk, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	return gateway.Decision{Allowed: res.Decision == policy.Allow, ExplicitDeny: res.Decision == policy.Deny, Reason: res.Reason}
}

// TestDecisionCacheAgrees holds cached decisions to the evaluation over
// random checks that differ only in what the policy reads (resource tags,
// source address, caller, request tags, resource account), asked in random
// order so that every check also meets the cache filled by others.
func TestDecisionCacheAgrees(t *testing.T) {
	a, _, u := cacheTestAuthorizer(t, cacheTestPolicy)
	ctx := context.Background()
	alice := UserPrincipal(u, "AKIAALICE")
	bob := UserPrincipal(&User{Account: u.Account, Name: "bob", ARN: UserARN(u.Account, "/", "bob"), UserID: "AIDABOB", Inline: u.Inline}, "AKIABOB")
	root := &gateway.Principal{Type: "Root", Account: u.Account, ARN: "arn:aws:iam::" + u.Account + ":root"}
	rng := rand.New(rand.NewPCG(19, 19))
	actions := []string{"workspaces:DescribeWorkspaces", "workspaces:StartWorkspaces", "workspaces:StopWorkspaces", "workspaces:CreateTags", "kms:Decrypt"}
	resources := []string{"*", "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-alice", "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-bob",
		"arn:aws:workspaces:us-east-1:444455556666:workspace/ws-alice"}
	tags := []map[string]string{nil, {"team": "blue"}, {"team": "red"}, {"Team": "blue"}}
	reqTags := []map[string]string{nil, {"a": "1"}, {"a": "1", "c": "2"}, {"b": "x"}}
	ips := []string{"127.0.0.1", "10.1.2.3", "192.168.0.1"}
	seen := map[bool]int{}
	for range 3000 {
		p := []*gateway.Principal{alice, bob, root}[rng.IntN(3)]
		action := actions[rng.IntN(len(actions))]
		chk := gateway.Check{Resource: resources[rng.IntN(len(resources))], ResourceTags: tags[rng.IntN(len(tags))],
			RequestTags: reqTags[rng.IntN(len(reqTags))], ResourceAccount: []string{"111122223333", "444455556666"}[rng.IntN(2)]}
		env := gateway.Env{SourceIP: ips[rng.IntN(len(ips))], Now: time.Unix(1700000000+int64(rng.IntN(3)), 0), Region: "us-east-1"}
		got, err := a.Authorize(ctx, p, action, chk, env)
		if err != nil {
			t.Fatal(err)
		}
		want := uncached(t, a, p, action, chk, env)
		if got != want {
			t.Fatalf("%s %s %+v %+v: cached %+v, evaluated %+v", p.ARN, action, chk, env, got, want)
		}
		seen[got.Allowed]++
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Fatalf("the checks were all decided alike: %v", seen)
	}
	if n := len(a.decisions); n == 0 || n > 3000 {
		t.Fatalf("%d cached decisions", n)
	}
}

// TestDecisionCacheInvalidated: a policy change through this node (the
// generation bumped, Invalidate called) and one through another node (seen
// when the generation is next read) both change the next decision.
func TestDecisionCacheInvalidated(t *testing.T) {
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"workspaces:*","Resource":"*"}]}`
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	a, db, u := cacheTestAuthorizer(t, allow)
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	a.wall = func() time.Time { return now }
	p := UserPrincipal(u, "AKIAALICE")
	env := gateway.Env{SourceIP: "127.0.0.1", Now: now, Region: "us-east-1"}
	ask := func() bool {
		t.Helper()
		d, err := a.Authorize(ctx, p, "workspaces:DescribeWorkspaces", gateway.Check{Resource: "*", ResourceAccount: u.Account}, env)
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	setPolicy := func(doc string) {
		t.Helper()
		u.Inline["p"] = doc
		if err := db.Update(ctx, func(tx store.Tx) error {
			if err := store.PutJSON(ctx, tx, TableUsers, UserKey(u.Account, u.Name), u); err != nil {
				return err
			}
			return BumpGeneration(ctx, tx)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if !ask() || !ask() {
		t.Fatal("denied before the change")
	}
	setPolicy(deny)
	a.Invalidate()
	if ask() {
		t.Fatal("a cached decision outlived a policy change on this node")
	}
	setPolicy(allow) // "another node": no Invalidate
	if ask() {
		t.Fatal("the generation was read again before its TTL") // the cache holds within the TTL, as the policy cache does
	}
	now = now.Add(a.TTL)
	if !ask() {
		t.Fatal("a cached decision outlived a policy change on another node past the TTL")
	}
}

// TestDecisionCacheSessionPolicies: a session with session policies is
// decided by evaluation, never from a decision of another session.
func TestDecisionCacheSessionPolicies(t *testing.T) {
	a, _, u := cacheTestAuthorizer(t, cacheTestPolicy)
	ctx := context.Background()
	p := UserPrincipal(u, "AKIAALICE")
	env := gateway.Env{SourceIP: "127.0.0.1", Now: time.Unix(1700000000, 0), Region: "us-east-1"}
	chk := gateway.Check{Resource: "*", ResourceAccount: u.Account}
	if d, _ := a.Authorize(ctx, p, "workspaces:DescribeWorkspaces", chk, env); !d.Allowed {
		t.Fatal("denied")
	}
	s := *p
	s.SessionPolicies = []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`}
	s.Type = "AssumedRole"
	d, err := a.Authorize(ctx, &s, "workspaces:DescribeWorkspaces", chk, env)
	if err != nil {
		t.Fatal(err)
	}
	if want := uncached(t, a, &s, "workspaces:DescribeWorkspaces", chk, env); d != want {
		t.Fatalf("session: %+v, evaluated %+v", d, want)
	}
}

// TestGenerationAgesOnTheRealClock: with the real clock (wall nil, as
// NewAuthorizer makes it), a generation bumped by another node is not seen
// while the last read is younger than the TTL, and is seen once it is
// older (a TTL of a nanosecond: the store's read alone takes longer).
func TestGenerationAgesOnTheRealClock(t *testing.T) {
	a, db, _ := cacheTestAuthorizer(t, `{"Version":"2012-10-17","Statement":[]}`)
	if a.wall != nil {
		t.Fatal("NewAuthorizer should leave the real clock (nil wall)")
	}
	ctx := context.Background()
	g0, err := a.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bump := func() {
		t.Helper()
		if err := db.Update(ctx, func(tx store.Tx) error { return BumpGeneration(ctx, tx) }); err != nil {
			t.Fatal(err)
		}
	}
	bump() // another node's write: no Invalidate here
	if g, _ := a.Generation(ctx); g != g0 {
		t.Fatalf("generation %d within the TTL of an hour, want the cached %d", g, g0)
	}
	a.TTL = time.Nanosecond
	if g, _ := a.Generation(ctx); g != g0+1 {
		t.Fatalf("generation %d past the TTL, want %d", g, g0+1)
	}
	bump()
	if g, _ := a.Generation(ctx); g != g0+2 {
		t.Fatalf("generation %d past the TTL, want %d", g, g0+2)
	}
}

// TestIdentityMemoPerPrincipal: principals of different policies asked in
// turn (the last identity found is kept for the next call) each get their
// own decision. It fails
// when the kept identity is returned for another principal.
func TestIdentityMemoPerPrincipal(t *testing.T) {
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"workspaces:*","Resource":"*"}]}`
	kmsOnly := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	a, db, u := cacheTestAuthorizer(t, allow)
	ctx := context.Background()
	carol := &User{Account: u.Account, Name: "carol", ARN: UserARN(u.Account, "/", "carol"), UserID: "AIDACAROL", Inline: map[string]string{"p": kmsOnly}}
	if err := db.Update(ctx, func(tx store.Tx) error {
		return store.PutJSON(ctx, tx, TableUsers, UserKey(carol.Account, carol.Name), carol)
	}); err != nil {
		t.Fatal(err)
	}
	alice, cp := UserPrincipal(u, "AKIAALICE"), UserPrincipal(carol, "AKIACAROL")
	env := gateway.Env{SourceIP: "127.0.0.1", Now: time.Unix(1700000000, 0), Region: "us-east-1"}
	for i := range 6 {
		for _, c := range []struct {
			p    *gateway.Principal
			want bool
		}{{alice, true}, {cp, false}, {cp, false}, {alice, true}} {
			d, err := a.Authorize(ctx, c.p, "workspaces:DescribeWorkspaces", gateway.Check{Resource: "*", ResourceAccount: u.Account}, env)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.want {
				t.Fatalf("round %d, %s: allowed %v, want %v", i, c.p.UserName, d.Allowed, c.want)
			}
		}
	}
	if e := a.lastIdent.Load(); e == nil || e.key.name != "alice" {
		t.Fatalf("the last identity kept: %+v", e)
	}
}

// TestDecisionKeysTellApart: checks whose parts differ only in where one
// part ends and the next begins, or in a context key being absent, present
// without values or holding values, get keys of their own. It fails when a
// part's length is left out.
func TestDecisionKeysTellApart(t *testing.T) {
	p := &gateway.Principal{Type: "IAMUser", UserID: "AIDA", ARN: "arn:aws:iam::111122223333:user/a", Account: "111122223333"}
	keys := []string{"aws:resourcetag/a", "aws:resourcetag/b"}
	vals := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("v", i)
		}
		return out
	}
	type tc struct {
		chk gateway.Check
		rc  map[string][]string
	}
	cases := []tc{
		{gateway.Check{Action: "a:b", Resource: "cd", ResourceAccount: "e"}, nil},
		{gateway.Check{Action: "a:bc", Resource: "d", ResourceAccount: "e"}, nil},
		{gateway.Check{Action: "a:b", Resource: "c", ResourceAccount: "de"}, nil},
		{gateway.Check{Action: "a:b", Resource: "cd", ResourceAccount: "e"}, map[string][]string{"aws:resourcetag/a": {}}},
		{gateway.Check{Action: "a:b", Resource: "cd", ResourceAccount: "e"}, map[string][]string{"aws:resourcetag/a": {""}}},
		{gateway.Check{Action: "a:b", Resource: "cd", ResourceAccount: "e"}, map[string][]string{"aws:resourcetag/b": {""}}},
		{gateway.Check{Action: "a:b", Resource: "cd", ResourceAccount: "e"}, map[string][]string{"aws:resourcetag/a": {"x", ""}}},
		{gateway.Check{Action: "a:b", Resource: "cd", ResourceAccount: "e"}, map[string][]string{"aws:resourcetag/a": {"", "x"}}},
		{gateway.Check{Action: "a:b", Resource: "cd", ResourceAccount: "e"}, map[string][]string{"aws:resourcetag/a": vals(45)}},
		{gateway.Check{Action: "a:b", Resource: "cd", ResourceAccount: "e"}, map[string][]string{"aws:resourcetag/a": vals(43)}},
	}
	seen := map[string]int{}
	for i, c := range cases {
		k, ok := decisionKey(nil, p, &c.chk, keys, c.rc)
		if !ok {
			t.Fatalf("case %d: not cached", i)
		}
		if j, dup := seen[string(k)]; dup {
			t.Errorf("cases %d and %d share a key %q", j, i, k)
		}
		seen[string(k)] = i
	}
}
