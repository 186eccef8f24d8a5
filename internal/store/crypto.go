package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// ParseKey turns a configured key into its 32 bytes: 32 raw bytes as they
// are (unless all are hex digits: see below), or text (surrounding
// whitespace ignored) holding 64 hex digits or the base64 of 32 bytes
// (standard or URL alphabet, padded or not). The error never quotes the
// key.
func ParseKey(b []byte) ([]byte, error) {
	t := string(bytes.TrimSpace(b))
	if len(b) == KeySize {
		// 32 hex digits are far likelier a 16-byte key in hex (openssl
		// rand -hex 16) than 32 random bytes that all happen to be hex
		// digits: refuse rather than use its text as a weak key.
		if _, err := hex.DecodeString(string(b)); err == nil {
			return nil, errors.New("store: the encryption key is 32 hex digits, which is 16 bytes: AES-256 needs 32 bytes (64 hex digits)")
		}
		return bytes.Clone(b), nil
	}
	if len(t) == 2*KeySize {
		if k, err := hex.DecodeString(t); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(t); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("store: the encryption key must be 32 bytes: raw, as 64 hex digits, or as base64 (got %d bytes that are none of these)", len(b))
}

// sealer encrypts and decrypts the secrets column. A nil *sealer has no
// key: it can tell that secrets exist but not read or write them.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if key == nil {
		return nil, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("store: encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block) // 96-bit nonces, 128-bit tags
	if err != nil {
		return nil, fmt.Errorf("store: encryption key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// sealFormat is the first byte of every stored ciphertext, so that a later
// format (another cipher, key rotation) can be told apart.
const sealFormat = 1

// additionalData binds a ciphertext to its row: moved onto another ID, it
// does not decrypt.
func additionalData(id string) []byte {
	return append([]byte("quarry/store/inference-endpoint-secrets/v1\x00"), id...)
}

// seal returns format || nonce || ciphertext+tag of the secrets as JSON,
// or nil (SQL NULL) for no secrets.
func (s *sealer) seal(id string, sec Secrets) ([]byte, error) {
	if len(sec) == 0 {
		return nil, nil
	}
	if s == nil {
		return nil, fmt.Errorf("store: endpoint %q has secrets: %w (configure the store key)", id, ErrKeyRequired)
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("store: nonce: %w", err)
	}
	// map[string]string, not Secrets, whose MarshalJSON redacts; a
	// map[string]string always encodes.
	plain, _ := json.Marshal(map[string]string(sec))
	out := make([]byte, 0, 1+len(nonce)+len(plain)+s.aead.Overhead())
	out = append(out, sealFormat)
	out = append(out, nonce...)
	out = s.aead.Seal(out, nonce, plain, additionalData(id))
	clear(plain) // best effort: the plain text should not linger
	return out, nil
}

// open reverses seal. A nil blob is no secrets.
func (s *sealer) open(id string, blob []byte) (Secrets, error) {
	if blob == nil {
		return nil, nil
	}
	if s == nil {
		return nil, fmt.Errorf("store: endpoint %q has encrypted secrets: %w", id, ErrKeyRequired)
	}
	ns := s.aead.NonceSize()
	if len(blob) < 1+ns+s.aead.Overhead() || blob[0] != sealFormat {
		return nil, fmt.Errorf("store: endpoint %q: secrets are not in a known format: %w", id, ErrWrongKey)
	}
	plain, err := s.aead.Open(nil, blob[1:1+ns], blob[1+ns:], additionalData(id))
	if err != nil {
		// GCM cannot tell a wrong key from a tampered row; a wrong key is
		// by far the likelier cause.
		return nil, fmt.Errorf("store: endpoint %q: %w", id, ErrWrongKey)
	}
	defer clear(plain)
	var m map[string]string
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, fmt.Errorf("store: endpoint %q: decrypted secrets do not decode", id)
	}
	return Secrets(m), nil
}

// keyFileFor is where the SQLite backend keeps a generated key.
func keyFileFor(dbPath string) string { return dbPath + ".key" }

// readKeyFile returns the key in path, or nil if there is no such file.
func readKeyFile(path string, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading key file %s: %w", path, err)
	}
	defer clear(b)
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// Not fatal (the key still works), but worth fixing.
		log.Warn("the store key file is readable by others than its owner: chmod 600 it", "key_file", path, "mode", fi.Mode().Perm().String())
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("store: key file %s does not hold a valid key (restore it from a backup, or configure the key): %w", path, err)
	}
	return k, nil
}

// createKeyFile generates a random key and publishes it at path unless a
// key file is already there, returning the key that ends up in the file
// and whether this call created it. The key is written and synced under a
// temporary name created with O_EXCL and then hard-linked to path: link
// fails if path exists, so of two processes racing only one key is
// published, and path never shows a partly written key, not even after a
// crash.
func createKeyFile(path string, log *slog.Logger) ([]byte, bool, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("store: generating key: %w", err)
	}
	dir := filepath.Dir(path)
	tmp := fmt.Sprintf("%s.tmp-%d-%d", path, os.Getpid(), time.Now().UnixNano())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("store: creating key file in %s: %w", dir, err)
	}
	defer os.Remove(tmp)
	text := base64.StdEncoding.EncodeToString(key) + "\n"
	_, werr := f.WriteString(text)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, false, fmt.Errorf("store: writing key file %s: %w", tmp, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			k, rerr := readKeyFile(path, log) // someone else won the race
			if rerr != nil {
				return nil, false, rerr
			}
			if k == nil {
				return nil, false, fmt.Errorf("store: key file %s vanished while being created", path)
			}
			return k, false, nil
		}
		return nil, false, fmt.Errorf("store: publishing key file %s: %w", path, err)
	}
	syncDir(dir, log)
	return key, true, nil
}

// syncDir makes a new directory entry durable; a failure only costs
// durability of the name on a crash, so it is logged, not returned.
func syncDir(dir string, log *slog.Logger) {
	d, err := os.Open(dir)
	if err == nil {
		err = d.Sync()
		d.Close()
	}
	if err != nil {
		log.Warn("could not sync directory", "dir", dir, "err", err)
	}
}
