package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 10, "abcdefghij…"},
		// é is two bytes; a cut after its first byte backs up before it.
		{"abcdefghié", 10, "abcdefghi…"},
		// 世 is three bytes at 8..10: the cut at 10 backs up to 8.
		{"abcdefgh世界", 10, "abcdefgh…"},
		{"世界", 1, "…"},
		{"", 0, ""},
	}
	for _, tt := range tests {
		got := String(tt.s, tt.n, "…")
		if got != tt.want {
			t.Errorf("String(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
		if utf8.ValidString(tt.s) && !utf8.ValidString(got) {
			t.Errorf("String(%q, %d) = %q is not valid UTF-8", tt.s, tt.n, got)
		}
		if len(strings.TrimSuffix(got, "…")) > tt.n {
			t.Errorf("String(%q, %d) = %q is longer than %d bytes", tt.s, tt.n, got, tt.n)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("abcdefghié", 10)
	f.Add("世界世界", 4)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 {
			n = -n
		}
		if n < 0 { // math.MinInt
			n = 0
		}
		got := String(s, n, "...")
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Errorf("String(%q, %d) = %q is not valid UTF-8", s, n, got)
		}
		if len(s) <= n && got != s {
			t.Errorf("String(%q, %d) = %q changed a short value", s, n, got)
		}
		if len(s) > n && (len(got) > n+3 || !strings.HasPrefix(s, strings.TrimSuffix(got, "..."))) {
			t.Errorf("String(%q, %d) = %q is not a prefix within %d bytes", s, n, got, n)
		}
	})
}
