package kms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/awsmodel"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/pebble"
	"github.com/deskplane/deskplane/internal/store/sqlite"
	"github.com/deskplane/deskplane/internal/testserver"

	kmsmod "github.com/deskplane/deskplane/internal/kms"
)

const (
	appKey    = "AKIAAPPUSEREXAMPLE01"
	appSecret = "appSecretEXAMPLEKEYappSecretEXAMPLEKEY00"
)

// start runs a server with an extra user "app" that has no KMS permissions
// in IAM (it can only use keys through grants or key policies).
func start(t testing.TB, opts ...testserver.Option) *testserver.Server {
	t.Helper()
	cfg := config.Default()
	deny := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}}}
	cfg.Accounts[0].Users = append(cfg.Accounts[0].Users, config.User{Name: "app", AccessKeys: []config.AccessKey{{ID: appKey, Secret: appSecret}}, Policies: map[string]any{"Minimal": deny}})
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return testserver.Start(t, append([]testserver.Option{testserver.ConfigFile(p)}, opts...)...)
}

func appARN() string { return "arn:aws:iam::" + config.CustomerAccount + ":user/app" }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
}

func newKey(t *testing.T, c *kms.Client) string {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("test key")})
	if err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.KeyId
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := kms.NewFromConfig(s.Admin())
	id := newKey(t, c)
	ec := map[string]string{"purpose": "test", "tenant": "a"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("hello"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(*enc.KeyId, id) || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("encrypt output %+v", enc)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "a", "purpose": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(dec.Plaintext) != "hello" || *dec.KeyId != *enc.KeyId {
		t.Fatalf("decrypt output %q %s", dec.Plaintext, *dec.KeyId)
	}
	// Wrong, missing and extra context.
	for _, bad := range []map[string]string{{"purpose": "test", "tenant": "b"}, nil, {"purpose": "test", "tenant": "a", "x": "y"}, {"Purpose": "test", "tenant": "a"}} {
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: bad})
		wantCode(t, err, "InvalidCiphertextException")
	}
	// Tampered blob: flip a byte in the header, the nonce and the tag.
	for _, i := range []int{0, 10, len(enc.CiphertextBlob) - 30, len(enc.CiphertextBlob) - 1, len(enc.CiphertextBlob) - 20} {
		tb := bytes.Clone(enc.CiphertextBlob)
		tb[i] ^= 1
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tb, EncryptionContext: ec})
		wantCode(t, err, "InvalidCiphertextException")
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("garbage-not-a-blob"), EncryptionContext: ec})
	wantCode(t, err, "InvalidCiphertextException")
	// A different key named in KeyId.
	id2 := newKey(t, c)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: &id2})
	wantCode(t, err, "IncorrectKeyException")
	// ReEncrypt to the second key with a new context.
	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyId: &id2, DestinationEncryptionContext: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"k": "v"}})
	if err != nil || string(dec.Plaintext) != "hello" || !strings.HasSuffix(*dec.KeyId, id2) {
		t.Fatalf("reencrypted decrypt: %v %q", err, dec.Plaintext)
	}
	// Data keys.
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	if err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
		t.Fatalf("data key decrypt: %v", err)
	}
	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: &id, NumberOfBytes: aws.Int32(64)})
	if err != nil {
		t.Fatal(err)
	}
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wp.CiphertextBlob})
	if err != nil || len(dec.Plaintext) != 64 {
		t.Fatalf("GDKWP decrypt: %v", err)
	}
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id})
	wantCode(t, err, "ValidationException")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id, NumberOfBytes: aws.Int32(1025)})
	wantCode(t, err, "ValidationException")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: make([]byte, 4097)})
	wantCode(t, err, "ValidationException")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("11111111-2222-4333-8444-555555555555"), Plaintext: []byte("x")})
	wantCode(t, err, "NotFoundException")
}

func TestKeyStatesAndDeletion(t *testing.T) {
	s := start(t, testserver.VirtualClock())
	ctx := context.Background()
	c := kms.NewFromConfig(s.Admin())
	id := newKey(t, c)
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantCode(t, err, "DisabledException")
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	for _, days := range []int32{6, 31} {
		_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(days)})
		wantCode(t, err, "ValidationException")
	}
	sk, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(7)})
	if err != nil || sk.KeyState != types.KeyStatePendingDeletion || *sk.PendingWindowInDays != 7 {
		t.Fatalf("schedule: %v %+v", err, sk)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: &id})
	wantCode(t, err, "KMSInvalidStateException")
	if _, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id})
	if err != nil || d.KeyMetadata.KeyState != types.KeyStateDisabled || d.KeyMetadata.KeyManager != types.KeyManagerTypeCustomer {
		t.Fatalf("after cancel: %v %+v", err, d.KeyMetadata)
	}
	_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: &id})
	wantCode(t, err, "KMSInvalidStateException")
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	s.Advance(6 * 24 * time.Hour)
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id}); err != nil {
		t.Fatalf("key deleted too early: %v", err)
	}
	s.Advance(25 * time.Hour)
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id})
	wantCode(t, err, "NotFoundException")
	keys, err := c.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys.Keys {
		if *k.KeyId == id {
			t.Fatal("deleted key still listed")
		}
	}
}

func TestAliases(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := kms.NewFromConfig(s.Admin())
	id := newKey(t, c)
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: &id}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: &id})
	wantCode(t, err, "AlreadyExistsException")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/mine"), TargetKeyId: &id})
	wantCode(t, err, "InvalidAliasNameException")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("noprefix"), TargetKeyId: &id})
	if err == nil {
		t.Fatal("alias without alias/ prefix accepted")
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("x")})
	if err != nil || !strings.HasSuffix(*enc.KeyId, id) {
		t.Fatalf("encrypt by alias: %v", err)
	}
	arn := "arn:aws:kms:us-east-1:" + config.CustomerAccount + ":alias/app"
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &arn}); err != nil {
		t.Fatalf("describe by alias ARN: %v", err)
	}
	_, err = c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String("alias/app"), GranteePrincipal: aws.String(appARN()), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	wantCode(t, err, "NotFoundException")
	la, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: &id})
	if err != nil || len(la.Aliases) != 1 || *la.Aliases[0].AliasName != "alias/app" || *la.Aliases[0].AliasArn != arn {
		t.Fatalf("ListAliases: %v %+v", err, la)
	}
	if _, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("x")})
	wantCode(t, err, "NotFoundException")
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	wantCode(t, err, "NotFoundException")
}

func TestGrantsConstraintsRetireRevoke(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	admin := kms.NewFromConfig(s.Admin())
	app := kms.NewFromConfig(s.Config(appKey, appSecret))
	id := newKey(t, admin)
	ec := map[string]string{"aws:ebs:id": "vol-1", "tenant": "a"}
	enc, err := admin.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	// Without a grant the app user (no IAM permission) is denied.
	_, err = app.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException")
	g, err := admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &id, GranteePrincipal: aws.String(appARN()), RetiringPrincipal: aws.String(appARN()),
		Operations:  []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"tenant": "a"}}, Name: aws.String("app-grant")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}); err != nil {
		t.Fatalf("grantee decrypt with matching context: %v", err)
	}
	_, err = app.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x"), EncryptionContext: map[string]string{"tenant": "b"}})
	wantCode(t, err, "AccessDeniedException")
	_, err = app.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException")
	_, err = app.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id, KeySpec: types.DataKeySpecAes128, EncryptionContext: map[string]string{"tenant": "a"}})
	wantCode(t, err, "AccessDeniedException") // operation not granted
	// Equals constraint.
	g2, err := admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &id, GranteePrincipal: aws.String(appARN()),
		Operations:  []types.GrantOperation{types.GrantOperationGenerateDataKey},
		Constraints: &types.GrantConstraints{EncryptionContextEquals: map[string]string{"tenant": "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id, KeySpec: types.DataKeySpecAes128, EncryptionContext: map[string]string{"tenant": "a"}}); err != nil {
		t.Fatalf("equals grant: %v", err)
	}
	_, err = app.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id, KeySpec: types.DataKeySpecAes128, EncryptionContext: map[string]string{"tenant": "a", "x": "y"}})
	wantCode(t, err, "AccessDeniedException")
	lg, err := admin.ListGrants(ctx, &kms.ListGrantsInput{KeyId: &id})
	if err != nil || len(lg.Grants) != 2 {
		t.Fatalf("ListGrants: %v %d", err, len(lg.Grants))
	}
	lg, err = admin.ListGrants(ctx, &kms.ListGrantsInput{KeyId: &id, Limit: aws.Int32(1)})
	if err != nil || len(lg.Grants) != 1 || !lg.Truncated || lg.NextMarker == nil {
		t.Fatalf("ListGrants page: %v %+v", err, lg)
	}
	lg2, err := admin.ListGrants(ctx, &kms.ListGrantsInput{KeyId: &id, Limit: aws.Int32(1), Marker: lg.NextMarker})
	if err != nil || len(lg2.Grants) != 1 || lg2.Truncated || *lg2.Grants[0].GrantId == *lg.Grants[0].GrantId {
		t.Fatalf("ListGrants page 2: %v %+v", err, lg2)
	}
	rg, err := admin.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(appARN())})
	if err != nil || len(rg.Grants) != 1 || *rg.Grants[0].GrantId != *g.GrantId || *rg.Grants[0].Name != "app-grant" {
		t.Fatalf("ListRetirableGrants: %v %+v", err, rg)
	}
	// A KeyId or GrantId beside the token must name the token's grant.
	other, err := admin.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken, KeyId: other.KeyMetadata.Arn})
	wantCode(t, err, "InvalidGrantTokenException")
	_, err = app.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken, GrantId: g2.GrantId})
	wantCode(t, err, "InvalidGrantIdException")
	// Retire (by the retiring principal, with the token and its own key):
	// effective at once.
	if _, err := app.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken, KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	_, err = app.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException")
	// Revoke: effective at once.
	if _, err := admin.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: &id, GrantId: g2.GrantId}); err != nil {
		t.Fatal(err)
	}
	_, err = app.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id, KeySpec: types.DataKeySpecAes128, EncryptionContext: map[string]string{"tenant": "a"}})
	wantCode(t, err, "AccessDeniedException")
	_, err = admin.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: &id, GrantId: g2.GrantId})
	wantCode(t, err, "NotFoundException")
	_, err = admin.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: &id, GrantId: aws.String("nope")})
	wantCode(t, err, "InvalidGrantIdException")
}

func TestKeyPolicyDeniesIAMAdmin(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	admin := kms.NewFromConfig(s.Admin())
	app := kms.NewFromConfig(s.Config(appKey, appSecret))
	id := newKey(t, admin)
	onlyApp := `{"Version":"2012-10-17","Statement":[{"Sid":"Key user app","Effect":"Allow","Principal":{"AWS":"` + appARN() + `"},"Action":"kms:*","Resource":"*"}]}`
	// The lockout safety check refuses a policy that locks the caller out.
	_, err := admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &id, Policy: &onlyApp})
	wantCode(t, err, "MalformedPolicyDocumentException")
	_, err = admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &id, Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`), BypassPolicyLockoutSafetyCheck: true})
	wantCode(t, err, "MalformedPolicyDocumentException") // no Principal
	_, err = admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &id, Policy: aws.String(`{not json`), BypassPolicyLockoutSafetyCheck: true})
	wantCode(t, err, "MalformedPolicyDocumentException")
	if _, err := admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &id, Policy: &onlyApp, BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	// The IAM admin (Action * in IAM) is now denied: the key policy does not trust the account.
	_, err = admin.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException")
	_, err = admin.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id})
	wantCode(t, err, "AccessDeniedException")
	// The app user, with no IAM permission at all, is allowed by the key policy directly.
	if _, err := app.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("key policy principal: %v", err)
	}
	gp, err := app.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: &id})
	if err != nil || *gp.Policy != onlyApp || *gp.PolicyName != "default" {
		t.Fatalf("GetKeyPolicy: %v", err)
	}
	// A key policy deny beats everything.
	denyAll := `{"Version":"2012-10-17","Statement":[{"Sid":"Allow app","Effect":"Allow","Principal":{"AWS":"` + appARN() + `"},"Action":"kms:*","Resource":"*"},{"Sid":"Deny encrypt","Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*"}]}`
	if _, err := app.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &id, Policy: &denyAll}); err != nil {
		t.Fatal(err)
	}
	_, err = app.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException")
}

// recorder keeps the raw response bodies.
type recorder struct {
	mu     sync.Mutex
	bodies map[string][]byte
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if resp.StatusCode == 200 {
		r.mu.Lock()
		r.bodies[op[strings.LastIndexByte(op, '.')+1:]] = b
		r.mu.Unlock()
	}
	return resp, nil
}

func TestOutputsMatchModel(t *testing.T) {
	m := awsmodel.LoadOrSkip(t, "kms")
	s := start(t)
	ctx := context.Background()
	rec := &recorder{bodies: map[string][]byte{}}
	cfg := s.Admin()
	cfg.HTTPClient = rec
	c := kms.NewFromConfig(cfg)
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("x")}}})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	mustOK := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustOK(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id}))
	mustOK(c.ListKeys(ctx, &kms.ListKeysInput{}))
	mustOK(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/m"), TargetKeyId: id}))
	mustOK(c.ListAliases(ctx, &kms.ListAliasesInput{}))
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	mustOK(enc, err)
	mustOK(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))
	mustOK(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: id}))
	mustOK(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256}))
	mustOK(c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: id, KeySpec: types.DataKeySpecAes256}))
	mustOK(c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: id, GranteePrincipal: aws.String(appARN()), Operations: []types.GrantOperation{"Decrypt"},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"a": "b"}}}))
	mustOK(c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: id}))
	mustOK(c.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(appARN())}))
	mustOK(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: id}))
	mustOK(c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: id}))
	mustOK(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: id}))
	mustOK(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)}))
	mustOK(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: id}))
	if len(rec.bodies) < 18 {
		t.Fatalf("recorded %d bodies", len(rec.bodies))
	}
	for op, body := range rec.bodies {
		if probs := m.CheckJSONOutput(op, body); len(probs) > 0 {
			t.Errorf("%s: %v\n%s", op, probs, body)
		}
	}
}

// TestNoPlaintextKeyMaterialAtRest scans every file of the data directory
// (the database and its logs, on each embedded store) for the raw key
// material and the data keys handed out.
func TestNoPlaintextKeyMaterialAtRest(t *testing.T) {
	for _, kind := range []string{"pebble", "sqlite"} {
		t.Run(kind, func(t *testing.T) { testNoPlaintextKeyMaterialAtRest(t, kind) })
	}
}

func testNoPlaintextKeyMaterialAtRest(t *testing.T, kind string) {
	dir := t.TempDir()
	s := start(t, testserver.DataDir(dir), testserver.Store(kind))
	ctx := context.Background()
	c := kms.NewFromConfig(s.Admin())
	var secrets [][]byte
	var arns []string
	for i := 0; i < 3; i++ {
		id := newKey(t, c)
		dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id, KeySpec: types.DataKeySpecAes256})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, dk.Plaintext)
		arns = append(arns, *dk.KeyId)
	}
	// Unseal the key material with the master key to learn its bytes.
	master, err := kmsmod.LoadMasterKey(filepath.Join(dir, kmsmod.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, kmsmod.MasterKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master key file mode: %v %v", err, st.Mode())
	}
	// Read the key records straight from the store, the server stopped.
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var db store.Store
	if kind == "pebble" {
		db, err = pebble.Open(ctx, filepath.Join(dir, "pebble", "deskplane"), pebble.Options{})
	} else {
		db, err = sqlite.Open(ctx, filepath.Join(dir, "deskplane.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	var stored [][]byte
	err = db.View(ctx, func(tx store.Tx) error {
		return tx.Scan(ctx, "kms_keys", "", "", 0, func(_ string, v []byte) error {
			stored = append(stored, bytes.Clone(v))
			return nil
		})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range stored {
		var rec struct {
			ARN    string `json:"arn"`
			Sealed []byte `json:"sealed"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			t.Fatal(err)
		}
		mat, err := master.Unseal(rec.Sealed, rec.ARN)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, mat)
	}
	if len(secrets) != 6 {
		t.Fatalf("want 3 key materials and 3 data keys, got %d secrets", len(secrets))
	}
	var files int
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Base(p) == kmsmod.MasterKeyFile {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, sec := range secrets {
			for _, form := range [][]byte{sec, []byte(b64(sec)), []byte(b64(sec)[:40])} {
				if bytes.Contains(b, form) {
					t.Errorf("%s contains plaintext key material", p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 {
		t.Fatalf("scanned only %d files", files)
	}
	_ = arns
}

func b64(b []byte) string {
	return base64.StdEncoding.EncodeToString(b)
}
