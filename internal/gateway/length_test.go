package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

type sizedIn struct {
	N *int `json:"N"`
}

type sizedOut struct {
	Pad *string `json:"Pad"`
}

// TestServerSetsSmallAnswersLength serves answers of sizes around
// serverSetsLength over HTTP/1.1 and HTTP/2: every one carries its
// Content-Length, none is chunked, whether the gateway set the length or
// left it to the server. It fails when the server would chunk an answer
// the gateway left the length of (serverSetsLength above net/http's
// buffer), or when the length is missing or wrong.
func TestServerSetsSmallAnswersLength(t *testing.T) {
	js := &Service{Name: "workspaces", ActionPrefix: "workspaces", Protocol: JSON, TargetPrefix: "WorkspacesService", ValidationCode: "ValidationException"}
	js.Add(Op("Sized", func(ctx context.Context, c *Call, in *sizedIn) (*sizedOut, error) {
		pad := strings.Repeat("x", max(0, *in.N-len(`{"Pad":""}`)))
		return &sizedOut{Pad: &pad}, nil
	}))
	g := New(js)
	g.Auth, g.Authz = envAuth{}, envAuthz{}
	g.Log = pipelineGateway().Log
	for _, h2 := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(g)
		if h2 {
			srv.EnableHTTP2 = true
			srv.StartTLS()
		} else {
			srv.Start()
		}
		client := srv.Client()
		for _, n := range []int{10, 600, serverSetsLength - 1, serverSetsLength, serverSetsLength + 1, 4095, 4096, 4097, 70000} {
			t.Run(fmt.Sprintf("h2 %v size %d", h2, n), func(t *testing.T) {
				body := []byte(fmt.Sprintf(`{"N":%d}`, n))
				r, _ := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewReader(body))
				r.Header.Set("X-Amz-Target", "WorkspacesService.Sized")
				r.Header.Set("Content-Type", "application/x-amz-json-1.1")
				sum := sha256.Sum256(body)
				if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: envKey, SecretAccessKey: envSecret}, r,
					hex.EncodeToString(sum[:]), "workspaces", "us-east-1", time.Now()); err != nil {
					t.Fatal(err)
				}
				resp, err := client.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				got, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 || len(got) != n {
					t.Fatalf("HTTP %d, %d bytes, want %d: %.200s", resp.StatusCode, len(got), n, got)
				}
				if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(n) || resp.ContentLength != int64(n) || len(resp.TransferEncoding) != 0 {
					t.Fatalf("Content-Length %q (%d), Transfer-Encoding %q, want %d bytes not chunked", cl, resp.ContentLength, resp.TransferEncoding, n)
				}
				if resp.Header.Get("X-Amzn-RequestId") == "" || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
					t.Fatalf("headers %v", resp.Header)
				}
			})
		}
		srv.Close()
	}
}
