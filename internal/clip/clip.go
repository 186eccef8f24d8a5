// Package clip shortens text quoted back to a client or written to a log
// (an unknown field name, the start of an upstream's HTML error page) so
// that one long value cannot flood a message.
package clip

import "unicode/utf8"

// String returns s if it is at most n bytes long, or else its first n bytes
// cut back to a rune boundary, with suffix appended. Cutting on a rune
// boundary keeps a valid UTF-8 value valid: a message cut mid-rune would
// carry invalid UTF-8 into JSON error bodies and logs.
func String(s string, n int, suffix string) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + suffix
}
