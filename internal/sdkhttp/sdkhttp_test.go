package sdkhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// builtBody returns the request body smithy-go hands net/http for a JSON
// request, as the SDK builds it.
func builtBody(t *testing.T) *http.Request {
	t.Helper()
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	req.Method = http.MethodPost
	var err error
	if req, err = req.SetStream(bytes.NewReader([]byte(`{"KeyId":"k"}`))); err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 13
	return req.Build(context.Background())
}

// TestClosedBodyEndsCopyCleanly replays what net/http's request writer does
// after the body's ContentLength bytes are sent — copy the rest to
// io.Discard — once smithy-go has closed the body because the response
// arrived: through the SDK's body the copy fails with io.EOF (the transport
// then closes the connection under the response); through Shield it ends
// cleanly.
func TestClosedBodyEndsCopyCleanly(t *testing.T) {
	raw := builtBody(t)
	if _, ok := raw.Body.(io.WriterTo); !ok {
		t.Skip("smithy-go's request body no longer implements io.WriterTo: the race this package works around is gone")
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(raw.Body, 13)); err != nil {
		t.Fatal(err)
	}
	raw.Body.Close()
	if _, err := io.Copy(io.Discard, raw.Body); err != io.EOF {
		t.Fatalf("copy of the SDK's closed body: %v, want io.EOF (the race this package works around)", err)
	}

	shielded := Shield(builtBody(t))
	if _, ok := shielded.Body.(io.WriterTo); ok {
		t.Fatal("the shielded body still implements io.WriterTo")
	}
	n, err := io.Copy(io.Discard, io.LimitReader(shielded.Body, 13))
	if err != nil || n != 13 {
		t.Fatalf("copy of the shielded body: %d %v", n, err)
	}
	shielded.Body.Close()
	if n, err := io.Copy(io.Discard, shielded.Body); err != nil || n != 0 {
		t.Fatalf("copy of the closed shielded body: %d %v, want 0 <nil>", n, err)
	}
}

type recorder struct{ got *http.Request }

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.got = req
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

// TestClientShieldsWithoutChangingTheRequest: Client passes a copy with the
// body wrapped and leaves the caller's request as it was.
func TestClientShieldsWithoutChangingTheRequest(t *testing.T) {
	req := builtBody(t)
	body := req.Body
	rec := &recorder{}
	if _, err := Client(rec).Do(req); err != nil {
		t.Fatal(err)
	}
	if req.Body != body {
		t.Fatal("the caller's request was changed")
	}
	if _, ok := rec.got.Body.(io.WriterTo); ok || rec.got == req {
		t.Fatalf("the request sent was not shielded: %T", rec.got.Body)
	}
	empty, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	if Shield(empty) != empty {
		t.Fatal("a request without a body was copied")
	}
}
