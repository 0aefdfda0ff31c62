package httpguard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
)

// Hosts is the set of names a server answers to in the Host header. A web
// page cannot make a browser send a request with a Host it does not name,
// so refusing names the server was not told about defeats DNS rebinding (a
// page whose own name is made to resolve to the server's address, to drive
// it with the public default credentials).
//
// Always allowed: IP addresses (a rebinding page has a name, never an
// address), localhost and *.localhost (browsers resolve them to loopback
// themselves), the name the server is bound to, the machine's host name,
// and the configured names. A configured entry "*" allows any name; an
// entry ".example.com" allows example.com and every name under it.
type Hosts struct {
	exact    map[string]bool
	suffixes []string
	any      bool
	// last is the last Host header found allowed, as it came: a client
	// sends the same one request after request, and the answer for a name
	// never changes (the names are fixed when the set is made).
	last atomic.Pointer[string]
}

// NewHosts returns the names allowed for a server listening on listen
// (host:port) with the configured allowed names.
func NewHosts(listen string, allowed []string) *Hosts {
	h := &Hosts{exact: map[string]bool{}}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		h.exact[normalize(host)] = true
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		h.exact[normalize(name)] = true
	}
	for _, a := range allowed {
		a = normalize(a)
		switch {
		case a == "*":
			h.any = true
		case strings.HasPrefix(a, "."):
			h.exact[a[1:]] = true
			h.suffixes = append(h.suffixes, a)
		case a != "":
			h.exact[a] = true
		}
	}
	return h
}

// normalize lowercases a host name and drops a trailing dot and brackets.
func normalize(host string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	host = strings.TrimPrefix(strings.TrimSuffix(host, "]"), "[")
	return strings.TrimSuffix(host, ".")
}

// isIP reports whether host is an IP address as net.ParseIP reads one (no
// zone), without allocating it: every request's Host is checked.
func isIP(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == ""
}

// Allowed reports whether a request's Host header (host or host:port) is
// one the server answers to.
func (h *Hosts) Allowed(hostport string) bool {
	if hostport == "" || h.any {
		return true // HTTP/1.0 without Host: not a browser
	}
	if last := h.last.Load(); last != nil && *last == hostport {
		return true
	}
	if !h.allowed(hostport) {
		return false
	}
	last := hostport // (a copy: the parameter's address would move it to the heap on every call)
	h.last.Store(&last)
	return true
}

// allowed is Allowed without the last answer.
func (h *Hosts) allowed(hostport string) bool {
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
	}
	host = normalize(host)
	if isIP(host) || host == "localhost" || strings.HasSuffix(host, ".localhost") || h.exact[host] {
		return true
	}
	for _, s := range h.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// OriginAllowed reports whether a request that carries an Origin header
// (browsers send one on every cross-origin request, and AWS clients never
// do) comes from a page the server may be driven by: a page of the server
// itself (the same host and port as the request's Host), or one on a
// loopback address, a localhost name, the bound name or a configured name.
// Unlike Allowed, an arbitrary IP address is not enough: a page served from
// an attacker's address could otherwise send simple cross-origin requests
// (a form POST with a presigned query) signed with the public default keys.
// An empty Origin is allowed; "null" (sandboxed frames, files) is not.
func (h *Hosts) OriginAllowed(origin, requestHost string) bool {
	if origin == "" || h.any {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, requestHost) {
		return true
	}
	host := normalize(u.Hostname())
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || h.exact[host]
	}
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || h.Allowed(host)
}

// Wrap answers 421 Misdirected Request, with a message naming the fix, to
// requests for a Host that is not allowed, and 403 to requests from a web
// page (an Origin header) that OriginAllowed refuses.
func (h *Hosts) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.Allowed(r.Host) {
			Reject(w)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusMisdirectedRequest)
			fmt.Fprintf(w, "deskplane: the host name %q is not allowed (protection against DNS rebinding); "+
				"add it to allowed_hosts in the configuration, or use an IP address or localhost\n", r.Host)
			return
		}
		if origin := r.Header.Get("Origin"); !h.OriginAllowed(origin, r.Host) {
			Reject(w)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "deskplane: requests from the web page at %q are not allowed (protection against "+
				"cross-site requests); add its host name to allowed_hosts in the configuration\n", origin)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Loopback reports whether a listen address (host:port) accepts only
// connections from this machine.
func Loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if normalize(host) == "localhost" {
		return true
	}
	ip := net.ParseIP(normalize(host))
	return ip != nil && ip.IsLoopback()
}
