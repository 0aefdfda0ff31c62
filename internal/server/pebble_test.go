package server_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/deskplane/deskplane/internal/server"
	"github.com/deskplane/deskplane/internal/testserver"
)

// TestPebbleStore: --store pebble serves from the embedded Pebble store
// under the data dir's pebble/ (private; the CloudTrail events in it too:
// TestAuditStoreInMainStore), what it acknowledged is there
// after a restart, and a reset refuses while a server holds the store.
func TestPebbleStore(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := testserver.Start(t, testserver.DataDir(dir), testserver.Store("pebble"))
	if _, err := iam.NewFromConfig(s.Admin()).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("kept")}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "pebble", "deskplane"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("pebble/deskplane: %v, %v (want a 0700 directory)", fi, err)
	}
	if err := server.ResetDataDir(dir); err == nil {
		t.Fatal("a reset succeeded while a server held the Pebble store")
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	s = testserver.Start(t, testserver.DataDir(dir), testserver.Store("pebble"))
	if _, err := iam.NewFromConfig(s.Admin()).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("kept")}); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
