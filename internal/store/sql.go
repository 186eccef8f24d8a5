package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// dialect is what differs between the SQL backends; the queries and their
// semantics are shared.
type dialect struct {
	name string
	// dollar: placeholders are $1, $2, ... (PostgreSQL) instead of ?.
	dollar bool
	// lockMigrations runs first in the migration transaction, to serialise
	// replicas migrating at once ("" when BEGIN already serialises).
	lockMigrations string
	// migrations[i] brings the schema from version i to i+1.
	migrations []string
}

// sqlStore implements Store on database/sql. Every write is a single
// statement, which is its own transaction: it is committed (and, with the
// pragmas the SQLite backend sets, on disk) before it returns.
type sqlStore struct {
	db    *sql.DB
	d     dialect
	seal  *sealer
	log   *slog.Logger
	where string // the database, for messages: never the DSN
}

func (s *sqlStore) q(query string) string {
	if !s.d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// migrate creates the schema or brings it up to date, in one transaction.
func (s *sqlStore) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrating %s: %w", s.where, err)
	}
	defer tx.Rollback()
	if s.d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockMigrations); err != nil {
			return fmt.Errorf("store: migrating %s: %w", s.where, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrating %s: %w", s.where, err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&have); err != nil {
		return fmt.Errorf("store: migrating %s: %w", s.where, err)
	}
	want := len(s.d.migrations)
	if have > want {
		return fmt.Errorf("store: %s has schema version %d, newer than this Quarry supports (%d): run a newer Quarry, or restore a backup made for this one", s.where, have, want)
	}
	if have == want {
		return nil
	}
	for v := have; v < want; v++ {
		if _, err := tx.ExecContext(ctx, s.d.migrations[v]); err != nil {
			return fmt.Errorf("store: migrating %s to schema version %d: %w", s.where, v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return fmt.Errorf("store: migrating %s: %w", s.where, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version) VALUES (?)`), want); err != nil {
		return fmt.Errorf("store: migrating %s: %w", s.where, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrating %s: %w", s.where, err)
	}
	s.log.Info("inference endpoint store schema migrated", "from_version", have, "to_version", want)
	return nil
}

// countSecrets counts the endpoints that have encrypted secrets.
func (s *sqlStore) countSecrets(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM inference_endpoints WHERE secrets IS NOT NULL`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: reading %s: %w", s.where, err)
	}
	return n, nil
}

// refuseWithoutKey is Open's error when secrets exist and no key does.
func (s *sqlStore) refuseWithoutKey(n int, missing string) error {
	return fmt.Errorf("store: refusing to start: %s holds %d inference endpoint(s) with encrypted secrets, and %w: %s; "+
		"configure the key they were encrypted with, or restore the key file from a backup "+
		"(if the key is lost, so are those secrets: move the database aside, or delete those endpoints from it, and re-create them)",
		s.where, n, ErrKeyRequired, missing)
}

// checkKey proves that the key decrypts the stored secrets, so a wrong key
// stops the gateway at start rather than failing requests later. With a
// per-row nonce and the ID as additional data, one row suffices to tell
// the key; each Get still authenticates its own row.
func (s *sqlStore) checkKey(ctx context.Context, source string) error {
	var id string
	var blob []byte
	err := s.db.QueryRowContext(ctx, `SELECT id, secrets FROM inference_endpoints WHERE secrets IS NOT NULL ORDER BY id LIMIT 1`).Scan(&id, &blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: reading %s: %w", s.where, err)
	}
	if _, err := s.seal.open(id, blob); err != nil {
		return fmt.Errorf("store: refusing to start: %s does not decrypt the secrets stored in %s (%w); "+
			"configure the key they were encrypted with (if it is lost, so are those secrets: move the database aside, "+
			"or delete the endpoints with secrets from it, and re-create them)", source, s.where, err)
	}
	return nil
}

func (s *sqlStore) logOpened(ctx context.Context, attrs ...any) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM inference_endpoints`).Scan(&n); err == nil {
		attrs = append(attrs, "endpoints", n)
	}
	s.log.Info("inference endpoint store opened", append([]any{"backend", s.d.name}, attrs...)...)
}

const columns = `id, task_type, service, service_settings, task_settings, secrets, created_at, updated_at, version, chunking_settings`

// nullSettings maps no settings to SQL NULL.
func nullSettings(raw json.RawMessage) any {
	if noSettings(raw) {
		return nil
	}
	return string(raw)
}

// nullable maps no secrets to SQL NULL (a nil []byte is not NULL for
// every driver).
func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func (s *sqlStore) Create(ctx context.Context, e *Endpoint) error {
	if err := e.check(); err != nil {
		return err
	}
	blob, err := s.seal.seal(e.ID, e.Secrets)
	if err != nil {
		return err
	}
	now := time.Now().UnixNano()
	// ON CONFLICT DO NOTHING rather than parsing each driver's
	// unique-violation error: the primary key still decides between racing
	// replicas (PostgreSQL makes the loser wait for the winner's commit),
	// and the loser sees zero rows.
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO inference_endpoints (`+columns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (id) DO NOTHING`),
		e.ID, e.TaskType, e.Service, settingsOrEmpty(e.ServiceSettings), settingsOrEmpty(e.TaskSettings),
		nullable(blob), now, now, nullSettings(e.ChunkingSettings))
	if err != nil {
		return fmt.Errorf("store: creating %q: %w", e.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: creating %q: %w", e.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("store: creating %q: %w", e.ID, ErrExists)
	}
	e.CreatedAt, e.UpdatedAt, e.Version = fromNanos(now), fromNanos(now), 1
	s.log.Debug("inference endpoint created", "id", e.ID, "version", e.Version)
	return nil
}

func (s *sqlStore) Update(ctx context.Context, e *Endpoint, expectVersion int64) error {
	if err := e.check(); err != nil {
		return err
	}
	blob, err := s.seal.seal(e.ID, e.Secrets)
	if err != nil {
		return err
	}
	now := time.Now().UnixNano()
	var created, version int64
	err = s.db.QueryRowContext(ctx, s.q(`UPDATE inference_endpoints
		SET task_type = ?, service = ?, service_settings = ?, task_settings = ?, secrets = ?, updated_at = ?, version = version + 1,
			chunking_settings = ?
		WHERE id = ? AND version = ?
		RETURNING created_at, version`),
		e.TaskType, e.Service, settingsOrEmpty(e.ServiceSettings), settingsOrEmpty(e.TaskSettings), nullable(blob), now,
		nullSettings(e.ChunkingSettings),
		e.ID, expectVersion).Scan(&created, &version)
	if errors.Is(err, sql.ErrNoRows) {
		// Nothing matched: tell a missing endpoint from a stale version. A
		// concurrent delete or update between the two statements only
		// changes which of the two errors is reported.
		var have int64
		err := s.db.QueryRowContext(ctx, s.q(`SELECT version FROM inference_endpoints WHERE id = ?`), e.ID).Scan(&have)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: updating %q: %w", e.ID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: updating %q: %w", e.ID, err)
		}
		return fmt.Errorf("store: updating %q at version %d (stored: %d): %w", e.ID, expectVersion, have, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: updating %q: %w", e.ID, err)
	}
	e.CreatedAt, e.UpdatedAt, e.Version = fromNanos(created), fromNanos(now), version
	s.log.Debug("inference endpoint updated", "id", e.ID, "version", e.Version)
	return nil
}

func (s *sqlStore) Get(ctx context.Context, id string) (*Endpoint, error) {
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+columns+` FROM inference_endpoints WHERE id = ?`), id)
	e, err := s.scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (s *sqlStore) List(ctx context.Context) ([]*Endpoint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM inference_endpoints ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: listing: %w", err)
	}
	defer rows.Close()
	var out []*Endpoint
	for rows.Next() {
		e, err := s.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: listing: %w", err)
	}
	return out, nil
}

func (s *sqlStore) Delete(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM inference_endpoints WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("store: deleting %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: deleting %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: deleting %q: %w", id, ErrNotFound)
	}
	s.log.Debug("inference endpoint deleted", "id", id)
	return nil
}

func (s *sqlStore) Close() error { return s.db.Close() }

// scan reads one row of columns and decrypts its secrets.
func (s *sqlStore) scan(row interface{ Scan(...any) error }) (*Endpoint, error) {
	var (
		e                Endpoint
		ss, ts           string
		cs               sql.NullString
		blob             []byte
		created, updated int64
	)
	if err := row.Scan(&e.ID, &e.TaskType, &e.Service, &ss, &ts, &blob, &created, &updated, &e.Version, &cs); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("store: reading %s: %w", s.where, err)
	}
	sec, err := s.seal.open(e.ID, blob)
	if err != nil {
		return nil, err
	}
	e.ServiceSettings, e.TaskSettings, e.Secrets = []byte(ss), []byte(ts), sec
	if cs.Valid {
		e.ChunkingSettings = []byte(cs.String)
	}
	e.CreatedAt, e.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &e, nil
}

// Timestamps are stored as Unix nanoseconds: exact, ordered and the same
// in both backends.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }
