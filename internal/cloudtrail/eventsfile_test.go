package cloudtrail

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
)

// TestEventsFileHoldsEveryRow records events whose resources are in 0 to
// 3 other accounts: the events file has each event's line and then its
// copies for the other accounts (sorted), in the order recorded.
func TestEventsFileHoldsEveryRow(t *testing.T) {
	dir := t.TempDir()
	tr, err := New(Options{Dir: dir, MaxBatch: 7})
	if err != nil {
		t.Fatal(err)
	}
	svc := &gateway.Service{Name: "kms", EventSource: "kms.amazonaws.com"}
	p := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDAEXAMPLE", AccessKeyID: "AKIAEXAMPLE"}
	var want []string
	for i := range 60 {
		e := &gateway.Event{RequestID: fmt.Sprintf("r-%d", i), Time: time.Unix(1700000000+int64(i), 0), Service: svc, Operation: "Decrypt",
			Region: "us-east-1", Account: "111122223333", Principal: p, ReadOnly: true}
		want = append(want, fmt.Sprintf("r-%d 111122223333", i))
		for k := range i % 4 {
			acct := fmt.Sprintf("99990000%04d", 3-k)
			e.Resources = append(e.Resources, gateway.Check{Resource: "arn:aws:kms:us-east-1:" + acct + ":key/k", ResourceAccount: acct})
		}
		for k := i%4 - 1; k >= 0; k-- {
			want = append(want, fmt.Sprintf("r-%d 99990000%04d", i, 3-k))
		}
		tr.Record(context.Background(), e)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var r struct{ RequestID, RecipientAccountID string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, r.RequestID+" "+r.RecipientAccountID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events file:\n%v\nwant\n%v", got, want)
	}
}
