package ds_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"

	"github.com/deskplane/deskplane/internal/testserver"
)

func names(v any, key string) []string {
	var out []string
	for _, it := range v.([]any) {
		out = append(out, it.(map[string]any)[key].(string))
	}
	return out
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestDirectoryData(t *testing.T) {
	s := testserver.Start(t)
	c := directoryservice.NewFromConfig(s.Admin())
	id := aws.ToString(seeded(t, c).DirectoryId)
	dir := []string{"--directory-id", id}
	args := func(a ...string) []string { return append(append([]string{}, a...), dir...) }

	users := dsData(t, s, args("list-users")...)
	got := names(users["Users"], "SAMAccountName")
	for _, want := range []string{"alice", "bob", "carol", "dave", "Admin", "Administrator"} {
		if !has(got, want) {
			t.Errorf("list-users lacks %s: %v", want, got)
		}
	}
	if users["Realm"] != "corp.example.com" || users["DirectoryId"] != id {
		t.Errorf("list-users: %v", users)
	}

	// Lookups are case-insensitive; names keep their case.
	alice := dsData(t, s, args("describe-user", "--sam-account-name", "ALICE")...)
	sid, _ := alice["SID"].(string)
	if alice["SAMAccountName"] != "alice" || alice["UserPrincipalName"] != "alice@CORP.EXAMPLE.COM" || alice["GivenName"] != "Alice" ||
		alice["EmailAddress"] != "alice@corp.example.com" || alice["Enabled"] != true || !strings.HasPrefix(sid, "S-1-5-21-") ||
		!strings.HasPrefix(alice["DistinguishedName"].(string), "CN=alice,") {
		t.Errorf("describe-user: %v", alice)
	}
	var rid int
	fmt.Sscanf(sid[strings.LastIndexByte(sid, '-')+1:], "%d", &rid)
	if rid < 1104 {
		t.Errorf("user RID %d < 1104", rid)
	}
	dsDataErr(t, s, "ResourceNotFoundException", args("describe-user", "--sam-account-name", "zed")...)
	dsDataErr(t, s, "AccessDeniedException", "describe-user", "--sam-account-name", "alice", "--directory-id", "d-0000000000")
	dsDataErr(t, s, "ValidationException", args("describe-user", "--sam-account-name", "alice", "--realm", "other.example.net")...)
	dsData(t, s, args("describe-user", "--sam-account-name", "alice", "--realm", "CORP.example.com")...)

	// Create, conflict, update, disable, search, delete.
	eve := dsData(t, s, args("create-user", "--sam-account-name", "Eve", "--given-name", "Eve", "--surname", "Evans",
		"--email-address", "eve@corp.example.com", "--other-attributes", `{"department":{"S":"Ops"}}`)...)
	if eve["SAMAccountName"] != "Eve" || !strings.HasPrefix(eve["SID"].(string), sid[:strings.LastIndexByte(sid, '-')]) {
		t.Errorf("create-user: %v (alice %s)", eve, sid)
	}
	dsDataErr(t, s, "ConflictException", args("create-user", "--sam-account-name", "eve")...)
	dsDataErr(t, s, "ConflictException", args("create-user", "--sam-account-name", "engineering")...)
	dsDataErr(t, s, "ValidationException", args("create-user", "--sam-account-name", "bad name!")...)
	dsData(t, s, args("update-user", "--sam-account-name", "eve", "--surname", "Ng", "--update-type", "REPLACE")...)
	dsData(t, s, args("disable-user", "--sam-account-name", "eve")...)
	e := dsData(t, s, args("describe-user", "--sam-account-name", "eve", "--other-attributes", "department")...)
	if e["Surname"] != "Ng" || e["Enabled"] != false || e["OtherAttributes"].(map[string]any)["department"].(map[string]any)["S"] != "Ops" {
		t.Errorf("after update/disable: %v", e)
	}
	found := dsData(t, s, args("search-users", "--search-string", "eve@", "--search-attributes", "mail")...)
	if got := names(found["Users"], "SAMAccountName"); len(got) != 1 || got[0] != "Eve" {
		t.Errorf("search-users: %v", got)
	}

	// Groups and membership.
	groups := names(dsData(t, s, args("list-groups")...)["Groups"], "SAMAccountName")
	for _, want := range []string{"Engineering", "Finance", "Domain Users", "Domain Admins", "AWS Delegated Administrators"} {
		if !has(groups, want) {
			t.Errorf("list-groups lacks %s: %v", want, groups)
		}
	}
	eng := names(dsData(t, s, args("list-group-members", "--sam-account-name", "engineering")...)["Members"], "SAMAccountName")
	if len(eng) != 2 || !has(eng, "alice") || !has(eng, "bob") {
		t.Errorf("Engineering members: %v", eng)
	}
	g := dsData(t, s, args("create-group", "--sam-account-name", "Ops", "--group-scope", "Global", "--group-type", "Security")...)
	if g["SAMAccountName"] != "Ops" || !strings.HasPrefix(g["SID"].(string), "S-1-5-21-") {
		t.Errorf("create-group: %v", g)
	}
	dsDataErr(t, s, "ConflictException", args("create-group", "--sam-account-name", "OPS")...)
	dsDataErr(t, s, "ValidationException", args("create-group", "--sam-account-name", "x", "--group-scope", "Galactic")...)
	desc := dsData(t, s, args("describe-group", "--sam-account-name", "ops")...)
	if desc["GroupScope"] != "Global" || desc["GroupType"] != "Security" {
		t.Errorf("describe-group: %v", desc)
	}
	dsData(t, s, args("add-group-member", "--group-name", "ops", "--member-name", "EVE")...)
	dsData(t, s, args("add-group-member", "--group-name", "ops", "--member-name", "engineering")...)
	dsDataErr(t, s, "ConflictException", args("add-group-member", "--group-name", "Ops", "--member-name", "eve")...)
	dsDataErr(t, s, "ResourceNotFoundException", args("add-group-member", "--group-name", "nope", "--member-name", "eve")...)
	dsDataErr(t, s, "ResourceNotFoundException", args("add-group-member", "--group-name", "Ops", "--member-name", "nobody")...)
	members := dsData(t, s, args("list-group-members", "--sam-account-name", "Ops")...)["Members"].([]any)
	types := map[string]string{}
	for _, m := range members {
		mm := m.(map[string]any)
		types[mm["SAMAccountName"].(string)] = mm["MemberType"].(string)
	}
	if types["Eve"] != "USER" || types["Engineering"] != "GROUP" || len(types) != 2 {
		t.Errorf("Ops members: %v", types)
	}
	forEve := names(dsData(t, s, args("list-groups-for-member", "--sam-account-name", "eve")...)["Groups"], "SAMAccountName")
	if !has(forEve, "Ops") || !has(forEve, "Domain Users") || has(forEve, "Engineering") {
		t.Errorf("groups for eve: %v", forEve)
	}
	dsData(t, s, args("remove-group-member", "--group-name", "Ops", "--member-name", "eve")...)
	dsDataErr(t, s, "ResourceNotFoundException", args("remove-group-member", "--group-name", "Ops", "--member-name", "eve")...)
	dsData(t, s, args("delete-user", "--sam-account-name", "eve")...)
	dsDataErr(t, s, "ResourceNotFoundException", args("describe-user", "--sam-account-name", "eve")...)
	dsData(t, s, args("delete-group", "--sam-account-name", "ops")...)
	dsDataErr(t, s, "ResourceNotFoundException", args("describe-group", "--sam-account-name", "ops")...)

	// Pagination: two users a page, by hand (the CLI would auto-paginate).
	seen := map[string]bool{}
	token := ""
	pages := 0
	for {
		a := args("list-users", "--max-results", "2", "--no-paginate")
		if token != "" {
			a = append(a, "--next-token", token)
		}
		out := dsData(t, s, a...)
		pages++
		for _, n := range names(out["Users"], "SAMAccountName") {
			if seen[n] {
				t.Fatalf("user %s listed twice", n)
			}
			seen[n] = true
		}
		next, _ := out["NextToken"].(string)
		if next == "" {
			break
		}
		token = next
	}
	if len(seen) != 8 || pages != 4 { // Administrator, Guest, krbtgt, Admin and the four configured users
		t.Errorf("paginated %d users in %d pages", len(seen), pages)
	}
	dsDataErr(t, s, "ValidationException", args("list-users", "--next-token", "%%%", "--no-paginate")...)
}

func TestDirectoryDataIsolation(t *testing.T) {
	s := testserver.Start(t)
	c := directoryservice.NewFromConfig(s.Admin())
	id := aws.ToString(seeded(t, c).DirectoryId)
	// The partner's keys cannot reach the customer's directory.
	bin := []string{"list-users", "--directory-id", id}
	_, err := dsDataRunAs(t, s, "partner", bin...)
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("partner list-users: %v", err)
	}
}
