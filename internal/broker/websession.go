package broker

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// webSession is a signed-in browser: an operator of the console or a user
// of the portal. The cookie carries only its random id.
type webSession struct {
	id      string
	csrf    string
	tenant  string
	admin   bool
	user    string
	expires time.Time
}

// webSessions keeps browser sessions in memory (a restart signs everyone
// out) with cookies that are HttpOnly, SameSite=Strict and Secure over TLS,
// a CSRF token per session checked on every POST, and a sign-in rate limit
// per client address. Cookie lifetimes are wall-clock (a browser's), not
// domain time.
type webSessions struct {
	cookie string
	path   string
	ttl    time.Duration

	mu       sync.Mutex
	sessions map[string]*webSession
	limits   map[string]*rate.Limiter
}

func newWebSessions(cookie, path string) *webSessions {
	return &webSessions{cookie: cookie, path: path, ttl: 8 * time.Hour,
		sessions: map[string]*webSession{}, limits: map[string]*rate.Limiter{}}
}

func randToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// allowSignIn applies the sign-in rate limit: 5 attempts in a burst, then
// one every 2 seconds, per client IP and account (the user name typed, or
// "" for the console's token).
func (ws *webSessions) allowSignIn(r *http.Request, account string) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	host += "\x00" + strings.ToLower(account)
	ws.mu.Lock()
	defer ws.mu.Unlock()
	l := ws.limits[host]
	if l == nil {
		if len(ws.limits) > 10000 {
			ws.limits = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Every(2*time.Second), 5)
		ws.limits[host] = l
	}
	return l.Allow()
}

func (ws *webSessions) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: ws.path, MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// preCSRF returns the sign-in form's CSRF token (a double-submit cookie:
// there is no session yet).
func (ws *webSessions) preCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(ws.cookie + "_pre"); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	t := randToken()
	ws.setCookie(w, r, ws.cookie+"_pre", t, 3600)
	return t
}

// checkPreCSRF checks the sign-in form's token against its cookie.
func (ws *webSessions) checkPreCSRF(r *http.Request) bool {
	c, err := r.Cookie(ws.cookie + "_pre")
	f := r.PostFormValue("csrf")
	return err == nil && f != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(f)) == 1
}

func (ws *webSessions) create(w http.ResponseWriter, r *http.Request, s webSession) *webSession {
	s.id, s.csrf, s.expires = randToken(), randToken(), time.Now().Add(ws.ttl)
	ws.mu.Lock()
	now := time.Now()
	for k, v := range ws.sessions {
		if now.After(v.expires) {
			delete(ws.sessions, k)
		}
	}
	ws.sessions[s.id] = &s
	ws.mu.Unlock()
	ws.setCookie(w, r, ws.cookie, s.id, int(ws.ttl/time.Second))
	return &s
}

// get returns the request's session, or nil.
func (ws *webSessions) get(r *http.Request) *webSession {
	c, err := r.Cookie(ws.cookie)
	if err != nil {
		return nil
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	s := ws.sessions[c.Value]
	if s == nil || time.Now().After(s.expires) {
		return nil
	}
	return s
}

// checkCSRF checks a POST's form token against the session's.
func (ws *webSessions) checkCSRF(r *http.Request, s *webSession) bool {
	f := r.PostFormValue("csrf")
	return f != "" && subtle.ConstantTimeCompare([]byte(f), []byte(s.csrf)) == 1
}

func (ws *webSessions) destroy(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(ws.cookie); err == nil {
		ws.mu.Lock()
		delete(ws.sessions, c.Value)
		ws.mu.Unlock()
	}
	ws.setCookie(w, r, ws.cookie, "", -1)
}

func subtleEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
