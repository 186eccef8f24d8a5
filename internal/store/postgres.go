package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

var postgresDialect = dialect{
	name:   "postgres",
	dollar: true,
	// A transaction-scoped advisory lock (the number is arbitrary, fixed
	// for Quarry's store) so that replicas starting together migrate one
	// after the other instead of racing on CREATE TABLE.
	lockMigrations: `SELECT pg_advisory_xact_lock(7150411200)`,
	migrations: []string{
		// 1: the endpoints. COLLATE "C" orders IDs by bytes, as SQLite
		// does, whatever the database's locale.
		`CREATE TABLE inference_endpoints (
			id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
			task_type        TEXT   NOT NULL,
			service          TEXT   NOT NULL,
			service_settings TEXT   NOT NULL,
			task_settings    TEXT   NOT NULL,
			secrets          BYTEA,
			created_at       BIGINT NOT NULL,
			updated_at       BIGINT NOT NULL,
			version          BIGINT NOT NULL
		)`,
		// 2: chunking_settings, NULL for the endpoints stored before it.
		`ALTER TABLE inference_endpoints ADD COLUMN chunking_settings TEXT`,
	},
}

func openPostgres(ctx context.Context, dsn string, key []byte, log *slog.Logger) (Store, error) {
	// Parsed here only to name the database in logs and errors: the DSN
	// itself may hold a password, so neither it nor pgx's parse error
	// (which quotes it) is repeated.
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("store: the PostgreSQL DSN does not parse (not quoted here: it may hold a password)")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: opening PostgreSQL: %w", err)
	}
	where := fmt.Sprintf("PostgreSQL database %q on %s:%d", pc.Database, pc.Host, pc.Port)
	s := &sqlStore{db: db, d: postgresDialect, log: log, where: where}
	if err := s.initPostgres(ctx, key); err != nil {
		db.Close()
		return nil, err
	}
	s.logOpened(ctx, "host", pc.Host, "port", pc.Port, "database", pc.Database)
	return s, nil
}

// initPostgres is init without a key file: replicas on other machines
// could not share one, and each generating its own would make the secrets
// unreadable to the others.
func (s *sqlStore) initPostgres(ctx context.Context, key []byte) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: connecting to %s: %w", s.where, err)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	n, err := s.countSecrets(ctx)
	if err != nil {
		return err
	}
	if key == nil {
		if n > 0 {
			return s.refuseWithoutKey(n, "no key is configured (a PostgreSQL store has no key file: every replica needs the same configured key)")
		}
		s.log.Warn("no encryption key configured for the PostgreSQL inference endpoint store: endpoints with secrets cannot be stored until one is")
		return nil
	}
	if s.seal, err = newSealer(key); err != nil {
		return err
	}
	clear(key)
	if n > 0 {
		return s.checkKey(ctx, "the configured store key")
	}
	return nil
}
