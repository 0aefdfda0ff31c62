package kms_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// BenchmarkCrypto measures Encrypt, Decrypt and GenerateDataKey through the
// full server: SigV4, key policy + IAM evaluation, store read, AES-GCM and
// the CloudTrail audit, with parallel SDK clients. Report req/s with
//
//	go test ./internal/kms -run '^$' -bench BenchmarkCrypto -benchtime 3s
func BenchmarkCrypto(b *testing.B) {
	s := start(b)
	ctx := context.Background()
	c := kms.NewFromConfig(s.Admin())
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	id := key.KeyMetadata.KeyId
	ec := map[string]string{"purpose": "bench"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("0123456789abcdef"), EncryptionContext: ec})
	if err != nil {
		b.Fatal(err)
	}
	ops := map[string]func() error{
		"Encrypt": func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("0123456789abcdef"), EncryptionContext: ec})
			return err
		},
		"Decrypt": func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
			return err
		},
		"GenerateDataKey": func() error {
			_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
			return err
		},
	}
	for _, name := range []string{"Encrypt", "Decrypt", "GenerateDataKey"} {
		op := ops[name]
		b.Run(name, func(b *testing.B) {
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
	_ = aws.String
}
