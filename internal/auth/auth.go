// Package auth checks the API keys clients present to the gateway.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

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
	return Gate{Keys: k}.Require(next, deny)
}

// Virtual is the store-backed side of the check: virtual keys
// (internal/vkeys), looked up by the SHA-256 of the presented key.
type Virtual interface {
	// Required reports whether keys are required even with no config
	// keys: once virtual keys exist, an open (loopback) gateway closes.
	Required() bool
	// Resolve finds the key whose hash is sum. found false: not a virtual
	// key. refusal non-empty: it is one, but may not be used (expired,
	// revoked), and refusal says why. Else ctx is the request's context
	// carrying the key's identity and grant.
	Resolve(ctx context.Context, sum [sha256.Size]byte) (_ context.Context, found bool, refusal string)
}

// Gate accepts the config's keys and, when Virtual is set, virtual keys.
type Gate struct {
	Keys    Keys
	Virtual Virtual
}

// Require is Keys.Require with virtual keys too: without config keys, the
// gateway is open only while Virtual requires none, and even then a
// virtual key presented counts (its model list and budget apply; revoked
// or expired, it is refused).
func (g Gate) Require(next http.Handler, deny func(w http.ResponseWriter, r *http.Request, presented bool)) http.Handler {
	if len(g.Keys) == 0 && g.Virtual == nil {
		return next
	}
	refuse := func(w http.ResponseWriter, r *http.Request, presented bool) {
		if r.ContentLength != 0 {
			// Else the server would wait for the unread body, to reuse
			// the connection, before sending the refusal.
			w.Header().Set("Connection", "close")
		}
		deny(w, r, presented)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// admit is apart so that this frame, under every request's
		// deepest call, stays small (see chatConverter.message in
		// internal/openai).
		if r, ok := g.admit(w, r, refuse); ok {
			next.ServeHTTP(w, r)
		}
	})
}

// admit returns the request to serve (with the virtual key's context), or
// refuses it and returns false.
func (g Gate) admit(w http.ResponseWriter, r *http.Request, refuse func(w http.ResponseWriter, r *http.Request, presented bool)) (*http.Request, bool) {
	open := len(g.Keys) == 0 && (g.Virtual == nil || !g.Virtual.Required())
	key, presented := Presented(r)
	switch {
	case open && (!presented || g.Virtual == nil):
		return r, true
	case !presented:
		refuse(w, r, false)
		return nil, false
	}
	sum := sha256.Sum256([]byte(key))
	for _, want := range g.Keys {
		if want.MatchSum(sum) {
			accesslog.From(r.Context()).SetKey(ConfigKeyID(sum), "")
			return r, true
		}
	}
	if g.Virtual != nil {
		ctx, found, refusal := g.Virtual.Resolve(r.Context(), sum)
		switch {
		case found && refusal == "":
			return r.WithContext(ctx), true
		case found:
			refuse(w, r.WithContext(context.WithValue(r.Context(), refusalKey{}, refusal)), true)
			return nil, false
		}
	}
	if open {
		return r, true
	}
	refuse(w, r, true)
	return nil, false
}

type refusalKey struct{}

// Refusal is why a presented key was refused when that is more than "not
// a key" (an expired or revoked virtual key), for the deny answers'
// messages; "" otherwise.
func Refusal(r *http.Request) string {
	s, _ := r.Context().Value(refusalKey{}).(string)
	return s
}

// Admin guards the gateway's management routes (/admin/…, the console):
// with key set, only a request presenting it (or the session cookie the
// console's login sets, see NewSession) passes; without one, only a gateway
// listening on loopback serves them (the config cannot require the key
// there, as it does api_keys elsewhere). deny answers the rest (401).
//
// A browser's cross-origin state-changing request is refused (403) whatever
// the credentials: a page elsewhere must not drive the admin API through a
// cookie, nor through an open loopback gateway. Clients that are not
// browsers send neither Sec-Fetch-Site nor Origin and are unaffected.
func Admin(key *config.APIKey, loopback bool, next http.Handler, deny func(w http.ResponseWriter, r *http.Request, presented bool)) http.Handler {
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented, ok := Presented(r)
		switch {
		case key == nil && loopback:
		case key != nil && ok && key.Match(presented):
		case key != nil && !ok && ValidSession(r, time.Now()):
		default:
			if r.ContentLength != 0 {
				w.Header().Set("Connection", "close")
			}
			deny(w, r, ok)
			return
		}
		next.ServeHTTP(w, r)
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused: admin and console calls must come from the gateway's own pages", http.StatusForbidden)
	}))
	return cop.Handler(guarded)
}
