package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/deskplane/deskplane/internal/config"
	iamsvc "github.com/deskplane/deskplane/internal/iam"
	"github.com/deskplane/deskplane/internal/server"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/store/pebble"
	"github.com/deskplane/deskplane/internal/store/sqlite"
	stssvc "github.com/deskplane/deskplane/internal/sts"
	"github.com/deskplane/deskplane/internal/testserver"
)

// grepDir fails the test when any file under dir contains one of secrets.
func grepDir(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the secret %q in the clear", p, s)
			}
		}
		return nil
	})
}

// openStopped opens the store a stopped server of the default embedded
// kind left in dir.
func openStopped(t *testing.T, dir string) store.Store {
	t.Helper()
	ctx := context.Background()
	var db store.Store
	var err error
	switch kind := (server.Options{DataDir: dir}).EmbeddedKind(); kind {
	case "pebble":
		db, err = pebble.Open(ctx, filepath.Join(dir, "pebble", "deskplane"), pebble.Options{})
	case "sqlite":
		db, err = sqlite.Open(ctx, filepath.Join(dir, "deskplane.db"))
	default:
		t.Fatalf("store kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// rawRecord reads a record of the stopped server's store as stored.
func rawRecord(t *testing.T, dir, table, key string) []byte {
	t.Helper()
	ctx := context.Background()
	db := openStopped(t, dir)
	defer db.Close()
	var v []byte
	if err := db.View(ctx, func(tx store.Tx) error {
		b, err := tx.Get(ctx, table, key)
		v = bytes.Clone(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// putRaw writes a record into the stopped server's store.
func putRaw(t *testing.T, dir, table, key string, v any) {
	t.Helper()
	ctx := context.Background()
	db := openStopped(t, dir)
	defer db.Close()
	if err := db.Update(ctx, func(tx store.Tx) error { return store.PutJSON(ctx, tx, table, key, v) }); err != nil {
		t.Fatal(err)
	}
}

func callerAccount(t *testing.T, s *testserver.Server, akid, secret string) {
	t.Helper()
	if _, err := sts.NewFromConfig(s.Config(akid, secret)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("the key %s does not authenticate: %v", akid, err)
	}
}

// Secret access keys and the STS sealing key are sealed in the store: no
// file of the data dir holds a created key's secret, and the key still
// authenticates after a restart. Plaintext records of earlier versions
// still load, and are sealed at start.
func TestSecretsSealedAtRest(t *testing.T) {
	for _, kind := range []string{"pebble", "sqlite"} {
		t.Run(kind, func(t *testing.T) { testSecretsSealedAtRest(t, kind) })
	}
}

func testSecretsSealedAtRest(t *testing.T, kind string) {
	dir := t.TempDir()
	if kind == "sqlite" {
		// A data dir an earlier version made: it holds the SQLite
		// database, which the default store keeps using.
		db, err := sqlite.Open(context.Background(), filepath.Join(dir, "deskplane.db"))
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	ctx := context.Background()
	s := testserver.Start(t, testserver.DataDir(dir))
	ic := iam.NewFromConfig(s.Admin())
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("sealed")}); err != nil {
		t.Fatal(err)
	}
	k, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("sealed")})
	if err != nil {
		t.Fatal(err)
	}
	akid, secret := *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey
	callerAccount(t, s, akid, secret)
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	grepDir(t, dir, secret, config.AdminSecret, config.PartnerSecret)
	var sealing string
	json.Unmarshal(rawRecord(t, dir, iamsvc.TableSettings, stssvc.KeySealing), &sealing)
	if !strings.HasPrefix(sealing, "dpsec1:") {
		t.Fatalf("the STS sealing key is stored as %q", sealing)
	}

	s = testserver.Start(t, testserver.DataDir(dir))
	callerAccount(t, s, akid, secret)
	callerAccount(t, s, config.AdminKeyID, config.AdminSecret)
	s.Shutdown(ctx)

	if kind != "sqlite" {
		return // no earlier version wrote this store
	}
	// Records as an earlier version wrote them: in the clear.
	var rec iamsvc.AccessKey
	json.Unmarshal(rawRecord(t, dir, iamsvc.TableKeys, akid), &rec)
	rec.Secret = secret
	putRaw(t, dir, iamsvc.TableKeys, akid, rec)
	putRaw(t, dir, iamsvc.TableSettings, stssvc.KeySealing, strings.Repeat("ab", 32))
	s = testserver.Start(t, testserver.DataDir(dir))
	callerAccount(t, s, akid, secret)
	tok, err := sts.NewFromConfig(s.Admin()).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	c := testserver.ConfigFor(s.URL, *tok.Credentials.AccessKeyId, *tok.Credentials.SecretAccessKey, *tok.Credentials.SessionToken)
	if _, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("a session token after the migration: %v", err)
	}
	s.Shutdown(ctx)
	grepDir(t, dir, secret, strings.Repeat("ab", 32))
}

func TestDataDirPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := testserver.Start(t, testserver.DataDir(dir))
	s.Shutdown(context.Background())
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		if d.IsDir() && fi.Mode().Perm() != 0o700 || !d.IsDir() && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o", p, fi.Mode().Perm())
		}
		return nil
	})
	for _, f := range []string{"pebble/deskplane", "master.key", "admin-token", "pebble/deskplane/deskplane.lock"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("expected %s: %v", f, err)
		}
	}

	// A data dir others can write is refused.
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o777)
	_, err := server.New(context.Background(), server.Options{Listen: "127.0.0.1:0", DataDir: open, Timing: "instant",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "writable by other users") {
		t.Fatalf("a 0777 data dir: got %v", err)
	}
	// A readable one left by an earlier version is made private.
	old := filepath.Join(t.TempDir(), "old")
	os.Mkdir(old, 0o755)
	os.WriteFile(filepath.Join(old, "admin-token"), []byte(strings.Repeat("x", 48)+"\n"), 0o644)
	s = testserver.Start(t, testserver.DataDir(old))
	s.Shutdown(context.Background())
	for _, p := range []string{old, filepath.Join(old, "admin-token")} {
		if fi, _ := os.Stat(p); fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s was left with mode %04o", p, fi.Mode().Perm())
		}
	}
}

// A server started with another master key than the one that sealed the
// store's secrets stops at start, saying so.
func TestWrongMasterKeyRefused(t *testing.T) {
	dir := t.TempDir()
	s := testserver.Start(t, testserver.DataDir(dir))
	s.Shutdown(context.Background())
	t.Setenv("DESKPLANE_MASTER_KEY", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
	_, err := server.New(context.Background(), server.Options{Listen: "127.0.0.1:0", DataDir: dir, Timing: "instant",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("another master key: got %v", err)
	}
}
