package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SessionCookie names the cookie the console's login form sets: proof that
// its browser presented the admin key, so that pages and their API calls
// need not carry the key in a header.
const SessionCookie = "quarry_admin_session"

// SessionLifetime is how long a console login lasts.
const SessionLifetime = 12 * time.Hour

// sessionSecret signs session cookies. It is per process: a restart (or
// another replica) asks the browser to log in again, and no secret is ever
// written anywhere.
var sessionSecret = func() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}()

// NewSession returns the cookie for a login at now: its value is an expiry
// and an HMAC of it, never the key. Secure, HttpOnly and SameSite=Strict, so
// scripts cannot read it and no other site can send it.
func NewSession(now time.Time) *http.Cookie {
	exp := now.Add(SessionLifetime)
	v := strconv.FormatInt(exp.Unix(), 10)
	return &http.Cookie{
		Name: SessionCookie, Value: v + "." + sessionMAC(v), Path: "/",
		Expires: exp, MaxAge: int(SessionLifetime / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	}
}

// EndSession is the cookie that logs a browser out.
func EndSession() *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

func sessionMAC(v string) string {
	m := hmac.New(sha256.New, sessionSecret)
	m.Write([]byte("quarry admin session|" + v))
	return hex.EncodeToString(m.Sum(nil))
}

// ValidSession reports whether r carries an unexpired session cookie this
// process signed.
func ValidSession(r *http.Request, now time.Time) bool {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return false
	}
	v, mac, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(sessionMAC(v))) {
		return false
	}
	exp, err := strconv.ParseInt(v, 10, 64)
	return err == nil && now.Unix() < exp
}
