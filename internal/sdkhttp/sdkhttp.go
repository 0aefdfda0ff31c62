// Package sdkhttp works around a race between aws-sdk-go-v2 (smithy-go) and
// net/http's client that loses the body of a response larger than one read
// ("use of closed network connection" on an HTTP 200).
//
// smithy-go hands net/http a request body that it closes as soon as
// Client.Do returns, that is once the response headers have arrived. A
// server that answers as soon as it has read the request (deskplane does)
// can send those headers while the transport's writer goroutine has still
// to make its last check of the body: after copying ContentLength bytes,
// net/http copies the rest of the body to io.Discard to count extra bytes.
// That copy goes through the body's WriteTo, and smithy-go's closed body
// answers WriteTo with io.EOF, which io.Copy passes on as an error (Read
// would have ended the copy cleanly). The transport takes it for a failed
// request write and closes the connection under the response: whatever of
// the body was not yet read is lost, so only responses longer than the
// first read (about 4 KiB) fail.
//
// Client hides WriteTo from the transport: the body it sends is read only
// through Read, which ends with io.EOF once smithy-go has closed it.
package sdkhttp

import (
	"io"
	"net/http"
)

// Doer is what the AWS SDK calls to send a request (aws.HTTPClient).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client returns c sending every request body through Read only.
func Client(c Doer) Doer { return client{c} }

type client struct{ next Doer }

// Do sends r with its body wrapped (on a shallow copy of the request).
func (c client) Do(r *http.Request) (*http.Response, error) {
	return c.next.Do(Shield(r))
}

// Shield returns r, or a shallow copy of it whose body exposes only Read
// and Close.
func Shield(r *http.Request) *http.Request {
	if r.Body == nil || r.Body == http.NoBody {
		return r
	}
	if _, ok := r.Body.(io.WriterTo); !ok {
		return r
	}
	r2 := *r
	r2.Body = readCloser{r.Body}
	return &r2
}

// readCloser is an io.ReadCloser with nothing else of the body it wraps.
type readCloser struct{ rc io.ReadCloser }

func (b readCloser) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b readCloser) Close() error               { return b.rc.Close() }
