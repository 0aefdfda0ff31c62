package sqlite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/sqlite"
)

// version2Schema is the schema the previous builds wrote (schema version
// 2): records and jobs in WITHOUT ROWID tables keyed by their keys.
const version2Schema = `CREATE TABLE schema_version (version INTEGER NOT NULL);
	INSERT INTO schema_version (version) VALUES (2);
	CREATE TABLE kv (tbl TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL, PRIMARY KEY (tbl, k)) WITHOUT ROWID;
	CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, due INTEGER NOT NULL, payload BLOB, owner TEXT, claim_until INTEGER) WITHOUT ROWID;
	CREATE INDEX jobs_due ON jobs (due);
	ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN last_error TEXT;
	ALTER TABLE jobs ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;`

// TestOpensVersion2Database writes a database as the previous builds did
// (records and jobs in WITHOUT ROWID tables, schema version 2), opens it
// with this build, and checks that every record and job is there and
// behaves as before: reads, scans in key order, counts, replacing and
// creating records, the jobs' claims, failures and parking, and a job
// enqueued again under its id. The migration runs once: a second open
// finds schema version 3.
func TestOpensVersion2Database(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "deskplane.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(version2Schema); err != nil {
		t.Fatalf("version-2 schema: %v", err)
	}
	large := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB: overflow pages
	want := map[string]map[string][]byte{"ws_workspaces": {}, "ws_names": {}, "iam_users": {}}
	// Inserted out of key order, as a running server writes them.
	for i := 99; i >= 0; i-- {
		want["ws_workspaces"][fmt.Sprintf("acct/us-east-1/ws-%04d", i)] = []byte(fmt.Sprintf(`{"id":%d,"pad":%q}`, i, strings.Repeat("x", 900)))
		want["ws_names"][fmt.Sprintf("acct/us-east-1/name/u%d", (i*37)%100)] = []byte(fmt.Sprintf(`"ws-%04d"`, i))
	}
	want["iam_users"]["empty"] = []byte{}
	want["iam_users"]["large"] = large
	for tbl, recs := range want {
		for k, v := range recs {
			if _, err := old.Exec(`INSERT INTO kv (tbl, k, v) VALUES (?, ?, ?)`, tbl, k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	jobs := []struct {
		id, kind, lastErr string
		due               time.Time
		owner             any
		claimUntil        any
		attempts, parked  int
	}{
		{id: "j-due", kind: "k1", due: t0},
		{id: "j-later", kind: "k2", due: t0.Add(time.Hour)},
		{id: "j-failed", kind: "k1", due: t0.Add(-time.Minute), attempts: 2, lastErr: "boom"},
		{id: "j-parked", kind: "k3", due: t0.Add(-time.Hour), attempts: 5, lastErr: "gave up", parked: 1},
		{id: "j-claimed", kind: "k1", due: t0.Add(-time.Second), owner: "other", claimUntil: t0.Add(time.Minute).UnixNano()},
	}
	for _, j := range jobs {
		var lastErr any
		if j.lastErr != "" {
			lastErr = j.lastErr
		}
		if _, err := old.Exec(`INSERT INTO jobs (id, kind, due, payload, owner, claim_until, attempts, last_error, parked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.id, j.kind, j.due.UnixNano(), []byte(`{"job":"`+j.id+`"}`), j.owner, j.claimUntil, j.attempts, lastErr, j.parked); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of a version-2 database: %v", err)
	}
	for tbl, recs := range want {
		for k, v := range recs {
			got, err := db.Get(ctx, tbl, k)
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("Get(%s, %s) after the migration = %.40q, %v; want %.40q", tbl, k, got, err, v)
			}
		}
	}
	err = db.View(ctx, func(tx store.Tx) error {
		var keys []string
		if err := tx.Scan(ctx, "ws_workspaces", "acct/us-east-1/", "acct/us-east-1/ws-0041", 5, func(k string, v []byte) error {
			if !bytes.Equal(v, want["ws_workspaces"][k]) {
				return fmt.Errorf("scan: %s has %.40q", k, v)
			}
			keys = append(keys, k)
			return nil
		}); err != nil {
			return err
		}
		if got := strings.Join(keys, " "); got != "acct/us-east-1/ws-0042 acct/us-east-1/ws-0043 acct/us-east-1/ws-0044 acct/us-east-1/ws-0045 acct/us-east-1/ws-0046" {
			return fmt.Errorf("scan after ws-0041, 5 records: %s", got)
		}
		n, err := tx.Count(ctx, "ws_names", "acct/us-east-1/name/")
		if err != nil || n != 100 {
			return fmt.Errorf("count of names = %d, %v; want 100", n, err)
		}
		many, err := tx.GetMany(ctx, "iam_users", []string{"empty", "large", "absent"})
		if err != nil || len(many) != 2 || len(many["empty"]) != 0 || !bytes.Equal(many["large"], large) {
			return fmt.Errorf("GetMany = %d records, %v", len(many), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tables, err := db.Tables(ctx)
	if err != nil || strings.Join(tables, " ") != "iam_users ws_names ws_workspaces" {
		t.Fatalf("Tables = %v, %v", tables, err)
	}
	// Writes after the migration: a replaced record, a refused create, a
	// new record, a delete.
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "ws_workspaces", "acct/us-east-1/ws-0007", []byte("replaced")); err != nil {
			return err
		}
		if err := tx.Create(ctx, "ws_names", "acct/us-east-1/name/u3", []byte("again")); !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("Create of an existing record: %v, want ErrExists", err)
		}
		existing, err := tx.CreateMany(ctx, "ws_workspaces", []store.KV{{Key: "acct/us-east-1/ws-0100", Value: []byte("new")}, {Key: "acct/us-east-1/ws-0001", Value: []byte("dup")}})
		if err != nil || len(existing) != 1 || existing[0] != "acct/us-east-1/ws-0001" {
			return fmt.Errorf("CreateMany = %v, %v; want the existing ws-0001", existing, err)
		}
		return tx.Delete(ctx, "iam_users", "large")
	})
	if err != nil {
		t.Fatal(err)
	}
	// The jobs: the claimed one is leased to another owner, the parked one
	// is never claimed, the failed one keeps its attempts.
	list, err := db.ListJobs(ctx, "", 10)
	if err != nil || len(list) != len(jobs) {
		t.Fatalf("ListJobs = %d jobs, %v; want %d", len(list), err, len(jobs))
	}
	byID := map[string]store.JobStatus{}
	for _, j := range list {
		byID[j.ID] = j
	}
	if j := byID["j-parked"]; !j.Parked || j.Attempts != 5 || j.LastError != "gave up" || !j.Due.Equal(t0.Add(-time.Hour)) {
		t.Errorf("parked job after the migration: %+v", j)
	}
	if j := byID["j-failed"]; j.Parked || j.Attempts != 2 || j.LastError != "boom" {
		t.Errorf("failed job after the migration: %+v", j)
	}
	claimed, err := db.Claim(ctx, "me", t0, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range claimed {
		ids = append(ids, c.ID)
		if string(c.Payload) != `{"job":"`+c.ID+`"}` {
			t.Errorf("job %s payload %q", c.ID, c.Payload)
		}
	}
	if got := strings.Join(ids, " "); got != "j-failed j-due" {
		t.Errorf("claimed %q, want the due jobs in due order: j-failed j-due", got)
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.FinishJob(ctx, "j-due", "me"); err != nil {
			return err
		}
		// Enqueued again under its id: replaces the job, claim and failures.
		return tx.Enqueue(ctx, store.Job{ID: "j-failed", Kind: "k9", Due: t0.Add(2 * time.Hour), Payload: []byte("{}")})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, path) // schema version 3 now: nothing to migrate
	if v, err := db.Get(ctx, "ws_workspaces", "acct/us-east-1/ws-0007"); err != nil || string(v) != "replaced" {
		t.Errorf("after reopening: %q, %v", v, err)
	}
	if _, err := db.Get(ctx, "iam_users", "large"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted record after reopening: %v", err)
	}
	list, err = db.ListJobs(ctx, "", 10)
	if err != nil || len(list) != 4 {
		t.Fatalf("ListJobs after reopening = %+v, %v", list, err)
	}
	for _, j := range list {
		if j.ID == "j-failed" && (j.Kind != "k9" || j.Attempts != 0 || j.LastError != "") {
			t.Errorf("re-enqueued job: %+v", j)
		}
	}
	schema, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer schema.Close()
	var version int
	if err := schema.QueryRow(`SELECT version FROM schema_version`).Scan(&version); err != nil || version != 3 {
		t.Errorf("schema version %d, %v; want 3", version, err)
	}
	for _, tbl := range []string{"kv", "jobs"} {
		var ddl string
		if err := schema.QueryRow(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, tbl).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ddl, "WITHOUT ROWID") || !strings.Contains(ddl, "INTEGER PRIMARY KEY") {
			t.Errorf("%s after the migration: %s", tbl, ddl)
		}
	}
}
