package cloudwatch

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/deskplane/deskplane/internal/workspaces"
)

// metricDef is one AWS/WorkSpaces metric.
type metricDef struct {
	unit   string
	states []string // state metrics: the states that count as 1
	event  string   // event metrics: the session events that are samples
	gauge  bool     // UserConnected: 1 while a session is open
}

// metrics are the AWS/WorkSpaces metrics deskplane publishes.
var metrics = map[string]metricDef{
	"Available":         {unit: "Count", states: []string{"AVAILABLE"}},
	"Unhealthy":         {unit: "Count", states: []string{"UNHEALTHY"}},
	"Stopped":           {unit: "Count", states: []string{"STOPPED"}},
	"Maintenance":       {unit: "Count", states: []string{"MAINTENANCE", "ADMIN_MAINTENANCE"}},
	"UserConnected":     {unit: "Count", gauge: true},
	"ConnectionAttempt": {unit: "Count", event: "attempt"},
	"ConnectionSuccess": {unit: "Count", event: SessionConnected},
	"ConnectionFailure": {unit: "Count", event: SessionFailed},
	"SessionLaunchTime": {unit: "Seconds", event: "launch"},
}

// metricNames lists the metrics in a stable order.
var metricNames = func() []string {
	var out []string
	for n := range metrics {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}()

// The dimensions a WorkSpaces metric has: one of these, alone.
const (
	dimWorkspace = "WorkspaceId"
	dimDirectory = "DirectoryId"
)

type sample struct {
	t time.Time
	v float64
}

// source is the data of one account and region, read once per request.
type source struct {
	now       time.Time
	desktops  []workspaces.Timeline
	sessions  map[string][]SessionEvent
	directory map[string]string // workspace id → directory id
}

func (m *Module) load(ctx context.Context, account, region string) (*source, error) {
	ds, err := m.desktops.Timelines(ctx, account, region)
	if err != nil {
		return nil, err
	}
	ss, err := m.sessions(ctx, account, region)
	if err != nil {
		return nil, err
	}
	src := &source{now: m.clock.Now().UTC(), desktops: ds, sessions: ss, directory: map[string]string{}}
	for _, d := range ds {
		src.directory[d.WorkspaceID] = d.DirectoryID
	}
	return src, nil
}

// alive reports the minutes a desktop publishes state samples: from its
// creation until it is terminated (or now).
func (s *source) lifespan(d workspaces.Timeline) (from, to time.Time) {
	from, to = d.Created, s.now
	for _, tr := range d.Transitions {
		if tr.State == "TERMINATED" {
			to = tr.Time
		}
	}
	return from, to
}

// stateAt is the desktop's state at t ("" when its kept history does not
// reach back to t).
func stateAt(d workspaces.Timeline, t time.Time) string {
	st := ""
	for _, tr := range d.Transitions {
		if tr.Time.After(t) {
			break
		}
		st = tr.State
	}
	return st
}

// connectedAt reports whether a session is open at t.
func connectedAt(evs []SessionEvent, t time.Time) bool {
	open := false
	for _, e := range evs {
		if e.Time.After(t) {
			break
		}
		switch e.Kind {
		case SessionConnected:
			open = true
		case SessionDisconnected:
			open = false
		}
	}
	return open
}

// minutes calls f for every whole minute in [from, to) ∩ [lo, hi).
func minutes(from, to, lo, hi time.Time, f func(time.Time)) {
	start := from
	if lo.After(start) {
		start = lo
	}
	t := start.Truncate(time.Minute)
	if t.Before(start) {
		t = t.Add(time.Minute)
	}
	for ; t.Before(to) && t.Before(hi); t = t.Add(time.Minute) {
		f(t)
	}
}

// samples returns a metric's raw samples in [from, to) for a dimension
// (WorkspaceId or DirectoryId and its value): per desktop one sample per
// minute (state and UserConnected metrics) or per event; per directory the
// per-minute sum over its desktops, or its desktops' events.
func (s *source) samples(name string, def metricDef, dim, value string, from, to time.Time) []sample {
	match := func(d workspaces.Timeline) bool {
		if dim == dimWorkspace {
			return d.WorkspaceID == value
		}
		return d.DirectoryID == value
	}
	if def.event != "" {
		var out []sample
		for id, evs := range s.sessions {
			dir := s.directory[id]
			if dir == "" && len(evs) > 0 {
				dir = evs[0].DirectoryID
			}
			if dim == dimWorkspace && id != value || dim == dimDirectory && dir != value {
				continue
			}
			for _, e := range evs {
				if e.Time.Before(from) || !e.Time.Before(to) {
					continue
				}
				switch {
				case def.event == "attempt" && (e.Kind == SessionConnected || e.Kind == SessionFailed),
					def.event == e.Kind:
					out = append(out, sample{e.Time, 1})
				case def.event == "launch" && e.Kind == SessionConnected:
					out = append(out, sample{e.Time, e.LaunchTime.Seconds()})
				}
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].t.Before(out[j].t) })
		return out
	}
	sum := map[time.Time]float64{}
	for _, d := range s.desktops {
		if !match(d) {
			continue
		}
		lo, hi := s.lifespan(d)
		minutes(from, to, lo, hi, func(t time.Time) {
			st := stateAt(d, t)
			if st == "" || st == "TERMINATED" {
				return
			}
			v := 0.0
			if def.gauge {
				if connectedAt(s.sessions[d.WorkspaceID], t) {
					v = 1
				}
			} else if slices.Contains(def.states, st) {
				v = 1
			}
			sum[t] += v
		})
	}
	out := make([]sample, 0, len(sum))
	for t, v := range sum {
		out = append(out, sample{t, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].t.Before(out[j].t) })
	return out
}

// bucket is the samples of one period.
type bucket struct {
	start time.Time
	vals  []float64
}

// buckets groups samples by period from start (rounded down to a minute,
// or to the period when it is shorter).
func buckets(ss []sample, start time.Time, period time.Duration) []bucket {
	var out []bucket
	for _, s := range ss {
		k := s.t.Sub(start) / period
		bs := start.Add(k * period)
		if n := len(out); n > 0 && out[n-1].start.Equal(bs) {
			out[n-1].vals = append(out[n-1].vals, s.v)
			continue
		}
		out = append(out, bucket{start: bs, vals: []float64{s.v}})
	}
	return out
}

// stat computes one statistic of a bucket: SampleCount, Average, Sum,
// Minimum, Maximum or a percentile pNN(.NN).
func stat(vals []float64, name string) (float64, bool) {
	if len(vals) == 0 {
		return 0, false
	}
	switch name {
	case "SampleCount":
		return float64(len(vals)), true
	case "Sum", "Average":
		s := 0.0
		for _, v := range vals {
			s += v
		}
		if name == "Average" {
			s /= float64(len(vals))
		}
		return s, true
	case "Minimum":
		return slices.Min(vals), true
	case "Maximum":
		return slices.Max(vals), true
	}
	p, ok := percentile(name)
	if !ok {
		return 0, false
	}
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	// Nearest rank.
	r := int(math.Ceil(p / 100 * float64(len(sorted))))
	if r < 1 {
		r = 1
	}
	return sorted[r-1], true
}
