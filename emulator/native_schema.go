package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Body schemas.
//
// Bedrock validates every native body (text, embedding and image models)
// against a JSON schema with the everit validator and reports the result as
// "Malformed input request: <violation>, please reformat your input and try
// again.", or "<N> schema violations found" when there are several. famSpec is
// the small subset of JSON Schema those bodies need, and famCheck words its
// violations the way everit does, so clients that match on messages see the
// same text as against the real service.

const (
	famObject  = "JSONObject"
	famArray   = "JSONArray"
	famString  = "String"
	famInteger = "Integer"
	famNumber  = "Number"
	famBoolean = "Boolean"
	famAny     = "any"
)

type famSpec struct {
	kind     string
	props    map[string]*famSpec // object members
	required []string
	open     bool // object: members not in props are allowed
	items    *famSpec
	minItems int
	maxItems int // 0: unlimited
	minLen   int // string length in characters
	maxLen   int // 0: unlimited
	min, max *float64
	enum     []string
	// anyOf alternatives are chosen by the JSON kind of the value (string or
	// array of blocks, for example).
	anyOf []*famSpec
	// byType selects the object's spec by its "type" member (Anthropic
	// content blocks); each selected spec lists "type" among its props.
	byType map[string]*famSpec
}

func famObj(required []string, props map[string]*famSpec) *famSpec {
	return &famSpec{kind: famObject, props: props, required: required}
}
func famStr() *famSpec              { return &famSpec{kind: famString} }
func famStrLen(lo, hi int) *famSpec { return &famSpec{kind: famString, minLen: lo, maxLen: hi} }
func famEnum(vals ...string) *famSpec {
	return &famSpec{kind: famString, enum: vals}
}
func famBool() *famSpec { return &famSpec{kind: famBoolean} }
func famAnyValue() *famSpec {
	return &famSpec{kind: famAny}
}
func famInt(lo, hi float64) *famSpec { return &famSpec{kind: famInteger, min: &lo, max: &hi} }
func famNum(lo, hi float64) *famSpec { return &famSpec{kind: famNumber, min: &lo, max: &hi} }
func famList(items *famSpec, lo, hi int) *famSpec {
	return &famSpec{kind: famArray, items: items, minItems: lo, maxItems: hi}
}
func famOneOf(alts ...*famSpec) *famSpec { return &famSpec{anyOf: alts} }

// famOpen marks an object spec as accepting unknown members.
func famOpen(s *famSpec) *famSpec { s.open = true; return s }

// famMalformed is Bedrock's wording for a body that fails its schema.
func famMalformed(detail string) *apiError {
	return validationError("Malformed input request: %s, please reformat your input and try again.", detail)
}

// famDecode parses body as a JSON object (numbers kept as json.Number) and
// checks it against spec.
func famDecode(body []byte, spec *famSpec) (map[string]any, *apiError) {
	v, err := famParseJSON(body)
	if err != nil {
		return nil, err
	}
	var out []string
	famCheck(spec, v, "#", &out)
	switch {
	case len(out) == 1:
		return nil, famMalformed(out[0])
	case len(out) > 1:
		return nil, famMalformed(fmt.Sprintf("%d schema violations found", len(out)))
	}
	return v.(map[string]any), nil
}

// famParseJSON parses a request body, worded like the org.json parser behind
// Bedrock's validator when the body is not JSON at all.
func famParseJSON(body []byte) (any, *apiError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, famMalformed("A JSONObject text must begin with '{' at 0 [character 1 line 1]")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		if trimmed[0] != '{' {
			return nil, famMalformed(famAt("A JSONObject text must begin with '{'", body, bytes.IndexByte(body, trimmed[0])+1))
		}
		off := int(dec.InputOffset())
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			off = int(syn.Offset)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			off = len(body)
		}
		msg := "Expected a ',' or '}'"
		switch {
		case syn != nil && strings.Contains(syn.Error(), "after object key:value pair"):
		case syn != nil && strings.Contains(syn.Error(), "after object key"):
			msg = "Expected a ':' after a key"
		case syn != nil && strings.Contains(syn.Error(), "looking for beginning of object key"):
			msg = "Expected a key"
		case syn != nil && strings.Contains(syn.Error(), "looking for beginning of value"):
			msg = "Missing value"
		case errors.Is(err, io.ErrUnexpectedEOF) || off >= len(body):
			msg = "Unterminated JSON text"
		}
		return nil, famMalformed(famAt(msg, body, off))
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, famMalformed("#: expected type: JSONObject, found: " + famKindOf(v))
	}
	return v, nil
}

// famAt appends org.json's position suffix: " at <offset> [character <col> line <line>]".
func famAt(msg string, body []byte, off int) string {
	if off > len(body) {
		off = len(body)
	}
	line, col := 1, 1
	for _, b := range body[:off] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("%s at %d [character %d line %d]", msg, off, col, line)
}

// famKindOf names the JSON type of v the way everit's "found:" does.
func famKindOf(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return famObject
	case []any:
		return famArray
	case string:
		return famString
	case bool:
		return famBoolean
	case json.Number:
		if famIsInteger(x) {
			return famInteger
		}
		return "BigDecimal"
	case nil:
		return "Null"
	}
	return fmt.Sprintf("%T", v)
}

func famIsInteger(n json.Number) bool {
	if strings.ContainsAny(string(n), ".eE") {
		return false
	}
	_, err := strconv.ParseInt(string(n), 10, 64)
	return err == nil
}

func famFormatBound(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// famCheck appends everit-worded violations of v against spec to out.
func famCheck(spec *famSpec, v any, path string, out *[]string) {
	if spec == nil {
		return
	}
	if len(spec.anyOf) > 0 {
		found := famKindOf(v)
		for _, alt := range spec.anyOf {
			if alt.kind == found || alt.kind == famAny ||
				(alt.kind == famNumber && (found == famInteger || found == "BigDecimal")) {
				famCheck(alt, v, path, out)
				return
			}
		}
		*out = append(*out, fmt.Sprintf("%s: no subschema matched out of the total %d subschemas", path, len(spec.anyOf)))
		return
	}
	found := famKindOf(v)
	switch spec.kind {
	case famAny:
		return
	case famNumber:
		if found != famInteger && found != "BigDecimal" {
			*out = append(*out, fmt.Sprintf("%s: expected type: Number, found: %s", path, found))
			return
		}
	default:
		if found != spec.kind {
			*out = append(*out, fmt.Sprintf("%s: expected type: %s, found: %s", path, spec.kind, found))
			return
		}
	}
	switch x := v.(type) {
	case map[string]any:
		if spec.byType != nil {
			t, ok := x["type"]
			if !ok {
				*out = append(*out, fmt.Sprintf("%s: required key [type] not found", path))
				return
			}
			ts, ok := t.(string)
			if !ok {
				*out = append(*out, fmt.Sprintf("%s/type: expected type: String, found: %s", path, famKindOf(t)))
				return
			}
			sub, ok := spec.byType[ts]
			if !ok {
				*out = append(*out, fmt.Sprintf("%s/type: %s is not a valid enum value", path, ts))
				return
			}
			famCheck(sub, v, path, out)
			return
		}
		for _, k := range spec.required {
			if _, ok := x[k]; !ok {
				*out = append(*out, fmt.Sprintf("%s: required key [%s] not found", path, k))
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, ok := spec.props[k]
			if !ok {
				if !spec.open {
					*out = append(*out, fmt.Sprintf("%s: extraneous key [%s] is not permitted", path, k))
				}
				continue
			}
			famCheck(sub, x[k], path+"/"+k, out)
		}
	case []any:
		if len(x) < spec.minItems {
			*out = append(*out, fmt.Sprintf("%s: expected minimum item count: %d, found: %d", path, spec.minItems, len(x)))
		}
		if spec.maxItems > 0 && len(x) > spec.maxItems {
			*out = append(*out, fmt.Sprintf("%s: expected maximum item count: %d, found: %d", path, spec.maxItems, len(x)))
		}
		for i, item := range x {
			famCheck(spec.items, item, path+"/"+strconv.Itoa(i), out)
		}
	case string:
		n := utf8.RuneCountInString(x)
		if n < spec.minLen {
			*out = append(*out, fmt.Sprintf("%s: expected minLength: %d, actual: %d", path, spec.minLen, n))
		}
		if spec.maxLen > 0 && n > spec.maxLen {
			*out = append(*out, fmt.Sprintf("%s: expected maxLength: %d, actual: %d", path, spec.maxLen, n))
		}
		if len(spec.enum) > 0 {
			ok := false
			for _, e := range spec.enum {
				ok = ok || e == x
			}
			if !ok {
				*out = append(*out, fmt.Sprintf("%s: %s is not a valid enum value", path, x))
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if spec.min != nil && f < *spec.min {
			*out = append(*out, fmt.Sprintf("%s: %s is not greater or equal to %s", path, x, famFormatBound(*spec.min)))
		}
		if spec.max != nil && f > *spec.max {
			*out = append(*out, fmt.Sprintf("%s: %s is not less or equal to %s", path, x, famFormatBound(*spec.max)))
		}
		if len(spec.enum) > 0 {
			ok := false
			for _, e := range spec.enum {
				ok = ok || e == string(x)
			}
			if !ok {
				*out = append(*out, fmt.Sprintf("%s: %s is not a valid enum value", path, x))
			}
		}
	}
}

// Accessors for a body that already passed famCheck: the types are known, so
// a missing member simply yields the fallback.

func famGetString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func famGetInt(m map[string]any, key string, fallback int) int {
	n, ok := m[key].(json.Number)
	if !ok {
		return fallback
	}
	i, err := strconv.Atoi(string(n))
	if err != nil {
		f, _ := n.Float64()
		return int(f)
	}
	return i
}

func famGetBool(m map[string]any, key string, fallback bool) bool {
	b, ok := m[key].(bool)
	if !ok {
		return fallback
	}
	return b
}

func famGetObject(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

func famGetList(m map[string]any, key string) []any {
	l, _ := m[key].([]any)
	return l
}

func famGetStrings(m map[string]any, key string) []string {
	var out []string
	for _, v := range famGetList(m, key) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// famBaseModelID strips what may precede a foundation-model ID: an ARN
// (inference profile or foundation model) and a cross-region prefix.
func famBaseModelID(modelID string) string {
	if strings.HasPrefix(modelID, "arn:") {
		if i := strings.LastIndexByte(modelID, '/'); i >= 0 {
			modelID = modelID[i+1:]
		}
	}
	for _, p := range []string{"us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."} {
		if strings.HasPrefix(modelID, p) {
			return modelID[len(p):]
		}
	}
	return modelID
}
