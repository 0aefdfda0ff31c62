package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	"github.com/aws/smithy-go"
)

// TestDescribeDecoderMatchesTheSDK serves DescribeWorkspaces bodies that
// carry every member of the model's Workspace (and none, nulls, unknown
// members, a timestamp the typed decode refuses, an error) to two clients,
// one with the broker's decoder and one with the SDK's alone: both give
// the same output or the same error.
func TestDescribeDecoderMatchesTheSDK(t *testing.T) {
	full := `{"WorkspaceId":"ws-abcdefgh1","DirectoryId":"d-1234567890","UserName":"alice","IpAddress":"10.0.0.5",
		"Ipv6Address":"2001:db8::5","State":"AVAILABLE","BundleId":"wsb-abcdefgh1","SubnetId":"subnet-1","ErrorMessage":"m",
		"ErrorCode":"ResourceLimitExceeded","ComputerName":"WSAMZN-1","VolumeEncryptionKey":"arn:aws:kms:us-east-1:123456789012:key/k",
		"UserVolumeEncryptionEnabled":true,"RootVolumeEncryptionEnabled":false,"WorkspaceName":"eng-0001",
		"WorkspaceProperties":{"RunningMode":"AUTO_STOP","RunningModeAutoStopTimeoutInMinutes":60,"RootVolumeSizeGib":80,
			"UserVolumeSizeGib":10,"ComputeTypeName":"STANDARD","Protocols":["PCOIP","WSP"],"OperatingSystemName":"WINDOWS_11",
			"GlobalAccelerator":{"Mode":"AUTO","PreferredProtocol":"TCP"}},
		"ModificationStates":[{"Resource":"ROOT_VOLUME","State":"UPDATE_IN_PROGRESS"}],
		"RelatedWorkspaces":[{"WorkspaceId":"ws-abcdefgh2","Region":"us-west-2","State":"STOPPED","Type":"STANDBY"}],
		"DataReplicationSettings":{"DataReplication":"NO_REPLICATION"},
		"StandbyWorkspacesProperties":[{"StandbyWorkspaceId":"ws-abcdefgh2","DataReplication":"NO_REPLICATION"}],
		"SomeFutureMember":{"x":[1,2]}}`
	bodies := map[string]string{
		"empty":        `{"Workspaces":[]}`,
		"no members":   `{}`,
		"full":         `{"Workspaces":[` + full + `,{"WorkspaceId":"ws-abcdefgh3","State":"STOPPED"}],"NextToken":"tok"}`,
		"nulls":        `{"Workspaces":[{"WorkspaceId":"ws-abcdefgh3","UserName":null,"WorkspaceProperties":null,"ModificationStates":null}],"NextToken":null}`,
		"timestamp":    `{"Workspaces":[{"WorkspaceId":"ws-abcdefgh4","DataReplicationSettings":{"DataReplication":"PRIMARY_AS_SOURCE","RecoverySnapshotTime":1.7649792E9}}]}`,
		"wrong type":   `{"Workspaces":[{"WorkspaceId":5}]}`,
		"not json":     `{"Workspaces":[`,
		"error status": `{"__type":"com.amazonaws.workspaces#InvalidParameterValuesException","message":"bad"}`,
	}
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if strings.Contains(body, "__type") {
			w.WriteHeader(http.StatusBadRequest)
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	client := func(fast bool) *workspaces.Client {
		return workspaces.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")},
			func(o *workspaces.Options) {
				o.BaseEndpoint = aws.String(srv.URL)
				o.RetryMaxAttempts = 1
				if fast {
					o.APIOptions = append(o.APIOptions, fastDescribe)
				}
			})
	}
	fast, sdk := client(true), client(false)
	ctx := context.Background()
	for name, b := range bodies {
		body = b
		before := fastDescribed.Load()
		got, gerr := fast.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
		typed := fastDescribed.Load() > before
		if wantTyped := !strings.Contains("timestamp wrong type not json error status", name); typed != wantTyped {
			t.Errorf("%s: decoded by the broker's decoder: %v, want %v", name, typed, wantTyped)
		}
		want, werr := sdk.DescribeWorkspaces(ctx, &workspaces.DescribeWorkspacesInput{})
		if (gerr == nil) != (werr == nil) {
			t.Errorf("%s: errors differ: %v, the SDK's %v", name, gerr, werr)
			continue
		}
		if werr != nil {
			var ga, wa smithy.APIError
			if errors.As(werr, &wa) && (!errors.As(gerr, &ga) || ga.ErrorCode() != wa.ErrorCode()) {
				t.Errorf("%s: error %v, the SDK's %v", name, gerr, werr)
			}
			continue
		}
		if name == "full" && (len(got.Workspaces) != 2 || got.Workspaces[0].WorkspaceProperties == nil || len(got.Workspaces[0].RelatedWorkspaces) != 1) {
			t.Fatalf("full: decoded %+v", got.Workspaces)
		}
		if !reflect.DeepEqual(got.Workspaces, want.Workspaces) || !reflect.DeepEqual(got.NextToken, want.NextToken) {
			t.Errorf("%s: decoded\n%+v\nthe SDK decoded\n%+v", name, got, want)
		}
	}
}
