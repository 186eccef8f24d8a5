// Package rawjson builds JSON from pieces that are already JSON, without
// decoding them again (the surfaces keep a request's messages and a
// response's items as json.RawMessage).
package rawjson

import "encoding/json"

// AppendArray appends items to b as a JSON array, each item as it is; nil
// items give null, as encoding/json writes a nil slice.
func AppendArray(b []byte, items []json.RawMessage) []byte {
	if items == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return append(b, ']')
}

// Array is items as one JSON array (nil too: []), in a buffer of exactly
// its size.
func Array(items []json.RawMessage) json.RawMessage {
	n := 2 + max(len(items)-1, 0)
	for _, it := range items {
		n += len(it)
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return AppendArray(make([]byte, 0, n), items)
}
