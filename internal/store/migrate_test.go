package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestMigrateV1: a database written by the schema before chunking_settings
// (version 1) opens, is migrated to version 2, and its endpoints read back
// unchanged with no chunking settings (nil, not {}), which the inference
// API tells apart from any setting. New writes keep theirs.
func TestMigrateV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		sqliteDialect.migrations[0],
		`CREATE TABLE schema_version (version BIGINT NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO inference_endpoints (id, task_type, service, service_settings, task_settings, secrets, created_at, updated_at, version)
			VALUES ('old-emb', 'text_embedding', 'amazonbedrock', '{"region":"us-east-1","provider":"amazontitan","model":"amazon.titan-embed-text-v2:0"}', '{}', NULL, 1, 2, 3)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	st, err := Open(ctx, Config{Path: path}, nil)
	if err != nil {
		t.Fatalf("opening a version 1 store: %v", err)
	}
	defer st.Close()
	old, err := st.Get(ctx, "old-emb")
	if err != nil {
		t.Fatal(err)
	}
	if old.ChunkingSettings != nil || old.Version != 3 || string(old.ServiceSettings) != `{"region":"us-east-1","provider":"amazontitan","model":"amazon.titan-embed-text-v2:0"}` {
		t.Errorf("migrated endpoint %+v, chunking %q", old, old.ChunkingSettings)
	}
	var v int
	if err := st.(*sqlStore).db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != 2 {
		t.Errorf("schema version %d %v", v, err)
	}

	// Updating an old endpoint keeps "none" unless a value is given.
	old.TaskSettings = json.RawMessage(`{"truncate":"end"}`)
	if err := st.Update(ctx, old, 3); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.Get(ctx, "old-emb"); again.ChunkingSettings != nil || string(again.TaskSettings) != `{"truncate":"end"}` {
		t.Errorf("after update: %+v", again)
	}
	const cs = `{"strategy":"word","max_chunk_size":100,"overlap":10}`
	e := &Endpoint{ID: "new-emb", TaskType: "text_embedding", Service: "amazonbedrock",
		ServiceSettings: json.RawMessage(`{}`), ChunkingSettings: json.RawMessage(cs)}
	if err := st.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Get(ctx, "new-emb"); string(got.ChunkingSettings) != cs {
		t.Errorf("chunking settings round trip: %q", got.ChunkingSettings)
	}
	// A secret inside chunking settings is refused like in the others.
	bad := &Endpoint{ID: "bad", TaskType: "text_embedding", Service: "amazonbedrock", ChunkingSettings: json.RawMessage(`{"secret_key":"x"}`)}
	if err := st.Create(ctx, bad); err == nil {
		t.Error("a secret in chunking_settings was stored in clear")
	}
}

// TestSQLitePageSize: a new database file is created owner-only, in WAL
// mode, with sqlitePageSize pages; a file an earlier version created (4
// KiB pages) keeps its pages and still stores responses.
func TestSQLitePageSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pragma := func(st *Responses, name string) string {
		t.Helper()
		var v string
		if err := st.db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	fresh := filepath.Join(dir, "new", "q.db")
	st, err := OpenResponses(ctx, Config{Path: fresh}, ResponsesConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := pragma(st, "page_size"); got != strconv.Itoa(sqlitePageSize) {
		t.Errorf("a new file's page_size = %s, want %d", got, sqlitePageSize)
	}
	if got := pragma(st, "journal_mode"); got != "wal" {
		t.Errorf("a new file's journal_mode = %s, want wal", got)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("a new file's mode: %v, %v; want 0600", fi.Mode(), err)
	}

	old := filepath.Join(dir, "old.db")
	db, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA journal_mode=WAL`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st2, err := OpenResponses(ctx, Config{Path: old}, ResponsesConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if got := pragma(st2, "page_size"); got != "4096" {
		t.Errorf("an existing file's page_size = %s, want 4096 (unchanged)", got)
	}
	if err := st2.Put(ctx, &Response{ID: "resp_1", Owner: "o", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.Get(ctx, "resp_1", "o"); err != nil {
		t.Fatalf("Get from the existing file: %v", err)
	}
}
