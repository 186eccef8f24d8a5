// Package vkeys serves virtual keys: client keys created at run time
// through /admin/keys and kept in the gateway's store (SQLite or
// PostgreSQL, internal/store), each with a name, owner and team labels,
// the models it may use (names or glob patterns), per-minute request and
// token limits, a spend budget per day or month, and an expiry.
//
// # Secrets
//
// A key's secret ("qk-" and 43 characters: 256 random bits) is shown once,
// in the answer to its creation. The store keeps only its SHA-256 and its
// first characters for display. A plain SHA-256 is enough, where a
// password would need a slow KDF: a slow hash only protects secrets an
// attacker can guess, and 256 random bits cannot be guessed or enumerated
// from a stolen hash; it also keeps the lookup on every request to one
// hash and one map read, as for the config's api_keys.
//
// # Every replica
//
// Each gateway keeps the keys in memory (Cache) and polls the store's
// generation (a number that grows with every write) every 250 ms,
// reloading the keys when it changed: a key created or revoked on one
// replica works, or stops working, on all of them within half a second,
// and a request costs no store round trip. If the store cannot be read,
// the last keys loaded stay in force (and the log says so).
package vkeys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/quarry-dev/quarry/internal/store"
)

// SecretPrefix starts every virtual key, so that a leaked one is
// recognisable (secret scanners, logs).
const SecretPrefix = "qk-"

// displayLen is how much of a secret is kept for display: the prefix and
// 7 characters (42 bits), leaving 216 unknown bits.
const displayLen = len(SecretPrefix) + 7

// newSecret returns a new key's secret, its hash and its display prefix.
func newSecret() (secret string, hash [sha256.Size]byte, prefix string) {
	var b [32]byte
	rand.Read(b[:])
	secret = SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, sha256.Sum256([]byte(secret)), secret[:displayLen]
}

// newID returns a new key's ID (not secret).
func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return "vk_" + hex.EncodeToString(b[:])
}

// Periods a budget can have.
const (
	PeriodDay   = "day"
	PeriodMonth = "month"
)

// period returns the UTC start of the budget period holding now, and when
// the next begins.
func period(now time.Time, p string) (start, reset time.Time) {
	now = now.UTC()
	if p == PeriodDay {
		start = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	}
	start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// allows reports whether the key may use a model known by any of names.
func allows(k *store.VirtualKey, names []string) bool {
	if len(k.Models) == 0 {
		return true
	}
	for _, p := range k.Models {
		for _, n := range names {
			if n != "" && match(p, n) {
				return true
			}
		}
	}
	return false
}

// match is a glob: '*' matches any run of characters (slashes and colons
// included: model IDs and ARNs have them), '?' one character, anything
// else itself.
func match(pattern, name string) bool {
	p, n := 0, 0
	star, next := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, next = p, n
			p++
		case star >= 0:
			next++
			p, n = star+1, next
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
