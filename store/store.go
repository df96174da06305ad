package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/meshdock/meshdock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the SQLite store. It is safe for concurrent use.
//
// Writes go through a pool of one connection, so writers queue in Go instead
// of spinning on SQLITE_BUSY; reads use their own pool and, thanks to WAL,
// never wait for a writer.
type DB struct {
	path string
	w    *sql.DB
	r    *sql.DB
}

// Open opens (creating when needed) the store at path and brings its schema
// up to date.
//
// Durability: WAL with synchronous=NORMAL. A commit is in the WAL file (in
// the kernel's page cache at least) before Open's caller gets an answer, so
// it survives the process being killed, SIGKILL included; only a power cut or
// kernel crash can lose the last commits, and even then the file is never
// corrupt. FULL would add an fsync to every commit to cover power loss too,
// which a desktop tool's state does not warrant.
//
// The store holds uploaded secrets and env values, so only its owner may
// read it: the database file and its -wal and -shm files are 0600 (SQLite
// gives the last two the mode of the first), and a directory Open creates,
// or one that holds nothing but the store, is 0700. A directory shared with
// other files keeps its mode: it is the user's, not the store's.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := private(path); err != nil {
		return nil, err
	}
	pragmas := []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	db := &DB{path: path, w: w, r: r}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// storeSuffixes name the files of a store beside its database file.
var storeSuffixes = []string{"", "-wal", "-shm", "-journal"}

// private makes the store at path readable by its owner only, creating its
// directory and its (empty) database file when needed.
func private(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot create the data directory %s", dir)
	}
	if ownDir(dir, filepath.Base(path)) {
		if err := os.Chmod(dir, 0o700); err != nil {
			return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot make the data directory %s private: %v", dir, err)
		}
	}
	// Created here with 0600, the file passes its mode to the -wal and -shm
	// files SQLite makes; a chmod fixes files made before.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot open the store %s: %v", path, err)
	}
	f.Close()
	for _, suffix := range storeSuffixes {
		err := os.Chmod(path+suffix, 0o600)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot make %s private: %v", path+suffix, err)
		}
	}
	return nil
}

// ownDir reports whether dir holds nothing but the store named base: then
// it is the store's own directory, whoever made it.
func ownDir(dir, base string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), base)
		if !ok || !slices.Contains(storeSuffixes, suffix) {
			return false
		}
	}
	return true
}

// Close closes the store; the last connection to close checkpoints the WAL.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// migrate applies, in order and each in its own transaction, the embedded
// migrations newer than the version recorded in schema_version.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("open %s: %w", db.path, err)
	}
	var current int
	if err := db.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	latest := 0
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its version", name)
		}
		latest = max(latest, v)
		if v <= current {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if err := db.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			if step := goMigrations[v]; step != nil {
				if err := step(ctx, tx); err != nil {
					return fmt.Errorf("migration %s: %w", name, err)
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, v, now())
			return err
		}); err != nil {
			return err
		}
	}
	if current > latest {
		return meshdock.Errorf(meshdock.EUNSUPPORTED, "the store %s has schema version %d, newer than this meshdock knows (%d); use a newer meshdock", db.path, current, latest)
	}
	return nil
}

// tx runs fn in a write transaction and commits it when fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// timeFormat sorts lexically in time order, which the listings rely on.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// list runs a query and reads each of its rows with scan; what names the
// rows in errors.
func list[T any](ctx context.Context, db *DB, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// deleteOne deletes the row a query names by its key: what names it in
// errors, notFound begins the error when there is none.
func (db *DB) deleteOne(ctx context.Context, query, key, what, notFound string) error {
	res, err := db.w.ExecContext(ctx, query, key)
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", what, quoteID(key), err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return meshdock.Errorf(meshdock.ENOTFOUND, "%s %s", notFound, quoteID(key))
	}
	return nil
}

func now() string { return time.Now().UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

// quoteID quotes an id a client gave for a message, cut to 60 characters:
// a URL can be long, an answer need not repeat it.
func quoteID(id string) string {
	if utf8.RuneCountInString(id) <= 60 {
		return strconv.Quote(id)
	}
	return fmt.Sprintf("%.60q...", id)
}

// newID returns a random identifier: 16 hex digits are plenty for a local
// store and short enough to read in a URL.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
