package broker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// dialect is the SQL the store's database speaks. Statements are written
// once, in the common subset of SQLite and PostgreSQL (upserts with ON
// CONFLICT, the reserved column names "user" and "end" quoted, ? for
// parameters); rebind adapts them.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// rebind turns ? parameters into $n and SQLite's two-argument max() into
// GREATEST() for PostgreSQL.
func (d dialect) rebind(q string) string {
	if d != dialectPostgres {
		return q
	}
	q = strings.ReplaceAll(q, "max(start,", "GREATEST(start,")
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// pgSchema is the store's schema on PostgreSQL: the SQLite schema with
// 64-bit integers and identity columns, and the shared store's own tables.
func pgSchema() string {
	s := strings.ReplaceAll(schema+connsSchema+gatewaysSchema, "INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
	return strings.ReplaceAll(s, " INTEGER", " BIGINT")
}

var schemaNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// OpenPostgresStore opens the store in a PostgreSQL schema (created if
// needed), for several brokers sharing one state: dsn is a postgres:// URL,
// schemaName the tenant's schema.
func OpenPostgresStore(ctx context.Context, dsn, schemaName string) (*Store, error) {
	if !schemaNameRe.MatchString(schemaName) {
		return nil, fmt.Errorf("broker store: schema name %q", schemaName)
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("broker store: %w", err)
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["search_path"] = schemaName
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(8)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Several brokers may start at once: the schema is created under an
	// advisory lock.
	conn, err := db.Conn(cctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("broker store: connect: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(cctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("broker store: %w", err)
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(727274)`)
	if _, err := conn.ExecContext(cctx, `CREATE SCHEMA IF NOT EXISTS `+schemaName); err != nil {
		db.Close()
		return nil, fmt.Errorf("broker store: schema: %w", err)
	}
	for _, stmt := range strings.Split(pgSchema(), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := conn.ExecContext(cctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("broker store: schema: %w", err)
		}
	}
	return &Store{db: db, dialect: dialectPostgres}, nil
}

// isUniqueViolation reports whether err is a unique constraint refusing a
// row (PostgreSQL 23505, SQLite's UNIQUE constraint failed).
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// AcquireLease takes or renews the named lease for holder for ttl: true
// when holder has it. On PostgreSQL the database's clock decides expiry (the
// brokers' clocks may differ); the embedded store has one broker per data
// dir, whose lease is its own.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var res sql.Result
	var err error
	if s.dialect == dialectPostgres {
		res, err = s.db.ExecContext(ctx, `INSERT INTO leases(name,holder,expires) VALUES($1,$2,(extract(epoch from clock_timestamp())*1000)::bigint+$3)
ON CONFLICT(name) DO UPDATE SET holder=excluded.holder, expires=excluded.expires
WHERE leases.holder=excluded.holder OR leases.expires < (extract(epoch from clock_timestamp())*1000)::bigint`, name, holder, ttl.Milliseconds())
	} else {
		now := time.Now().UnixMilli()
		res, err = s.exec(ctx, `INSERT INTO leases(name,holder,expires) VALUES(?,?,?)
ON CONFLICT(name) DO UPDATE SET holder=excluded.holder, expires=excluded.expires
WHERE leases.holder=excluded.holder OR leases.expires < ?`, name, holder, now+ttl.Milliseconds(), now)
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseLease gives the lease up if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.exec(ctx, `DELETE FROM leases WHERE name=? AND holder=?`, name, holder)
	return err
}
