package broker

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"sort"
	"time"
)

//go:embed web
var webFS embed.FS

var webTemplates = template.Must(template.ParseFS(webFS, "web/*.html"))

// stateColors colour the pool chart's WorkSpaces states.
var stateColors = map[string]string{
	"AVAILABLE": "#2a9d8f", "STOPPED": "#8d99ae", "PENDING": "#e9c46a", "STARTING": "#f4a261",
	"STOPPING": "#b5838d", "REBOOTING": "#f4a261", "REBUILDING": "#e76f51", "ERROR": "#d62828",
	"UNHEALTHY": "#9d0208", "TERMINATING": "#6c757d",
}

type chartRect struct {
	X, Y, W, H   int
	Color, Label string
}

type chartText struct {
	X, Y      int
	S, Anchor string
}

type chart struct {
	W, H  int
	Bars  []chartRect
	Texts []chartText
}

type legendItem struct{ Color, S string }

// poolChart draws one horizontal stacked bar per pool: its desktops by
// state.
func poolChart(names []string, reps map[string]PoolReport) (chart, []legendItem) {
	const left, unit, row = 90, 40, 34
	maxN := 1
	for _, n := range names {
		maxN = max(maxN, reps[n].Desktops)
	}
	c := chart{W: left + maxN*unit + 60, H: len(names)*row + 20}
	seen := map[string]bool{}
	for i, n := range names {
		r := reps[n]
		y := 10 + i*row
		c.Texts = append(c.Texts, chartText{X: left - 8, Y: y + 18, S: n, Anchor: "end"})
		states := make([]string, 0, len(r.States))
		for s := range r.States {
			states = append(states, s)
		}
		sort.Strings(states)
		x := left
		for _, s := range states {
			k := r.States[s]
			col := stateColors[s]
			if col == "" {
				col = "#adb5bd"
			}
			seen[s] = true
			c.Bars = append(c.Bars, chartRect{X: x, Y: y, W: k * unit, H: 24, Color: col, Label: fmt.Sprintf("%s: %d %s", n, k, s)})
			x += k * unit
		}
		c.Texts = append(c.Texts, chartText{X: x + 6, Y: y + 18, S: fmt.Sprint(r.Desktops), Anchor: "start"})
	}
	var leg []legendItem
	for s := range seen {
		col := stateColors[s]
		if col == "" {
			col = "#adb5bd"
		}
		leg = append(leg, legendItem{col, s})
	}
	slices.SortFunc(leg, func(a, b legendItem) int { return cmpStr(a.S, b.S) })
	return c, leg
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// costChart draws AVAILABLE hours per day beside the hours ALWAYS_ON
// desktops would have run.
func costChart(days []DayHours) (chart, []legendItem) {
	const left, bottom, plot, group = 50, 30, 200, 44
	top := 1.0
	for _, d := range days {
		top = max(top, d.AlwaysOnHours, d.AvailableHours)
	}
	c := chart{W: left + len(days)*group + 20, H: plot + bottom + 20}
	base := 10 + plot
	c.Texts = append(c.Texts, chartText{X: left - 6, Y: base, S: "0", Anchor: "end"},
		chartText{X: left - 6, Y: 20, S: fmt.Sprintf("%.0fh", top), Anchor: "end"})
	for i, d := range days {
		x := left + i*group
		ha := int(float64(plot) * d.AvailableHours / top)
		hb := int(float64(plot) * d.AlwaysOnHours / top)
		c.Bars = append(c.Bars,
			chartRect{X: x, Y: base - hb, W: 18, H: hb, Color: "#ced4da", Label: fmt.Sprintf("%s ALWAYS_ON: %.1f h", d.Day, d.AlwaysOnHours)},
			chartRect{X: x + 19, Y: base - ha, W: 18, H: ha, Color: "#2a9d8f", Label: fmt.Sprintf("%s AVAILABLE: %.1f h", d.Day, d.AvailableHours)})
		c.Texts = append(c.Texts, chartText{X: x + 18, Y: base + 16, S: d.Day[5:], Anchor: "middle"})
	}
	return c, []legendItem{{"#2a9d8f", "AVAILABLE hours (power-managed)"}, {"#ced4da", "hours ALWAYS_ON would run"}}
}

// consoleData is every console page's data.
type consoleData struct {
	Title, Tenant, CSRF, Error string
	Signed                     bool
	Tenants                    []string
	Chart                      chart
	Legend                     []legendItem
	Pools                      []consolePool
	Desktops                   []DesktopInfo
	Actions                    []string
	Sessions                   []consoleSession
	Gateways                   []GatewayView
	Cost                       *CostReport
	Regions                    FailoverStatus
	Events                     []EventRecord
	Onboarding                 []OnboardStep
}

type consolePool struct {
	Name, Mode     string
	Min, Max, Warm int
	R              PoolReport
}

type consoleSession struct {
	S     *Session
	Conns []ConnView
}

// console is the operators' web console at /console/ on a Fleet's server.
type console struct {
	f  *Fleet
	ws *webSessions
}

// pageCSP is the console's and portal's Content-Security-Policy.
const pageCSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"

func render(w http.ResponseWriter, name string, code int, d any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if w.Header().Get("Content-Security-Policy") == "" { // a page may widen connect-src (portal.go)
		w.Header().Set("Content-Security-Policy", pageCSP)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := webTemplates.ExecuteTemplate(w, name, d); err != nil {
		fmt.Fprintf(w, "<p>template error: %s</p>", template.HTMLEscapeString(err.Error()))
	}
}

// tokenIdentity is tokenTenant for a token typed into the sign-in form.
func (f *Fleet) tokenIdentity(tok string) (tenant string, admin bool) {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return f.tokenTenant(r)
}

func (c *console) routes(mux *http.ServeMux) {
	static, _ := fs.Sub(webFS, "web")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/login", func(w http.ResponseWriter, r *http.Request) {
		render(w, "login", http.StatusOK, consoleData{Title: "Sign in", CSRF: c.ws.preCSRF(w, r)})
	})
	mux.HandleFunc("POST /console/login", func(w http.ResponseWriter, r *http.Request) {
		fail := func(code int, msg string) {
			render(w, "login", code, consoleData{Title: "Sign in", CSRF: c.ws.preCSRF(w, r), Error: msg})
		}
		if !c.ws.allowSignIn(r, r.PostFormValue("user")) {
			w.Header().Set("Retry-After", "2")
			fail(http.StatusTooManyRequests, "Too many sign-in attempts; wait a moment.")
			return
		}
		if !c.ws.checkPreCSRF(r) {
			fail(http.StatusForbidden, "The form expired; sign in again.")
			return
		}
		if user := r.PostFormValue("user"); user != "" {
			// A member of a tenant's directory admin group, by password.
			tenant, err := c.f.adminSignIn(r.Context(), user, r.PostFormValue("password"))
			switch {
			case errors.Is(err, errNotAdmin):
				fail(http.StatusForbidden, user+" is not a member of the console's admin group.")
				return
			case err != nil:
				fail(http.StatusUnauthorized, "Wrong user name or password.")
				return
			}
			c.ws.create(w, r, webSession{tenant: tenant, user: user})
			http.Redirect(w, r, "/console/?tenant="+tenant, http.StatusSeeOther)
			return
		}
		tenant, admin := c.f.tokenIdentity(r.PostFormValue("token"))
		if !admin && tenant == "" {
			fail(http.StatusUnauthorized, "That token is not an api token of this broker.")
			return
		}
		c.ws.create(w, r, webSession{tenant: tenant, admin: admin})
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /console/logout", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		c.ws.destroy(w, r)
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
	}))
	mux.HandleFunc("GET /console/{$}", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		d.Title = "Pools"
		reps, err := b.PoolStatus(r.Context())
		if err != nil {
			d.Error = err.Error()
		}
		var names []string
		for _, p := range b.cfg.Pools {
			names = append(names, p.Name)
			d.Pools = append(d.Pools, consolePool{Name: p.Name, Mode: p.RunningMode, Min: p.Min, Max: p.Max, Warm: p.Warm, R: reps[p.Name]})
		}
		d.Chart, d.Legend = poolChart(names, reps)
		render(w, "pools", http.StatusOK, d)
	}))
	mux.HandleFunc("GET /console/desktops", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		d.Title, d.Actions = "Desktops", DesktopActions
		var err error
		if d.Desktops, err = b.Desktops(r.Context()); err != nil {
			d.Error = err.Error()
		}
		if e := r.URL.Query().Get("error"); e != "" && d.Error == "" {
			d.Error = e
		}
		render(w, "desktops", http.StatusOK, d)
	}))
	mux.HandleFunc("POST /console/desktops/{id}/{action}", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		to := "/console/desktops?tenant=" + d.Tenant
		if _, err := b.DesktopAction(r.Context(), r.PathValue("id"), r.PathValue("action"), "console"); err != nil {
			to += "&error=" + template.URLQueryEscaper(err.Error())
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	}))
	mux.HandleFunc("GET /console/sessions", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		d.Title = "Sessions"
		ss, err := b.Sessions(r.Context())
		if err != nil {
			d.Error = err.Error()
		}
		conns := b.hub.ConnectionsOf(r.Context(), b)
		for _, x := range ss {
			cs := consoleSession{S: x}
			for _, cn := range conns {
				if cn.SessionID == x.ID {
					cs.Conns = append(cs.Conns, cn)
				}
			}
			d.Sessions = append(d.Sessions, cs)
		}
		render(w, "sessions", http.StatusOK, d)
	}))
	mux.HandleFunc("GET /console/gateways", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		d.Title, d.Gateways = "Gateways", b.hub.Gateways(r.Context())
		render(w, "gateways", http.StatusOK, d)
	}))
	mux.HandleFunc("GET /console/cost", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		d.Title = "Cost"
		now := b.clock.Now()
		from := now.Add(-13 * 24 * time.Hour).Truncate(24 * time.Hour)
		days, err1 := b.DailyHours(r.Context(), from, now)
		rep, err2 := b.Cost(r.Context(), from, now)
		if err := errors.Join(err1, err2); err != nil {
			d.Error = err.Error()
		}
		d.Chart, d.Legend = costChart(days)
		if rep == nil {
			rep = &CostReport{}
		}
		d.Cost = rep
		render(w, "cost", http.StatusOK, d)
	}))
	mux.HandleFunc("GET /console/regions", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		d.Title, d.Regions = "Regions and failover", b.Failover()
		render(w, "regions", http.StatusOK, d)
	}))
	mux.HandleFunc("GET /console/onboarding", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		d.Title = "Onboarding"
		var err error
		if d.Onboarding, err = b.OnboardingStatus(r.Context()); err != nil {
			d.Error = err.Error()
		}
		render(w, "onboarding", http.StatusOK, d)
	}))
	mux.HandleFunc("GET /console/events", c.page(func(w http.ResponseWriter, r *http.Request, s *webSession, b *Broker, d consoleData) {
		d.Title = "Event log"
		var err error
		if d.Events, err = b.Events(r.Context(), 200); err != nil {
			d.Error = err.Error()
		}
		render(w, "events", http.StatusOK, d)
	}))
}

// page wraps a console page: a signed-in operator (else the sign-in page),
// the CSRF token on POST, and the tenant the operator may see.
func (c *console) page(h func(http.ResponseWriter, *http.Request, *webSession, *Broker, consoleData)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.ws.get(r)
		if s == nil {
			if r.Method == http.MethodPost {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !c.ws.checkCSRF(r, s) {
			http.Error(w, "missing or wrong CSRF token", http.StatusForbidden)
			return
		}
		tenants := []string{s.tenant}
		if s.admin {
			tenants = c.f.names
		}
		tenant := r.URL.Query().Get("tenant")
		if tenant == "" {
			tenant = tenants[0]
		}
		if !slices.Contains(tenants, tenant) {
			http.Error(w, "no such tenant", http.StatusNotFound)
			return
		}
		h(w, r, s, c.f.brokers[tenant], consoleData{Tenant: tenant, CSRF: s.csrf, Signed: true, Tenants: tenants})
	}
}
