package cloudtrail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	tr, err := New(Options{Dir: dir, MaxFileBytes: 4096, KeepFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	svc := &gateway.Service{Name: "kms", EventSource: "kms.amazonaws.com"}
	p := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDAEXAMPLE", AccessKeyID: "AKIAEXAMPLE"}
	for i := 0; i < 100; i++ {
		tr.Record(context.Background(), &gateway.Event{RequestID: "r", Time: time.Unix(1700000000, 0), Service: svc, Operation: "ListKeys", Region: "us-east-1", Account: "111122223333", Principal: p, ReadOnly: true})
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "events.jsonl,events.jsonl.1,events.jsonl.2" {
		t.Fatalf("files: %v", names)
	}
	for _, n := range names {
		st, _ := os.Stat(filepath.Join(dir, n))
		if st.Size() > 4096 {
			t.Fatalf("%s is %d bytes", n, st.Size())
		}
		b, _ := os.ReadFile(filepath.Join(dir, n))
		if !strings.HasSuffix(string(b), "}\n") {
			t.Fatalf("%s does not end with a full line", n)
		}
	}
	// Record after Close is a no-op, not a panic.
	tr.Record(context.Background(), &gateway.Event{Service: svc, Principal: p})
}

func TestParamsLeaveOutSecretsAndKeepMapKeys(t *testing.T) {
	type inner struct {
		When  time.Time
		Empty *string
	}
	type in struct {
		KeyId             *string
		Plaintext         []byte
		EncryptionContext map[string]string
		Password          *string
		Absent            *string
		Limit             *int
		Ratio             float64 `json:"Ratio"`
		Names             []string
		None              []string
		Nested            []inner
		Quoted            string
	}
	k, pw, n := "alias/x", "hunter2", 5
	raw := params(&in{KeyId: &k, Plaintext: []byte("p"), EncryptionContext: map[string]string{"Aws:Ebs:Id": "vol-1", "a": "<b>"}, Password: &pw, Limit: &n,
		Ratio: 0.5, Names: []string{"x", "y\n\u2028"}, None: []string{}, Nested: []inner{{When: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}}, Quoted: `"q"\`})
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("params wrote invalid JSON %s: %v", raw, err)
	}
	want := map[string]any{"keyId": "alias/x", "limit": 5.0, "ratio": 0.5, "names": []any{"x", "y\n\u2028"},
		"encryptionContext": map[string]any{"Aws:Ebs:Id": "vol-1", "a": "<b>"},
		"nested":            []any{map[string]any{"when": "2026-01-02T03:04:05Z"}}, "quoted": `"q"\`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("params:\n got %v\nwant %v", got, want)
	}
	if params(&struct{ A *string }{}) != nil || params(nil) != nil {
		t.Fatal("an empty value must give null")
	}
}

func TestStoredRecordReadsBothFormats(t *testing.T) {
	for _, raw := range []string{`{"eventName":"X"}`, `"{\"eventName\":\"X\"}"`} {
		var s stored
		if err := json.Unmarshal([]byte(`{"id":"e","rec":`+raw+`}`), &s); err != nil {
			t.Fatal(err)
		}
		if got := s.recordJSON(); got != `{"eventName":"X"}` {
			t.Fatalf("record %s read back as %s", raw, got)
		}
	}
}

func TestAppendRecordMatchesEncodingJSON(t *testing.T) {
	full := &Record{EventVersion: EventVersion, UserIdentity: &UserIdentity{Type: "IAMUser", PrincipalID: "AIDA", ARN: "arn:aws:iam::1:user/a", AccountID: "1"},
		EventTime: "2026-01-02T03:04:05Z", EventSource: "kms.amazonaws.com", EventName: "Decrypt", AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1",
		UserAgent: "aws-cli/1 <x>", ErrorCode: "AccessDenied", ErrorMessage: "no \"way\"", RequestParameters: json.RawMessage(`{"keyId":"k"}`),
		AdditionalEventData: map[string]any{"n": 1}, RequestID: "r", EventID: "e", ReadOnly: true,
		Resources: []RecResource{{ARN: "arn:aws:kms:us-east-1:1:key/k", AccountID: "1", Type: "AWS::KMS::Key"}}, EventType: "AwsApiCall",
		ManagementEvent: true, RecipientAccountID: "1", SharedEventID: "s", EventCategory: "Management"}
	akid := "ASIA"
	role := &Record{EventVersion: EventVersion, UserIdentity: &UserIdentity{Type: "AssumedRole", PrincipalID: "AROA:s", ARN: "arn:aws:sts::1:assumed-role/r/s",
		AccountID: "1", AccessKeyID: &akid, InvokedBy: "workspaces.amazonaws.com", SessionContext: &SessionContext{
			SessionIssuer: &SessionIssuer{Type: "Role", PrincipalID: "AROA", ARN: "arn:aws:iam::1:role/r", AccountID: "1", UserName: "r"},
			Attributes:    SessionAttrs{CreationDate: "2026-01-02T03:04:05Z", MFAAuthenticated: "false"}}},
		Resources: []RecResource{{ARN: "a", AccountID: "2"}}}
	for _, rec := range []*Record{full, role, {EventVersion: EventVersion, UserIdentity: &UserIdentity{Type: "Unknown"}}} {
		want, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		got := appendRecord(nil, rec)
		var g, w map[string]any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("appendRecord wrote invalid JSON %s: %v", got, err)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("appendRecord:\n got %s\nwant %s", got, want)
		}
	}
}

func TestStoredEncodeRoundTrips(t *testing.T) {
	in := stored{EventID: "e", EventName: "X", EventSource: "s", Username: "u", AccessKeyID: "AKIA", ReadOnly: true,
		Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Resources: []RecResource{{ARN: "a", AccountID: "1"}}, Record: json.RawMessage(`{"eventName":"X"}`), Key: "1/r/k"}
	var out stored
	if err := json.Unmarshal(in.encode(), &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestInvTimeSortsNewestFirst(t *testing.T) {
	times := []time.Time{time.Unix(0, 1), time.Unix(1700000000, 5), time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i, tm := range times {
		want := fmt.Sprintf("%019d", int64(^uint64(0)>>1)-tm.UnixNano())
		if got := invTime(tm); got != want {
			t.Fatalf("invTime(%v) = %s, want %s", tm, got, want)
		}
		if i > 0 && invTime(tm) >= invTime(times[i-1]) {
			t.Fatalf("%v does not sort before %v", tm, times[i-1])
		}
	}
}

func TestSegmentsReadInBothForms(t *testing.T) {
	js := []byte(`[{"id":"e1","name":"X","rec":{"eventName":"X"}},{"id":"e2","name":"Y","rec":{"eventName":"Y"}}]`)
	for _, b := range [][]byte{js, compressSegment(js)} {
		evs, err := decodeSegment(b)
		if err != nil || len(evs) != 2 || evs[1].EventID != "e2" || evs[1].recordJSON() != `{"eventName":"Y"}` {
			t.Fatalf("segment %.20q: %v %+v", b, err, evs)
		}
	}
	if c := compressSegment(bytes.Repeat(js, 50)); len(c) >= len(js)*50/4 {
		t.Fatalf("a repetitive segment compressed to %d of %d bytes", len(c), len(js)*50)
	}
}

// encode renders a stored event as row does: its head, then its record.
func (s *stored) encode() []byte {
	b := s.appendHead(make([]byte, 0, len(s.Record)+256), nil)
	b = append(b, s.Record...)
	return append(b, '}')
}

// TestWriterBuffersKeepEveryEvent records events over many batches (the
// writer reuses its buffers from batch to batch) and reads every one back
// from the store and from the events file: each is whole and its own.
func TestWriterBuffersKeepEveryEvent(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ct.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	tr, err := New(Options{Store: db, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	svc := &gateway.Service{Name: "kms", EventSource: "kms.amazonaws.com"}
	p := &gateway.Principal{Type: "IAMUser", Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/a", UserName: "a", UserID: "AIDAEXAMPLE", AccessKeyID: "AKIAEXAMPLE"}
	type in struct{ KeyId *string }
	const n = 600
	t0 := time.Unix(1700000000, 0)
	for i := range n {
		id := fmt.Sprintf("key-%d-%s", i, strings.Repeat("x", i%300)) // sizes vary, so the arena grows mid-batch
		tr.Record(ctx, &gateway.Event{RequestID: fmt.Sprintf("r%d", i), Time: t0.Add(time.Duration(i) * time.Millisecond), Service: svc,
			Operation: "DescribeKey", Region: "us-east-1", Account: "111122223333", Principal: p, ReadOnly: true, Request: &in{KeyId: &id},
			Resources: []gateway.Check{{Resource: "arn:aws:kms:us-east-1:111122223333:key/" + fmt.Sprint(i)}}})
		if i%97 == 0 {
			if err := tr.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(where string, rec []byte) int {
		t.Helper()
		var r struct {
			RequestID         string `json:"requestID"`
			RequestParameters struct {
				KeyId string `json:"keyId"`
			} `json:"requestParameters"`
			Resources []RecResource `json:"resources"`
		}
		if err := json.Unmarshal(rec, &r); err != nil {
			t.Fatalf("%s: %v: %s", where, err, rec)
		}
		var i int
		if _, err := fmt.Sscanf(r.RequestID, "r%d", &i); err != nil {
			t.Fatalf("%s: request id %q", where, r.RequestID)
		}
		if want := fmt.Sprintf("key-%d-%s", i, strings.Repeat("x", i%300)); r.RequestParameters.KeyId != want ||
			len(r.Resources) != 1 || r.Resources[0].ARN != "arn:aws:kms:us-east-1:111122223333:key/"+fmt.Sprint(i) {
			t.Fatalf("%s: event %d holds another's parts: %s", where, i, rec)
		}
		return i
	}
	seen := map[int]bool{}
	err = db.View(ctx, func(tx store.Tx) error {
		return tx.Scan(ctx, tEvents, "", "", 0, func(key string, b []byte) error {
			evs, err := decodeSegment(b)
			if err != nil {
				return err
			}
			for _, e := range evs {
				seen[check("store", e.Record)] = true
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("the store holds %d of %d events", len(seen), n)
	}
	b, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	clear(seen)
	for _, l := range lines {
		seen[check("file", []byte(l))] = true
	}
	if len(lines) != n || len(seen) != n {
		t.Fatalf("the file holds %d lines, %d events, of %d", len(lines), len(seen), n)
	}
}

// TestInvTimeAsPrinted holds appendInvTime to its definition, the
// inverted nanoseconds printed as 19 digits, for random times, the edges
// of the range, and times before 1970 (the old form).
func TestInvTimeAsPrinted(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(5, 6))
	ns := []int64{0, 1, -1, 9, 10, 99, 100, 1e18, math.MaxInt64, math.MaxInt64 - 1, math.MinInt64 + 1, math.MinInt64}
	for range 100000 {
		ns = append(ns, rng.Int64()>>uint(rng.IntN(63)))
	}
	for _, n := range ns {
		tm := time.Unix(0, n)
		want := fmt.Sprintf("%019d", int64(^uint64(0)>>1)-tm.UnixNano())
		if got := string(appendInvTime([]byte("x"), tm)); got != "x"+want {
			t.Fatalf("appendInvTime(%d ns) = %s, want x%s", n, got, want)
		}
	}
}
