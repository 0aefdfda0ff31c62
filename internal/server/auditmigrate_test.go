package server_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	ct "github.com/deskplane/deskplane/internal/cloudtrail"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/pebble"
	"github.com/deskplane/deskplane/internal/testserver"
)

// eventsTable is the CloudTrail events' table (the cloudtrail package's).
const eventsTable = "cloudtrail_events"

// oldLayout makes dir a data dir as main's code wrote it before the
// embedded Pebble store kept the CloudTrail events itself: a server
// creates users (one CreateUser event each), then its events are moved
// from the main store into a store of their own at pebble/cloudtrail.
// With keepInMain, they stay in the main store too (a migration cut short
// after its copy, before the old store was retired).
func oldLayout(t *testing.T, dir string, users []string, keepInMain bool) {
	t.Helper()
	ctx := context.Background()
	s := testserver.Start(t, testserver.DataDir(dir), testserver.Store("pebble"))
	c := iam.NewFromConfig(s.Admin())
	for _, u := range users {
		if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Shutdown(ctx); err != nil { // the trail is flushed
		t.Fatal(err)
	}
	main, err := pebble.Open(ctx, filepath.Join(dir, "pebble", "deskplane"), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer main.Close()
	old, err := pebble.Open(ctx, filepath.Join(dir, "pebble", "cloudtrail"), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	n, err := ct.MigrateEvents(ctx, main, old)
	if err != nil || n == 0 {
		t.Fatalf("copy the events to pebble/cloudtrail: %d segments, %v", n, err)
	}
	if keepInMain {
		return
	}
	var keys []string
	if err := main.View(ctx, func(tx store.Tx) error {
		return tx.Scan(ctx, eventsTable, "", "", 0, func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if err := main.Update(ctx, func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.Delete(ctx, eventsTable, k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// createUserEvents counts the CreateUser events LookupEvents returns for
// each user name, following every page.
func createUserEvents(t *testing.T, s *testserver.Server) map[string]int {
	t.Helper()
	got := map[string]int{}
	p := cloudtrail.NewLookupEventsPaginator(cloudtrail.NewFromConfig(s.Admin()), &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateUser")}},
		MaxResults:       aws.Int32(3)})
	ids := map[string]bool{}
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		for _, e := range out.Events {
			if ids[aws.ToString(e.EventId)] {
				t.Errorf("event %s returned twice", aws.ToString(e.EventId))
			}
			ids[aws.ToString(e.EventId)] = true
			for _, r := range e.Resources {
				n := aws.ToString(r.ResourceName)
				got[n[strings.LastIndexByte(n, '/')+1:]]++ // the user's ARN
			}
		}
	}
	return got
}

func migrationUsers() []string {
	var users []string
	for i := range 7 {
		users = append(users, fmt.Sprintf("migrated-%d", i))
	}
	return users
}

// checkOnce fails unless LookupEvents returns one CreateUser event for each
// of users and no other, and pebble/cloudtrail is gone.
func checkOnce(t *testing.T, s *testserver.Server, dir string, users []string) {
	t.Helper()
	got := createUserEvents(t, s)
	for _, u := range users {
		if got[u] != 1 {
			t.Errorf("user %s: %d CreateUser events, want 1 (all: %v)", u, got[u], got)
		}
	}
	if len(got) != len(users) {
		t.Errorf("CreateUser events for %v, want %v", got, users)
	}
	for _, sub := range []string{"cloudtrail", "cloudtrail.migrated"} {
		if _, err := os.Stat(filepath.Join(dir, "pebble", sub)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("pebble/%s after the migration: %v (want it gone)", sub, err)
		}
	}
}

// TestAuditStoreMigrated: a data dir whose CloudTrail events are in their
// own store (pebble/cloudtrail, as main's code wrote them) opens with
// every event answered by LookupEvents once, moved into the main store,
// and again once after a restart.
func TestAuditStoreMigrated(t *testing.T) {
	dir := t.TempDir()
	users := migrationUsers()
	oldLayout(t, dir, users, false)
	ctx := context.Background()
	for range 2 {
		s := testserver.Start(t, testserver.DataDir(dir), testserver.Store("pebble"))
		checkOnce(t, s, dir, users)
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditStoreMigrationResumed: a migration cut short (kill -9) after it
// copied the events and before it retired the old store, or while it
// removed the retired one, is finished at the next start: every event
// once.
func TestAuditStoreMigrationResumed(t *testing.T) {
	users := migrationUsers()
	ctx := context.Background()
	t.Run("copied", func(t *testing.T) {
		dir := t.TempDir()
		oldLayout(t, dir, users, true)
		s := testserver.Start(t, testserver.DataDir(dir), testserver.Store("pebble"))
		checkOnce(t, s, dir, users)
		s.Shutdown(ctx)
	})
	t.Run("retired", func(t *testing.T) {
		dir := t.TempDir()
		oldLayout(t, dir, users, true)
		p := filepath.Join(dir, "pebble", "cloudtrail")
		if err := os.Rename(p, p+".migrated"); err != nil {
			t.Fatal(err)
		}
		// Half removed: its manifest gone.
		ms, _ := filepath.Glob(filepath.Join(p+".migrated", "MANIFEST-*"))
		for _, m := range ms {
			os.Remove(m)
		}
		s := testserver.Start(t, testserver.DataDir(dir), testserver.Store("pebble"))
		checkOnce(t, s, dir, users)
		s.Shutdown(ctx)
	})
}

// TestAuditStoreInMainStore: a new Pebble data dir has no audit store of
// its own, and its events are in the main store's digest, under
// cloudtrail.
func TestAuditStoreInMainStore(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := testserver.Start(t, testserver.DataDir(dir), testserver.Store("pebble"))
	if _, err := iam.NewFromConfig(s.Admin()).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("in-main")}); err != nil {
		t.Fatal(err)
	}
	if got := createUserEvents(t, s); got["in-main"] != 1 {
		t.Fatalf("CreateUser events %v, want in-main once", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "pebble", "cloudtrail")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("pebble/cloudtrail: %v (want none)", err)
	}
	d, err := s.AdminGet("/_deskplane/digest")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(d["tables"]), eventsTable) {
		t.Fatalf("digest's tables %v: no %s", d["tables"], eventsTable)
	}
}
