package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite" // the "sqlite" database/sql driver, and its errors
	sqlite3 "modernc.org/sqlite/lib"
)

var sqliteDialect = dialect{
	name: "sqlite",
	migrations: []string{
		// 1: the endpoints. STRICT so a value of the wrong type is an error
		// instead of being stored as whatever SQLite coerces it to.
		`CREATE TABLE inference_endpoints (
			id               TEXT    NOT NULL PRIMARY KEY,
			task_type        TEXT    NOT NULL,
			service          TEXT    NOT NULL,
			service_settings TEXT    NOT NULL,
			task_settings    TEXT    NOT NULL,
			secrets          BLOB,
			created_at       INTEGER NOT NULL,
			updated_at       INTEGER NOT NULL,
			version          INTEGER NOT NULL
		) STRICT`,
		// 2: chunking_settings, NULL for the endpoints stored before it
		// (read as Elasticsearch reads endpoints older than the setting).
		`ALTER TABLE inference_endpoints ADD COLUMN chunking_settings TEXT`,
	},
}

// sqlitePragmas apply to every connection: WAL so readers never block the
// writer, synchronous=FULL so a commit is on disk (WAL included) before it
// returns, a busy timeout so writers from other connections or processes
// wait for the lock instead of failing, and BEGIN IMMEDIATE so the
// migration transaction takes the write lock up front.
var sqlitePragmas = sqliteBusyPragma + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"

// sqliteBusy is how long a connection waits for another's lock:
// sqliteBusyPragma sets it on a connection, and createSQLite waits as long
// where SQLite does not.
const sqliteBusy = 10 * time.Second

var sqliteBusyPragma = fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusy.Milliseconds())

// sqlitePageSize is the page size of a new database file. The response
// store writes each record's kilobyte or two once and reads it back rarely:
// with 16 KiB pages a batch of them is a quarter of the WAL frames (each
// its own system calls, written once more by the checkpoint), which took
// the CPU per stored record from 25 to 18 µs. A file created by an earlier
// version keeps its 4 KiB pages.
const sqlitePageSize = 16384

// createSQLite makes sure the database file abs exists: created owner-only
// (SQLite would use 0644, and gives the WAL and shared-memory files the
// database's mode), in WAL mode with sqlitePageSize pages. The page size
// has to be set before WAL mode, which the driver's DSN pragmas do not
// allow, hence a connection of its own for a new file.
func createSQLite(abs string) error {
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return fmt.Errorf("store: creating the database directory: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: opening database %s: %w", abs, err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil || fi.Size() > 0 {
		return err
	}
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: abs}).String()+fmt.Sprintf("?%s&_pragma=page_size(%d)", sqliteBusyPragma, sqlitePageSize))
	if err != nil {
		return fmt.Errorf("store: creating database %s: %w", abs, err)
	}
	defer db.Close()
	// journal_mode=WAL writes the header, page size included. Replicas
	// started at once may all find the file empty: the change of journal
	// mode needs the file to itself, and SQLite answers a connection that
	// would wait for it holding a lock of its own with SQLITE_BUSY at once,
	// busy_timeout or not (waiting could deadlock). So wait here, as the
	// timeout would: once another replica has made the file, the pragma
	// finds WAL and does nothing.
	for deadline := time.Now().Add(sqliteBusy); ; time.Sleep(10 * time.Millisecond) {
		_, err = db.Exec(`PRAGMA journal_mode=WAL`)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("store: creating database %s: %w", abs, err)
	}
	return nil
}

func openSQLite(ctx context.Context, path string, key []byte, log *slog.Logger) (Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: database path %s: %w", path, err)
	}
	if err := createSQLite(abs); err != nil {
		return nil, err
	}
	// A file: URI with the path escaped, so that '?', '#' or '%' in the
	// path stay part of it.
	dsn := (&url.URL{Scheme: "file", Path: abs}).String() + "?" + sqlitePragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: opening database %s: %w", abs, err)
	}
	s := &sqlStore{db: db, d: sqliteDialect, log: log, where: "database " + abs}
	if err := s.init(ctx, key, keyFileFor(abs)); err != nil {
		db.Close()
		return nil, err
	}
	s.logOpened(ctx, "path", abs)
	return s, nil
}

// init migrates the schema and settles the key: the configured one, else
// the key file beside the database, else a new key file, which is only
// allowed while no secrets are stored (they would be lost otherwise).
func (s *sqlStore) init(ctx context.Context, key []byte, keyFile string) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: opening %s: %w", s.where, err)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	n, err := s.countSecrets(ctx)
	if err != nil {
		return err
	}
	source := "the configured store key"
	if key == nil {
		source = "the key file " + keyFile
		key, err = readKeyFile(keyFile, s.log)
		if err != nil {
			return err
		}
		switch {
		case key != nil:
			s.log.Info("using the encryption key file for inference endpoint secrets", "key_file", keyFile)
		case n > 0:
			return s.refuseWithoutKey(n, "no key is configured and the key file "+keyFile+" does not exist")
		default:
			var created bool
			key, created, err = createKeyFile(keyFile, s.log)
			if err != nil {
				return err
			}
			if created {
				s.log.Info("generated an encryption key for inference endpoint secrets; back the key file up with the database, the secrets cannot be read without it", "key_file", keyFile)
			} else {
				s.log.Info("using the encryption key file for inference endpoint secrets", "key_file", keyFile)
			}
		}
	}
	if s.seal, err = newSealer(key); err != nil {
		return err
	}
	clear(key)
	if n > 0 {
		return s.checkKey(ctx, source)
	}
	return nil
}
