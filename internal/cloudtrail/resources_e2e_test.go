package cloudtrail_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestKMSEventResources: the resources of a KMS call's record are the
// ones its resolver declared to the pipeline (and the handler added with
// Call.AddResource), all of them: UpdateAlias names the alias, the new
// target key and the key the alias pointed to; ReEncrypt both keys;
// CreateKey the key it made. (Before the one audit channel, a handler's
// list replaced the previous one, and UpdateAlias's record lost its new
// target key.)
func TestKMSEventResources(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	admin := kms.NewFromConfig(s.Admin())
	ct := cloudtrail.NewFromConfig(s.Admin())
	newKey := func() string {
		k, err := admin.CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.Arn)
	}
	k1, k2 := newKey(), newKey()
	alias := "alias/audited"
	if _, err := admin.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(k1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(k2)}); err != nil {
		t.Fatal(err)
	}
	enc, err := admin.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k1), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: aws.String(k2)}); err != nil {
		t.Fatal(err)
	}
	aliasARN := "arn:aws:kms:us-east-1:" + k1[len("arn:aws:kms:us-east-1:"):len("arn:aws:kms:us-east-1:")+12] + ":" + alias
	for op, want := range map[string][]string{
		"CreateAlias": {aliasARN, k1},
		"UpdateAlias": {aliasARN, k2, k1},
		"ReEncrypt":   {k1, k2},
		"Encrypt":     {k1},
	} {
		evs := lookup(t, ct, cttypes.LookupAttributeKeyEventName, op)
		if len(evs) != 1 {
			t.Fatalf("%s: %d events", op, len(evs))
		}
		var got []string
		for _, r := range parse(t, evs[0]).Resources {
			got = append(got, r.ARN)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s resources %v, want %v", op, got, want)
		}
	}
	var created []string
	for _, e := range lookup(t, ct, cttypes.LookupAttributeKeyEventName, "CreateKey") {
		for _, r := range parse(t, e).Resources {
			created = append(created, r.ARN)
		}
	}
	slices.Sort(created)
	want := []string{k1, k2}
	slices.Sort(want)
	if !slices.Equal(created, want) {
		t.Errorf("CreateKey resources %v, want %v", created, want)
	}
}
