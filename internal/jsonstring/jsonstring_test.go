package jsonstring

import (
	"bytes"
	"encoding/json"
	"testing"
)

// reference is what encoding/json writes for s, with or without HTML
// escaping.
func reference(t testing.TB, s string, escapeHTML bool) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// TestAppendEveryByte checks every single byte and every two-byte sequence
// against encoding/json in both modes, so no escape is left to the fuzzer's
// luck.
func TestAppendEveryByte(t *testing.T) {
	for _, html := range []bool{true, false} {
		for a := 0; a < 256; a++ {
			for b := -1; b < 256; b++ {
				s := string([]byte{byte(a)})
				if b >= 0 {
					s += string([]byte{byte(b)})
				}
				if got, want := Append(nil, s, html), reference(t, s, html); !bytes.Equal(got, want) {
					t.Fatalf("Append(%q, escapeHTML=%v) = %s; encoding/json: %s", s, html, got, want)
				}
			}
		}
	}
}

// TestAppendAppends: what was in the buffer stays.
func TestAppendAppends(t *testing.T) {
	if got := string(Append([]byte(`{"a":`), "x<y", false)); got != `{"a":"x<y"` {
		t.Fatalf("got %s", got)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "Hello", `<script>alert("x")</script> & more`, "\x00\b\f\x1f\x7f",
		"line\u2028sep\u2029para", "bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "日本語 🚀"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, html bool) {
		if got, want := Append(nil, s, html), reference(t, s, html); !bytes.Equal(got, want) {
			t.Fatalf("Append(%q, escapeHTML=%v) = %s; encoding/json: %s", s, html, got, want)
		}
	})
}
