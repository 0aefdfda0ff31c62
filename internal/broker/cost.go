package broker

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"
	"time"
)

// CostLine is one row of the cost report.
type CostLine struct {
	// Name is the pool, user or workspace id.
	Name string `json:"name"`
	Pool string `json:"pool,omitempty"`
	// AvailableHours is the time spent AVAILABLE (for a user: on desktops
	// assigned to the user).
	AvailableHours float64 `json:"available_hours"`
	// ExistedHours is the time the desktop existed (for a user: held an
	// assignment) within the period.
	ExistedHours float64 `json:"existed_hours"`
	// Cost is what the broker's power management cost: MANUAL desktops pay
	// the hourly price for AVAILABLE hours plus the prorated monthly fee;
	// ALWAYS_ON desktops the prorated monthly price.
	Cost float64 `json:"cost"`
	// AlwaysOnCost is what ALWAYS_ON would have cost over the same time.
	AlwaysOnCost float64 `json:"always_on_cost"`
	// Saving is AlwaysOnCost - Cost.
	Saving float64 `json:"saving"`
}

// CostReport is the cost report over a period.
type CostReport struct {
	From     time.Time  `json:"from"`
	To       time.Time  `json:"to"`
	Prices   Prices     `json:"prices"`
	Total    CostLine   `json:"total"`
	Pools    []CostLine `json:"pools"`
	Users    []CostLine `json:"users"`
	Desktops []CostLine `json:"desktops"`
}

func overlap(a, b, from, to time.Time) time.Duration {
	if a.Before(from) {
		a = from
	}
	if b.After(to) {
		b = to
	}
	if !b.After(a) {
		return 0
	}
	return b.Sub(a)
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// Cost computes the report over [from, to) (zero from: the beginning; zero
// to: now) from the AVAILABLE intervals and assignments the broker observed.
func (b *Broker) Cost(ctx context.Context, from, to time.Time) (*CostReport, error) {
	now := b.clock.Now()
	if to.IsZero() || to.After(now) {
		to = now
	}
	usage, err := b.st.Usage(ctx)
	if err != nil {
		return nil, err
	}
	assigns, err := b.st.Assignments(ctx)
	if err != nil {
		return nil, err
	}
	desks, err := b.st.AllDesktops(ctx)
	if err != nil {
		return nil, err
	}
	pr := b.cfg.Prices
	hourlyFee := pr.HourlyMonthlyFee / pr.HoursPerMonth
	monthlyPerHour := pr.Monthly / pr.HoursPerMonth
	mode := func(pool string) string {
		if p := b.cfg.Pool(pool); p != nil {
			return p.RunningMode
		}
		return "MANUAL"
	}
	end := func(t time.Time) time.Time {
		if t.IsZero() {
			return to
		}
		return t
	}
	if from.IsZero() {
		from = to
		for _, d := range desks {
			if !d.CreatedAt.IsZero() && d.CreatedAt.Before(from) {
				from = d.CreatedAt
			}
		}
	}
	rep := &CostReport{From: from, To: to, Prices: pr}
	perDesk := map[string]*CostLine{}
	perPool := map[string]*CostLine{}
	perUser := map[string]*CostLine{}
	get := func(m map[string]*CostLine, name, pool string) *CostLine {
		if l := m[name]; l != nil {
			return l
		}
		l := &CostLine{Name: name, Pool: pool}
		m[name] = l
		return l
	}
	for _, d := range desks {
		l := get(perDesk, d.ID, d.Pool)
		l.ExistedHours = overlap(d.CreatedAt, end(d.GoneAt), from, to).Hours()
	}
	for _, iv := range usage {
		h := overlap(iv.Start, end(iv.End), from, to).Hours()
		get(perDesk, iv.WorkspaceID, iv.Pool).AvailableHours += h
		if iv.User != "" {
			get(perUser, iv.User, iv.Pool).AvailableHours += h
		}
	}
	for _, iv := range assigns {
		get(perUser, iv.User, iv.Pool).ExistedHours += overlap(iv.Start, end(iv.End), from, to).Hours()
	}
	price := func(l *CostLine) {
		l.AlwaysOnCost = l.ExistedHours * monthlyPerHour
		if mode(l.Pool) == "ALWAYS_ON" {
			l.Cost = l.AlwaysOnCost
		} else {
			l.Cost = l.AvailableHours*pr.Hourly + l.ExistedHours*hourlyFee
		}
		l.Saving = l.AlwaysOnCost - l.Cost
	}
	for _, l := range perDesk {
		price(l)
		pl := get(perPool, l.Pool, "")
		pl.AvailableHours += l.AvailableHours
		pl.ExistedHours += l.ExistedHours
		pl.Cost += l.Cost
		pl.AlwaysOnCost += l.AlwaysOnCost
		pl.Saving += l.Saving
	}
	for _, l := range perUser {
		price(l)
	}
	flat := func(m map[string]*CostLine) []CostLine {
		out := make([]CostLine, 0, len(m))
		for _, l := range m {
			c := *l
			c.AvailableHours, c.ExistedHours = round3(c.AvailableHours), round3(c.ExistedHours)
			c.Cost, c.AlwaysOnCost, c.Saving = round2(c.Cost), round2(c.AlwaysOnCost), round2(c.Saving)
			out = append(out, c)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out
	}
	rep.Desktops, rep.Users = flat(perDesk), flat(perUser)
	for _, l := range perPool {
		rep.Total.AvailableHours += l.AvailableHours
		rep.Total.ExistedHours += l.ExistedHours
		rep.Total.Cost += l.Cost
		rep.Total.AlwaysOnCost += l.AlwaysOnCost
		rep.Total.Saving += l.Saving
	}
	rep.Pools = flat(perPool)
	rep.Total.Name = "total"
	t := flat(map[string]*CostLine{"total": &rep.Total})
	rep.Total = t[0]
	return rep, nil
}

// Print writes the report as tables.
func (r *CostReport) Print(w io.Writer) {
	fmt.Fprintf(w, "cost report %s .. %s (hourly %.2f/h, hourly monthly fee %.2f, ALWAYS_ON %.2f/month, %g h/month)\n",
		r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Prices.Hourly, r.Prices.HourlyMonthlyFee, r.Prices.Monthly, r.Prices.HoursPerMonth)
	section := func(title string, ls []CostLine) {
		fmt.Fprintf(w, "\n%s\n", title)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "name\tpool\tavailable h\texisted h\tcost\tALWAYS_ON\tsaving\t")
		for _, l := range ls {
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", l.Name, l.Pool, l.AvailableHours, l.ExistedHours, l.Cost, l.AlwaysOnCost, l.Saving)
		}
		tw.Flush()
	}
	section("pools", append(r.Pools, r.Total))
	section("users", r.Users)
	section("desktops", r.Desktops)
}
