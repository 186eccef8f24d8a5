package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultStorePath is where the inference endpoint store lives when the
// config names neither a path nor a PostgreSQL DSN, relative to the config
// file (so the quick start needs no set-up).
const DefaultStorePath = "quarry-data/endpoints.db"

// Store configures where the Elasticsearch-style inference endpoints
// (PUT /_inference/...) are kept.
type Store struct {
	// Path is the SQLite database file (absolute, or resolved against the
	// config file's directory). Default DefaultStorePath.
	Path string
	// PostgresDSN, when set, selects PostgreSQL instead of SQLite, so that
	// several gateway replicas share one store.
	PostgresDSN Secret
	// EncryptionKey encrypts the endpoints' secrets at rest (32 bytes as 64
	// hex digits or base64). Empty: the SQLite store generates a key file
	// beside the database.
	EncryptionKey Secret
	// ResponsesRetention is how long /v1/responses keeps stored responses
	// (default 30 days); ResponsesMaxBytes caps their total size (default
	// 1GiB), the oldest going first.
	ResponsesRetention time.Duration
	ResponsesMaxBytes  int64
	// ResponsesFlushInterval batches the writes of stored responses: each
	// is committed at most this long after it was answered (default 10ms;
	// other replicas see it then), in one transaction with the others
	// answered meanwhile. 0s: every response is committed before its
	// answer is sent.
	ResponsesFlushInterval time.Duration
}

// DefaultResponsesFlushInterval is store.responses_flush_interval's default.
const DefaultResponsesFlushInterval = 10 * time.Millisecond

func (d *decoder) store(n *yaml.Node, s *Store) {
	s.Path = filepath.Join(filepath.Dir(d.file), DefaultStorePath)
	s.ResponsesRetention, s.ResponsesMaxBytes = 30*24*time.Hour, 1<<30
	s.ResponsesFlushInterval = DefaultResponsesFlushInterval
	if n == nil {
		return
	}
	f := d.mapping(n, "store", "path", "postgres_dsn", "encryption_key", "responses_retention", "responses_max_bytes", "responses_flush_interval")
	if v, ok := f["responses_flush_interval"]; ok {
		if t, ok := d.duration(v, "store.responses_flush_interval"); ok {
			if t > time.Second {
				d.problem(v, "store.responses_flush_interval", fmt.Sprintf("must be at most 1s (got %s): other replicas and a restart after a crash miss the responses of this window", t))
			} else {
				s.ResponsesFlushInterval = t
			}
		}
	}
	if v, ok := f["responses_retention"]; ok {
		if t, ok := d.duration(v, "store.responses_retention"); ok && t > 0 {
			s.ResponsesRetention = t
		}
	}
	if v, ok := f["responses_max_bytes"]; ok {
		s.ResponsesMaxBytes, _ = d.bytes(v, "store.responses_max_bytes")
	}
	if v, ok := f["path"]; ok {
		if p, ok := d.str(v, "store.path"); ok {
			switch {
			case strings.TrimSpace(p) == "":
				d.problem(v, "store.path", "must not be empty (leave it out for the default "+DefaultStorePath+")")
			case filepath.IsAbs(p):
				s.Path = p
			default:
				s.Path = filepath.Join(filepath.Dir(d.file), p)
			}
		}
	}
	if v, ok := f["postgres_dsn"]; ok {
		dsn := d.secret(v, "store.postgres_dsn")
		if strings.TrimSpace(dsn.Reveal()) == "" {
			d.problem(v, "store.postgres_dsn", "must not be empty")
		} else if !looksLikeDSN(dsn.Reveal()) {
			// Never quote the value: it may hold a password.
			d.problem(v, "store.postgres_dsn", "must be a PostgreSQL URL (postgres://...) or key=value connection string")
		}
		s.PostgresDSN = dsn
		if _, both := f["path"]; both {
			d.problem(v, "store.postgres_dsn", "cannot be combined with store.path: choose SQLite (path) or PostgreSQL (postgres_dsn)")
		}
	}
	if v, ok := f["encryption_key"]; ok {
		// A key written into the config file itself would end up in
		// version control and backups; only a reference is accepted.
		key, had, ok := d.scalar(v, "store.encryption_key")
		if ok && !had {
			d.problem(v, "store.encryption_key", "must be a secret reference such as ${ secrets:QUARRY_STORE_KEY }, not the key itself")
		} else if ok && strings.TrimSpace(key) == "" {
			d.problem(v, "store.encryption_key", "the referenced secret is empty")
		}
		s.EncryptionKey = Secret(key)
	}
}

// looksLikeDSN accepts the two forms pgx parses: a URL and key=value pairs.
func looksLikeDSN(s string) bool {
	if u, err := url.Parse(s); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return true
	}
	return strings.Contains(s, "=")
}

// endpointURL reads an absolute http(s) URL.
func (d *decoder) endpointURL(n *yaml.Node, field string) string {
	u, ok := d.str(n, field)
	if !ok {
		return ""
	}
	if !endpointPattern.MatchString(u) {
		d.problem(n, field, fmt.Sprintf("%q must be an absolute http(s) URL", u))
		return ""
	}
	return u
}
