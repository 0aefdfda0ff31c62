package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/logbuf"
)

// TestRequestLineAsTheGeneralPath checks serve's request line (logbuf's
// handler: its level read once, the middle attributes rendered once and
// kept from line to line) is byte for byte the line the general path
// writes through slog.TextHandler, at info and debug level, over 4,000
// requests whose service, operation, principal and account repeat in runs,
// change one at a time, come back as equal strings of other bytes, need
// quoting or are absent.
func TestRequestLineAsTheGeneralPath(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	pick := func(xs ...string) string {
		s := xs[rnd.IntN(len(xs))]
		if rnd.IntN(4) == 0 {
			s = strings.Clone(s) // the same text at another address
		}
		return s
	}
	svcs := []*Service{{Name: "workspaces"}, {Name: "iam"}, {Name: "kms key"}, {Name: ""}, nil}
	principals := []*Principal{{ARN: "arn:aws:iam::123456789012:user/admin"}, {ARN: "arn:aws:iam::123456789012:user/a b"},
		{ARN: "arn:aws:iam::210987654321:root"}, {ARN: ""}}
	type req struct {
		rec     requestRecord
		at      time.Time
		latency time.Duration
	}
	var reqs []req
	rec := requestRecord{id: "r", op: "DescribeWorkspaces", status: 200}
	start := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	for i := range 4000 {
		// Most requests repeat the last one's middle; some change a part.
		switch rnd.IntN(12) {
		case 0:
			rec.svc = svcs[rnd.IntN(len(svcs))]
		case 1:
			rec.op = pick("DescribeWorkspaces", "CreateWorkspaces", "", "Op=x", "Ünïcode")
		case 2:
			rec.call = nil
		case 3, 4:
			p := principals[rnd.IntN(len(principals))]
			if rnd.IntN(5) == 0 {
				p = nil
			}
			rec.call = &Call{Principal: p, Account: pick("123456789012", "210987654321", "", "a\"b"), Region: pick("us-east-1", "", "eu west")}
		case 5:
			rec.status, rec.code = 400, pick("ValidationException", "", "Bad Code")
		case 6:
			rec.status, rec.code = 500, "InternalFailure"
		case 7:
			rec.status, rec.code = 200, ""
		case 8:
			if rec.call != nil {
				rec.call.authFailure, rec.call.accessKey = pick("signature mismatch", "", "date"), pick("AKIAEXAMPLE", "")
			}
		}
		rec.id = pick("7b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "id with space", "")
		r := rec
		if rec.call != nil {
			c := *rec.call
			r.call = &c
		}
		reqs = append(reqs, req{rec: r, at: start.Add(time.Duration(i) * 3 * time.Millisecond), latency: time.Duration(rnd.IntN(5e6))})
	}
	hr := httptest.NewRequest("POST", "https://localhost/x?y", nil)
	hr.RemoteAddr = "10.0.0.1:5555"
	hr.Header.Set("User-Agent", "aws-sdk-go-v2/1.0 os/linux")
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug, slog.LevelWarn} {
		opts := &slog.HandlerOptions{Level: level}
		var got, want bytes.Buffer
		w := logbuf.New(&got, 0, 1<<20)
		fast := New()
		fast.Log = slog.New(logbuf.NewHandler(logbuf.NewTextHandler(w, opts), w, slog.LevelWarn))
		general := New()
		general.Log = slog.New(slog.NewTextHandler(&want, opts))
		for _, q := range reqs {
			fast.logRequest(context.Background(), hr, &q.rec, q.at, q.latency)
			general.logRequest(context.Background(), hr, &q.rec, q.at, q.latency)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			gl, wl := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					t.Fatalf("level %v, line %d:\n got %q\nwant %q", level, i, gl[i], wl[i])
				}
			}
			t.Fatalf("level %v: %d lines, want %d", level, len(gl), len(wl))
		}
		if level == slog.LevelInfo && strings.Count(want.String(), "\n") < 3000 {
			t.Fatalf("only %d lines", strings.Count(want.String(), "\n"))
		}
	}
}
