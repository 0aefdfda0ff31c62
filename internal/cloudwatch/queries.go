package cloudwatch

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
)

// Dimension is a metric dimension.
type Dimension struct {
	Name  *string `json:"Name" v:"required,min=1,max=255"`
	Value *string `json:"Value" v:"required,min=1,max=1024"`
}

// DimensionFilter narrows ListMetrics.
type DimensionFilter struct {
	Name  *string `json:"Name" v:"required,min=1,max=255"`
	Value *string `json:"Value,omitempty" v:"min=1,max=1024"`
}

// Metric names a metric.
type Metric struct {
	Namespace  *string     `json:"Namespace,omitempty" v:"min=1,max=255,pattern=[^:].*"`
	MetricName *string     `json:"MetricName,omitempty" v:"min=1,max=255"`
	Dimensions []Dimension `json:"Dimensions,omitempty" v:"max=30"`
}

// GetMetricStatisticsInput is the GetMetricStatistics request.
type GetMetricStatisticsInput struct {
	Namespace          *string        `json:"Namespace" v:"required,min=1,max=255,pattern=[^:].*"`
	MetricName         *string        `json:"MetricName" v:"required,min=1,max=255"`
	Dimensions         []Dimension    `json:"Dimensions,omitempty" v:"max=30"`
	StartTime          *awsproto.Time `json:"StartTime" v:"required"`
	EndTime            *awsproto.Time `json:"EndTime" v:"required"`
	Period             *int64         `json:"Period" v:"required,min=1"`
	Statistics         []string       `json:"Statistics,omitempty" v:"min=1,max=5,enum=SampleCount|Average|Sum|Minimum|Maximum"`
	ExtendedStatistics []string       `json:"ExtendedStatistics,omitempty" v:"min=1,max=10"`
	Unit               *string        `json:"Unit,omitempty" v:"enum=Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|Kilobits|Megabits|Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|Megabytes/Second|Gigabytes/Second|Terabytes/Second|Bits/Second|Kilobits/Second|Megabits/Second|Gigabits/Second|Terabits/Second|Count/Second|None"`
}

// Datapoint is one period's statistics.
type Datapoint struct {
	Timestamp          *awsproto.Time     `json:"Timestamp,omitempty"`
	SampleCount        *float64           `json:"SampleCount,omitempty"`
	Average            *float64           `json:"Average,omitempty"`
	Sum                *float64           `json:"Sum,omitempty"`
	Minimum            *float64           `json:"Minimum,omitempty"`
	Maximum            *float64           `json:"Maximum,omitempty"`
	Unit               *string            `json:"Unit,omitempty"`
	ExtendedStatistics map[string]float64 `json:"ExtendedStatistics,omitempty"`
}

// GetMetricStatisticsOutput is the GetMetricStatistics response.
type GetMetricStatisticsOutput struct {
	Label      *string     `json:"Label,omitempty"`
	Datapoints []Datapoint `json:"Datapoints"`
}

func invalid(format string, args ...any) error {
	return awsproto.Errorf("InvalidParameterValueException", format, args...)
}

var percentileRe = regexp.MustCompile(`^p(\d{1,3}(\.\d{1,10})?)$`)

// percentile parses pNN(.NN) with 0 <= NN <= 100.
func percentile(s string) (float64, bool) {
	m := percentileRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	p, err := strconv.ParseFloat(m[1], 64)
	if err != nil || p < 0 || p > 100 {
		return 0, false
	}
	return p, true
}

// checkPeriod applies CloudWatch's rule: 1, 5, 10, 20, 30 or a multiple of 60.
func checkPeriod(field string, p int64) error {
	switch {
	case p == 1 || p == 5 || p == 10 || p == 20 || p == 30:
	case p >= 60 && p%60 == 0:
	default:
		return invalid("The parameter %s must be 1, 5, 10, 20, 30 or a multiple of 60.", field)
	}
	return nil
}

// lookup resolves a metric to its definition and its one dimension; ok is
// false when no such WorkSpaces metric is published (no data, not an error).
func lookup(ns, name string, dims []Dimension) (def metricDef, dim, value string, ok bool) {
	def, known := metrics[name]
	if ns != Namespace || !known || len(dims) != 1 {
		return def, "", "", false
	}
	dim, value = *dims[0].Name, *dims[0].Value
	if dim != dimWorkspace && dim != dimDirectory {
		return def, "", "", false
	}
	return def, dim, value, true
}

func (m *Module) getMetricStatistics(ctx context.Context, c *gateway.Call, in *GetMetricStatisticsInput) (*GetMetricStatisticsOutput, error) {
	if len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0 {
		return nil, awsproto.Errorf("MissingRequiredParameterException", "Must specify either Statistics or ExtendedStatistics.")
	}
	if len(in.Statistics) > 0 && len(in.ExtendedStatistics) > 0 {
		return nil, awsproto.Errorf("InvalidParameterCombinationException", "Must specify either Statistics or ExtendedStatistics, but not both.")
	}
	for _, e := range in.ExtendedStatistics {
		if _, ok := percentile(e); !ok {
			return nil, invalid("The value %s for parameter ExtendedStatistics is not supported: give a percentile such as p90 or p99.9.", e)
		}
	}
	if err := checkPeriod("Period", *in.Period); err != nil {
		return nil, err
	}
	start, end := in.StartTime.Time.Truncate(time.Minute), in.EndTime.Time
	if !start.Before(end) {
		return nil, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	period := time.Duration(*in.Period) * time.Second
	if n := int64((end.Sub(start) + period - 1) / period); n > 1440 {
		return nil, awsproto.Errorf("InvalidParameterCombinationException", "You have requested up to %d datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", n)
	}
	out := &GetMetricStatisticsOutput{Label: in.MetricName, Datapoints: []Datapoint{}}
	def, dim, value, ok := lookup(*in.Namespace, *in.MetricName, in.Dimensions)
	if !ok || in.Unit != nil && *in.Unit != def.unit {
		return out, nil
	}
	src, err := m.load(ctx, c.Account, c.Region)
	if err != nil {
		return nil, err
	}
	for _, b := range buckets(src.samples(*in.MetricName, def, dim, value, start, end), start, period) {
		dp := Datapoint{Timestamp: awsproto.NewTime(b.start), Unit: &def.unit}
		for _, s := range in.Statistics {
			v, _ := stat(b.vals, s)
			switch s {
			case "SampleCount":
				dp.SampleCount = &v
			case "Average":
				dp.Average = &v
			case "Sum":
				dp.Sum = &v
			case "Minimum":
				dp.Minimum = &v
			case "Maximum":
				dp.Maximum = &v
			}
		}
		for _, e := range in.ExtendedStatistics {
			if dp.ExtendedStatistics == nil {
				dp.ExtendedStatistics = map[string]float64{}
			}
			dp.ExtendedStatistics[e], _ = stat(b.vals, e)
		}
		out.Datapoints = append(out.Datapoints, dp)
	}
	return out, nil
}

// MetricStat is a metric, a period and a statistic.
type MetricStat struct {
	Metric *Metric `json:"Metric" v:"required"`
	Period *int64  `json:"Period" v:"required,min=1"`
	Stat   *string `json:"Stat" v:"required"`
	Unit   *string `json:"Unit,omitempty" v:"enum=Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|Kilobits|Megabits|Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|Megabytes/Second|Gigabytes/Second|Terabytes/Second|Bits/Second|Kilobits/Second|Megabits/Second|Gigabits/Second|Terabits/Second|Count/Second|None"`
}

// MetricDataQuery is one query of GetMetricData.
type MetricDataQuery struct {
	ID         *string     `json:"Id" v:"required,min=1,max=255"`
	MetricStat *MetricStat `json:"MetricStat,omitempty"`
	Expression *string     `json:"Expression,omitempty" v:"min=1,max=2048"`
	Label      *string     `json:"Label,omitempty"`
	ReturnData *bool       `json:"ReturnData,omitempty"`
	Period     *int64      `json:"Period,omitempty" v:"min=1"`
	AccountID  *string     `json:"AccountId,omitempty" v:"min=1,max=255"`
}

// LabelOptions set the time zone of dynamic labels.
type LabelOptions struct {
	Timezone *string `json:"Timezone,omitempty"`
}

// GetMetricDataInput is the GetMetricData request.
type GetMetricDataInput struct {
	MetricDataQueries []MetricDataQuery `json:"MetricDataQueries" v:"required"`
	StartTime         *awsproto.Time    `json:"StartTime" v:"required"`
	EndTime           *awsproto.Time    `json:"EndTime" v:"required"`
	NextToken         *string           `json:"NextToken,omitempty"`
	ScanBy            *string           `json:"ScanBy,omitempty" v:"enum=TimestampDescending|TimestampAscending"`
	MaxDatapoints     *int64            `json:"MaxDatapoints,omitempty"`
	LabelOptions      *LabelOptions     `json:"LabelOptions,omitempty"`
}

// MessageData is a message about a result.
type MessageData struct {
	Code  *string `json:"Code,omitempty"`
	Value *string `json:"Value,omitempty"`
}

// MetricDataResult is one query's time series.
type MetricDataResult struct {
	ID         *string         `json:"Id,omitempty"`
	Label      *string         `json:"Label,omitempty"`
	Timestamps []awsproto.Time `json:"Timestamps"`
	Values     []float64       `json:"Values"`
	StatusCode *string         `json:"StatusCode,omitempty"`
	Messages   []MessageData   `json:"Messages,omitempty"`
}

// GetMetricDataOutput is the GetMetricData response.
type GetMetricDataOutput struct {
	MetricDataResults []MetricDataResult `json:"MetricDataResults"`
	NextToken         *string            `json:"NextToken,omitempty"`
	Messages          []MessageData      `json:"Messages,omitempty"`
}

var (
	metricIDRe = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
	timezoneRe = regexp.MustCompile(`^[+-]\d{4}$`)
)

const defaultMaxDatapoints = 100800

func encodeToken(prefix string, n int) *string {
	s := base64.RawURLEncoding.EncodeToString([]byte(prefix + ":" + strconv.Itoa(n)))
	return &s
}

func decodeToken(prefix string, tok *string) (int, error) {
	if tok == nil {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), prefix+":"); ok {
			if n, err := strconv.Atoi(rest); err == nil && n > 0 {
				return n, nil
			}
		}
	}
	return 0, awsproto.Errorf("InvalidNextToken", "The service cannot recognize the NextToken %q.", *tok)
}

func (m *Module) getMetricData(ctx context.Context, c *gateway.Call, in *GetMetricDataInput) (*GetMetricDataOutput, error) {
	qs := in.MetricDataQueries
	if len(qs) == 0 || len(qs) > 500 {
		return nil, invalid("The collection MetricDataQueries must contain between 1 and 500 items.")
	}
	seen := map[string]bool{}
	for i, q := range qs {
		id := *q.ID
		if !metricIDRe.MatchString(id) {
			return nil, invalid("The value %s for parameter MetricDataQueries.member.%d.Id is not valid: it must start with a lower-case letter and contain only letters, digits and underscores.", id, i+1)
		}
		if seen[id] {
			return nil, invalid("The values for parameter id in MetricDataQueries must be unique: %s is repeated.", id)
		}
		seen[id] = true
		if (q.MetricStat == nil) == (q.Expression == nil) {
			return nil, invalid("The parameter MetricDataQueries.member.%d must have exactly one of MetricStat and Expression.", i+1)
		}
		if q.Expression != nil {
			return nil, invalid("The parameter MetricDataQueries.member.%d.Expression is not supported: deskplane serves metrics (MetricStat), not metric math or Metrics Insights queries.", i+1)
		}
		ms := q.MetricStat
		if ms.Metric.MetricName == nil || ms.Metric.Namespace == nil {
			return nil, invalid("The parameter MetricDataQueries.member.%d.MetricStat.Metric must have a Namespace and a MetricName.", i+1)
		}
		if err := checkPeriod(fmt.Sprintf("MetricDataQueries.member.%d.MetricStat.Period", i+1), *ms.Period); err != nil {
			return nil, err
		}
		switch s := *ms.Stat; s {
		case "SampleCount", "Average", "Sum", "Minimum", "Maximum":
		default:
			if _, ok := percentile(s); !ok {
				return nil, invalid("The value %s for parameter MetricDataQueries.member.%d.MetricStat.Stat is not supported.", s, i+1)
			}
		}
	}
	if in.LabelOptions != nil && in.LabelOptions.Timezone != nil && !timezoneRe.MatchString(*in.LabelOptions.Timezone) {
		return nil, invalid("The parameter LabelOptions.Timezone must be + or - followed by four digits, such as +0130.")
	}
	start, end := in.StartTime.Time.Truncate(time.Minute), in.EndTime.Time
	if !start.Before(end) {
		return nil, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	max := int64(defaultMaxDatapoints)
	if in.MaxDatapoints != nil {
		if *in.MaxDatapoints < 1 {
			return nil, invalid("The parameter MaxDatapoints must be greater than 0.")
		}
		max = *in.MaxDatapoints
	}
	skip, err := decodeToken("gmd", in.NextToken)
	if err != nil {
		return nil, err
	}
	ascending := in.ScanBy != nil && *in.ScanBy == "TimestampAscending"
	src, err := m.load(ctx, c.Account, c.Region)
	if err != nil {
		return nil, err
	}
	out := &GetMetricDataOutput{MetricDataResults: []MetricDataResult{}}
	pos, emitted := 0, int64(0) // points seen over all results, points sent
	for _, q := range qs {
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		ms := q.MetricStat
		res := MetricDataResult{ID: q.ID, Label: q.Label, Timestamps: []awsproto.Time{}, Values: []float64{}, StatusCode: new("Complete")}
		if res.Label == nil {
			res.Label = ms.Metric.MetricName
		}
		if q.AccountID != nil && *q.AccountID != c.Account {
			res.StatusCode = new("Forbidden")
			res.Messages = []MessageData{{Code: new("Forbidden"), Value: new("Metrics of account " + *q.AccountID + " are not shared with this account.")}}
			out.MetricDataResults = append(out.MetricDataResults, res)
			continue
		}
		period := time.Duration(*ms.Period) * time.Second
		if q.Period != nil {
			if err := checkPeriod("Period", *q.Period); err != nil {
				return nil, err
			}
		}
		var points []sample
		if def, dim, value, ok := lookup(*ms.Metric.Namespace, *ms.Metric.MetricName, ms.Metric.Dimensions); ok && (ms.Unit == nil || *ms.Unit == def.unit) {
			for _, b := range buckets(src.samples(*ms.Metric.MetricName, def, dim, value, start, end), start, period) {
				if v, ok := stat(b.vals, *ms.Stat); ok {
					points = append(points, sample{b.start, v})
				}
			}
		}
		if !ascending {
			slices.Reverse(points)
		}
		for _, p := range points {
			pos++
			if pos <= skip {
				continue
			}
			if emitted >= max {
				res.StatusCode = new("PartialData")
				if out.NextToken == nil {
					out.NextToken = encodeToken("gmd", pos-1)
				}
				break
			}
			res.Timestamps = append(res.Timestamps, awsproto.Time{Time: p.t})
			res.Values = append(res.Values, p.v)
			emitted++
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
	}
	return out, nil
}

// ListMetricsInput is the ListMetrics request.
type ListMetricsInput struct {
	Namespace             *string           `json:"Namespace,omitempty" v:"min=1,max=255,pattern=[^:].*"`
	MetricName            *string           `json:"MetricName,omitempty" v:"min=1,max=255"`
	Dimensions            []DimensionFilter `json:"Dimensions,omitempty" v:"max=10"`
	NextToken             *string           `json:"NextToken,omitempty"`
	RecentlyActive        *string           `json:"RecentlyActive,omitempty" v:"enum=PT3H"`
	IncludeLinkedAccounts *bool             `json:"IncludeLinkedAccounts,omitempty"`
	OwningAccount         *string           `json:"OwningAccount,omitempty" v:"min=1,max=255"`
}

// ListedMetric is a metric in ListMetrics' answer.
type ListedMetric struct {
	Namespace  *string        `json:"Namespace,omitempty"`
	MetricName *string        `json:"MetricName,omitempty"`
	Dimensions []OutDimension `json:"Dimensions,omitempty"`
}

// OutDimension is a dimension in an answer.
type OutDimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// ListMetricsOutput is the ListMetrics response.
type ListMetricsOutput struct {
	Metrics        []ListedMetric `json:"Metrics"`
	NextToken      *string        `json:"NextToken,omitempty"`
	OwningAccounts []string       `json:"OwningAccounts,omitempty"`
}

const listPage = 500

// retention is how long ListMetrics lists a metric after its last data.
const retention = 14 * 24 * time.Hour

func (m *Module) listMetrics(ctx context.Context, c *gateway.Call, in *ListMetricsInput) (*ListMetricsOutput, error) {
	// ListMetrics' model has no InvalidNextToken: a bad token is an
	// invalid parameter value.
	skip, err := decodeToken("lm", in.NextToken)
	if err != nil {
		return nil, invalid("The service cannot recognize the NextToken %q.", *in.NextToken)
	}
	out := &ListMetricsOutput{Metrics: []ListedMetric{}}
	if in.Namespace != nil && *in.Namespace != Namespace || in.OwningAccount != nil && *in.OwningAccount != c.Account {
		return out, nil
	}
	src, err := m.load(ctx, c.Account, c.Region)
	if err != nil {
		return nil, err
	}
	since := src.now.Add(-retention)
	if in.RecentlyActive != nil {
		since = src.now.Add(-3 * time.Hour)
	}
	// lastData is, per dimension and metric, when its latest sample was.
	type key struct{ dim, value, metric string }
	last := map[key]time.Time{}
	note := func(k key, t time.Time) {
		if t.After(last[k]) {
			last[k] = t
		}
	}
	for _, d := range src.desktops {
		_, to := src.lifespan(d)
		for _, n := range metricNames {
			if metrics[n].event != "" {
				continue
			}
			note(key{dimWorkspace, d.WorkspaceID, n}, to)
			if d.DirectoryID != "" {
				note(key{dimDirectory, d.DirectoryID, n}, to)
			}
		}
	}
	for id, evs := range src.sessions {
		dir := src.directory[id]
		for _, e := range evs {
			if dir == "" {
				dir = e.DirectoryID
			}
			for _, n := range metricNames {
				def := metrics[n]
				if def.event == e.Kind || def.event == "attempt" && (e.Kind == SessionConnected || e.Kind == SessionFailed) ||
					def.event == "launch" && e.Kind == SessionConnected {
					note(key{dimWorkspace, id, n}, e.Time)
					if dir != "" {
						note(key{dimDirectory, dir, n}, e.Time)
					}
				}
			}
		}
	}
	var keys []key
	for k, t := range last {
		if t.Before(since) {
			continue
		}
		if in.MetricName != nil && *in.MetricName != k.metric {
			continue
		}
		okDims := true
		for _, f := range in.Dimensions {
			if *f.Name != k.dim || f.Value != nil && *f.Value != k.value {
				okDims = false
			}
		}
		if okDims {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		return strings.Compare(a.metric+"\x00"+a.dim+"\x00"+a.value, b.metric+"\x00"+b.dim+"\x00"+b.value)
	})
	if skip > len(keys) {
		return nil, invalid("The service cannot recognize the NextToken %q.", *in.NextToken)
	}
	keys = keys[skip:]
	if len(keys) > listPage {
		keys = keys[:listPage]
		out.NextToken = encodeToken("lm", skip+listPage)
	}
	for _, k := range keys {
		out.Metrics = append(out.Metrics, ListedMetric{Namespace: new(Namespace), MetricName: new(k.metric),
			Dimensions: []OutDimension{{Name: k.dim, Value: k.value}}})
		if in.IncludeLinkedAccounts != nil && *in.IncludeLinkedAccounts {
			out.OwningAccounts = append(out.OwningAccounts, c.Account)
		}
	}
	return out, nil
}
