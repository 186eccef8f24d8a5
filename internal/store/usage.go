package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Usage aggregated per API key, model and hour (internal/usage writes it,
// in batches, off the requests' path). The table lives in the gateway's
// database beside the endpoints and responses; CREATE TABLE IF NOT EXISTS
// is idempotent and safe for replicas starting together, and every write
// is an upsert that adds to the hour's row, so replicas sharing one
// PostgreSQL add up.

// UsageRow is one key's use of one model in one hour (or, from Query, the
// sum over whatever the filter grouped).
type UsageRow struct {
	Hour                time.Time // the hour's start, UTC
	KeyID, KeyName      string
	Model               string
	Requests            int64
	InputTokens         int64
	OutputTokens        int64
	CacheReadTokens     int64
	CacheWriteTokens    int64
	ReasoningTokens     int64
	Images, SearchUnits int64
	CostNanos           int64 // USD × 1e9, for the requests whose price is known
	UnpricedRequests    int64 // requests of a model no price is known for
}

// UsageFilter selects rows: empty fields select all; From and To bound the
// hour (From inclusive, rounded down to its hour; To exclusive).
type UsageFilter struct {
	KeyID, Model string
	From, To     time.Time
}

// UsageStore keeps the usage table. Safe for concurrent use.
type UsageStore struct {
	db *sql.DB
	d  dialect
}

var usageTable = map[string]string{
	"sqlite": `CREATE TABLE IF NOT EXISTS usage_hourly (
		hour               INTEGER NOT NULL,
		key_id             TEXT    NOT NULL,
		key_name           TEXT    NOT NULL,
		model              TEXT    NOT NULL,
		requests           INTEGER NOT NULL,
		input_tokens       INTEGER NOT NULL,
		output_tokens      INTEGER NOT NULL,
		cache_read_tokens  INTEGER NOT NULL,
		cache_write_tokens INTEGER NOT NULL,
		reasoning_tokens   INTEGER NOT NULL,
		images             INTEGER NOT NULL,
		search_units       INTEGER NOT NULL,
		cost_nanos         INTEGER NOT NULL,
		unpriced_requests  INTEGER NOT NULL,
		PRIMARY KEY (hour, key_id, model)
	) STRICT`,
	"postgres": `CREATE TABLE IF NOT EXISTS usage_hourly (
		hour               BIGINT NOT NULL,
		key_id             TEXT   NOT NULL,
		key_name           TEXT   NOT NULL,
		model              TEXT   NOT NULL,
		requests           BIGINT NOT NULL,
		input_tokens       BIGINT NOT NULL,
		output_tokens      BIGINT NOT NULL,
		cache_read_tokens  BIGINT NOT NULL,
		cache_write_tokens BIGINT NOT NULL,
		reasoning_tokens   BIGINT NOT NULL,
		images             BIGINT NOT NULL,
		search_units       BIGINT NOT NULL,
		cost_nanos         BIGINT NOT NULL,
		unpriced_requests  BIGINT NOT NULL,
		PRIMARY KEY (hour, key_id, model)
	)`,
}

// usageKeyIndex serves Spend (a key's rows since a time).
const usageKeyIndex = `CREATE INDEX IF NOT EXISTS usage_hourly_key ON usage_hourly (key_id, hour)`

// usageCounters are the columns an upsert adds to.
var usageCounters = []string{"requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
	"reasoning_tokens", "images", "search_units", "cost_nanos", "unpriced_requests"}

// OpenUsage opens the usage table in the database cfg names (the same one
// Open uses), creating it if missing.
func OpenUsage(ctx context.Context, cfg Config) (*UsageStore, error) {
	db, d, err := openDB(cfg)
	if err != nil {
		return nil, err
	}
	for _, ddl := range []string{usageTable[d.name], usageKeyIndex} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: creating the usage table: %w", err)
		}
	}
	return &UsageStore{db: db, d: d}, nil
}

func (s *UsageStore) q(query string) string { return (&sqlStore{d: s.d}).q(query) }

// upsertUsage adds a row's counters to its hour's row.
var upsertUsage = func() string {
	set := make([]string, len(usageCounters))
	for i, c := range usageCounters {
		set[i] = c + " = usage_hourly." + c + " + excluded." + c
	}
	return `INSERT INTO usage_hourly (hour, key_id, key_name, model, ` + strings.Join(usageCounters, ", ") + `)
		VALUES (?, ?, ?, ?` + strings.Repeat(", ?", len(usageCounters)) + `)
		ON CONFLICT (hour, key_id, model) DO UPDATE SET key_name = excluded.key_name, ` + strings.Join(set, ", ")
}()

// Add adds rows to the table in one transaction: all or none.
func (s *UsageStore) Add(ctx context.Context, rows []UsageRow) error {
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: writing usage: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.q(upsertUsage))
	if err != nil {
		return fmt.Errorf("store: writing usage: %w", err)
	}
	defer stmt.Close()
	for i := range rows {
		r := &rows[i]
		if _, err := stmt.ExecContext(ctx, r.Hour.UTC().Truncate(time.Hour).Unix(), r.KeyID, r.KeyName, r.Model,
			r.Requests, r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.ReasoningTokens,
			r.Images, r.SearchUnits, r.CostNanos, r.UnpricedRequests); err != nil {
			return fmt.Errorf("store: writing usage: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: writing usage: %w", err)
	}
	return nil
}

// Query returns the hourly rows f selects, oldest first.
func (s *UsageStore) Query(ctx context.Context, f UsageFilter) ([]UsageRow, error) {
	where, args := s.where(f)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT hour, key_id, key_name, model, `+strings.Join(usageCounters, ", ")+
		` FROM usage_hourly`+where+` ORDER BY hour, key_id, model`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading usage: %w", err)
	}
	defer rows.Close()
	var out []UsageRow
	for rows.Next() {
		var r UsageRow
		var hour int64
		if err := rows.Scan(&hour, &r.KeyID, &r.KeyName, &r.Model, &r.Requests, &r.InputTokens, &r.OutputTokens,
			&r.CacheReadTokens, &r.CacheWriteTokens, &r.ReasoningTokens, &r.Images, &r.SearchUnits,
			&r.CostNanos, &r.UnpricedRequests); err != nil {
			return nil, fmt.Errorf("store: reading usage: %w", err)
		}
		r.Hour = time.Unix(hour, 0).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading usage: %w", err)
	}
	return out, nil
}

func (s *UsageStore) where(f UsageFilter) (string, []any) {
	var conds []string
	var args []any
	if f.KeyID != "" {
		conds, args = append(conds, "key_id = ?"), append(args, f.KeyID)
	}
	if f.Model != "" {
		conds, args = append(conds, "model = ?"), append(args, f.Model)
	}
	if !f.From.IsZero() {
		conds, args = append(conds, "hour >= ?"), append(args, f.From.UTC().Truncate(time.Hour).Unix())
	}
	if !f.To.IsZero() {
		conds, args = append(conds, "hour < ?"), append(args, f.To.UTC().Unix())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Spend is what keyID's requests cost, in USD, from the hour since falls
// in (usage is kept per hour) to now; what the recorder has not written
// yet (at most its flush interval) is not included.
func (s *UsageStore) Spend(ctx context.Context, keyID string, since time.Time) (float64, error) {
	var nanos int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT) FROM usage_hourly WHERE key_id = ? AND hour >= ?`),
		keyID, since.UTC().Truncate(time.Hour).Unix()).Scan(&nanos)
	if err != nil {
		return 0, fmt.Errorf("store: reading spend: %w", err)
	}
	return float64(nanos) / 1e9, nil
}

// Close closes the database.
func (s *UsageStore) Close() error { return s.db.Close() }
