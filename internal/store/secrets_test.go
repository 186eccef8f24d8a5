package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// leakForms are the ways a secret could show up in bytes: as is, as hex,
// and as base64 at each of the three alignments it can have inside a
// longer encoded text (the ends, which depend on the neighbours, dropped).
func leakForms(secret []byte) map[string][]byte {
	forms := map[string][]byte{"plain": secret, "hex": []byte(hex.EncodeToString(secret))}
	for shift := range 3 {
		for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
			s := enc.EncodeToString(append(make([]byte, shift), secret...))
			forms[fmt.Sprintf("%s@%d", name, shift)] = []byte(s[4 : len(s)-4])
		}
	}
	return forms
}

// assertNoLeak fails if any form of any secret is in data.
func assertNoLeak(t *testing.T, where string, data []byte, secrets map[string][]byte) {
	t.Helper()
	for name, secret := range secrets {
		for form, b := range leakForms(secret) {
			if bytes.Contains(data, b) {
				t.Errorf("%s contains the %s (%s)", where, name, form)
			}
		}
	}
}

// syncBuffer is a log sink several goroutines may write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// TestSecretsNeverLeak writes an endpoint whose secret_key is a unique
// marker through every path, errors included, then looks for the marker
// and for the encryption key in the database files (main, WAL, shared
// memory), the logs, the errors and the fmt, slog and JSON renderings.
func TestSecretsNeverLeak(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	path := filepath.Join(dir, "quarry.db")
	marker := "MARKER-" + randomHex(t, 16)
	marker2 := "MARKER2-" + randomHex(t, 16)
	access := "AKIA" + strings.ToUpper(randomHex(t, 8))
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	st, err := Open(ctx, Config{Path: path}, log) // generates the key file
	if err != nil {
		t.Fatal(err)
	}
	e := bedrock("leaky")
	e.Secrets = Secrets{"access_key": access, "secret_key": marker}
	if err := st.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, bedrock("other")); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, "leaky")
	if err != nil || got.Secrets["secret_key"] != marker {
		t.Fatalf("Get: %v", err)
	}
	note(st.Create(ctx, e)) // duplicate
	upd := got
	upd.Secrets = Secrets{"access_key": access, "secret_key": marker2}
	note(st.Update(ctx, upd, 99)) // conflict
	if err := st.Update(ctx, upd, 1); err != nil {
		t.Fatal(err)
	}
	bad := bedrock("leaky")
	bad.ServiceSettings = json.RawMessage(`{"secret_key":"` + marker + `"}`) // a secret where it must not be
	note(st.Update(ctx, bad, 2))
	bad.ServiceSettings = json.RawMessage(`{"x":"` + marker + `"`) // not JSON
	note(st.Create(ctx, bad))
	note(st.Delete(ctx, "missing"))
	_, err = st.Get(ctx, "missing")
	note(err)
	if err := st.Delete(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 6 {
		t.Fatalf("expected 6 errors to inspect, got %d: %v", len(errs), errs)
	}

	keyText, err := os.ReadFile(keyFileFor(path))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKey(keyText)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"secret_key": []byte(marker), "updated secret_key": []byte(marker2),
		"access_key": []byte(access), "encryption key": key,
	}

	// The database files while the store is open (the WAL holds the
	// latest writes then), and again after Close has checkpointed it.
	scan := func(when string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, ent := range entries {
			if ent.Name() == filepath.Base(keyFileFor(path)) {
				continue // the key file holds the key by design
			}
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > 0 {
				seen++
			}
			assertNoLeak(t, when+": "+ent.Name(), b, secrets)
		}
		if when == "open" && seen < 3 {
			t.Errorf("expected the database, WAL and SHM files while open, found %d non-empty files", seen)
		}
	}
	scan("open")

	// Renderings of an endpoint and its secrets.
	var rendered bytes.Buffer
	for _, v := range []any{got, *got, got.Secrets} {
		fmt.Fprintf(&rendered, "%v %+v %#v %s %q %x %X %d\n", v, v, v, v, v, v, v, v)
		fmt.Fprintln(&rendered, v)
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rendered.Write(j)
	}
	slog.New(slog.NewJSONHandler(&rendered, nil)).Info("endpoint", "e", got, "v", *got, "s", got.Secrets)
	slog.New(slog.NewTextHandler(&rendered, nil)).Info("endpoint", "e", got, "v", *got, "s", got.Secrets)
	assertNoLeak(t, "fmt/json/slog output", rendered.Bytes(), secrets)
	if !strings.Contains(rendered.String(), "secret_key") || !strings.Contains(rendered.String(), redacted) {
		t.Errorf("renderings should name the secrets and redact them:\n%s", rendered.String())
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	scan("closed")

	// The refusals: a wrong key, and no key at all.
	_, err = Open(ctx, Config{Path: path, Key: bytes.Repeat([]byte{7}, KeySize)}, log)
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	note(err)
	if err := os.Rename(keyFileFor(path), keyFileFor(path)+".moved"); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, Config{Path: path}, log)
	if !errors.Is(err, ErrKeyRequired) {
		t.Fatalf("no key: %v", err)
	}
	note(err)

	var all bytes.Buffer
	for _, err := range errs {
		fmt.Fprintf(&all, "%v\n%+v\n", err, err)
	}
	assertNoLeak(t, "errors", all.Bytes(), secrets)
	assertNoLeak(t, "logs", logs.Bytes(), secrets)
	if !bytes.Contains(logs.Bytes(), []byte(keyFileFor(path))) {
		t.Errorf("the log does not say where the key file is:\n%s", logs.Bytes())
	}
}

func TestKeyFile(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "quarry.db")
	keyPath := path + ".key"

	st, err := Open(ctx, Config{Path: path}, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(root, "a"), filepath.Join(root, "a", "b")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("directory %s: %v, %v; want mode 0700", d, fi.Mode(), err)
		}
	}
	first, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatalf("no key file beside the database: %v", err)
	}
	if _, err := ParseKey(first); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{keyPath, path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", f, fi.Mode(), err)
		}
	}
	if !strings.Contains(string(logs.Bytes()), "generated an encryption key") || !strings.Contains(string(logs.Bytes()), keyPath) {
		t.Errorf("the log does not say that and where a key was generated:\n%s", logs.Bytes())
	}
	if err := st.Create(ctx, bedrock("kept")); err != nil {
		t.Fatal(err)
	}
	st.Close()

	t.Run("reused on reopen", func(t *testing.T) {
		st, err := Open(ctx, Config{Path: path}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if again, _ := os.ReadFile(keyPath); !bytes.Equal(again, first) {
			t.Fatal("the key file changed on reopen")
		}
		if e, err := st.Get(ctx, "kept"); err != nil || e.Secrets["secret_key"] != "sk-kept" {
			t.Fatalf("secrets after reopen: %v", err)
		}
		if !strings.Contains(string(logs.Bytes()), "using the encryption key file") {
			t.Errorf("the log does not say which key file is used:\n%s", logs.Bytes())
		}
	})

	t.Run("the same key configured explicitly", func(t *testing.T) {
		key, _ := ParseKey(first)
		st, err := Open(ctx, Config{Path: path, Key: []byte(hex.EncodeToString(key))}, log)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
	})

	t.Run("a different key is refused", func(t *testing.T) {
		_, err := Open(ctx, Config{Path: path, Key: bytes.Repeat([]byte{1}, KeySize)}, log)
		if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "configure the key they were encrypted with") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("a key file others can read is used, with a warning", func(t *testing.T) {
		if err := os.Chmod(keyPath, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(keyPath, 0o600)
		st, err := Open(ctx, Config{Path: path}, log)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if !strings.Contains(string(logs.Bytes()), "chmod 600") {
			t.Errorf("no warning about the key file's mode:\n%s", logs.Bytes())
		}
	})

	t.Run("a corrupt key file is refused", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "q.db")
		if err := os.WriteFile(other+".key", []byte("not a key\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctx, Config{Path: other}, log); err == nil || !strings.Contains(err.Error(), "does not hold a valid key") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("no key and no key file with secrets stored is refused", func(t *testing.T) {
		if err := os.Remove(keyPath); err != nil {
			t.Fatal(err)
		}
		_, err := Open(ctx, Config{Path: path}, log)
		if !errors.Is(err, ErrKeyRequired) || !strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), "restore the key file") {
			t.Fatalf("got %v", err)
		}
		if _, err := os.Stat(keyPath); !errors.Is(err, fs.ErrNotExist) {
			t.Fatal("a refused Open must not create a new key file: it would make the refusal go away")
		}
	})
}

// Processes starting together on a new database end up with one key.
func TestKeyFileCreatedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quarry.db")
	log := slog.New(slog.DiscardHandler)
	const n = 8
	keys := make([][]byte, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], created[i], errs[i] = createKeyFile(keyFileFor(path), log) })
	}
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if created[i] {
			winners++
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatal("racing creators ended with different keys")
		}
	}
	if winners != 1 {
		t.Fatalf("%d creators published a key file, want 1", winners)
	}
	onDisk, err := readKeyFile(keyFileFor(path), log)
	if err != nil || !bytes.Equal(onDisk, keys[0]) {
		t.Fatalf("key file %v, %v", onDisk, err)
	}
	if left, _ := filepath.Glob(keyFileFor(path) + ".tmp-*"); len(left) != 0 {
		t.Errorf("temporary key files left behind: %v", left)
	}

	// And whole stores opening together share it.
	path2 := filepath.Join(t.TempDir(), "quarry.db")
	stores := make([]Store, 4)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), Config{Path: path2}, nil) })
	}
	wg.Wait()
	for i := range stores {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer stores[i].Close()
	}
	if err := stores[0].Create(context.Background(), bedrock("x")); err != nil {
		t.Fatal(err)
	}
	for _, st := range stores {
		if e, err := st.Get(context.Background(), "x"); err != nil || e.Secrets["secret_key"] != "sk-x" {
			t.Fatalf("another opener cannot read the secrets: %v", err)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := bytes.Clone(testKey)
	b64 := base64.StdEncoding.EncodeToString(key)
	hex16 := hex.EncodeToString(key[:16])
	spaced := slices.Concat([]byte{'\t'}, key[1:31], []byte{'\n'})
	tests := []struct {
		name string
		in   []byte
		want []byte // nil: refused
	}{
		{"raw 32 bytes", key, key},
		{"raw with whitespace at the ends is still raw", spaced, spaced},
		{"hex", []byte(hex.EncodeToString(key)), key},
		{"hex with newline", []byte(hex.EncodeToString(key) + "\n"), key},
		{"base64", []byte(b64), key},
		{"base64 with spaces", []byte("  " + b64 + "\n"), key},
		{"base64 unpadded", []byte(strings.TrimRight(b64, "=")), key},
		{"base64url", []byte(base64.URLEncoding.EncodeToString(key)), key},
		{"too short", []byte("short"), nil},
		{"31 raw bytes", key[:31], nil},
		{"32 hex digits (a 16-byte key) are not taken as raw bytes", []byte(hex16), nil},
		{"hex of 20 bytes", []byte(hex.EncodeToString(key[:20])), nil},
		{"base64 of 33 bytes", []byte(base64.StdEncoding.EncodeToString(slices.Concat(key, []byte{1}))), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Fatal("accepted")
				}
				if strings.Contains(err.Error(), string(bytes.TrimSpace(tt.in))) {
					t.Fatal("the error quotes the key")
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %x, %v", got, err)
			}
		})
	}
}

func TestPostgresKey(t *testing.T) {
	ctx := context.Background()
	open, cfg := postgresFresh(t)
	noKey := cfg
	noKey.Key = nil

	// Without a key and without secrets, the store works but refuses to
	// store secrets (there is no key file for PostgreSQL).
	st := mustOpen(t, open, noKey)
	plain := &Endpoint{ID: "plain", TaskType: "completion", Service: "amazonbedrock"}
	if err := st.Create(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, bedrock("secret")); !errors.Is(err, ErrKeyRequired) {
		t.Fatalf("secrets without a key: %v", err)
	}
	st.Close()

	st = mustOpen(t, open, cfg)
	if err := st.Create(ctx, bedrock("secret")); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if _, err := open(noKey); !errors.Is(err, ErrKeyRequired) || !strings.Contains(err.Error(), "every replica needs the same configured key") {
		t.Fatalf("no key with secrets stored: %v", err)
	}
	wrong := cfg
	wrong.Key = bytes.Repeat([]byte{9}, KeySize)
	if _, err := open(wrong); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	st = mustOpen(t, open, cfg)
	if e, err := st.Get(ctx, "secret"); err != nil || e.Secrets["secret_key"] != "sk-secret" {
		t.Fatalf("after the refusals: %v", err)
	}
}

func TestPostgresBadDSNIsNotQuoted(t *testing.T) {
	_, err := Open(context.Background(), Config{PostgresDSN: "postgres://u:hunter2-pw@[bad"}, nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
}

func TestSQLitePragmas(t *testing.T) {
	st := mustOpen(t, func(c Config) (Store, error) { return Open(context.Background(), c, nil) },
		Config{Path: filepath.Join(t.TempDir(), "q.db"), Key: testKey})
	db := st.(*sqlStore).db
	var mode string
	var sync, busy int
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v; want wal", mode, err)
	}
	if err := db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous %d, %v; want 2 (FULL)", sync, err)
	}
	if err := db.QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil || busy <= 0 {
		t.Errorf("busy_timeout %d, %v", busy, err)
	}
}

func TestFormatRedacts(t *testing.T) {
	e := bedrock("fmt")
	e.Secrets = Secrets{"secret_key": "SHOULD-NOT-PRINT"}
	var nilSecrets Secrets
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v", e, e, e),
		fmt.Sprintf("%v %+v %#v %s %q %x", *e, *e, *e, *e, *e, *e),
		fmt.Sprintf("%v %+v %#v %s %q %x", e.Secrets, e.Secrets, e.Secrets, e.Secrets, e.Secrets, e.Secrets),
		fmt.Sprint(e.Secrets), e.Secrets.String(), e.Secrets.GoString(),
		fmt.Sprintf("%v %#v", nilSecrets, nilSecrets),
	} {
		if strings.Contains(s, "SHOULD-NOT-PRINT") {
			t.Errorf("leaked: %s", s)
		}
	}
	if got := fmt.Sprintf("%v", e); !strings.Contains(got, `ID:"fmt"`) || !strings.Contains(got, `"model":"amazon.titan-embed-text-v2:0"`) ||
		!strings.Contains(got, "secret_key:"+redacted) {
		t.Errorf("%%v should show the endpoint readably with the secret named and redacted: %s", got)
	}
}
