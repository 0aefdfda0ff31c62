package cloudtrail

import (
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
)

// BenchmarkBuildAndEncodeDescribes is the writer's work per event for a
// poller's DescribeWorkspaces calls, without the store: a batch's events
// built (from their shape after the first), sorted into their segment and
// encoded as a templated segment, the buffers readied for the next batch.
// One op is one event.
func BenchmarkBuildAndEncodeDescribes(b *testing.B) {
	p := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDA1", AccessKeyID: "AKIA1"}
	ws := &gateway.Service{Name: "workspaces", EventSource: "workspaces.amazonaws.com"}
	type in struct{ WorkspaceIds []string }
	res := []gateway.Check{{Resource: "arn:aws:workspaces:us-east-1:111122223333:workspace/ws-0123456789"}}
	const batch = 256
	evs := make([]*gateway.Event, batch)
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tr := &Trail{}
	var segment []*row
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		b.StopTimer()
		for i := range evs {
			evs[i] = &gateway.Event{RequestID: ids.UUID(), Time: t0.Add(time.Duration(done+i) * 37 * time.Microsecond), Service: ws,
				Operation: "DescribeWorkspaces", Region: "us-east-1", Account: "111122223333", Principal: p, SourceIP: "127.0.0.1",
				UserAgent: "aws-sdk-go-v2/1.36.3 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/workspaces#1.60.1",
				ReadOnly:  true, Request: &in{WorkspaceIds: []string{"ws-0123456789"}}, Resources: res}
		}
		b.StartTimer()
		rows := tr.rows[:0]
		for _, e := range evs {
			rows = tr.buildSafe(rows, e)
		}
		tr.rows = rows
		segment = segment[:0]
		for i := range rows {
			segment = append(segment, &rows[i])
		}
		sortRows(segment)
		tr.snap = tr.tenc.appendSegment(tr.snap[:0], segment)
		tr.reuse()
	}
}
