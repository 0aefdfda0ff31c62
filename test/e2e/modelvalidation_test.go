package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	dstypes "github.com/aws/aws-sdk-go-v2/service/directoryservice/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/workspaces"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestModelValidationMessages: the constraints that handlers used to check
// by hand (list members' patterns and lengths, a list of enums, blob
// lengths, a service-narrowed number range, pattern tags) are refused by
// the gateway's one validator, through real clients, with the model's
// error code, a 400 and AWS's wording of the member path.
func TestModelValidationMessages(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	cfg := s.Admin()
	ws := workspaces.NewFromConfig(cfg)
	kc := kms.NewFromConfig(cfg)
	ic := iam.NewFromConfig(cfg)
	dc := directoryservice.NewFromConfig(cfg)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyID := key.KeyMetadata.KeyId

	cases := []struct {
		name, code, msg string
		call            func() error
	}{
		{"bundle ids", "ValidationException",
			"1 validation error detected: Value 'nope' at 'bundleIds.2.member' failed to satisfy constraint: Member must satisfy regular expression pattern: ^wsb-[0-9a-z]{8,63}$",
			func() error {
				_, err := ws.DescribeWorkspaceBundles(ctx, &workspaces.DescribeWorkspaceBundlesInput{BundleIds: []string{"wsb-12345678", "nope"}})
				return err
			}},
		{"image ids", "ValidationException",
			"1 validation error detected: Value 'ami-1' at 'imageIds.1.member' failed to satisfy constraint: Member must satisfy regular expression pattern: wsi-[0-9a-z]{9,63}$",
			func() error {
				_, err := ws.DescribeWorkspaceImages(ctx, &workspaces.DescribeWorkspaceImagesInput{ImageIds: []string{"ami-1"}})
				return err
			}},
		{"pool ids", "ValidationException",
			"1 validation error detected: Value 'wspool-x' at 'poolIds.1.member' failed to satisfy constraint: Member must satisfy regular expression pattern: ^wspool-[0-9a-z]{9}$",
			func() error {
				_, err := ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{PoolIds: []string{"wspool-x"}})
				return err
			}},
		{"pool filter value", "ValidationException",
			"1 validation error detected: Value '-x' at 'filters.1.member.values.2.member' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[A-Za-z0-9][A-Za-z0-9_.-]+$",
			func() error {
				_, err := ws.DescribeWorkspacesPools(ctx, &workspaces.DescribeWorkspacesPoolsInput{Filters: []wstypes.DescribeWorkspacesPoolsFilter{
					{Name: wstypes.DescribeWorkspacesPoolsFilterNamePoolname, Operator: wstypes.DescribeWorkspacesPoolsFilterOperatorEquals, Values: []string{"ok", "-x"}}}})
				return err
			}},
		{"grant operations", "ValidationException",
			"1 validation error detected: Value '[Decrypt, Sing]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncryptFrom, ReEncryptTo, Sign, Verify, GetPublicKey, CreateGrant, RetireGrant, DescribeKey, GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, GenerateMac, VerifyMac, DeriveSharedSecret]]",
			func() error {
				_, err := kc.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: keyID, GranteePrincipal: aws.String("arn:aws:iam::111122223333:root"),
					Operations: []kmstypes.GrantOperation{"Decrypt", "Sing"}})
				return err
			}},
		{"no grant operations", "ValidationException",
			"1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must not be empty",
			func() error {
				_, err := kc.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: keyID, GranteePrincipal: aws.String("arn:aws:iam::111122223333:root"),
					Operations: []kmstypes.GrantOperation{}})
				return err
			}},
		{"pending window", "ValidationException",
			"1 validation error detected: Value '31' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 30",
			func() error {
				_, err := kc.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: keyID, PendingWindowInDays: aws.Int32(31)})
				return err
			}},
		{"plaintext length", "ValidationException",
			"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
			func() error {
				_, err := kc.Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: make([]byte, 4097)})
				return err
			}},
		{"ciphertext length", "ValidationException",
			"1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144",
			func() error {
				_, err := kc.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: make([]byte, 6145)})
				return err
			}},
		{"max session duration", "ValidationError",
			"1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
			func() error {
				_, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("short"), MaxSessionDuration: aws.Int32(60),
					AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
				return err
			}},
		{"simulated action name", "ValidationError",
			"1 validation error detected: Value 'ab' at 'actionNames.2.member' failed to satisfy constraint: Member must have length greater than or equal to 3",
			func() error {
				_, err := ic.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::111122223333:user/admin"),
					ActionNames: []string{"workspaces:DescribeWorkspaces", "ab"}})
				return err
			}},
		{"directory description", "InvalidParameterException",
			"1 validation error detected: Value '<b>' at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-zA-Z0-9_])[\\\\a-zA-Z0-9_@#%*+=:?./!\\s-]*$",
			func() error {
				_, err := dc.CreateMicrosoftAD(ctx, &directoryservice.CreateMicrosoftADInput{Name: aws.String("corp.example.com"), Password: aws.String("Passw0rd!Passw0rd"),
					Description: aws.String("<b>"), VpcSettings: &dstypes.DirectoryVpcSettings{VpcId: aws.String("vpc-1"), SubnetIds: []string{"subnet-1", "subnet-2"}}})
				return err
			}},
	}
	for _, c := range cases {
		err := c.call()
		var ae smithy.APIError
		var re *awshttp.ResponseError
		if !errors.As(err, &ae) || !errors.As(err, &re) {
			t.Errorf("%s: want %s, got %v", c.name, c.code, err)
			continue
		}
		if ae.ErrorCode() != c.code || ae.ErrorMessage() != c.msg || re.HTTPStatusCode() != http.StatusBadRequest {
			t.Errorf("%s: got %d %s %q\nwant 400 %s %q", c.name, re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage(), c.code, c.msg)
		}
	}
}
