package rawjson

import (
	"encoding/json"
	"testing"
)

func TestArray(t *testing.T) {
	tests := []struct {
		items []json.RawMessage
		want  string
	}{
		{nil, "[]"},
		{[]json.RawMessage{}, "[]"},
		{[]json.RawMessage{json.RawMessage(`{"a":1}`)}, `[{"a":1}]`},
		{[]json.RawMessage{json.RawMessage(`1`), json.RawMessage(` "x" `), json.RawMessage(`[2]`)}, `[1, "x" ,[2]]`},
	}
	for _, tt := range tests {
		got := Array(tt.items)
		if string(got) != tt.want {
			t.Errorf("Array(%q) = %s, want %s", tt.items, got, tt.want)
		}
		if cap(got) != len(got) {
			t.Errorf("Array(%q): cap %d, len %d: not sized exactly", tt.items, cap(got), len(got))
		}
		// As encoding/json writes the same slice (compact, for items
		// without spaces).
		if want, _ := json.Marshal(tt.items); tt.items != nil && len(tt.items) < 2 && string(want) != string(got) {
			t.Errorf("Array(%q) = %s, encoding/json %s", tt.items, got, want)
		}
		want := tt.want
		if tt.items == nil {
			want = "null" // as encoding/json writes a nil slice
		}
		if got := AppendArray([]byte("x:"), tt.items); string(got) != "x:"+want {
			t.Errorf("AppendArray = %s, want x:%s", got, want)
		}
	}
}
