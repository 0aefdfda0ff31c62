package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestUnimplementedOperations: an operation the service's model has but
// deskplane does not serve answers the protocol's unknown-operation code
// with a message saying deskplane does not implement it yet and naming
// docs/api-coverage.md; a name the model does not have keeps AWS's text.
func TestUnimplementedOperations(t *testing.T) {
	s := testserver.Start(t)
	ctx := ctxT(t)
	check := func(name string, err error, code string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: %v", name, err)
		}
		if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), "deskplane does not implement") ||
			!strings.Contains(ae.ErrorMessage(), name) || !strings.Contains(ae.ErrorMessage(), "docs/api-coverage.md") {
			t.Errorf("%s: %s %q, want %s saying deskplane does not implement it and naming docs/api-coverage.md", name, ae.ErrorCode(), ae.ErrorMessage(), code)
		}
	}
	// Every WorkSpaces operation is served; KMS speaks the same awsJson 1.1.
	_, err := kms.NewFromConfig(s.Admin()).GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(16)})
	check("GenerateRandom", err, "UnknownOperationException")
	_, err = directoryservice.NewFromConfig(s.Admin()).DescribeTrusts(ctx, &directoryservice.DescribeTrustsInput{})
	check("DescribeTrusts", err, "UnknownOperationException")
	_, err = iam.NewFromConfig(s.Admin()).ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	check("ListAccountAliases", err, "InvalidAction")
	_, err = ec2.NewFromConfig(s.Admin()).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	check("DescribeInstances", err, "InvalidAction")
	// CloudWatch through Smithy RPC v2 CBOR.
	_, err = cloudwatch.NewFromConfig(s.Admin()).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	check("DescribeAlarms", err, "UnknownOperationException")

	// Not in the model: AWS's generic text.
	got := raw{url: s.URL, service: "workspaces", target: "WorkspacesService.LaunchRockets", contentType: "application/x-amz-json-1.1", body: []byte(`{}`)}.do(t)
	if got.code != "UnknownOperationException" || strings.Contains(got.body, "deskplane") || !strings.Contains(got.body, "is not valid for this web service") {
		t.Errorf("an operation no model has: %s %s", got.code, got.body)
	}
}
