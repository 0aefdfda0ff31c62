package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"syscall"
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
	s, body, hdr := describeBench(b, 25)
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

// describeBench starts a server with n desktops and signs one
// DescribeWorkspaces request for the first by id: the server, the body and
// the signed headers each benchmark replays.
func describeBench(b *testing.B, n int) (*testserver.Server, []byte, http.Header) {
	s := testserver.Start(b, testserver.Timing("instant"))
	e := setup(b, s)
	ctx := context.Background()
	ids := e.create(b, ctx, n, "bench")
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
	return s, body, req.Header.Clone()
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

// BenchmarkDescribeWorkspacesHandler serves one signed DescribeWorkspaces
// request by id (one id, as bench/peer's replayed workload) straight
// through the server's gateway, with no network and no client: its ns/op,
// B/op and allocs/op are the server's own work per call (SigV4, IAM
// evaluation, the store read, JSON encoding, the CloudTrail record), the
// machine-independent figure of issue #19.
//
//	go test -run '^$' -bench DescribeWorkspacesHandler -benchmem ./test/e2e/
func BenchmarkDescribeWorkspacesHandler(b *testing.B) {
	s, body, hdr := describeBench(b, 1)
	ctx := context.Background()
	h := s.Gateway
	serve := func(rd *bytes.Reader, w *discardWriter) {
		rd.Reset(body)
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/", rd)
		r.Header = hdr
		r.RemoteAddr = "127.0.0.1:1"
		w.status = 0
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.status != 0 && w.status != http.StatusOK {
			b.Errorf("status %d", w.status)
		}
	}
	serve(bytes.NewReader(body), &discardWriter{h: http.Header{}})
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rd, w := bytes.NewReader(nil), &discardWriter{h: http.Header{}}
		for pb.Next() {
			serve(rd, w)
		}
	})
	// The audit records of the calls are written off the request path:
	// their work is counted too.
	if f, ok := h.Audit.(interface{ Flush(context.Context) error }); ok {
		if err := f.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// CPU time, unlike ns/op, does not grow when other processes take the
	// machine's cores.
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
