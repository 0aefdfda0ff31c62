package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// BenchmarkDescribeWorkspacesByID replays one signed DescribeWorkspaces
// request (25 ids) through the full pipeline: SigV4, IAM evaluation,
// store read, JSON encoding and the CloudTrail record.
//
//	go test -run '^$' -bench DescribeWorkspacesByID -benchtime 5s ./test/e2e/
func BenchmarkDescribeWorkspacesByID(b *testing.B) {
	s := testserver.Start(b, testserver.Timing("instant"))
	e := setup(b, s)
	ctx := context.Background()
	ids := e.create(b, ctx, 25, "bench")
	body := []byte(fmt.Sprintf(`{"WorkspaceIds":[%q]}`, ids[0]))
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "WorkspacesService.DescribeWorkspaces")
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: config.AdminKeyID, SecretAccessKey: config.AdminSecret},
		req, hex.EncodeToString(sum[:]), "workspaces", "us-east-1", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	hdr := req.Header.Clone()
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	client := &http.Client{Transport: tr}
	b.ResetTimer()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, _ := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
			r.Header = hdr.Clone()
			resp, err := client.Do(r)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
