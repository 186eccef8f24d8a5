package store

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzOpen: the store's decryption refuses any blob that is not a sealed
// one of its key and endpoint, without panic, and opens what it sealed.
func FuzzOpen(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := newSealer(key)
	if err != nil {
		f.Fatal(err)
	}
	good, err := s.seal("ep-1", Secrets{"secret_key": "s3cr3t"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("ep-1", good, "secret_key", "s3cr3t")
	f.Add("ep-2", good, "access_key", "")
	f.Add("", []byte{sealFormat}, "", "")
	f.Add("ep-1", []byte{}, "k", "v")
	f.Fuzz(func(t *testing.T, id string, blob []byte, k, v string) {
		// Only the seeds' blob, sealed for ep-1 (with a nonce drawn in
		// whichever process built it), may open: GCM cannot be forged.
		if sec, err := s.open(id, blob); err == nil && blob != nil && id != "ep-1" {
			t.Errorf("opened a blob it did not seal for %q: %v", id, sec)
		}
		// Round trip of what the fuzzer makes up (secrets arrive in JSON,
		// so in UTF-8: JSON would replace invalid bytes).
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return
		}
		sealed, err := s.seal(id, Secrets{k: v})
		if err != nil {
			return
		}
		got, err := s.open(id, sealed)
		if err != nil || got[k] != v {
			t.Errorf("round trip: %v, %v", got, err)
		}
		if _, err := s.open(id+"x", sealed); err == nil {
			t.Error("a blob opened under another endpoint's ID")
		}
	})
}
