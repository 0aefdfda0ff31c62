package ds_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/awsmodel"
	"github.com/deskplane/deskplane/internal/ds"
)

// TestModelConformance checks the JSON shapes against botocore's ds and
// ds-data models: every field must name a member of the right type.
func TestModelConformance(t *testing.T) {
	for _, tc := range []struct {
		service string
		shapes  map[string]any
	}{
		{"ds", map[string]any{
			"CreateMicrosoftADRequest": ds.CreateMicrosoftADInput{}, "CreateDirectoryRequest": ds.CreateDirectoryInput{},
			"ConnectDirectoryRequest": ds.ConnectDirectoryInput{}, "CreateMicrosoftADResult": ds.CreateDirectoryOutput{},
			"DescribeDirectoriesRequest": ds.DescribeDirectoriesInput{}, "DescribeDirectoriesResult": ds.DescribeDirectoriesOutput{},
			"DeleteDirectoryRequest": ds.DeleteDirectoryInput{}, "DeleteDirectoryResult": ds.DeleteDirectoryOutput{},
		}},
		{"ds-data", map[string]any{
			"ListUsersRequest": ds.ListUsersInput{}, "ListUsersResult": ds.ListUsersOutput{},
			"DescribeUserRequest": ds.DescribeUserInput{}, "DescribeUserResult": ds.DescribeUserOutput{},
			"CreateUserRequest": ds.CreateUserInput{}, "CreateUserResult": ds.CreateUserOutput{},
			"DeleteUserRequest": ds.DeleteUserInput{}, "DisableUserRequest": ds.DisableUserInput{}, "UpdateUserRequest": ds.UpdateUserInput{},
			"SearchUsersRequest": ds.SearchUsersInput{}, "SearchUsersResult": ds.SearchUsersOutput{},
			"CreateGroupRequest": ds.CreateGroupInput{}, "CreateGroupResult": ds.CreateGroupOutput{},
			"DescribeGroupRequest": ds.DescribeGroupInput{}, "DescribeGroupResult": ds.DescribeGroupOutput{},
			"DeleteGroupRequest": ds.GroupRef{}, "ListGroupsRequest": ds.ListGroupsInput{}, "ListGroupsResult": ds.ListGroupsOutput{},
			"AddGroupMemberRequest": ds.AddGroupMemberInput{}, "RemoveGroupMemberRequest": ds.RemoveGroupMemberInput{},
			"ListGroupMembersRequest": ds.ListGroupMembersInput{}, "ListGroupMembersResult": ds.ListGroupMembersOutput{},
			"ListGroupsForMemberRequest": ds.ListGroupsForMemberInput{}, "ListGroupsForMemberResult": ds.ListGroupsForMemberOutput{},
		}},
	} {
		m := awsmodel.LoadOrSkip(t, tc.service)
		for shape, v := range tc.shapes {
			for _, p := range m.CheckStructFields(shape, reflect.TypeOf(v), "json") {
				// DirectoryId is a querystring member of ds-data requests;
				// the gateway merges the query into the JSON input.
				if tc.service == "ds-data" && strings.Contains(p, "DirectoryId") && strings.Contains(p, "querystring") {
					continue
				}
				t.Errorf("%s %s: %s", tc.service, shape, p)
			}
		}
	}
}
