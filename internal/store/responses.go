package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The OpenAI Responses API's stored responses (/v1/responses with store:
// true). They live in the same database as the inference endpoints, in
// their own table, which this file creates if missing (CREATE TABLE IF NOT
// EXISTS is idempotent and safe for replicas starting together, so it needs
// no schema version of its own). Each record belongs to the API key that
// created it, known only by a hash of the key: reads and deletes by another
// owner find nothing.

// ErrResponseNotFound: no stored response has that ID for that owner (or it
// has expired).
var ErrResponseNotFound = errors.New("stored response not found")

// Response is one stored response: Data is opaque to the store (the
// surface's JSON).
type Response struct {
	ID        string
	Owner     string // a hash of the API key that created it; never the key
	CreatedAt time.Time
	Data      []byte
}

// ResponsesConfig bounds what is kept.
type ResponsesConfig struct {
	// Retention is how long a response is kept. 0: 30 days.
	Retention time.Duration
	// MaxBytes caps the total size of the stored responses; the oldest go
	// first. 0: 1 GiB.
	MaxBytes int64
	// FlushInterval batches writes: Put queues the record (Get on this
	// handle sees it at once) and a writer commits what has queued, in one
	// transaction, at most this long after. One commit per record is most
	// of a stored response's cost; a batch shares it (four to five times
	// less CPU per record at 8 or more per batch, see
	// BenchmarkResponsesPut). Other replicas, and a restart after a crash,
	// miss at most this window. 0: each Put commits before it returns.
	FlushInterval time.Duration
}

// Responses keeps stored responses. Safe for concurrent use.
type Responses struct {
	db *sql.DB
	d  dialect
	// insert is prepared once: a batch takes it into its transaction
	// (Tx.StmtContext), which prepares it again only on a connection
	// that has not seen it.
	insert *sql.Stmt
	cfg    ResponsesConfig
	log    *slog.Logger
	// total is the stored responses' size as last counted plus what this
	// process added since: an upper bound (deletes are not subtracted),
	// so the size cap's costly query runs only when it may be exceeded.
	total   atomic.Int64
	purging atomic.Bool // one purge at a time
	// lastPurge and lastCount are when the last purge and the last
	// recount of total began (Unix nanoseconds).
	lastPurge, lastCount atomic.Int64
	nowFn                func() time.Time

	// The write-behind queue (FlushInterval > 0). queued maps the ID of
	// every record not yet committed to it, for Get and Delete.
	mu      sync.Mutex
	pending []*Response
	queued  map[string]*Response
	wake    chan struct{}      // a record was queued
	flushes chan chan struct{} // commit now, then close the channel
	stop    chan struct{}
	stopped chan struct{}
	closed  bool // under mu: Close has begun
}

// maxQueued bounds the write-behind queue: past it a Put commits its own
// record, so a stalled database slows requests (each bounded by its
// context) instead of growing memory.
const maxQueued = 4096

var responsesTable = map[string]string{
	"sqlite": `CREATE TABLE IF NOT EXISTS responses (
		id         TEXT    NOT NULL PRIMARY KEY,
		owner      TEXT    NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		size       INTEGER NOT NULL,
		data       BLOB    NOT NULL
	) STRICT`,
	"postgres": `CREATE TABLE IF NOT EXISTS responses (
		id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
		owner      TEXT   NOT NULL,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		size       BIGINT NOT NULL,
		data       BYTEA  NOT NULL
	)`,
}

// OpenResponses opens the response store in the database cfg names (the
// same one Open uses). log may be nil.
func OpenResponses(ctx context.Context, cfg Config, rc ResponsesConfig, log *slog.Logger) (*Responses, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if rc.Retention <= 0 {
		rc.Retention = 30 * 24 * time.Hour
	}
	if rc.MaxBytes <= 0 {
		rc.MaxBytes = 1 << 30
	}
	db, d, err := openDB(cfg)
	if err != nil {
		return nil, err
	}
	for _, ddl := range []string{responsesTable[d.name], responsesExpiresIndex} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: creating the responses table: %w", err)
		}
	}
	s := &Responses{db: db, d: d, cfg: rc, log: log.With("component", "response_store"), nowFn: time.Now}
	if err := s.count(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.insert, err = db.PrepareContext(ctx, s.q(responsesInsert)); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: preparing to store responses: %w", err)
	}
	if rc.FlushInterval > 0 {
		s.queued = make(map[string]*Response)
		s.wake = make(chan struct{}, 1)
		s.flushes = make(chan chan struct{})
		s.stop, s.stopped = make(chan struct{}), make(chan struct{})
		go s.writer()
	}
	return s, nil
}

// responsesExpiresIndex keeps deleting expired responses from scanning the
// table.
const responsesExpiresIndex = `CREATE INDEX IF NOT EXISTS responses_expires_at ON responses (expires_at)`

// count sets total from the table.
func (s *Responses) count(ctx context.Context) error {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM responses`).Scan(&n); err != nil {
		return fmt.Errorf("store: sizing the stored responses: %w", err)
	}
	s.total.Store(n)
	return nil
}

func (s *Responses) q(query string) string { return (&sqlStore{d: s.d}).q(query) }

// Put stores r, replacing a record of the same ID and owner. With a
// FlushInterval it returns once the record is queued (see FlushInterval).
func (s *Responses) Put(ctx context.Context, r *Response) error {
	if r.CreatedAt.IsZero() {
		c := *r
		c.CreatedAt = s.nowFn()
		r = &c
	}
	if s.queued != nil {
		s.mu.Lock()
		if len(s.pending) < maxQueued && !s.closed {
			if old, ok := s.queued[r.ID]; !ok || old.Owner == r.Owner {
				s.queued[r.ID] = r
				s.pending = append(s.pending, r)
			}
			s.mu.Unlock()
			select {
			case s.wake <- struct{}{}:
			default:
			}
			return nil
		}
		s.mu.Unlock()
	}
	return s.write(ctx, []*Response{r})
}

const responsesInsert = `INSERT INTO responses (id, owner, created_at, expires_at, size, data) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET data = excluded.data, size = excluded.size, expires_at = excluded.expires_at
	WHERE responses.owner = excluded.owner`

// write commits records in one transaction.
func (s *Responses) write(ctx context.Context, records []*Response) error {
	now := s.nowFn()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: storing %d responses: %w", len(records), err)
	}
	defer tx.Rollback()
	stmt := tx.StmtContext(ctx, s.insert)
	defer stmt.Close()
	var size int64
	for _, r := range records {
		if _, err := stmt.ExecContext(ctx, r.ID, r.Owner, r.CreatedAt.UnixNano(), now.Add(s.cfg.Retention).UnixNano(), int64(len(r.Data)), r.Data); err != nil {
			return fmt.Errorf("store: storing response %s: %w", r.ID, err)
		}
		size += int64(len(r.Data))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: storing %d responses: %w", len(records), err)
	}
	s.total.Add(size)
	// Expired and over-cap records go at most once a second, off the
	// request; at most once a minute the size is counted again (a scan of
	// the table), to see other replicas' writes.
	if now := time.Now().UnixNano(); now-s.lastPurge.Load() >= int64(time.Second) && s.purging.CompareAndSwap(false, true) {
		s.lastPurge.Store(now)
		recount := now-s.lastCount.Load() >= int64(time.Minute)
		if recount {
			s.lastCount.Store(now)
		}
		go func() {
			defer s.purging.Store(false)
			s.purge(context.WithoutCancel(ctx), recount)
		}()
	}
	return nil
}

// writer commits the queue: FlushInterval after a record arrives, at once
// when asked to flush, and a last time when the store closes.
func (s *Responses) writer() {
	defer close(s.stopped)
	t := time.NewTimer(0)
	<-t.C
	armed := false
	for {
		var reply chan struct{}
		select {
		case <-s.wake:
			if !armed {
				t.Reset(s.cfg.FlushInterval)
				armed = true
			}
			continue
		case <-t.C:
			armed = false
		case reply = <-s.flushes:
		case <-s.stop:
			s.commitQueued()
			return
		}
		s.commitQueued()
		if reply != nil {
			close(reply)
		}
	}
}

// commitQueued writes what is queued; a failure is logged, as a
// synchronous Put's caller would log it (the client has its answer: only
// the conversation's continuation is lost).
func (s *Responses) commitQueued() {
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := s.write(ctx, batch)
	cancel()
	if err != nil {
		s.log.Error("storing responses", "count", len(batch), "error", err)
	}
	s.mu.Lock()
	for _, r := range batch {
		if s.queued[r.ID] == r {
			delete(s.queued, r.ID)
		}
	}
	s.mu.Unlock()
}

// Flush commits every queued record before it returns.
func (s *Responses) Flush(ctx context.Context) error {
	if s.queued == nil {
		return nil
	}
	reply := make(chan struct{})
	select {
	case s.flushes <- reply:
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// queuedRecord is the record id of owner still in the queue, if any.
func (s *Responses) queuedRecord(id, owner string) (*Response, bool) {
	if s.queued == nil {
		return nil, false
	}
	s.mu.Lock()
	r, ok := s.queued[id]
	s.mu.Unlock()
	return r, ok && r.Owner == owner
}

// Get returns the response id of owner. ErrResponseNotFound, after a
// second look when writes are batched (see FlushInterval).
func (s *Responses) Get(ctx context.Context, id, owner string) (*Response, error) {
	if q, ok := s.queuedRecord(id, owner); ok {
		c := *q // not yet expired: the retention runs from its commit
		return &c, nil
	}
	r, err := s.get(ctx, id, owner)
	if errors.Is(err, ErrResponseNotFound) && s.cfg.FlushInterval > 0 {
		// Another replica may have answered it a moment ago and not yet
		// committed it (a client's next turn can be that quick): look
		// once more after its flush window, with room for a busy writer.
		// Only a miss pays this.
		t := time.NewTimer(min(2*s.cfg.FlushInterval, 2*time.Second) + 50*time.Millisecond)
		select {
		case <-t.C:
			r, err = s.get(ctx, id, owner)
		case <-ctx.Done():
			t.Stop()
		}
	}
	return r, err
}

func (s *Responses) get(ctx context.Context, id, owner string) (*Response, error) {
	r := &Response{ID: id, Owner: owner}
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT created_at, data FROM responses WHERE id = ? AND owner = ? AND expires_at > ?`),
		id, owner, s.nowFn().UnixNano()).Scan(&created, &r.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrResponseNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading response %s: %w", id, err)
	}
	r.CreatedAt = fromNanos(created)
	return r, nil
}

// Delete removes the response id of owner. ErrResponseNotFound.
func (s *Responses) Delete(ctx context.Context, id, owner string) error {
	if _, ok := s.queuedRecord(id, owner); ok {
		// Commit it first: a delete that ran before the queued insert
		// would let the insert bring it back.
		if err := s.Flush(ctx); err != nil {
			return fmt.Errorf("store: deleting response %s: %w", id, err)
		}
	}
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM responses WHERE id = ? AND owner = ? AND expires_at > ?`), id, owner, s.nowFn().UnixNano())
	if err != nil {
		return fmt.Errorf("store: deleting response %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrResponseNotFound, id)
	}
	return nil
}

// Purge deletes expired responses, then the oldest while the total size is
// over the cap.
func (s *Responses) Purge(ctx context.Context) error { return s.purge(ctx, true) }

// purge is Purge; without recount, the size cap is checked only when total
// says it may be exceeded (the query that enforces it sorts the table).
func (s *Responses) purge(ctx context.Context, recount bool) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM responses WHERE expires_at <= ?`), s.nowFn().UnixNano()); err != nil {
		s.log.Warn("purging expired responses", "error", err)
		return err
	}
	if !recount && s.total.Load() <= s.cfg.MaxBytes {
		return nil
	}
	if err := s.count(ctx); err != nil || s.total.Load() <= s.cfg.MaxBytes {
		return err
	}
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM responses WHERE id IN (
		SELECT id FROM (SELECT id, SUM(size) OVER (ORDER BY created_at DESC, id) AS running FROM responses) t WHERE running > ?)`), s.cfg.MaxBytes)
	if err != nil {
		s.log.Warn("purging responses over the size cap", "error", err)
		return err
	}
	return s.count(ctx)
}

// Close commits what is queued and releases the database.
func (s *Responses) Close() error {
	if s.stop != nil {
		s.mu.Lock()
		first := !s.closed
		s.closed = true // later Puts commit on their own (and fail: closed)
		s.mu.Unlock()
		if first {
			close(s.stop)
			<-s.stopped
		}
	}
	s.insert.Close()
	return s.db.Close()
}

// openDB opens the database cfg names for the tables kept beside the
// endpoints (stored responses, usage), each on its own pool. SQLite
// connections here use synchronous=NORMAL: in WAL mode a commit survives
// a crash of the gateway, just not of the machine, and skipping the fsync
// per write keeps these writes cheap (the endpoints keep FULL).
func openDB(cfg Config) (*sql.DB, dialect, error) {
	switch {
	case cfg.PostgresDSN != "":
		if _, perr := pgconn.ParseConfig(cfg.PostgresDSN); perr != nil {
			return nil, dialect{}, errors.New("store: the PostgreSQL DSN does not parse (not quoted here: it may hold a password)")
		}
		db, err := sql.Open("pgx", cfg.PostgresDSN)
		if err != nil {
			return nil, dialect{}, fmt.Errorf("store: opening the database: %w", err)
		}
		return db, postgresDialect, nil
	case cfg.Path != "":
		abs, aerr := filepath.Abs(cfg.Path)
		if aerr != nil {
			return nil, dialect{}, fmt.Errorf("store: database path %s: %w", cfg.Path, aerr)
		}
		if err := createSQLite(abs); err != nil {
			return nil, dialect{}, err
		}
		// A 16 MiB page cache (SQLite's default is 2 MiB): the indexes'
		// pages a write touches stay in memory instead of being read
		// again with a system call each.
		pragmas := strings.Replace(sqlitePragmas, "synchronous(FULL)", "synchronous(NORMAL)", 1) + "&_pragma=cache_size(-16384)"
		db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: abs}).String()+"?"+pragmas)
		if err != nil {
			return nil, dialect{}, fmt.Errorf("store: opening database %s: %w", abs, err)
		}
		return db, sqliteDialect, nil
	default:
		return nil, dialect{}, errors.New("store: no SQLite path and no PostgreSQL DSN configured")
	}
}
