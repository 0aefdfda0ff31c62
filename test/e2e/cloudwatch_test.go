package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	wstypes "github.com/aws/aws-sdk-go-v2/service/workspaces/types"
	"github.com/aws/smithy-go"

	iwcw "github.com/deskplane/deskplane/internal/cloudwatch"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

// minutesIn counts the whole minutes in [from, to): one per-minute sample
// each, as CloudWatch publishes the WorkSpaces metrics.
func minutesIn(from, to time.Time) int {
	n := 0
	t := from.Truncate(time.Minute)
	if t.Before(from) {
		t = t.Add(time.Minute)
	}
	for ; t.Before(to); t = t.Add(time.Minute) {
		n++
	}
	return n
}

// stateHistory returns a desktop's state transitions as the admin API lists them.
func stateHistory(t *testing.T, s *testserver.Server, id string) []struct {
	State string
	Time  time.Time
} {
	t.Helper()
	out, err := s.AdminGet("/_deskplane/history?workspace_id=" + id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out["transitions"])
	var trs []struct {
		State string    `json:"state"`
		Time  time.Time `json:"time"`
	}
	if err := json.Unmarshal(b, &trs); err != nil {
		t.Fatal(err)
	}
	var res []struct {
		State string
		Time  time.Time
	}
	for _, tr := range trs {
		res = append(res, struct {
			State string
			Time  time.Time
		}{tr.State, tr.Time})
	}
	return res
}

// TestCloudWatchWorkSpacesMetrics creates a desktop, lets it run for half an
// hour of virtual time, stops it, reports a user's sessions the way a guest
// runtime does, and reads the AWS/WorkSpaces metrics back through the Go
// SDK (Smithy RPC v2 CBOR) and the aws CLI (awsJson1.0): every value is
// what the test did.
func TestCloudWatchWorkSpacesMetrics(t *testing.T) {
	s := testserver.Start(t, testserver.Timing("realistic"), testserver.VirtualClock())
	e := setup(t, s)
	ctx := ctxT(t)
	ids := e.create(t, ctx, 1, "cw")
	id := ids[0]
	start := s.Now().Add(-time.Minute)
	s.Advance(21 * time.Minute) // provisioning takes 20 minutes
	if st := e.states(t, ctx, ids)[id]; st != wstypes.WorkspaceStateAvailable {
		t.Fatalf("desktop %s after provisioning", st)
	}
	s.Advance(30 * time.Minute)
	e.stop(t, ctx, id)
	s.Advance(3 * time.Minute) // stopping takes 2
	if st := e.states(t, ctx, ids)[id]; st != wstypes.WorkspaceStateStopped {
		t.Fatalf("desktop %s after stopping", st)
	}
	s.Advance(10 * time.Minute)
	// The virtual clock runs on between advances: every query ends at now
	// (whole seconds, as the CLI writes it), so a minute that starts while
	// the test runs adds no sample.
	now := s.Now().Truncate(time.Second)
	// Expected values from the desktop's own history.
	spent := map[string]int{}
	trs := stateHistory(t, s, id)
	for i, tr := range trs {
		to := now
		if i+1 < len(trs) {
			to = trs[i+1].Time
		}
		spent[tr.State] += minutesIn(tr.Time, to)
	}
	total := minutesIn(trs[0].Time, now)
	if spent["AVAILABLE"] < 30 || spent["STOPPED"] < 9 {
		t.Fatalf("history %+v: %v", trs, spent)
	}
	var tAvail time.Time
	for _, tr := range trs {
		if tr.State == "AVAILABLE" {
			tAvail = tr.Time
		}
	}
	// The sessions a runtime observed while the desktop was AVAILABLE.
	var cw *iwcw.Module
	for _, m := range s.Modules {
		if c, ok := m.(*iwcw.Module); ok {
			cw = c
		}
	}
	if cw == nil {
		t.Fatal("no cloudwatch module")
	}
	for _, ev := range []iwcw.SessionEvent{
		{Kind: iwcw.SessionConnected, Time: tAvail.Add(5 * time.Minute), LaunchTime: 12 * time.Second},
		{Kind: iwcw.SessionDisconnected, Time: tAvail.Add(15 * time.Minute)},
		{Kind: iwcw.SessionFailed, Time: tAvail.Add(20 * time.Minute)},
	} {
		ev.Account, ev.Region, ev.WorkspaceID, ev.DirectoryID = config.CustomerAccount, "us-east-1", id, e.dirID
		if err := cw.RecordSession(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	connected := minutesIn(tAvail.Add(5*time.Minute), tAvail.Add(15*time.Minute))

	cli := cloudwatch.NewFromConfig(s.Admin())
	end := now
	stats := func(metric, dim, value string, st ...cwtypes.Statistic) cwtypes.Datapoint {
		t.Helper()
		out, err := cli.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String("AWS/WorkSpaces"), MetricName: aws.String(metric),
			Dimensions: []cwtypes.Dimension{{Name: aws.String(dim), Value: aws.String(value)}},
			StartTime:  aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(86400), Statistics: st})
		if err != nil {
			t.Fatalf("GetMetricStatistics %s: %v", metric, err)
		}
		if len(out.Datapoints) != 1 {
			t.Fatalf("%s by %s: %d datapoints", metric, dim, len(out.Datapoints))
		}
		return out.Datapoints[0]
	}
	for _, dim := range [][2]string{{"WorkspaceId", id}, {"DirectoryId", e.dirID}} {
		for metric, want := range map[string]int{"Available": spent["AVAILABLE"], "Stopped": spent["STOPPED"],
			"Unhealthy": 0, "Maintenance": 0, "UserConnected": connected} {
			dp := stats(metric, dim[0], dim[1], cwtypes.StatisticSum, cwtypes.StatisticSampleCount, cwtypes.StatisticMaximum)
			if int(aws.ToFloat64(dp.Sum)) != want || int(aws.ToFloat64(dp.SampleCount)) != total || dp.Unit != cwtypes.StandardUnitCount {
				t.Errorf("%s by %s: sum %v of %v samples (%s), want %d of %d", metric, dim[0], aws.ToFloat64(dp.Sum), aws.ToFloat64(dp.SampleCount), dp.Unit, want, total)
			}
		}
		for metric, want := range map[string]float64{"ConnectionAttempt": 2, "ConnectionSuccess": 1, "ConnectionFailure": 1} {
			if dp := stats(metric, dim[0], dim[1], cwtypes.StatisticSum); aws.ToFloat64(dp.Sum) != want {
				t.Errorf("%s by %s: %v, want %v", metric, dim[0], aws.ToFloat64(dp.Sum), want)
			}
		}
		if dp := stats("SessionLaunchTime", dim[0], dim[1], cwtypes.StatisticAverage); aws.ToFloat64(dp.Average) != 12 || dp.Unit != cwtypes.StandardUnitSeconds {
			t.Errorf("SessionLaunchTime by %s: %v %s, want 12 Seconds", dim[0], aws.ToFloat64(dp.Average), dp.Unit)
		}
	}

	// GetMetricData: one value a minute, newest first.
	gd, err := cli.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(end),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("avail"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/WorkSpaces"), MetricName: aws.String("Available"),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("WorkspaceId"), Value: aws.String(id)}}},
			Period: aws.Int32(60), Stat: aws.String("Maximum")}}}})
	if err != nil {
		t.Fatalf("GetMetricData: %v", err)
	}
	r := gd.MetricDataResults[0]
	ones := 0
	for _, v := range r.Values {
		if v == 1 {
			ones++
		}
	}
	if aws.ToString(r.Id) != "avail" || len(r.Values) != total || ones != spent["AVAILABLE"] || r.StatusCode != cwtypes.StatusCodeComplete ||
		!slices.IsSortedFunc(r.Timestamps, func(a, b time.Time) int { return b.Compare(a) }) {
		t.Errorf("GetMetricData: %d values, %d ones (want %d of %d), status %s", len(r.Values), ones, spent["AVAILABLE"], total, r.StatusCode)
	}
	// Paginated by MaxDatapoints.
	var got int
	var tok *string
	for page := 0; page < 100; page++ {
		out, err := cli.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(end), MaxDatapoints: aws.Int32(25), NextToken: tok,
			MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("a"), MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String("AWS/WorkSpaces"), MetricName: aws.String("Available"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("WorkspaceId"), Value: aws.String(id)}}},
				Period: aws.Int32(60), Stat: aws.String("Sum")}}}})
		if err != nil {
			t.Fatal(err)
		}
		got += len(out.MetricDataResults[0].Values)
		if tok = out.NextToken; tok == nil {
			break
		}
	}
	if got != total {
		t.Errorf("paginated GetMetricData: %d values, want %d", got, total)
	}

	// ListMetrics names the desktop's and the directory's metrics.
	lm, err := cli.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("AWS/WorkSpaces"),
		Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("WorkspaceId"), Value: aws.String(id)}}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range lm.Metrics {
		names = append(names, aws.ToString(m.MetricName))
	}
	want := []string{"Available", "ConnectionAttempt", "ConnectionFailure", "ConnectionSuccess", "Maintenance", "SessionLaunchTime", "Stopped", "Unhealthy", "UserConnected"}
	if !slices.Equal(names, want) {
		t.Errorf("ListMetrics: %v, want %v", names, want)
	}

	// Bad input gets the model's errors, with their query-compatible codes.
	_, err = cli.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/WorkSpaces"), MetricName: aws.String("Available"),
		StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}, ExtendedStatistics: []string{"p90"}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterCombination" {
		t.Errorf("Statistics and ExtendedStatistics: %v", err)
	}
	_, err = cli.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/WorkSpaces"), MetricName: aws.String("Available"),
		StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(90), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" {
		t.Errorf("Period 90: %v", err)
	}
	// Operations of the model deskplane does not serve say so.
	_, err = cli.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if !errors.As(err, &ae) {
		t.Errorf("DescribeAlarms: %v", err)
	}

	// The aws CLI speaks awsJson1.0 to the same service.
	if _, err := exec.LookPath("aws"); err != nil {
		t.Log("aws CLI not installed: its check is skipped")
		return
	}
	cmd := exec.CommandContext(ctx, "aws", "cloudwatch", "get-metric-statistics", "--endpoint-url", s.URL, "--region", "us-east-1",
		"--namespace", "AWS/WorkSpaces", "--metric-name", "Available", "--dimensions", "Name=WorkspaceId,Value="+id,
		"--start-time", start.Format(time.RFC3339), "--end-time", end.Format(time.RFC3339), "--period", "86400",
		"--statistics", "Sum", "SampleCount", "--output", "json")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+config.AdminKeyID, "AWS_SECRET_ACCESS_KEY="+config.AdminSecret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws cloudwatch get-metric-statistics: %v\n%s", err, b)
	}
	var res struct {
		Label      string
		Datapoints []struct{ Sum, SampleCount float64 }
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("aws output: %v\n%s", err, b)
	}
	if res.Label != "Available" || len(res.Datapoints) != 1 || int(res.Datapoints[0].Sum) != spent["AVAILABLE"] || int(res.Datapoints[0].SampleCount) != total {
		t.Errorf("aws CLI: %s, want Sum %d SampleCount %d", b, spent["AVAILABLE"], total)
	}
}
