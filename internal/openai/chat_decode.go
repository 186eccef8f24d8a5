package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// This file decodes a chat request body in one pass, straight into a
// chatRequest. The reference is decodeChatRequest, which decodes the body's
// members into a map, adds the model's defaults, encodes the map again and
// decodes that into a chatRequest: the fast decode is taken only when it
// gives exactly the same chatRequest, and every other body (including every
// body with an error) takes the reference path, which also words the
// errors. What the reference does that a plain decode would not:
//
//   - member names are matched exactly ("model", not "Model"), and a member
//     that appears twice counts once, the last time; encoding/json matches
//     struct fields ignoring case, and decodes a repeated member twice (an
//     object into the same struct, merging them). A body with a member that
//     matches a chatRequest field only ignoring case, or with a repeated
//     chatRequest member, takes the reference path.
//   - every member is re-encoded by encoding/json, which removes the spaces
//     between tokens and escapes <, >, &, U+2028 and U+2029 in strings; the
//     json.RawMessage members (messages, tools, stop, ...) keep those bytes,
//     which reach Bedrock (tool schemas) and error messages. A body not
//     already in that form is re-encoded whole, which re-encodes each member
//     the same way.
//   - a default applies when the request leaves its member (or its alias)
//     out or sets it to null.

// chatMemberNames are the members chatRequest declares, by JSON name; the
// index of a name is its bit in a memberSet.
var chatMemberNames = jsonFieldNames(reflect.TypeFor[chatRequest]())

// chatMemberFold are chatMemberNames as bytes, for bytes.EqualFold.
var chatMemberFold = func() [][]byte {
	out := make([][]byte, len(chatMemberNames))
	for i, n := range chatMemberNames {
		out[i] = []byte(n)
	}
	return out
}()

// memberSet is a set of chatRequest members (bit i: chatMemberNames[i]).
type memberSet uint64

// jsonFieldNames lists the JSON names of a struct's fields.
func jsonFieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			panic(fmt.Sprintf("openai: %s.%s needs a JSON name", t.Name(), t.Field(i).Name))
		}
		names = append(names, name)
	}
	if len(names) > 64 {
		panic("openai: a memberSet holds at most 64 members")
	}
	return names
}

// chatMember is the index of a chatRequest member by its exact name, or -1.
func chatMember(name []byte) int {
	for i, n := range chatMemberNames {
		if string(name) == n {
			return i
		}
	}
	return -1
}

// foldsToChatMember reports whether encoding/json would decode a member of
// this name into a chatRequest field (it matches names ignoring case).
func foldsToChatMember(name []byte) bool {
	for _, n := range chatMemberFold {
		if bytes.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// decodeChatFast decodes a chat request body straight into a chatRequest.
// set lists the members the body sets to something other than null. ok is
// false when the result could differ from decodeChatRequest's, or the body
// is not a valid request: the caller then takes that path.
func decodeChatFast(body []byte) (req *chatRequest, set memberSet, ok bool) {
	set, canonical, ok := scanChatBody(body)
	if !ok {
		return nil, 0, false
	}
	if !canonical {
		// Re-encode the body as the reference re-encodes each member.
		b, err := json.Marshal(json.RawMessage(body))
		if err != nil {
			return nil, 0, false
		}
		body = b
	}
	req = new(chatRequest)
	if json.Unmarshal(body, req) != nil {
		return nil, 0, false
	}
	return req, set, true
}

// scanChatBody reads the member names of a JSON object body, without
// decoding it. set lists the chatRequest members it sets to something other
// than null; canonical is whether json.Marshal would leave the body as it
// is (no spaces between tokens; no <, >, &, U+2028 or U+2029 in strings).
// ok is false when the body does not start with an object, or a member is
// repeated, or matches a chatRequest member only ignoring case, or has an
// escaped name (which might be either). It does not check that the body
// is valid JSON: the decoding that follows does.
func scanChatBody(body []byte) (set memberSet, canonical, ok bool) {
	start := 0
	for start < len(body) && isJSONSpace(body[start]) {
		start++
	}
	if start == len(body) || body[start] != '{' {
		return 0, false, false
	}
	canonical = start == 0
	var seen memberSet
	depth := 0
	key := false // a string at depth 1 here is a member name
	member := -1 // the chatRequest member whose value comes next, or -1
	for i := start; i < len(body); i++ {
		switch c := body[i]; c {
		case '"':
			from, escaped := i+1, false
			j := from
			for ; j < len(body) && body[j] != '"'; j++ {
				switch body[j] {
				case '\\':
					escaped = true
					j++ // the escaped character, which may be a quote
				case '<', '>', '&':
					canonical = false
				case 0xE2: // U+2028 and U+2029 are E2 80 A8 and E2 80 A9
					if j+2 < len(body) && body[j+1] == 0x80 && body[j+2]&^1 == 0xA8 {
						canonical = false
					}
				}
			}
			if j >= len(body) {
				return 0, false, false // not closed: not JSON
			}
			if depth == 1 && key {
				name := body[from:j]
				if escaped {
					return 0, false, false
				}
				member = chatMember(name)
				switch {
				case member >= 0:
					bit := memberSet(1) << member
					if seen&bit != 0 {
						return 0, false, false
					}
					seen |= bit
				case foldsToChatMember(name):
					return 0, false, false
				}
				key = false
			}
			i = j
		case '{', '[':
			depth++
			key = depth == 1
		case '}', ']':
			depth--
		case ',':
			key = depth == 1
		case ':':
			if depth == 1 && member >= 0 {
				k := i + 1
				for k < len(body) && isJSONSpace(body[k]) {
					k++
				}
				if k < len(body) && body[k] != 'n' { // only null starts with n
					set |= memberSet(1) << member
				}
				member = -1
			}
		case ' ', '\t', '\n', '\r':
			canonical = false
		}
	}
	return set, canonical, true
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// chatDefaults are a model's request defaults (chatModel.Defaults) encoded
// once, for the fast decode.
type chatDefaults struct {
	members []defaultMember
	// exact is false when the fast decode cannot apply them as
	// decodeChatRequest does (a default named like a chatRequest member
	// only ignoring case).
	exact bool
}

// defaultMember is one default: skipped when the request sets its member or
// the member's alias.
type defaultMember struct {
	skip memberSet
	json []byte // "name":value
}

// newChatDefaults encodes a model's defaults. Defaults that are not
// chatRequest members are left out, as decoding leaves them out; so are
// those JSON cannot represent, as decodeChatRequest leaves them out.
func newChatDefaults(defaults map[string]any) chatDefaults {
	d := chatDefaults{exact: true}
	for k, v := range defaults {
		i := chatMember([]byte(k))
		if i < 0 {
			if foldsToChatMember([]byte(k)) {
				d.exact = false
			}
			continue
		}
		val, err := json.Marshal(v)
		if err != nil {
			continue
		}
		name, _ := json.Marshal(k)
		m := defaultMember{skip: memberSet(1) << i, json: append(append(name, ':'), val...)}
		if a := chatMember([]byte(aliases[k])); a >= 0 {
			m.skip |= memberSet(1) << a
		}
		d.members = append(d.members, m)
	}
	return d
}

// apply decodes into req the defaults for the members the request does not
// set. ok is false when the fast decode cannot apply them (exact), or one
// does not decode: the caller then takes decodeChatRequest's path, which
// says what is wrong.
func (d *chatDefaults) apply(req *chatRequest, set memberSet) (ok bool) {
	if !d.exact {
		return false
	}
	var obj []byte
	for _, m := range d.members {
		if set&m.skip != 0 {
			continue
		}
		if obj == nil {
			obj = append(make([]byte, 0, 128), '{')
		} else {
			obj = append(obj, ',')
		}
		obj = append(obj, m.json...)
	}
	if obj == nil {
		return true
	}
	return json.Unmarshal(append(obj, '}'), req) == nil
}
