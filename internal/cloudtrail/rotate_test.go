package cloudtrail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/gateway"
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
	type in struct {
		KeyId             *string
		Plaintext         []byte
		EncryptionContext map[string]string
		Password          *string
		Absent            *string
		Limit             *int
	}
	k, pw, n := "alias/x", "hunter2", 5
	got := params(&in{KeyId: &k, Plaintext: []byte("p"), EncryptionContext: map[string]string{"Aws:Ebs:Id": "vol-1"}, Password: &pw, Limit: &n}).(map[string]any)
	if got["keyId"] != "alias/x" || got["limit"] != 5 || len(got) != 3 {
		t.Fatalf("params: %v", got)
	}
	if ec := got["encryptionContext"].(map[string]any); ec["Aws:Ebs:Id"] != "vol-1" {
		t.Fatalf("map keys changed: %v", ec)
	}
}
