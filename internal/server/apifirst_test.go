package server

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/gateway"
)

// TestAPIFirstAsTheMux holds apiFirst to the mux: every request it hands
// straight to the gateway is one the mux would hand to the gateway (its
// pattern "/", no redirect), and the API's requests (POST / with
// X-Amz-Target, a query-protocol call) take the shortcut.
func TestAPIFirstAsTheMux(t *testing.T) {
	s := &Server{Metrics: NewMetrics(), Gateway: gateway.New()}
	mux := s.routes()
	raw := []string{
		"POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: WorkspacesService.DescribeWorkspaces\r\n\r\n",
		"POST /?Action=GetCallerIdentity HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: h\r\n\r\n",
		"DELETE / HTTP/1.1\r\nHost: h\r\n\r\n",
		"OPTIONS / HTTP/1.1\r\nHost: h\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
		"GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST //x HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /./ HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /%2F HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /%2e/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /x/.. HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /_deskplane/health HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /_deskplane/clock HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /Users/ListUsers HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /service/WorkspacesService/operation/DescribeWorkspaces HTTP/1.1\r\nHost: h\r\n\r\n",
	}
	shortcuts := 0
	for _, q := range raw {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(q)))
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if !apiPath(r) {
			continue
		}
		shortcuts++
		h, pattern := mux.Handler(r)
		if pattern != "/" || h != http.Handler(s.Gateway) {
			t.Errorf("%q: taken to the gateway, but the mux picks %q (%T)", strings.SplitN(q, "\r\n", 2)[0], pattern, h)
		}
	}
	if shortcuts < 2 {
		t.Fatalf("%d requests took the shortcut", shortcuts)
	}
	// The API's calls take it.
	for _, q := range raw[:2] {
		r, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(q)))
		if !apiPath(r) {
			t.Errorf("%q: not taken to the gateway directly", strings.SplitN(q, "\r\n", 2)[0])
		}
	}
	// And the handler serves what the mux serves for anything else.
	w := httptest.NewRecorder()
	apiFirst{mux: mux, api: s.Gateway}.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/_deskplane/nothing", nil))
	if w.Code != http.StatusNotFound {
		t.Fatalf("/_deskplane/nothing: %d", w.Code)
	}
}
