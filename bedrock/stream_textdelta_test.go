package bedrock

import (
	"encoding/json"
	"reflect"
	"testing"
)

// checkTextDelta checks decodeTextDelta against json.Unmarshal for payload:
// where the fast path decodes, json.Unmarshal must succeed with the same
// event. It reports whether the fast path decoded.
func checkTextDelta(t *testing.T, payload []byte) bool {
	t.Helper()
	got, ok := decodeTextDelta(payload)
	if !ok {
		return false
	}
	var want ContentBlockDeltaEvent
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatalf("decodeTextDelta(%q) decoded what json.Unmarshal rejects: %v", payload, err)
	}
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("decodeTextDelta(%q) = %+v; json.Unmarshal: %+v", payload, *got, want)
	}
	return true
}

func TestDecodeTextDelta(t *testing.T) {
	fast := []string{
		`{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}`,
		`{"contentBlockIndex":0,"delta":{"text":" world"}}`,
		`{"contentBlockIndex":12,"delta":{"text":""},"p":"a"}`,
		`{"contentBlockIndex":999999999,"delta":{"text":"héllo 日本語 🚀 <&>"},"p":""}`,
	}
	slow := []string{
		`{"contentBlockIndex":0,"delta":{"text":"a\nb"},"p":"abc"}`,   // escape
		`{"contentBlockIndex":0,"delta":{"text":"a\u00e9"}}`,          // escape
		"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"bad \xff\"}}", // invalid UTF-8: U+FFFD
		"{\"contentBlockIndex\":0,\"delta\":{\"text\":\"tab\t\"}}",    // control character: invalid JSON
		`{"contentBlockIndex":01,"delta":{"text":"x"}}`,               // invalid number
		`{"contentBlockIndex":-1,"delta":{"text":"x"}}`,               // negative
		`{"contentBlockIndex":1234567890,"delta":{"text":"x"}}`,       // ten digits
		`{"contentBlockIndex":1.5,"delta":{"text":"x"}}`,              // not an int
		`{"contentBlockIndex":0,"delta":{"text":"x"},"p":"y","q":1}`,  // another member
		`{"contentBlockIndex":0,"delta":{"text":"x"},"p":"y"} `,       // trailing space
		`{"contentBlockIndex":0,"delta":{"text":"x"},"p":"y"}}`,       // trailing garbage
		`{"contentBlockIndex":0,"delta":{"text":"x","citation":{}}}`,  // another delta member
		`{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{}"}}}`,  // tool input
		`{"contentBlockIndex":0, "delta":{"text":"x"}}`,               // whitespace
		`{"delta":{"text":"x"},"contentBlockIndex":0}`,                // other order
		`{"contentBlockIndex":0,"delta":{"text":"x"},"p":"a\"}`,       // escape in padding
		`{"contentBlockIndex":0,"delta":{"text":"x"},"p":"a}`,         // unterminated
		`{"contentBlockIndex":0,"delta":{"text":"x`,                   // truncated
	}
	for _, p := range fast {
		if !checkTextDelta(t, []byte(p)) {
			t.Errorf("decodeTextDelta(%s) fell back; want the fast path", p)
		}
	}
	for _, p := range slow {
		if checkTextDelta(t, []byte(p)) {
			t.Errorf("decodeTextDelta(%s) decoded; want json.Unmarshal", p)
		}
		// decodeStreamEvent gives json.Unmarshal's answer either way.
		ev, _, err := decodeStreamEvent("contentBlockDelta", []byte(p))
		var want ContentBlockDeltaEvent
		werr := json.Unmarshal([]byte(p), &want)
		if (err != nil) != (werr != nil) || (err == nil && !reflect.DeepEqual(ev.ContentBlockDelta, &want)) {
			t.Errorf("decodeStreamEvent(%s) = %+v, %v; json.Unmarshal: %+v, %v", p, ev.ContentBlockDelta, err, want, werr)
		}
	}
}

func FuzzDecodeTextDelta(f *testing.F) {
	f.Add("0", "Hello", true, "abcdefgh", []byte(`{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abc"}`))
	f.Add("07", "a\\nb", false, "", []byte(`{"contentBlockIndex":1,"delta":{"text":"\u00e9"}}`))
	f.Add("123", "\xff\x00<>&\u2028", true, "\"", []byte(`{"contentBlockIndex":0,"delta":{"text":"x"},"P":"y"}`))
	f.Fuzz(func(t *testing.T, idx, text string, withPad bool, pad string, raw []byte) {
		p := `{"contentBlockIndex":` + idx + `,"delta":{"text":"` + text + `"}`
		if withPad {
			p += `,"p":"` + pad + `"`
		}
		checkTextDelta(t, []byte(p+"}"))
		checkTextDelta(t, raw)
	})
}
