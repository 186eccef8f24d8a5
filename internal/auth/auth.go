// Package auth checks the API keys clients present to the gateway.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
)

// Keys is the set of accepted client keys. An empty set accepts every
// request (allowed by the config only on a loopback address).
type Keys []config.APIKey

// Presented returns the key a request carries: "Authorization: Bearer K"
// (OpenAI clients), "Authorization: ApiKey K" (Elasticsearch clients),
// or "x-api-key: K"; and whether it carried one. An Authorization header
// of another scheme (Basic, from a proxy or a browser) does not hide an
// x-api-key beside it.
func Presented(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, ok := strings.Cut(h, " ")
		if ok && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "ApiKey")) {
			key = strings.TrimSpace(key)
			return key, key != ""
		}
	}
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k, true
	}
	return "", false
}

// Check reports whether r may pass, and if not, whether it presented a key
// at all (for the message: "missing" versus "invalid").
func (k Keys) Check(r *http.Request) (ok, presented bool) {
	_, ok, presented = k.check(r)
	return ok, presented
}

// check is Check, also returning the matched key's ID (ConfigKeyID).
func (k Keys) check(r *http.Request) (id string, ok, presented bool) {
	if len(k) == 0 {
		return "", true, false
	}
	key, presented := Presented(r)
	if !presented {
		return "", false, false
	}
	sum := sha256.Sum256([]byte(key))
	for _, want := range k {
		if want.MatchSum(sum) {
			return ConfigKeyID(sum), true, true
		}
	}
	return "", false, true
}

// ConfigKeyID is the stable, shareable identity of a config-file key,
// given its SHA-256: "config:" and the hash's first 8 hex digits. Config
// keys have no names, and a hash prefix of a random key reveals nothing
// usable; the same key written plain or as sha256:<hex> gets the same ID.
func ConfigKeyID(sum [sha256.Size]byte) string {
	return "config:" + hex.EncodeToString(sum[:4])
}

// Require wraps next so that requests without a valid key get deny's answer
// (each API surface answers in its own error format).
func (k Keys) Require(next http.Handler, deny func(w http.ResponseWriter, r *http.Request, presented bool)) http.Handler {
	if len(k) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok, presented := k.check(r)
		if !ok {
			if r.ContentLength != 0 {
				// Else the server would wait for the unread body, to
				// reuse the connection, before sending the refusal.
				w.Header().Set("Connection", "close")
			}
			deny(w, r, presented)
			return
		}
		accesslog.From(r.Context()).SetKey(id, "")
		next.ServeHTTP(w, r)
	})
}

// Admin guards the gateway's management routes (/admin/…, the console):
// with key set, only a request presenting it passes; without one, only a
// gateway listening on loopback serves them (the config cannot require the
// key there, as it does api_keys elsewhere). deny answers the rest (401).
func Admin(key *config.APIKey, loopback bool, next http.Handler, deny func(w http.ResponseWriter, r *http.Request, presented bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented, ok := Presented(r)
		switch {
		case key == nil && loopback:
		case key == nil || !ok || !key.Match(presented):
			if r.ContentLength != 0 {
				w.Header().Set("Connection", "close")
			}
			deny(w, r, ok)
			return
		}
		next.ServeHTTP(w, r)
	})
}
