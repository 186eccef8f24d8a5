package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Virtual keys (/admin/keys): client keys kept in the gateway's store so
// that every replica sharing it accepts them. Like the stored responses,
// the table lives beside the inference endpoints and is created if missing
// (CREATE TABLE IF NOT EXISTS is idempotent and safe for replicas starting
// together, and needs no number in the endpoints' migration sequence).
//
// A key's secret is never stored: only its SHA-256 (see VirtualKey.Hash)
// and a short prefix for display.
//
// Keys are never deleted, only revoked: every write bumps its row's
// version, so the sum of the versions (Generation) grows with each
// committed write whatever the clocks of the replicas say, and a replica
// polling it sees every change.

// ErrKeyNotFound: no virtual key has that ID.
var ErrKeyNotFound = errors.New("virtual key not found")

// VirtualKey is one virtual key, without its secret.
type VirtualKey struct {
	ID     string
	Name   string
	Prefix string // the secret's first characters, for display ("qk-AbC123")
	// Hash is the SHA-256 of the secret.
	Hash   [sha256.Size]byte
	Owner  string
	Team   string
	Labels map[string]string
	// Models are names or glob patterns; empty allows every model.
	Models []string
	// RPM and TPM are per-key requests and tokens per minute (0: none).
	RPM, TPM int64
	// BudgetUSD is the spend allowed per BudgetPeriod ("day" or "month");
	// 0: no budget.
	BudgetUSD    float64
	BudgetPeriod string
	ExpiresAt    time.Time // zero: never
	CreatedAt    time.Time
	UpdatedAt    time.Time
	RevokedAt    time.Time // zero: not revoked
	Version      int64
}

var vkeysTable = map[string]string{
	"sqlite": `CREATE TABLE IF NOT EXISTS virtual_keys (
		id            TEXT    NOT NULL PRIMARY KEY,
		name          TEXT    NOT NULL,
		prefix        TEXT    NOT NULL,
		hash          TEXT    NOT NULL UNIQUE,
		owner         TEXT    NOT NULL,
		team          TEXT    NOT NULL,
		labels        TEXT    NOT NULL,
		models        TEXT    NOT NULL,
		rpm           INTEGER NOT NULL,
		tpm           INTEGER NOT NULL,
		budget_usd    REAL    NOT NULL,
		budget_period TEXT    NOT NULL,
		expires_at    INTEGER NOT NULL,
		created_at    INTEGER NOT NULL,
		updated_at    INTEGER NOT NULL,
		revoked_at    INTEGER NOT NULL,
		version       INTEGER NOT NULL
	) STRICT`,
	"postgres": `CREATE TABLE IF NOT EXISTS virtual_keys (
		id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		name          TEXT   NOT NULL,
		prefix        TEXT   NOT NULL,
		hash          TEXT   NOT NULL UNIQUE,
		owner         TEXT   NOT NULL,
		team          TEXT   NOT NULL,
		labels        TEXT   NOT NULL,
		models        TEXT   NOT NULL,
		rpm           BIGINT NOT NULL,
		tpm           BIGINT NOT NULL,
		budget_usd    DOUBLE PRECISION NOT NULL,
		budget_period TEXT   NOT NULL,
		expires_at    BIGINT NOT NULL,
		created_at    BIGINT NOT NULL,
		updated_at    BIGINT NOT NULL,
		revoked_at    BIGINT NOT NULL,
		version       BIGINT NOT NULL
	)`,
}

const vkeyColumns = `id, name, prefix, hash, owner, team, labels, models, rpm, tpm, budget_usd, budget_period,
	expires_at, created_at, updated_at, revoked_at, version`

// VirtualKeys keeps virtual keys. Safe for concurrent use.
type VirtualKeys struct {
	db    *sql.DB
	d     dialect
	log   *slog.Logger
	nowFn func() time.Time
}

// OpenVirtualKeys opens the virtual key table in the database cfg names
// (the same one Open uses). log may be nil.
func OpenVirtualKeys(ctx context.Context, cfg Config, log *slog.Logger) (*VirtualKeys, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, d, err := openDB(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, vkeysTable[d.name]); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: creating the virtual_keys table: %w", err)
	}
	return &VirtualKeys{db: db, d: d, log: log.With("component", "virtual_key_store"), nowFn: time.Now}, nil
}

func (s *VirtualKeys) q(query string) string { return (&sqlStore{d: s.d}).q(query) }

// Create stores k (its ID and Hash set by the caller) and sets its
// Version, CreatedAt and UpdatedAt.
func (s *VirtualKeys) Create(ctx context.Context, k *VirtualKey) error {
	if k.ID == "" || k.Hash == ([sha256.Size]byte{}) {
		return fmt.Errorf("%w: a virtual key needs an ID and a hash", ErrInvalid)
	}
	now := s.nowFn()
	args, err := k.values()
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO virtual_keys (`+vkeyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`),
		append(args, nanos(k.ExpiresAt), now.UnixNano(), now.UnixNano(), nanos(k.RevokedAt))...)
	if err != nil {
		return fmt.Errorf("store: creating virtual key %s: %w", k.ID, err)
	}
	k.CreatedAt, k.UpdatedAt, k.Version = fromNanos(now.UnixNano()), fromNanos(now.UnixNano()), 1
	s.log.Debug("virtual key created", "id", k.ID)
	return nil
}

// Update replaces k's settings (all but ID, Prefix, Hash, CreatedAt and
// RevokedAt: an update racing a revocation must not undo it), bumps its
// version and sets k's Version and UpdatedAt. ErrKeyNotFound.
func (s *VirtualKeys) Update(ctx context.Context, k *VirtualKey) error {
	args, err := k.values()
	if err != nil {
		return err
	}
	now := s.nowFn().UnixNano()
	var revoked int64
	err = s.db.QueryRowContext(ctx, s.q(`UPDATE virtual_keys SET name = ?, owner = ?, team = ?, labels = ?, models = ?,
		rpm = ?, tpm = ?, budget_usd = ?, budget_period = ?, expires_at = ?, updated_at = ?, version = version + 1
		WHERE id = ? RETURNING version, revoked_at`),
		args[1], args[4], args[5], args[6], args[7], args[8], args[9], args[10], args[11], nanos(k.ExpiresAt), now, k.ID).
		Scan(&k.Version, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: updating virtual key %s: %w", k.ID, ErrKeyNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: updating virtual key %s: %w", k.ID, err)
	}
	k.UpdatedAt, k.RevokedAt = fromNanos(now), optNanos(revoked)
	return nil
}

// Revoke marks the key revoked (once: revoking it again keeps the first
// time) and returns it. ErrKeyNotFound.
func (s *VirtualKeys) Revoke(ctx context.Context, id string) (*VirtualKey, error) {
	now := s.nowFn().UnixNano()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE virtual_keys SET revoked_at = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND revoked_at = 0`), now, now, id)
	if err != nil {
		return nil, fmt.Errorf("store: revoking virtual key %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		s.log.Info("virtual key revoked", "id", id)
	}
	return s.Get(ctx, id)
}

// Get returns the key with that ID. ErrKeyNotFound.
func (s *VirtualKeys) Get(ctx context.Context, id string) (*VirtualKey, error) {
	k, err := scanVirtualKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+vkeyColumns+` FROM virtual_keys WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: virtual key %s: %w", id, ErrKeyNotFound)
	}
	return k, err
}

// List returns every key, revoked ones included, oldest first.
func (s *VirtualKeys) List(ctx context.Context) ([]*VirtualKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+vkeyColumns+` FROM virtual_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: listing virtual keys: %w", err)
	}
	defer rows.Close()
	var out []*VirtualKey
	for rows.Next() {
		k, err := scanVirtualKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: listing virtual keys: %w", err)
	}
	return out, nil
}

// Generation grows with every committed write to the keys (the sum of
// their versions): a poller that sees it unchanged has nothing to reload.
func (s *VirtualKeys) Generation(ctx context.Context) (int64, error) {
	var g int64
	if err := s.db.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM virtual_keys`).Scan(&g); err != nil {
		return 0, fmt.Errorf("store: reading the virtual keys' generation: %w", err)
	}
	return g, nil
}

// Close releases the database.
func (s *VirtualKeys) Close() error { return s.db.Close() }

// values are the first twelve columns' values.
func (k *VirtualKey) values() ([]any, error) {
	labels, err := json.Marshal(orEmptyMap(k.Labels))
	if err != nil {
		return nil, fmt.Errorf("%w: labels: %v", ErrInvalid, err)
	}
	models, err := json.Marshal(orEmptySlice(k.Models))
	if err != nil {
		return nil, fmt.Errorf("%w: models: %v", ErrInvalid, err)
	}
	return []any{k.ID, k.Name, k.Prefix, hex.EncodeToString(k.Hash[:]), k.Owner, k.Team, string(labels), string(models),
		k.RPM, k.TPM, k.BudgetUSD, k.BudgetPeriod}, nil
}

func scanVirtualKey(row interface{ Scan(...any) error }) (*VirtualKey, error) {
	var (
		k                                  VirtualKey
		hash, labels, models               string
		expires, created, updated, revoked int64
	)
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &hash, &k.Owner, &k.Team, &labels, &models, &k.RPM, &k.TPM, &k.BudgetUSD,
		&k.BudgetPeriod, &expires, &created, &updated, &revoked, &k.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading virtual keys: %w", err)
	}
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("store: virtual key %s has a malformed hash", k.ID)
	} else {
		copy(k.Hash[:], b)
	}
	if err := json.Unmarshal([]byte(labels), &k.Labels); err != nil {
		return nil, fmt.Errorf("store: virtual key %s has malformed labels: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
		return nil, fmt.Errorf("store: virtual key %s has malformed models: %w", k.ID, err)
	}
	k.ExpiresAt, k.RevokedAt = optNanos(expires), optNanos(revoked)
	k.CreatedAt, k.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &k, nil
}

// nanos stores a time that may be unset: 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func optNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptySlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
