// Package auth checks the API keys clients present to the gateway.
package auth

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"time"

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
	if len(k) == 0 {
		return true, false
	}
	key, presented := Presented(r)
	if !presented {
		return false, false
	}
	sum := sha256.Sum256([]byte(key))
	for _, want := range k {
		if want.MatchSum(sum) {
			return true, true
		}
	}
	return false, true
}

// Require wraps next so that requests without a valid key get deny's answer
// (each API surface answers in its own error format).
func (k Keys) Require(next http.Handler, deny func(w http.ResponseWriter, r *http.Request, presented bool)) http.Handler {
	if len(k) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, presented := k.Check(r); !ok {
			if r.ContentLength != 0 {
				// Else the server would wait for the unread body, to
				// reuse the connection, before sending the refusal.
				w.Header().Set("Connection", "close")
			}
			deny(w, r, presented)
			return
		}
		next.ServeHTTP(w, r)
	})
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
