package dsdata

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

func TestClientAgainstStub(t *testing.T) {
	var throttled atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/ds-data/aws4_request") ||
			r.Header.Get("X-Amz-Date") == "" || r.Header.Get("X-Amz-Content-Sha256") == "" {
			t.Errorf("bad signature headers: %q", auth)
		}
		if r.Method != http.MethodPost || r.URL.Query().Get("DirectoryId") != "d-123" {
			t.Errorf("bad request %s %s", r.Method, r.URL)
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/Users/ListUsers":
			if body["NextToken"] == nil {
				json.NewEncoder(w).Encode(map[string]any{"DirectoryId": "d-123", "Users": []any{map[string]any{"SAMAccountName": "alice", "SID": "S-1", "Enabled": true}}, "NextToken": "t2"})
			} else {
				json.NewEncoder(w).Encode(map[string]any{"Users": []any{map[string]any{"SAMAccountName": "bob", "SID": "S-2", "Enabled": false}}})
			}
		case "/GroupMemberships/ListGroupsForMember":
			if body["SAMAccountName"] != "alice" {
				w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
				w.WriteHeader(404)
				io.WriteString(w, `{"message":"no such member"}`)
				return
			}
			if throttled.Add(1) == 1 {
				w.Header().Set("X-Amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/coral/")
				w.WriteHeader(429)
				io.WriteString(w, `{"Message":"slow down"}`)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"Groups": []any{map[string]any{"SAMAccountName": "Engineering", "SID": "S-9", "GroupScope": "Global", "GroupType": "Security"}}})
		case "/GroupMemberships/ListGroupMembers":
			json.NewEncoder(w).Encode(map[string]any{"Members": []any{map[string]any{"SAMAccountName": "alice", "SID": "S-1", "MemberType": "USER"}}})
		case "/GroupMemberships/AddGroupMember":
			if body["GroupName"] != "Engineering" || body["MemberName"] != "carol" {
				t.Errorf("AddGroupMember body %v", body)
			}
			io.WriteString(w, `{}`)
		case "/Users/CreateUser":
			if body["SAMAccountName"] == "alice" {
				w.Header().Set("X-Amzn-ErrorType", "ConflictException")
				w.WriteHeader(409)
				io.WriteString(w, `{"message":"exists"}`)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"DirectoryId": "d-123", "SAMAccountName": body["SAMAccountName"], "SID": "S-3"})
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "eu-west-1", credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), srv.Client())
	ctx := context.Background()

	users, err := c.ListUsers(ctx, "d-123")
	if err != nil || len(users) != 2 || users[0].SAMAccountName != "alice" || users[1].Enabled {
		t.Fatalf("ListUsers = %+v, %v", users, err)
	}
	groups, err := c.ListGroupsForMember(ctx, "d-123", "alice")
	if err != nil || len(groups) != 1 || groups[0].SAMAccountName != "Engineering" {
		t.Fatalf("ListGroupsForMember = %+v, %v (throttled once, then retried)", groups, err)
	}
	if throttled.Load() != 2 {
		t.Fatalf("want one retry after throttling, got %d calls", throttled.Load())
	}
	if _, err := c.ListGroupsForMember(ctx, "d-123", "mallory"); !IsNotFound(err) {
		t.Fatalf("want ResourceNotFoundException, got %v", err)
	}
	members, err := c.ListGroupMembers(ctx, "d-123", "Engineering")
	if err != nil || len(members) != 1 || members[0].MemberType != "USER" {
		t.Fatalf("ListGroupMembers = %+v, %v", members, err)
	}
	if err := c.AddGroupMember(ctx, "d-123", "Engineering", "carol"); err != nil {
		t.Fatal(err)
	}
	if sid, err := c.CreateUser(ctx, "d-123", CreateUserInput{SAMAccountName: "carol"}); err != nil || sid != "S-3" {
		t.Fatalf("CreateUser = %q, %v", sid, err)
	}
	_, err = c.CreateUser(ctx, "d-123", CreateUserInput{SAMAccountName: "alice"})
	if !IsConflict(err) || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("want ConflictException, got %v", err)
	}
}
