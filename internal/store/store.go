// Package store keeps the gateway's Elasticsearch-style inference endpoints
// (PUT /_inference/...) so that they survive restarts.
//
// # API
//
//	st, err := store.Open(ctx, store.Config{Path: "data/quarry.db"}, log)
//	err = st.Create(ctx, e)              // ErrExists when e.ID is taken
//	e, err := st.Get(ctx, id)            // ErrNotFound
//	all, err := st.List(ctx)             // ordered by ID (byte order)
//	err = st.Update(ctx, e, e.Version)   // ErrNotFound, ErrConflict
//	err = st.Delete(ctx, id)             // ErrNotFound
//	err = st.Close()
//
// Callers branch on the sentinel errors with errors.Is. Create and Update
// fill in e.Version, e.CreatedAt and e.UpdatedAt once the write has
// committed; a failed write leaves e untouched.
//
// # Backends
//
// SQLite (the default; pure Go, modernc.org/sqlite) stores everything in
// Config.Path, created on first use with its parent directory (mode 0700)
// and the file itself mode 0600. It runs in WAL mode with synchronous=FULL,
// so a write is on disk when it is acknowledged.
//
// PostgreSQL is chosen by Config.PostgresDSN, for several gateway replicas
// sharing one store. The schema and the semantics are the same: two replicas
// creating one ID at once get exactly one success and one ErrExists (the
// primary key decides).
//
// Every write is one transaction and is acknowledged only after its commit,
// so a crash at any point leaves every acknowledged endpoint intact and no
// half-written one. Update is optimistic: it succeeds only when the stored
// Version still equals expectVersion, and bumps Version by one.
//
// The schema is created and migrated on Open; its version is kept in the
// schema_version table, and a database written by a newer Quarry is refused.
//
// # Secrets
//
// Endpoint.Secrets (access_key, secret_key, ...) are encrypted at rest with
// AES-256-GCM: a fresh random 96-bit nonce for every write, and the endpoint
// ID bound as additional data, so a ciphertext copied onto another row does
// not decrypt. ServiceSettings and TaskSettings are stored in plain text, so
// they must not hold secrets: a top-level "access_key" or "secret_key" in
// them is refused with ErrInvalid.
//
// The key is Config.Key: 32 raw bytes, or text holding the 32 bytes as 64
// hex digits or as base64 (standard or URL alphabet, padded or not);
// whitespace around the text forms is ignored. 32 hex digits are refused
// rather than taken as raw bytes: they are a 16-byte key (ParseKey).
//
// With no key configured, the SQLite backend keeps a key file beside the
// database, "<Path>.key" (mode 0600, holding the key as base64): a random
// key is generated into it once, on the first Open, and reused afterwards.
// The file is published atomically and exclusively (written and synced
// under a temporary O_EXCL name, then hard-linked into place, which fails
// if the name exists), so two processes starting at once end up sharing
// whichever key was linked first and nobody ever reads a half-written key.
// The log says where the key file is, never the key, and warns if others
// than its owner can read it.
//
// Open refuses to start with ErrKeyRequired when endpoints with secrets
// exist and there is no key (no Config.Key and, for SQLite, no key file),
// and with ErrWrongKey when the key does not decrypt the stored secrets.
// PostgreSQL never uses a key file (replicas must share one key): it needs
// Config.Key as soon as any endpoint has secrets; without one, Open works
// on a store without secrets but writing secrets fails with ErrKeyRequired.
//
// Secrets never appear in this package's logs or errors, and Endpoint and
// Secrets redact them in fmt output (every verb), in slog and in JSON.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors callers branch on with errors.Is. Returned errors wrap them with
// the endpoint ID and, for the Open refusals, what to do about it.
var (
	// ErrNotFound: no endpoint has that ID.
	ErrNotFound = errors.New("inference endpoint not found")
	// ErrExists: Create found the ID taken.
	ErrExists = errors.New("inference endpoint already exists")
	// ErrConflict: Update's expectVersion is not the stored version (someone
	// else updated the endpoint first); re-read and retry.
	ErrConflict = errors.New("inference endpoint was changed concurrently (version conflict)")
	// ErrInvalid: the endpoint cannot be stored as given (empty ID, settings
	// that are not a JSON object, a secret inside the plain-text settings).
	ErrInvalid = errors.New("invalid inference endpoint")
	// ErrKeyRequired: secrets exist or are being written, and no encryption
	// key is configured (nor, for SQLite, a key file beside the database).
	ErrKeyRequired = errors.New("an encryption key for inference endpoint secrets is required")
	// ErrWrongKey: the configured key does not decrypt the stored secrets.
	ErrWrongKey = errors.New("the encryption key does not decrypt the stored inference endpoint secrets")
)

// Endpoint is one inference endpoint as Elasticsearch's inference API
// defines it.
type Endpoint struct {
	ID       string // inference_id
	TaskType string // completion | chat_completion | text_embedding
	Service  string // "amazonbedrock"
	// ServiceSettings holds the non-secret service settings (region,
	// provider, model, rate_limit, dimensions, similarity, ...) as a JSON
	// object; nil or null is stored as {}.
	ServiceSettings json.RawMessage
	// TaskSettings is a JSON object; nil or null is stored as {}.
	TaskSettings json.RawMessage
	// ChunkingSettings is a JSON object, or nil (SQL NULL) when the
	// endpoint has none: endpoints stored before schema version 2 read
	// back nil, which callers tell apart from any setting.
	ChunkingSettings json.RawMessage
	// Secrets (access_key, secret_key) are encrypted at rest and redacted
	// whenever printed, logged or marshalled. Empty means none (read back
	// as nil).
	Secrets   Secrets
	CreatedAt time.Time // set by Create
	UpdatedAt time.Time // set by Create and Update
	Version   int64     // 1 after Create, bumped by each Update
}

// Store keeps inference endpoints. Its methods are safe for concurrent use.
type Store interface {
	// Create stores a new endpoint and sets its Version (1), CreatedAt and
	// UpdatedAt. ErrExists if the ID is taken.
	Create(ctx context.Context, e *Endpoint) error
	// Get returns the endpoint with its secrets decrypted. ErrNotFound.
	Get(ctx context.Context, id string) (*Endpoint, error)
	// List returns every endpoint, ordered by ID.
	List(ctx context.Context) ([]*Endpoint, error)
	// Update replaces everything but ID and CreatedAt, if the stored version
	// is expectVersion, and sets e's Version, CreatedAt and UpdatedAt.
	// ErrNotFound, ErrConflict.
	Update(ctx context.Context, e *Endpoint, expectVersion int64) error
	// Delete removes the endpoint. ErrNotFound.
	Delete(ctx context.Context, id string) error
	// Close releases the database.
	Close() error
}

// Config chooses and configures the backend.
type Config struct {
	// Path is the SQLite database file, used when PostgresDSN is empty.
	Path string
	// PostgresDSN, when set, selects PostgreSQL (a pgx connection string:
	// URL or key=value form). It is never logged.
	PostgresDSN string
	// Key is the AES-256 key for the secrets: 32 raw bytes, or 64 hex
	// digits, or base64 of 32 bytes. Empty: the SQLite key file (see the
	// package doc); for PostgreSQL, no secrets can be written.
	Key []byte
}

// Open opens (creating or migrating if needed) the store cfg describes and
// checks that the secrets it holds can be decrypted. log may be nil.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "store")
	var key []byte
	if len(cfg.Key) > 0 {
		k, err := ParseKey(cfg.Key)
		if err != nil {
			return nil, err
		}
		key = k
	}
	if cfg.PostgresDSN != "" {
		return openPostgres(ctx, cfg.PostgresDSN, key, log)
	}
	if cfg.Path == "" {
		return nil, errors.New("store: no SQLite path and no PostgreSQL DSN configured")
	}
	return openSQLite(ctx, cfg.Path, key, log)
}

// secretSettings are the Elasticsearch service settings that are secrets;
// they belong in Endpoint.Secrets, never in the plain-text settings.
var secretSettings = []string{"access_key", "secret_key"}

// check validates what the store relies on; the inference API validates
// the rest (task types, providers, ranges).
func (e *Endpoint) check() error {
	if e == nil {
		return fmt.Errorf("%w: nil endpoint", ErrInvalid)
	}
	if e.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalid)
	}
	if e.TaskType == "" || e.Service == "" {
		return fmt.Errorf("%w %q: task type and service are required", ErrInvalid, e.ID)
	}
	for name, raw := range map[string]json.RawMessage{"service_settings": e.ServiceSettings, "task_settings": e.TaskSettings, "chunking_settings": e.ChunkingSettings} {
		if noSettings(raw) {
			continue
		}
		var obj map[string]json.RawMessage
		// Not json.Valid alone: the API stores objects, and a decoded
		// object lets us look for secrets among its keys. The decode error
		// is not wrapped: it could quote the settings.
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return fmt.Errorf("%w %q: %s is not a JSON object", ErrInvalid, e.ID, name)
		}
		for _, s := range secretSettings {
			if _, ok := obj[s]; ok {
				return fmt.Errorf("%w %q: %s holds %q, a secret: put it in Secrets so it is encrypted", ErrInvalid, e.ID, name, s)
			}
		}
	}
	return nil
}

// noSettings: nil, empty or JSON null, all stored as {}.
func noSettings(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func settingsOrEmpty(raw json.RawMessage) string {
	if noSettings(raw) {
		return "{}"
	}
	return string(raw)
}

// Secrets are an endpoint's secret settings by name. The values never
// leave through fmt (any verb), slog or encoding/json: those see the names
// only, each value replaced by "[REDACTED]".
type Secrets map[string]string

const redacted = "[REDACTED]"

func (s Secrets) names() []string {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// String lists the names with redacted values.
func (s Secrets) String() string {
	if s == nil {
		return "map[]"
	}
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range s.names() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + ":" + redacted)
	}
	b.WriteByte(']')
	return b.String()
}

// GoString is String in Go syntax, still redacted.
func (s Secrets) GoString() string {
	if s == nil {
		return "store.Secrets(nil)"
	}
	var b strings.Builder
	b.WriteString("store.Secrets{")
	for i, k := range s.names() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(k) + ":" + strconv.Quote(redacted))
	}
	b.WriteByte('}')
	return b.String()
}

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x, ...) print the
// redacted form: Stringer alone would leave %x and %q to print the values.
func (s Secrets) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, s.GoString())
		return
	}
	io.WriteString(f, s.String())
}

// LogValue logs the names only.
func (s Secrets) LogValue() slog.Value {
	return slog.StringValue(s.String())
}

// MarshalJSON emits the names with redacted values, so marshalling an
// Endpoint for a response or a debug dump cannot leak them.
func (s Secrets) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	m := make(map[string]string, len(s))
	for k := range s {
		m[k] = redacted
	}
	return json.Marshal(m)
}

// Format prints the endpoint for every verb in one readable form, with the
// settings as JSON text rather than bytes, and the secrets redacted.
func (e Endpoint) Format(f fmt.State, verb rune) {
	sec := e.Secrets.String()
	if verb == 'v' && f.Flag('#') {
		sec = e.Secrets.GoString()
	}
	fmt.Fprintf(f, "{ID:%q TaskType:%q Service:%q ServiceSettings:%s TaskSettings:%s Secrets:%s CreatedAt:%s UpdatedAt:%s Version:%d}",
		e.ID, e.TaskType, e.Service, settingsOrEmpty(e.ServiceSettings), settingsOrEmpty(e.TaskSettings),
		sec, e.CreatedAt.Format(time.RFC3339Nano), e.UpdatedAt.Format(time.RFC3339Nano), e.Version)
}

// LogValue logs the endpoint without secret values.
func (e Endpoint) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", e.ID),
		slog.String("task_type", e.TaskType),
		slog.String("service", e.Service),
		slog.Int64("version", e.Version),
		slog.Any("secrets", e.Secrets),
	)
}
