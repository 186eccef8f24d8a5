package emulator

import (
	"encoding/json"
	"sort"
	"strings"
)

// Values generated from JSON schemas: tool inputs and structured output.

// value generates a JSON value valid against schema (a JSON Schema subset:
// type (string or list), properties, required, items, enum, const, default,
// minimum/maximum, minLength/maxLength, minItems/maxItems, format, anyOf,
// oneOf, allOf, $ref to #/$defs or #/definitions). name is the property the
// value is for; it steers string values (a "city" gets a place name).
func (g *gen) value(root, schema map[string]any, name string, depth int) any {
	if schema == nil || depth > 8 {
		return map[string]any{}
	}
	if ref, ok := schema["$ref"].(string); ok {
		if target := resolveRef(root, ref); target != nil {
			return g.value(root, target, name, depth+1)
		}
	}
	if c, ok := schema["const"]; ok {
		return c
	}
	if e, ok := schema["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	if d, ok := schema["default"]; ok {
		return d
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if alts, ok := schema[k].([]any); ok && len(alts) > 0 {
			for _, a := range alts {
				if am, ok := a.(map[string]any); ok && am["type"] != "null" {
					return g.value(root, am, name, depth+1)
				}
			}
		}
	}
	if all, ok := schema["allOf"].([]any); ok && len(all) > 0 {
		merged := map[string]any{}
		props := map[string]any{}
		var req []any
		for _, a := range all {
			if am, ok := a.(map[string]any); ok {
				for k, v := range am {
					merged[k] = v
				}
				if p, ok := am["properties"].(map[string]any); ok {
					for k, v := range p {
						props[k] = v
					}
				}
				if r, ok := am["required"].([]any); ok {
					req = append(req, r...)
				}
			}
		}
		merged["properties"], merged["required"] = props, req
		if merged["type"] == nil {
			merged["type"] = "object"
		}
		delete(merged, "allOf")
		return g.value(root, merged, name, depth+1)
	}
	typ := schemaType(schema)
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := schema["properties"].(map[string]any)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps, _ := props[k].(map[string]any)
			out[k] = g.value(root, ps, k, depth+1)
		}
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if k, ok := r.(string); ok {
					if _, done := out[k]; !done {
						out[k] = g.word(k)
					}
				}
			}
		}
		return out
	case "array":
		n := 1
		if v, ok := num(schema["minItems"]); ok && int(v) > n {
			n = int(v)
		}
		if v, ok := num(schema["maxItems"]); ok && int(v) < n {
			n = int(v)
		}
		if n < 2 && len(g.proper) > 1 {
			if v, ok := num(schema["maxItems"]); !ok || v >= 2 {
				n = 2
			}
		}
		items, _ := schema["items"].(map[string]any)
		out := make([]any, 0, n)
		for i := 0; i < n; i++ {
			out = append(out, g.itemValue(root, items, name, i, depth+1))
		}
		return out
	case "integer", "number":
		lo, hi := 1.0, 100.0
		if v, ok := num(schema["minimum"]); ok {
			lo = v
			if hi < lo {
				hi = lo + 100
			}
		}
		if v, ok := num(schema["exclusiveMinimum"]); ok {
			lo = v + 1
			if hi < lo {
				hi = lo + 100
			}
		}
		if v, ok := num(schema["maximum"]); ok {
			hi = v
		}
		if v, ok := num(schema["exclusiveMaximum"]); ok {
			hi = v - 1
		}
		if hi < lo {
			hi = lo
		}
		x := lo + float64(g.rng.IntN(int(hi-lo)+1))
		if m, ok := num(schema["multipleOf"]); ok && m > 0 {
			x = float64(int((x+m-1)/m)) * m
			if x > hi {
				x -= m
			}
		}
		if typ == "integer" {
			return int64(x)
		}
		return x
	case "boolean":
		return true
	case "null":
		return nil
	}
	return g.stringValue(schema, name)
}

func (g *gen) itemValue(root, items map[string]any, name string, i, depth int) any {
	if items != nil && schemaType(items) == "string" && items["enum"] == nil && items["format"] == nil && i < len(g.proper) {
		return g.proper[i]
	}
	if items != nil && schemaType(items) == "string" && items["enum"] == nil && items["format"] == nil {
		s := g.stringValue(items, name)
		if i > 0 {
			if str, ok := s.(string); ok {
				return str + " " + string(rune('0'+i%10))
			}
		}
		return s
	}
	return g.value(root, items, name, depth)
}

func schemaType(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if xs, ok := x.(string); ok && xs != "null" {
				return xs
			}
		}
	}
	if _, ok := s["properties"]; ok {
		return "object"
	}
	if _, ok := s["items"]; ok {
		return "array"
	}
	return "string"
}

func resolveRef(root map[string]any, ref string) map[string]any {
	for _, p := range []string{"#/$defs/", "#/definitions/"} {
		if name, ok := strings.CutPrefix(ref, p); ok {
			defs, _ := root[strings.TrimSuffix(strings.TrimPrefix(p, "#/"), "/")].(map[string]any)
			t, _ := defs[name].(map[string]any)
			return t
		}
	}
	if ref == "#" {
		return root
	}
	return nil
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func (g *gen) stringValue(schema map[string]any, name string) any {
	switch schema["format"] {
	case "date":
		return "2025-01-15"
	case "date-time":
		return "2025-01-15T10:30:00Z"
	case "time":
		return "10:30:00Z"
	case "email":
		return "user@example.com"
	case "uri", "url":
		return "https://example.com/" + g.slug()
	case "uuid":
		return "123e4567-e89b-42d3-a456-426614174000"
	case "ipv4":
		return "192.0.2.10"
	}
	s := g.word(name)
	if v, ok := num(schema["maxLength"]); ok && len(s) > int(v) {
		s = s[:int(v)]
	}
	if v, ok := num(schema["minLength"]); ok {
		for len(s) < int(v) {
			s += " " + g.pick(adjectives)
		}
	}
	return s
}

func (g *gen) slug() string {
	return strings.ReplaceAll(g.topic(), " ", "-")
}

// word is a string value for a property called name, taken from the prompt.
func (g *gen) word(name string) string {
	ln := strings.ToLower(name)
	placeish := strings.Contains(ln, "location") || strings.Contains(ln, "city") || strings.Contains(ln, "place") ||
		strings.Contains(ln, "country") || strings.Contains(ln, "name") || strings.Contains(ln, "destination")
	if placeish && len(g.proper) > 0 {
		// Names are often two words ("San Francisco").
		return g.proper[0]
	}
	if len(g.words) > 0 {
		if strings.Contains(ln, "query") || strings.Contains(ln, "text") || strings.Contains(ln, "description") || strings.Contains(ln, "summary") {
			n := len(g.words)
			if n > 5 {
				n = 5
			}
			return strings.Join(g.words[:n], " ")
		}
		return g.topic()
	}
	return "example"
}
