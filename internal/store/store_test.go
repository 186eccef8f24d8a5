package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testKey is the key the shared suite configures, so that both backends
// run it the same way (PostgreSQL has no key file).
var testKey = func() []byte { k := sha256.Sum256([]byte("quarry store test key")); return k[:] }()

// fresher makes an empty database for one test and returns how to open
// handles onto it: each call of open is a new Store on the same data, as
// after a restart or on another replica. Handles are closed at cleanup.
type fresher func(t *testing.T) (open func(cfg Config) (Store, error), base Config)

func sqliteFresh(t *testing.T) (func(Config) (Store, error), Config) {
	base := Config{Path: filepath.Join(t.TempDir(), "data", "quarry.db"), Key: testKey}
	return func(cfg Config) (Store, error) { return Open(context.Background(), cfg, nil) }, base
}

// postgresDSN is the test server's DSN. Without one the PostgreSQL tests
// skip, unless QUARRY_REQUIRE_POSTGRES=1 (CI), where they fail: CI must
// never pass by silently not testing PostgreSQL.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("QUARRY_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("QUARRY_REQUIRE_POSTGRES") == "1" {
			t.Fatal("QUARRY_REQUIRE_POSTGRES=1 but QUARRY_TEST_POSTGRES_DSN is not set: start a PostgreSQL server (see .ci/run)")
		}
		t.Skip("QUARRY_TEST_POSTGRES_DSN not set: skipping the PostgreSQL tests")
	}
	return dsn
}

// postgresFresh gives each test its own schema (through search_path), so
// tests share one server and database without seeing each other's rows.
func postgresFresh(t *testing.T) (func(Config) (Store, error), Config) {
	dsn := postgresDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "quarry_test_" + randomHex(t, 8)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("dropping schema: %v", err)
		}
	})
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	} else {
		dsn += " search_path=" + schema
	}
	base := Config{PostgresDSN: dsn, Key: testKey}
	return func(cfg Config) (Store, error) { return Open(context.Background(), cfg, nil) }, base
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// mustOpen opens a handle and closes it at cleanup.
func mustOpen(t *testing.T, open func(Config) (Store, error), cfg Config) Store {
	t.Helper()
	st, err := open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// bedrock is an endpoint as the seed document's example creates one.
func bedrock(id string) *Endpoint {
	return &Endpoint{
		ID:              id,
		TaskType:        "text_embedding",
		Service:         "amazonbedrock",
		ServiceSettings: json.RawMessage(`{"region":"us-east-1","provider":"amazontitan","model":"amazon.titan-embed-text-v2:0","rate_limit":{"requests_per_minute":240}}`),
		TaskSettings:    json.RawMessage(`{}`),
		Secrets:         Secrets{"access_key": "AKIA-" + id, "secret_key": "sk-" + id},
	}
}

// sameEndpoint compares everything, timestamps included.
func sameEndpoint(t *testing.T, got, want *Endpoint) {
	t.Helper()
	if got.ID != want.ID || got.TaskType != want.TaskType || got.Service != want.Service ||
		!bytes.Equal(got.ServiceSettings, want.ServiceSettings) || !bytes.Equal(got.TaskSettings, want.TaskSettings) ||
		got.Version != want.Version || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("endpoint differs:\n got %v\nwant %v", got, want)
	}
	// Compared by value here (the test may see them; fmt redacts them).
	if len(got.Secrets) != len(want.Secrets) {
		t.Errorf("endpoint %q: %d secrets, want %d", got.ID, len(got.Secrets), len(want.Secrets))
	}
	for k, v := range want.Secrets {
		if got.Secrets[k] != v {
			t.Errorf("endpoint %q: secret %q does not round-trip", got.ID, k)
		}
	}
}

func TestSQLite(t *testing.T)   { testStore(t, sqliteFresh) }
func TestPostgres(t *testing.T) { testStore(t, postgresFresh) }

// testStore is the suite both backends must pass alike.
func testStore(t *testing.T, fresh fresher) {
	ctx := context.Background()
	t.Run("crud", func(t *testing.T) {
		open, cfg := fresh(t)
		st := mustOpen(t, open, cfg)
		e := bedrock("amazon_bedrock_embeddings")
		if err := st.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.Version != 1 || e.CreatedAt.IsZero() || !e.UpdatedAt.Equal(e.CreatedAt) {
			t.Fatalf("Create did not fill version and times: %v", e)
		}
		got, err := st.Get(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameEndpoint(t, got, e)

		got.TaskSettings = json.RawMessage(`{"max_new_tokens":64}`)
		got.Secrets = Secrets{"access_key": "AK2", "secret_key": "SK2"}
		if err := st.Update(ctx, got, 1); err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 || !got.CreatedAt.Equal(e.CreatedAt) || got.UpdatedAt.Before(e.UpdatedAt) {
			t.Fatalf("Update did not bump version / keep CreatedAt: %v", got)
		}
		again, err := st.Get(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameEndpoint(t, again, got)

		// Updating without secrets removes them.
		again.Secrets = nil
		if err := st.Update(ctx, again, 2); err != nil {
			t.Fatal(err)
		}
		if g, _ := st.Get(ctx, e.ID); g == nil || g.Secrets != nil || g.Version != 3 {
			t.Fatalf("secrets not removed: %v", g)
		}

		if err := st.Delete(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, e.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
		}
	})

	t.Run("nil and null settings are stored as empty objects", func(t *testing.T) {
		open, cfg := fresh(t)
		st := mustOpen(t, open, cfg)
		e := &Endpoint{ID: "bare", TaskType: "completion", Service: "amazonbedrock"}
		if err := st.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, "bare")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.ServiceSettings) != "{}" || string(got.TaskSettings) != "{}" || got.Secrets != nil {
			t.Fatalf("got %v", got)
		}
		got.TaskSettings = json.RawMessage("null")
		if err := st.Update(ctx, got, 1); err != nil {
			t.Fatal(err)
		}
		if got, _ = st.Get(ctx, "bare"); string(got.TaskSettings) != "{}" {
			t.Fatalf("null task settings stored as %s", got.TaskSettings)
		}
	})

	t.Run("errors", func(t *testing.T) {
		open, cfg := fresh(t)
		st := mustOpen(t, open, cfg)
		e := bedrock("a")
		if err := st.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		dup := bedrock("a")
		dup.TaskType = "completion"
		stale := bedrock("a")
		tests := []struct {
			name string
			do   func() error
			want error
		}{
			{"create duplicate", func() error { return st.Create(ctx, dup) }, ErrExists},
			{"get missing", func() error { _, err := st.Get(ctx, "nope"); return err }, ErrNotFound},
			{"update missing", func() error { return st.Update(ctx, bedrock("nope"), 1) }, ErrNotFound},
			{"delete missing", func() error { return st.Delete(ctx, "nope") }, ErrNotFound},
			{"update stale version", func() error { return st.Update(ctx, stale, 7) }, ErrConflict},
			{"update version 0", func() error { return st.Update(ctx, stale, 0) }, ErrConflict},
			{"empty id", func() error { return st.Create(ctx, &Endpoint{TaskType: "completion", Service: "amazonbedrock"}) }, ErrInvalid},
			{"no task type", func() error { return st.Create(ctx, &Endpoint{ID: "x", Service: "amazonbedrock"}) }, ErrInvalid},
			{"settings not JSON", func() error {
				return st.Create(ctx, &Endpoint{ID: "x", TaskType: "completion", Service: "s", ServiceSettings: json.RawMessage(`{`)})
			}, ErrInvalid},
			{"settings not an object", func() error {
				return st.Create(ctx, &Endpoint{ID: "x", TaskType: "completion", Service: "s", TaskSettings: json.RawMessage(`[1]`)})
			}, ErrInvalid},
			{"secret in service settings", func() error {
				return st.Create(ctx, &Endpoint{ID: "x", TaskType: "completion", Service: "s", ServiceSettings: json.RawMessage(`{"secret_key":"v"}`)})
			}, ErrInvalid},
			{"secret in settings on update", func() error {
				u := bedrock("a")
				u.ServiceSettings = json.RawMessage(`{"access_key":"v"}`)
				return st.Update(ctx, u, 1)
			}, ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.do(); !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
			})
		}
		// The failed writes changed nothing.
		got, err := st.Get(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		sameEndpoint(t, got, e)
		if dup.Version != 0 || !dup.CreatedAt.IsZero() {
			t.Errorf("a failed Create filled in the endpoint: %v", dup)
		}
		if all, _ := st.List(ctx); len(all) != 1 {
			t.Errorf("List after failed writes: %d endpoints, want 1", len(all))
		}
	})

	t.Run("list is ordered by id", func(t *testing.T) {
		open, cfg := fresh(t)
		st := mustOpen(t, open, cfg)
		if all, err := st.List(ctx); err != nil || len(all) != 0 {
			t.Fatalf("empty List: %v, %v", all, err)
		}
		ids := []string{"b", "a", "B", "a-1", "a_1", "ä", "10", "9", "Z", "aa"}
		for _, id := range ids {
			if err := st.Create(ctx, bedrock(id)); err != nil {
				t.Fatal(err)
			}
		}
		all, err := st.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range all {
			got = append(got, e.ID)
			if e.Secrets["secret_key"] != "sk-"+e.ID {
				t.Errorf("List: %q's secrets do not decrypt", e.ID)
			}
		}
		want := slices.Clone(ids)
		slices.Sort(want) // byte order, the documented order
		if !slices.Equal(got, want) {
			t.Fatalf("List order %q, want %q", got, want)
		}
	})

	t.Run("restart keeps everything", func(t *testing.T) {
		open, cfg := fresh(t)
		st, err := open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]*Endpoint{}
		for i := range 5 {
			e := bedrock(fmt.Sprintf("ep-%d", i))
			if err := st.Create(ctx, e); err != nil {
				t.Fatal(err)
			}
			want[e.ID] = e
		}
		upd := want["ep-2"]
		upd.TaskSettings = json.RawMessage(`{"temperature":0.5}`)
		upd.Secrets = Secrets{"access_key": "rotated-ak", "secret_key": "rotated-sk"}
		if err := st.Update(ctx, upd, 1); err != nil {
			t.Fatal(err)
		}
		if err := st.Delete(ctx, "ep-4"); err != nil {
			t.Fatal(err)
		}
		delete(want, "ep-4")
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}

		st2 := mustOpen(t, open, cfg)
		all, err := st2.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(want) {
			t.Fatalf("after restart: %d endpoints, want %d", len(all), len(want))
		}
		for _, got := range all {
			sameEndpoint(t, got, want[got.ID])
		}
		// And it keeps working: versions continue where they were.
		if err := st2.Update(ctx, upd, 2); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("replicas creating one id: exactly one wins", func(t *testing.T) {
		open, cfg := fresh(t)
		// Open the replicas at once too: migrations must not race.
		const replicas = 4
		stores := make([]Store, replicas)
		var wg sync.WaitGroup
		errs := make([]error, replicas)
		for i := range stores {
			wg.Go(func() { stores[i], errs[i] = open(cfg) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("replica %d: Open: %v", i, err)
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		for round := range 10 {
			id := fmt.Sprintf("contested-%d", round)
			var wins, exists atomic.Int32
			for i := range replicas * 2 {
				wg.Go(func() {
					err := stores[i%replicas].Create(ctx, bedrock(id))
					switch {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, ErrExists):
						exists.Add(1)
					default:
						t.Errorf("Create: %v", err)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 || exists.Load() != replicas*2-1 {
				t.Fatalf("%s: %d wins and %d ErrExists, want 1 and %d", id, wins.Load(), exists.Load(), replicas*2-1)
			}
		}
	})

	t.Run("concurrent create, update and get", func(t *testing.T) {
		open, cfg := fresh(t)
		st := mustOpen(t, open, cfg)
		other := mustOpen(t, open, cfg) // a second handle, as another replica
		if err := st.Create(ctx, bedrock("shared")); err != nil {
			t.Fatal(err)
		}
		var updates atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			s := st
			if g%2 == 1 {
				s = other
			}
			wg.Go(func() {
				own := bedrock(fmt.Sprintf("own-%d", g))
				if err := s.Create(ctx, own); err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				for i := range 10 {
					// Read-modify-write with retry on conflict, as the API
					// will do for _update.
					for {
						e, err := s.Get(ctx, "shared")
						if err != nil {
							t.Errorf("Get: %v", err)
							return
						}
						e.Secrets = Secrets{"access_key": "ak", "secret_key": fmt.Sprintf("sk-%d-%d", g, i)}
						err = s.Update(ctx, e, e.Version)
						if errors.Is(err, ErrConflict) {
							continue
						}
						if err != nil {
							t.Errorf("Update: %v", err)
							return
						}
						updates.Add(1)
						break
					}
					own.TaskSettings = json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
					if err := s.Update(ctx, own, own.Version); err != nil {
						t.Errorf("Update own: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		e, err := st.Get(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		if e.Version != 1+updates.Load() || updates.Load() != 80 {
			t.Fatalf("shared at version %d after %d updates: lost updates", e.Version, updates.Load())
		}
		all, err := other.List(ctx)
		if err != nil || len(all) != 9 {
			t.Fatalf("List: %d endpoints, %v; want 9", len(all), err)
		}
		for _, e := range all {
			if e.ID != "shared" && e.Version != 11 {
				t.Errorf("%s at version %d, want 11", e.ID, e.Version)
			}
		}
	})

	t.Run("ciphertexts are bound to their endpoint", func(t *testing.T) {
		open, cfg := fresh(t)
		st := mustOpen(t, open, cfg)
		for _, id := range []string{"a", "b"} {
			if err := st.Create(ctx, bedrock(id)); err != nil {
				t.Fatal(err)
			}
		}
		db := st.(*sqlStore).db
		var blob []byte
		if err := db.QueryRow(`SELECT secrets FROM inference_endpoints WHERE id = 'b'`).Scan(&blob); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(st.(*sqlStore).q(`UPDATE inference_endpoints SET secrets = ? WHERE id = 'a'`), blob); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, "a"); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("Get of a row carrying another row's secrets: %v, want ErrWrongKey", err)
		}
		if _, err := st.Get(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("each write uses a fresh nonce", func(t *testing.T) {
		open, cfg := fresh(t)
		st := mustOpen(t, open, cfg)
		e := bedrock("n")
		if err := st.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		db := st.(*sqlStore).db
		seen := map[string]bool{}
		for i := range 3 {
			var blob []byte
			if err := db.QueryRow(`SELECT secrets FROM inference_endpoints WHERE id = 'n'`).Scan(&blob); err != nil {
				t.Fatal(err)
			}
			if seen[string(blob)] {
				t.Fatal("the same secrets were sealed to the same ciphertext twice")
			}
			seen[string(blob)] = true
			if err := st.Update(ctx, e, int64(i+1)); err != nil { // same secrets each time
				t.Fatal(err)
			}
		}
	})

	t.Run("schema version", func(t *testing.T) {
		open, cfg := fresh(t)
		st, err := open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db := st.(*sqlStore).db
		var v int
		if err := db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != 2 {
			t.Fatalf("schema_version %d, %v; want 2 (chunking_settings)", v, err)
		}
		// Reopening an up-to-date schema changes nothing.
		st2 := mustOpen(t, open, cfg)
		_ = st2
		if _, err := db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
			t.Fatal(err)
		}
		st.Close()
		if _, err := open(cfg); err == nil || !strings.Contains(err.Error(), "newer than this Quarry supports") {
			t.Fatalf("Open of a newer schema: %v", err)
		}
	})
}
