package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Native InvokeModel bodies of the text model families. The HTTP handler
// (invoke.go) reads the body, calls parseNative, runs generate, and writes
// renderNative (InvokeModel) or renderNativeChunks (InvokeModelWithResponseStream).

// Text model families with a native InvokeModel body.
const (
	familyAnthropic = "anthropic"        // Claude Messages API (anthropic_version bedrock-2023-05-31)
	familyNova      = "nova"             // Amazon Nova messages-v1
	familyTitanText = "titan-text"       // Amazon Titan Text
	familyLlama     = "llama"            // Meta Llama
	familyMistral   = "mistral"          // Mistral (prompt/outputs)
	familyCohere    = "cohere-command"   // Cohere Command (generations)
	familyCohereR   = "cohere-command-r" // Cohere Command R/R+ (message/chat_history)
)

// invocationMetrics is the "amazon-bedrock-invocationMetrics" member of the
// last streamed chunk.
type invocationMetrics struct {
	InputTokenCount           int `json:"inputTokenCount"`
	OutputTokenCount          int `json:"outputTokenCount"`
	InvocationLatency         int `json:"invocationLatency"`
	FirstByteLatency          int `json:"firstByteLatency"`
	CacheReadInputTokenCount  int `json:"cacheReadInputTokenCount,omitempty"`
	CacheWriteInputTokenCount int `json:"cacheWriteInputTokenCount,omitempty"`
}

// parseNative validates a family's native request body as Bedrock does and
// reduces it to a genRequest.
func parseNative(family string, body []byte) (*genRequest, *apiError) {
	var req *genRequest
	var err *apiError
	switch family {
	case familyAnthropic:
		req, err = nativeParseClaude(body)
	case familyNova:
		req, err = nativeParseNova(body)
	case familyTitanText:
		req, err = nativeParseTitan(body)
	case familyLlama:
		req, err = nativeParseLlama(body)
	case familyMistral:
		req, err = nativeParseMistral(body)
	case familyCohere:
		req, err = nativeParseCohere(body)
	case familyCohereR:
		req, err = nativeParseCohereR(body)
	default:
		return nil, &apiError{Status: 500, Code: "InternalServerException", Message: "unknown model family " + family}
	}
	if err != nil {
		return nil, err
	}
	req.Family = family
	return req, nil
}

// parseNativeFor is parseNative for model m: it also refuses what m itself
// cannot take (video blocks) and names m in the request. InvokeModel and
// CountTokens both use it, so they accept and count the same bodies.
func parseNativeFor(m *Model, body []byte) (*genRequest, *apiError) {
	req, aerr := parseNative(m.Family, body)
	if aerr == nil {
		aerr = checkNativeVideo(m, body)
	}
	if aerr != nil {
		return nil, aerr
	}
	req.ModelID = m.ID
	return req, nil
}

// renderNative is the family's native InvokeModel response body.
func renderNative(family, modelID string, req *genRequest, res genResult) []byte {
	var v any
	switch family {
	case familyAnthropic:
		v = nativeClaudeMessage(modelID, req, res)
	case familyNova:
		v = nativeNovaResponse(res)
	case familyTitanText:
		v = nativeObj{
			{"inputTextTokenCount", res.InputTokens},
			{"results", []any{nativeObj{
				{"tokenCount", res.OutputTokens},
				{"outputText", res.Text},
				{"completionReason", nativeTitanReason(res.StopReason)},
			}}},
		}
	case familyLlama:
		v = nativeObj{
			{"generation", res.Text},
			{"prompt_token_count", res.InputTokens},
			{"generation_token_count", res.OutputTokens},
			{"stop_reason", nativeLlamaReason(res.StopReason)},
		}
	case familyMistral:
		v = nativeObj{{"outputs", []any{nativeObj{{"text", res.Text}, {"stop_reason", nativeLlamaReason(res.StopReason)}}}}}
	case familyCohere:
		v = nativeCohereResponse(modelID, req, res)
	case familyCohereR:
		v = nativeCohereRResponse(modelID, req, res)
	default:
		v = nativeObj{}
	}
	return nativeJSON(v)
}

// renderNativeChunks are the decoded payloads of the family's streamed
// `chunk` events, in order; the last one carries metrics.
func renderNativeChunks(family, modelID string, req *genRequest, res genResult, metrics invocationMetrics) [][]byte {
	var chunks []nativeObj
	switch family {
	case familyAnthropic:
		chunks = nativeClaudeChunks(modelID, req, res)
	case familyNova:
		chunks = nativeNovaChunks(res)
	case familyTitanText:
		chunks = nativeTitanChunks(res)
	case familyLlama:
		chunks = nativeLlamaChunks(res)
	case familyMistral:
		chunks = nativeMistralChunks(res)
	case familyCohere:
		chunks = nativeCohereChunks(modelID, req, res)
	case familyCohereR:
		chunks = nativeCohereRChunks(modelID, req, res)
	default:
		chunks = []nativeObj{{}}
	}
	last := len(chunks) - 1
	chunks[last] = append(chunks[last], nativeKV{"amazon-bedrock-invocationMetrics", nativeMetrics(family, metrics)})
	out := make([][]byte, len(chunks))
	for i, c := range chunks {
		out[i] = nativeJSON(c)
	}
	return out
}

// ---------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------
// Shared rendering helpers.

// nativeKV and nativeObj build JSON objects whose members keep the order the
// real service writes them in, so bodies read like the recordings.
type nativeKV struct {
	k string
	v any
}

type nativeObj []nativeKV

func (o nativeObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := nativeMarshal(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// nativeMarshal is json.Marshal without HTML escaping (the service writes
// "<thinking>" as is).
func nativeMarshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func nativeJSON(v any) []byte {
	b, err := nativeMarshal(v)
	if err != nil {
		// Only maps, slices, strings, numbers and raw JSON from a parsed
		// request reach here; keep the response well-formed regardless.
		return []byte("{}")
	}
	return b
}

// nativeRawInput is a tool input as JSON, "{}" when the generator left it empty.
func nativeRawInput(in json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(in)) == 0 {
		return json.RawMessage("{}")
	}
	return in
}

// nativeMetrics renders the invocation metrics of the last chunk. Nova always
// reports its cache counters (as 0 when unused); the others only when set.
func nativeMetrics(family string, m invocationMetrics) any {
	if family == familyNova {
		return nativeObj{
			{"inputTokenCount", m.InputTokenCount},
			{"outputTokenCount", m.OutputTokenCount},
			{"invocationLatency", m.InvocationLatency},
			{"firstByteLatency", m.FirstByteLatency},
			{"cacheReadInputTokenCount", m.CacheReadInputTokenCount},
			{"cacheWriteInputTokenCount", m.CacheWriteInputTokenCount},
		}
	}
	return m
}

// nativeHash is a stable 64-bit hash of its parts.
func nativeHash(parts ...string) uint64 {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	var h uint64
	for _, b := range sum[:8] {
		h = h<<8 | uint64(b)
	}
	return h
}

const nativeBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// nativeBase62ID is n deterministic base-62 characters derived from parts.
func nativeBase62ID(n int, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	out := make([]byte, n)
	for i := range out {
		out[i] = nativeBase62[int(sum[i%len(sum)]+byte(i/len(sum)))%62]
	}
	return string(out)
}

// nativeUUID is a deterministic UUID-shaped id.
func nativeUUID(parts ...string) string { return embedID(parts...) }

// nativeFragments splits text into the deltas a stream carries: runs of one
// to three words, each with its leading space, concatenating back to text.
func nativeFragments(text string) []string {
	if text == "" {
		return nil
	}
	var out []string
	h := nativeHash(text)
	start, words, inWord := 0, 0, false
	want := 1 + int(h%3)
	for i, r := range text {
		space := r == ' ' || r == '\n' || r == '\t'
		if space && inWord {
			words++
			if words >= want {
				out = append(out, text[start:i])
				start, words = i, 0
				h = h*6364136223846793005 + 1442695040888963407
				want = 1 + int(h>>33%3)
			}
		}
		inWord = !space
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// nativeJSONFragments splits a tool input's JSON into the partial-JSON deltas
// Claude streams: an empty one first, then pieces of a few characters.
func nativeJSONFragments(input string) []string {
	h := nativeHash(input)
	return partialJSONFragments(input, func() int {
		n := 4 + int(h%9)
		h = h*6364136223846793005 + 1442695040888963407
		return n
	})
}

// nativeSignature is the opaque signature of a reasoning block: the
// generator's when it made one.
func nativeSignature(modelID string, res genResult) string {
	if res.ReasoningSignature != "" {
		return res.ReasoningSignature
	}
	sum := sha256.Sum256([]byte(res.Reasoning + "\x00" + modelID))
	return base64.StdEncoding.EncodeToString(append(sum[:], sum[:16]...))
}

func nativeTitanReason(stop string) string {
	switch stop {
	case "max_tokens":
		return "LENGTH"
	case "stop_sequence":
		return "STOP_CRITERIA_MET"
	case "content_filtered", "guardrail_intervened":
		return "CONTENT_FILTERED"
	}
	return "FINISH"
}

// nativeLlamaReason is Llama's and Mistral's stop_reason.
func nativeLlamaReason(stop string) string {
	if stop == "max_tokens" {
		return "length"
	}
	return "stop"
}

func nativeCohereReason(stop string, chat bool) string {
	switch stop {
	case "max_tokens":
		return "MAX_TOKENS"
	case "stop_sequence":
		if chat {
			return "STOP_SEQUENCE"
		}
	case "content_filtered", "guardrail_intervened":
		return "ERROR_TOXIC"
	}
	return "COMPLETE"
}

// nativeStopSeqs reads a list of stop strings.
func nativeStopSeqs(m map[string]any, key string) []string { return famGetStrings(m, key) }

// nativeBlobTokens is what an image or document input bills (a video
// bills videoInputTokens).
const nativeBlobTokens = 1600

// nativeViolations words schema violations found outside famDecode.
func nativeViolations(out []string) *apiError {
	switch len(out) {
	case 0:
		return nil
	case 1:
		return famMalformed(out[0])
	}
	return famMalformed(fmt.Sprintf("%d schema violations found", len(out)))
}

// ---------------------------------------------------------------------------
// Anthropic Claude (Messages API, anthropic_version bedrock-2023-05-31).

var (
	nativeClaudeCache = famOpen(famObj([]string{"type"}, map[string]*famSpec{"type": famEnum("ephemeral")}))
	nativeClaudeText  = famObj([]string{"type", "text"}, map[string]*famSpec{
		"type": famStr(), "text": famStr(), "cache_control": nativeClaudeCache, "citations": famAnyValue(),
	})
	nativeClaudeSource = famOpen(famObj([]string{"type"}, map[string]*famSpec{
		"type": famEnum("base64", "url", "text", "content", "file"), "media_type": famStr(), "data": famStr(), "url": famStr(),
	}))
	nativeClaudeImage = famObj([]string{"type", "source"}, map[string]*famSpec{
		"type": famStr(), "source": nativeClaudeSource, "cache_control": nativeClaudeCache,
	})
	nativeClaudeDocument = famObj([]string{"type", "source"}, map[string]*famSpec{
		"type": famStr(), "source": nativeClaudeSource, "title": famStr(), "context": famStr(),
		"citations": famAnyValue(), "cache_control": nativeClaudeCache,
	})
	nativeClaudeResultBlock = &famSpec{kind: famObject, byType: map[string]*famSpec{
		"text": nativeClaudeText, "image": nativeClaudeImage, "document": nativeClaudeDocument,
	}}
	nativeClaudeBlock = &famSpec{kind: famObject, byType: map[string]*famSpec{
		"text":     nativeClaudeText,
		"image":    nativeClaudeImage,
		"document": nativeClaudeDocument,
		"tool_use": famObj([]string{"type", "id", "name", "input"}, map[string]*famSpec{
			"type": famStr(), "id": famStr(), "name": famStr(), "input": {kind: famObject, open: true},
			"cache_control": nativeClaudeCache,
		}),
		"tool_result": famObj([]string{"type", "tool_use_id"}, map[string]*famSpec{
			"type": famStr(), "tool_use_id": famStr(),
			"content":  famOneOf(famStr(), famList(nativeClaudeResultBlock, 0, 0)),
			"is_error": famBool(), "cache_control": nativeClaudeCache,
		}),
		"thinking": famObj([]string{"type", "thinking"}, map[string]*famSpec{
			"type": famStr(), "thinking": famStr(), "signature": famStr(),
		}),
		"redacted_thinking": famObj([]string{"type", "data"}, map[string]*famSpec{"type": famStr(), "data": famStr()}),
	}}
	nativeClaudeSpec = famObj([]string{"anthropic_version", "max_tokens", "messages"}, map[string]*famSpec{
		"anthropic_version": famStr(),
		"anthropic_beta":    famList(famStr(), 0, 0),
		"max_tokens":        {kind: famInteger, min: famFloat(1)},
		"messages": famList(famObj([]string{"role", "content"}, map[string]*famSpec{
			"role":    famEnum("user", "assistant"),
			"content": famOneOf(famStr(), famList(nativeClaudeBlock, 0, 0)),
		}), 0, 0),
		"system":         famOneOf(famStr(), famList(nativeClaudeText, 0, 0)),
		"temperature":    famNum(0, 1),
		"top_p":          famNum(0, 1),
		"top_k":          {kind: famInteger, min: famFloat(0)},
		"stop_sequences": famList(famStr(), 0, 8191),
		"tools": famList(famObj([]string{"name"}, map[string]*famSpec{
			"name": famStr(), "description": famStr(), "input_schema": {kind: famObject, open: true},
			"type": famStr(), "cache_control": nativeClaudeCache, "strict": famBool(),
			"display_width_px": famAnyValue(), "display_height_px": famAnyValue(), "display_number": famAnyValue(),
		}), 0, 0),
		"tool_choice": famObj([]string{"type"}, map[string]*famSpec{
			"type": famEnum("auto", "any", "tool", "none"), "name": famStr(), "disable_parallel_tool_use": famBool(),
		}),
		"thinking": famObj([]string{"type"}, map[string]*famSpec{
			"type": famEnum("enabled", "disabled", "adaptive"), "budget_tokens": {kind: famInteger},
		}),
		"metadata": famOpen(famObj(nil, map[string]*famSpec{"user_id": famStr()})),
	})
)

func famFloat(f float64) *float64 { return &f }

var nativeToolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func nativeParseClaude(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeClaudeSpec)
	if err != nil {
		return nil, err
	}
	if v := famGetString(m, "anthropic_version"); v != "bedrock-2023-05-31" {
		return nil, validationError("Invalid anthropic_version: %q; the only accepted value is bedrock-2023-05-31.", v)
	}
	req := &genRequest{MaxTokens: famGetInt(m, "max_tokens", 0), StopSequences: nativeStopSeqs(m, "stop_sequences")}
	switch sys := m["system"].(type) {
	case string:
		if sys != "" {
			req.System = []string{sys}
		}
	case []any:
		for _, b := range sys {
			req.System = append(req.System, famGetString(b.(map[string]any), "text"))
		}
	}
	msgs := famGetList(m, "messages")
	if len(msgs) == 0 {
		return nil, validationError("messages: at least one message is required")
	}
	for i, raw := range msgs {
		msg := raw.(map[string]any)
		gm := genMessage{Role: famGetString(msg, "role")}
		var texts []string
		switch c := msg["content"].(type) {
		case string:
			texts = append(texts, c)
		case []any:
			for j, braw := range c {
				b := braw.(map[string]any)
				switch famGetString(b, "type") {
				case "text":
					texts = append(texts, famGetString(b, "text"))
				case "image", "document":
					req.ExtraInputTokens += nativeBlobTokens
				case "tool_use":
					if gm.Role != "assistant" {
						return nil, validationError("messages.%d.content.%d: tool_use blocks may only appear in assistant messages", i, j)
					}
					in, _ := json.Marshal(b["input"])
					gm.ToolUses = append(gm.ToolUses, genToolUse{ID: famGetString(b, "id"), Name: famGetString(b, "name"), Input: in})
				case "tool_result":
					if gm.Role != "user" {
						return nil, validationError("messages.%d.content.%d: tool_result blocks may only appear in user messages", i, j)
					}
					status := ""
					if famGetBool(b, "is_error", false) {
						status = "error"
					}
					gm.ToolResults = append(gm.ToolResults, genToolResult{ToolUseID: famGetString(b, "tool_use_id"), Text: nativeClaudeResultText(b["content"]), Status: status})
				}
			}
		}
		gm.Text = strings.Join(texts, "\n")
		// Anthropic checks that tool results answer the previous turn's calls.
		if len(gm.ToolResults) > 0 {
			known := map[string]bool{}
			if i > 0 {
				for _, u := range req.Messages[i-1].ToolUses {
					known[u.ID] = true
				}
			}
			var stray []string
			for _, r := range gm.ToolResults {
				if !known[r.ToolUseID] {
					stray = append(stray, r.ToolUseID)
				}
			}
			if len(stray) > 0 {
				return nil, validationError("messages.%d.content.0: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, strings.Join(stray, ", "))
			}
		}
		req.Messages = append(req.Messages, gm)
	}
	names := map[string]bool{}
	for i, raw := range famGetList(m, "tools") {
		t := raw.(map[string]any)
		name := famGetString(t, "name")
		if !nativeToolName.MatchString(name) {
			return nil, validationError("tools.%d.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'", i)
		}
		if names[name] {
			return nil, validationError("tools: Tool names must be unique.")
		}
		names[name] = true
		typ := famGetString(t, "type")
		schema := famGetObject(t, "input_schema")
		if (typ == "" || typ == "custom") && schema == nil {
			return nil, validationError("tools.%d.custom.input_schema: Field required", i)
		}
		req.Tools = append(req.Tools, genTool{Name: name, Description: famGetString(t, "description"), Schema: schema})
	}
	if tc := famGetObject(m, "tool_choice"); tc != nil {
		switch famGetString(tc, "type") {
		case "any":
			req.ToolChoice = "any"
		case "tool":
			name, ok := tc["name"].(string)
			if !ok {
				return nil, validationError("tool_choice.tool.name: Field required")
			}
			if !names[name] {
				return nil, validationError("Tool '%s' not found in provided tools", name)
			}
			req.ToolChoice = name
		case "none":
			req.Tools = nil
		default:
			req.ToolChoice = "auto"
		}
		if req.ToolChoice != "auto" && len(req.Tools) == 0 && famGetString(tc, "type") != "none" {
			return nil, validationError("tool_choice may only be specified while providing tools.")
		}
	}
	if th := famGetObject(m, "thinking"); th != nil && famGetString(th, "type") != "disabled" {
		if famGetString(th, "type") == "enabled" {
			if _, ok := th["budget_tokens"]; !ok {
				return nil, validationError("thinking.enabled.budget_tokens: Field required")
			}
			b := famGetInt(th, "budget_tokens", 0)
			if b < 1024 {
				return nil, validationError("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
			}
			if b >= req.MaxTokens {
				return nil, validationError("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
			}
		}
		if t, ok := m["temperature"].(json.Number); ok && string(t) != "1" && string(t) != "1.0" {
			return nil, validationError("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility")
		}
		if _, ok := m["top_k"]; ok {
			return nil, validationError("`top_k` must be unset when thinking is enabled or in adaptive mode. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility")
		}
		req.Reasoning = true
	}
	return req, nil
}

// nativeClaudeResultText is the text of a tool_result's content (a string or
// text blocks).
func nativeClaudeResultText(c any) string {
	switch x := c.(type) {
	case string:
		return x
	case []any:
		var parts []string
		for _, b := range x {
			if bm, ok := b.(map[string]any); ok && famGetString(bm, "type") == "text" {
				parts = append(parts, famGetString(bm, "text"))
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

var nativeClaudeVersionSuffix = regexp.MustCompile(`-v\d+(:\d+)?$`)

// nativeClaudeModelName is the "model" member Claude reports: the model ID
// without provider, region prefix and Bedrock version suffix
// ("anthropic.claude-3-5-sonnet-20240620-v1:0" → "claude-3-5-sonnet-20240620").
func nativeClaudeModelName(modelID string) string {
	base := strings.TrimPrefix(famBaseModelID(modelID), "anthropic.")
	switch base {
	case "claude-v2":
		return "claude-2.0"
	case "claude-v2:1":
		return "claude-2.1"
	case "claude-instant-v1":
		return "claude-instant-1.2"
	}
	return nativeClaudeVersionSuffix.ReplaceAllString(base, "")
}

// nativeClaudeToolID keeps Claude-style tool ids and maps others onto that
// form deterministically, so a follow-up turn echoes ids the family knows.
func nativeClaudeToolID(id string) string {
	if strings.HasPrefix(id, "toolu_") {
		return id
	}
	return "toolu_bdrk_01" + nativeBase62ID(22, "tool", id)
}

func nativeClaudeMessageID(modelID string, req *genRequest, res genResult) string {
	return "msg_bdrk_01" + nativeBase62ID(22, modelID, res.Text, res.Reasoning, fmt.Sprint(len(req.Messages)), nativeLastUserText(req))
}

func nativeLastUserText(req *genRequest) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			return req.Messages[i].Text
		}
	}
	return ""
}

func nativeClaudeMessage(modelID string, req *genRequest, res genResult) nativeObj {
	var content []any
	if res.Reasoning != "" {
		content = append(content, nativeObj{{"type", "thinking"}, {"thinking", res.Reasoning}, {"signature", nativeSignature(modelID, res)}})
	}
	if res.Text != "" || len(res.ToolUses) == 0 {
		content = append(content, nativeObj{{"type", "text"}, {"text", res.Text}})
	}
	for _, u := range res.ToolUses {
		content = append(content, nativeObj{{"type", "tool_use"}, {"id", nativeClaudeToolID(u.ID)}, {"name", u.Name}, {"input", nativeRawInput(u.Input)}})
	}
	stopSeq := any(nil)
	if res.StopReason == "stop_sequence" {
		stopSeq = res.StopSequence
	}
	return nativeObj{
		{"id", nativeClaudeMessageID(modelID, req, res)},
		{"type", "message"},
		{"role", "assistant"},
		{"model", nativeClaudeModelName(modelID)},
		{"content", content},
		{"stop_reason", res.StopReason},
		{"stop_sequence", stopSeq},
		{"usage", nativeClaudeUsage(res, res.OutputTokens)},
	}
}

func nativeClaudeChunks(modelID string, req *genRequest, res genResult) []nativeObj {
	out := []nativeObj{{
		{"type", "message_start"},
		{"message", nativeObj{
			{"id", nativeClaudeMessageID(modelID, req, res)},
			{"type", "message"},
			{"role", "assistant"},
			{"model", nativeClaudeModelName(modelID)},
			{"content", []any{}},
			{"stop_reason", nil},
			{"stop_sequence", nil},
			{"usage", nativeClaudeUsage(res, 1)},
		}},
	}}
	idx := 0
	delta := func(d nativeObj) nativeObj {
		return nativeObj{{"type", "content_block_delta"}, {"index", idx}, {"delta", d}}
	}
	stop := func() {
		out = append(out, nativeObj{{"type", "content_block_stop"}, {"index", idx}})
		idx++
	}
	if res.Reasoning != "" {
		out = append(out, nativeObj{{"type", "content_block_start"}, {"index", idx}, {"content_block", nativeObj{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}}})
		for _, f := range nativeFragments(res.Reasoning) {
			out = append(out, delta(nativeObj{{"type", "thinking_delta"}, {"thinking", f}}))
		}
		out = append(out, delta(nativeObj{{"type", "signature_delta"}, {"signature", nativeSignature(modelID, res)}}))
		stop()
	}
	if res.Text != "" || len(res.ToolUses) == 0 {
		out = append(out, nativeObj{{"type", "content_block_start"}, {"index", idx}, {"content_block", nativeObj{{"type", "text"}, {"text", ""}}}})
		for _, f := range nativeFragments(res.Text) {
			out = append(out, delta(nativeObj{{"type", "text_delta"}, {"text", f}}))
		}
		stop()
	}
	for _, u := range res.ToolUses {
		out = append(out, nativeObj{{"type", "content_block_start"}, {"index", idx}, {"content_block", nativeObj{
			{"type", "tool_use"}, {"id", nativeClaudeToolID(u.ID)}, {"name", u.Name}, {"input", nativeObj{}},
		}}})
		for _, f := range nativeJSONFragments(string(nativeRawInput(u.Input))) {
			out = append(out, delta(nativeObj{{"type", "input_json_delta"}, {"partial_json", f}}))
		}
		stop()
	}
	stopSeq := any(nil)
	if res.StopReason == "stop_sequence" {
		stopSeq = res.StopSequence
	}
	out = append(out,
		nativeObj{{"type", "message_delta"}, {"delta", nativeObj{{"stop_reason", res.StopReason}, {"stop_sequence", stopSeq}}}, {"usage", nativeObj{{"output_tokens", res.OutputTokens}}}},
		nativeObj{{"type", "message_stop"}},
	)
	return out
}

// ---------------------------------------------------------------------------
// Amazon Nova (messages-v1).

var (
	nativeNovaSource = famObj(nil, map[string]*famSpec{
		"bytes":      famStr(),
		"s3Location": famObj([]string{"uri"}, map[string]*famSpec{"uri": famStr(), "bucketOwner": famStr()}),
	})
	nativeNovaCachePoint = famObj([]string{"type"}, map[string]*famSpec{"type": famEnum("default")})
	nativeNovaImage      = famObj([]string{"format", "source"}, map[string]*famSpec{
		"format": famEnum("png", "jpeg", "gif", "webp"), "source": nativeNovaSource,
	})
	nativeNovaDocument = famObj([]string{"format", "name", "source"}, map[string]*famSpec{
		"format": famEnum("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"), "name": famStr(), "source": nativeNovaSource,
	})
	nativeNovaVideo = famObj([]string{"format", "source"}, map[string]*famSpec{
		"format": famEnum("mkv", "mov", "mp4", "webm", "three_gp", "flv", "mpeg", "mpg", "wmv"), "source": nativeNovaSource,
	})
	nativeNovaContent = famObj(nil, map[string]*famSpec{
		"text":     famStr(),
		"image":    nativeNovaImage,
		"document": nativeNovaDocument,
		"video":    nativeNovaVideo,
		"toolUse": famObj([]string{"toolUseId", "name", "input"}, map[string]*famSpec{
			"toolUseId": famStr(), "name": famStr(), "input": famAnyValue(), "type": famStr(),
		}),
		"toolResult": famObj([]string{"toolUseId", "content"}, map[string]*famSpec{
			"toolUseId": famStr(),
			"content": famList(famObj(nil, map[string]*famSpec{
				"json": famAnyValue(), "text": famStr(), "image": nativeNovaImage, "document": nativeNovaDocument, "video": nativeNovaVideo,
			}), 0, 0),
			"status": famEnum("success", "error"),
		}),
		"reasoningContent": famAnyValue(),
		"cachePoint":       nativeNovaCachePoint,
	})
	nativeNovaSpec = famObj([]string{"messages"}, map[string]*famSpec{
		"schemaVersion": famEnum("messages-v1"),
		"system":        famList(famObj(nil, map[string]*famSpec{"text": famStr(), "cachePoint": nativeNovaCachePoint}), 0, 0),
		"messages": famList(famObj([]string{"role", "content"}, map[string]*famSpec{
			"role": famEnum("user", "assistant"), "content": famList(nativeNovaContent, 0, 0),
		}), 0, 0),
		"inferenceConfig": famObj(nil, map[string]*famSpec{
			"max_new_tokens": {kind: famInteger, min: famFloat(1)},
			"maxTokens":      {kind: famInteger, min: famFloat(1)},
			"temperature":    famNum(0, 1),
			"topP":           famNum(0, 1),
			"top_p":          famNum(0, 1),
			"topK":           {kind: famInteger, min: famFloat(0)},
			"top_k":          {kind: famInteger, min: famFloat(0)},
			"stopSequences":  famList(famStr(), 0, 0),
		}),
		"toolConfig": famObj([]string{"tools"}, map[string]*famSpec{
			"tools": famList(famObj([]string{"toolSpec"}, map[string]*famSpec{
				"toolSpec": famObj([]string{"name", "inputSchema"}, map[string]*famSpec{
					"name": famStr(), "description": famStr(),
					"inputSchema": famObj([]string{"json"}, map[string]*famSpec{"json": {kind: famObject, open: true}}),
				}),
			}), 1, 0),
			"toolChoice": famObj(nil, map[string]*famSpec{
				"auto": famObj(nil, nil), "any": famObj(nil, nil),
				"tool": famObj([]string{"name"}, map[string]*famSpec{"name": famStr()}),
			}),
		}),
		"reasoningConfig": famObj([]string{"type"}, map[string]*famSpec{
			"type": famEnum("enabled", "disabled"), "maxReasoningEffort": famEnum("low", "medium", "high"),
		}),
	})
)

func nativeParseNova(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeNovaSpec)
	if err != nil {
		return nil, err
	}
	req := &genRequest{}
	// Union members (content blocks, system blocks, toolChoice) carry exactly
	// one member.
	var bad []string
	one := func(o map[string]any, path string, total int) {
		if len(o) != 1 {
			bad = append(bad, fmt.Sprintf("%s: #: no subschema matched out of the total %d subschemas", path, total))
		}
	}
	for i, raw := range famGetList(m, "system") {
		b := raw.(map[string]any)
		one(b, fmt.Sprintf("#/system/%d", i), 2)
		if t, ok := b["text"].(string); ok {
			req.System = append(req.System, t)
		}
	}
	msgs := famGetList(m, "messages")
	for i, raw := range msgs {
		msg := raw.(map[string]any)
		gm := genMessage{Role: famGetString(msg, "role")}
		var texts []string
		for j, braw := range famGetList(msg, "content") {
			b := braw.(map[string]any)
			one(b, fmt.Sprintf("#/messages/%d/content/%d", i, j), 8)
			if t, ok := b["text"].(string); ok {
				texts = append(texts, t)
			}
			for _, k := range []string{"image", "document"} {
				if b[k] != nil {
					req.ExtraInputTokens += nativeBlobTokens
				}
			}
			if b["video"] != nil {
				req.ExtraInputTokens += videoInputTokens
			}
			if u := famGetObject(b, "toolUse"); u != nil {
				in, _ := json.Marshal(u["input"])
				gm.ToolUses = append(gm.ToolUses, genToolUse{ID: famGetString(u, "toolUseId"), Name: famGetString(u, "name"), Input: in})
			}
			if r := famGetObject(b, "toolResult"); r != nil {
				var parts []string
				for _, c := range famGetList(r, "content") {
					cm := c.(map[string]any)
					if t, ok := cm["text"].(string); ok {
						parts = append(parts, t)
					} else if j, ok := cm["json"]; ok {
						jb, _ := json.Marshal(j)
						parts = append(parts, string(jb))
					}
				}
				gm.ToolResults = append(gm.ToolResults, genToolResult{ToolUseID: famGetString(r, "toolUseId"), Text: strings.Join(parts, "\n"), Status: famGetString(r, "status")})
			}
		}
		gm.Text = strings.Join(texts, "\n")
		req.Messages = append(req.Messages, gm)
	}
	if tc := famGetObject(famGetObject(m, "toolConfig"), "toolChoice"); tc != nil {
		one(tc, "#/toolConfig/toolChoice", 3)
	}
	if e := nativeViolations(bad); e != nil {
		return nil, e
	}
	if len(msgs) == 0 {
		return nil, validationError("Malformed input request: #/messages: expected minimum item count: 1, found: 0, please reformat your input and try again.")
	}
	if famGetString(msgs[0].(map[string]any), "role") != "user" {
		return nil, validationError("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	for i := 1; i < len(msgs); i++ {
		if famGetString(msgs[i].(map[string]any), "role") == famGetString(msgs[i-1].(map[string]any), "role") {
			return nil, validationError("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		}
	}
	ic := famGetObject(m, "inferenceConfig")
	req.MaxTokens = famGetInt(ic, "max_new_tokens", famGetInt(ic, "maxTokens", 0))
	req.StopSequences = nativeStopSeqs(ic, "stopSequences")
	tcfg := famGetObject(m, "toolConfig")
	for _, raw := range famGetList(tcfg, "tools") {
		spec := famGetObject(raw.(map[string]any), "toolSpec")
		req.Tools = append(req.Tools, genTool{
			Name: famGetString(spec, "name"), Description: famGetString(spec, "description"),
			Schema: famGetObject(famGetObject(spec, "inputSchema"), "json"),
		})
	}
	if tc := famGetObject(tcfg, "toolChoice"); tc != nil {
		switch {
		case tc["any"] != nil:
			req.ToolChoice = "any"
		case tc["tool"] != nil:
			req.ToolChoice = famGetString(famGetObject(tc, "tool"), "name")
		default:
			req.ToolChoice = "auto"
		}
	}
	if rc := famGetObject(m, "reasoningConfig"); rc != nil && famGetString(rc, "type") == "enabled" {
		req.Reasoning = true
	}
	return req, nil
}

var nativeUUIDShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// nativeNovaToolID gives tool calls the UUID ids native Nova bodies carry.
func nativeNovaToolID(id string) string {
	if nativeUUIDShape.MatchString(id) {
		return id
	}
	return nativeUUID("nova-tool", id)
}

func nativeNovaUsage(res genResult) nativeObj {
	return nativeObj{
		{"inputTokens", res.InputTokens},
		{"outputTokens", res.OutputTokens},
		{"totalTokens", res.InputTokens + res.OutputTokens},
		{"cacheReadInputTokenCount", 0},
		{"cacheWriteInputTokenCount", 0},
	}
}

func nativeNovaResponse(res genResult) nativeObj {
	var content []any
	if res.Reasoning != "" {
		content = append(content, nativeObj{{"reasoningContent", nativeObj{{"reasoningText", nativeObj{{"text", res.Reasoning}}}}}})
	}
	if res.Text != "" || len(res.ToolUses) == 0 {
		content = append(content, nativeObj{{"text", res.Text}})
	}
	for _, u := range res.ToolUses {
		content = append(content, nativeObj{{"toolUse", nativeObj{{"name", u.Name}, {"toolUseId", nativeNovaToolID(u.ID)}, {"input", nativeRawInput(u.Input)}}}})
	}
	return nativeObj{
		{"output", nativeObj{{"message", nativeObj{{"content", content}, {"role", "assistant"}}}}},
		{"stopReason", res.StopReason},
		{"usage", nativeNovaUsage(res)},
	}
}

// nativeNovaChunks follows the recordings: every text delta is its own
// content block (delta then stop), tool calls are start/delta/stop with the
// whole input in one delta, then messageStop and the metadata.
func nativeNovaChunks(res genResult) []nativeObj {
	out := []nativeObj{{{"messageStart", nativeObj{{"role", "assistant"}}}}}
	idx := 0
	block := func(delta nativeObj) {
		out = append(out,
			nativeObj{{"contentBlockDelta", nativeObj{{"delta", delta}, {"contentBlockIndex", idx}}}},
			nativeObj{{"contentBlockStop", nativeObj{{"contentBlockIndex", idx}}}})
		idx++
	}
	for _, f := range nativeFragments(res.Reasoning) {
		block(nativeObj{{"reasoningContent", nativeObj{{"text", f}}}})
	}
	for _, f := range nativeFragments(res.Text) {
		block(nativeObj{{"text", f}})
	}
	for _, u := range res.ToolUses {
		out = append(out, nativeObj{{"contentBlockStart", nativeObj{
			{"start", nativeObj{{"toolUse", nativeObj{{"toolUseId", nativeNovaToolID(u.ID)}, {"name", u.Name}}}}},
			{"contentBlockIndex", idx},
		}}})
		block(nativeObj{{"toolUse", nativeObj{{"input", string(nativeRawInput(u.Input))}}}})
	}
	usage := nativeObj{
		{"inputTokens", res.InputTokens},
		{"outputTokens", res.OutputTokens},
		{"cacheReadInputTokenCount", 0},
		{"cacheWriteInputTokenCount", 0},
	}
	return append(out,
		nativeObj{{"messageStop", nativeObj{{"stopReason", res.StopReason}}}},
		nativeObj{{"metadata", nativeObj{{"usage", usage}, {"metrics", nativeObj{}}, {"trace", nativeObj{}}}}},
	)
}

// ---------------------------------------------------------------------------
// Amazon Titan Text.

var nativeTitanSpec = famObj([]string{"inputText"}, map[string]*famSpec{
	"inputText": famStr(),
	"textGenerationConfig": famObj(nil, map[string]*famSpec{
		"maxTokenCount": famInt(0, 8192),
		"temperature":   famNum(0, 1),
		"topP":          famNum(0, 1),
		"stopSequences": famList(famStr(), 0, 0),
	}),
})

func nativeParseTitan(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeTitanSpec)
	if err != nil {
		return nil, err
	}
	text := famGetString(m, "inputText")
	if strings.TrimSpace(text) == "" {
		return nil, validationError("Malformed input request: #/inputText: expected minLength: 1, actual: %d, please reformat your input and try again.", len(text))
	}
	cfg := famGetObject(m, "textGenerationConfig")
	req := nativePromptRequest(text)
	req.MaxTokens = famGetInt(cfg, "maxTokenCount", 512)
	req.StopSequences = nativeStopSeqs(cfg, "stopSequences")
	return req, nil
}

// nativeTitanChunks: Titan streams text in large pieces; the first chunk
// carries the input token count, the last the totals and completion reason.
func nativeTitanChunks(res genResult) []nativeObj {
	pieces := nativeGroup(nativeFragments(res.Text), 16)
	if len(pieces) == 0 {
		pieces = []string{""}
	}
	out := make([]nativeObj, len(pieces))
	for i, p := range pieces {
		var total, reason, input any
		if i == 0 {
			input = res.InputTokens
		}
		if i == len(pieces)-1 {
			total, reason = res.OutputTokens, nativeTitanReason(res.StopReason)
		}
		out[i] = nativeObj{{"outputText", p}, {"index", 0}, {"totalOutputTextTokenCount", total}, {"completionReason", reason}, {"inputTextTokenCount", input}}
	}
	return out
}

// nativeGroup joins fragments into pieces of about maxTokens tokens.
func nativeGroup(frags []string, maxTokens int) []string {
	var out []string
	cur, n := "", 0
	for _, f := range frags {
		t := countTokens(f)
		if n > 0 && n+t > maxTokens {
			out = append(out, cur)
			cur, n = "", 0
		}
		cur += f
		n += t
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// nativePromptMessages turns a raw prompt into messages, understanding the
// chat templates clients put in prompt-style bodies: Llama 3 header tokens,
// and [INST] blocks (Llama 2, Mistral) with <<SYS>>. Anything else is one
// user message.
func nativePromptMessages(prompt string) []genMessage {
	if strings.Contains(prompt, "<|start_header_id|>") {
		var out []genMessage
		for _, seg := range strings.Split(prompt, "<|start_header_id|>")[1:] {
			role, text, _ := strings.Cut(seg, "<|end_header_id|>")
			text, _, _ = strings.Cut(text, "<|eot_id|>")
			text = strings.TrimSpace(text)
			switch role {
			case "system":
				out = append(out, genMessage{Role: "system", Text: text})
			case "assistant":
				if text != "" {
					out = append(out, genMessage{Role: "assistant", Text: text})
				}
			default:
				out = append(out, genMessage{Role: "user", Text: text})
			}
		}
		return out
	}
	if strings.Contains(prompt, "[INST]") {
		var out []genMessage
		for _, turn := range strings.Split(prompt, "[INST]")[1:] {
			user, answer, _ := strings.Cut(turn, "[/INST]")
			if sys, rest, ok := strings.Cut(user, "<</SYS>>"); ok {
				out = append(out, genMessage{Role: "system", Text: strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sys), "<<SYS>>"))})
				user = rest
			}
			out = append(out, genMessage{Role: "user", Text: strings.TrimSpace(user)})
			answer = strings.TrimSpace(strings.NewReplacer("</s>", "", "<s>", "").Replace(answer))
			if answer != "" {
				out = append(out, genMessage{Role: "assistant", Text: answer})
			}
		}
		return out
	}
	return []genMessage{{Role: "user", Text: strings.TrimSpace(strings.NewReplacer("<s>", "", "</s>", "", "<|begin_of_text|>", "").Replace(prompt))}}
}

// nativePromptRequest splits the system turns of a parsed prompt out into
// genRequest.System.
func nativePromptRequest(prompt string) *genRequest {
	req := &genRequest{}
	for _, m := range nativePromptMessages(prompt) {
		if m.Role == "system" {
			req.System = append(req.System, m.Text)
			continue
		}
		req.Messages = append(req.Messages, m)
	}
	if len(req.Messages) == 0 {
		req.Messages = []genMessage{{Role: "user", Text: ""}}
	}
	return req
}

// ---------------------------------------------------------------------------
// Meta Llama.

var nativeLlamaSpec = famObj([]string{"prompt"}, map[string]*famSpec{
	"prompt":      famStr(),
	"max_gen_len": famInt(1, 2048),
	"temperature": famNum(0, 1),
	"top_p":       famNum(0, 1),
	"images":      famList(famStr(), 0, 0),
})

func nativeParseLlama(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeLlamaSpec)
	if err != nil {
		return nil, err
	}
	req := nativePromptRequest(famGetString(m, "prompt"))
	req.MaxTokens = famGetInt(m, "max_gen_len", 512)
	req.ExtraInputTokens = nativeBlobTokens * len(famGetList(m, "images"))
	return req, nil
}

func nativeLlamaChunks(res genResult) []nativeObj {
	frags := nativeFragments(res.Text)
	if len(frags) == 0 {
		frags = []string{""}
	}
	out := make([]nativeObj, len(frags))
	sofar := 0
	for i, f := range frags {
		sofar += countTokens(f)
		var prompt, stop any
		if i == 0 {
			prompt = res.InputTokens
		}
		count := sofar
		if i == len(frags)-1 {
			stop, count = nativeLlamaReason(res.StopReason), res.OutputTokens
		}
		out[i] = nativeObj{{"generation", f}, {"prompt_token_count", prompt}, {"generation_token_count", count}, {"stop_reason", stop}}
	}
	return out
}

// ---------------------------------------------------------------------------
// Mistral (prompt-style body).

var nativeMistralSpec = famObj([]string{"prompt"}, map[string]*famSpec{
	"prompt":      famStr(),
	"max_tokens":  {kind: famInteger, min: famFloat(1)},
	"temperature": famNum(0, 1),
	"top_p":       famNum(0, 1),
	"top_k":       famInt(0, 200),
	"stop":        famList(famStr(), 0, 10),
})

func nativeParseMistral(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeMistralSpec)
	if err != nil {
		return nil, err
	}
	req := nativePromptRequest(famGetString(m, "prompt"))
	req.MaxTokens = famGetInt(m, "max_tokens", 512)
	req.StopSequences = nativeStopSeqs(m, "stop")
	return req, nil
}

func nativeMistralChunks(res genResult) []nativeObj {
	frags := nativeFragments(res.Text)
	if len(frags) == 0 {
		frags = []string{""}
	}
	out := make([]nativeObj, len(frags))
	for i, f := range frags {
		var stop any
		if i == len(frags)-1 {
			stop = nativeLlamaReason(res.StopReason)
		}
		out[i] = nativeObj{{"outputs", []any{nativeObj{{"text", f}, {"stop_reason", stop}}}}}
	}
	return out
}

// ---------------------------------------------------------------------------
// Cohere Command (generate API).

var nativeCohereSpec = famObj([]string{"prompt"}, map[string]*famSpec{
	"prompt":             famStr(),
	"max_tokens":         famInt(1, 4096),
	"temperature":        famNum(0, 5),
	"p":                  famNum(0, 1),
	"k":                  famInt(0, 500),
	"stop_sequences":     famList(famStr(), 0, 4),
	"return_likelihoods": famEnum("GENERATION", "ALL", "NONE"),
	"stream":             famBool(),
	"num_generations":    famInt(1, 5),
	"logit_bias":         {kind: famObject, open: true},
	"truncate":           famEnum("NONE", "START", "END"),
})

func nativeParseCohere(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeCohereSpec)
	if err != nil {
		return nil, err
	}
	return &genRequest{
		Messages:      []genMessage{{Role: "user", Text: famGetString(m, "prompt")}},
		MaxTokens:     famGetInt(m, "max_tokens", 20),
		StopSequences: nativeStopSeqs(m, "stop_sequences"),
	}, nil
}

func nativeCohereIDs(modelID string, req *genRequest, res genResult) (id, genID string) {
	seed := modelID + "\x00" + nativeLastUserText(req) + "\x00" + res.Text
	return nativeUUID("cohere-response", seed), nativeUUID("cohere-generation", seed)
}

func nativeCohereResponse(modelID string, req *genRequest, res genResult) nativeObj {
	id, genID := nativeCohereIDs(modelID, req, res)
	return nativeObj{
		{"id", id},
		{"generations", []any{nativeObj{{"id", genID}, {"text", res.Text}, {"finish_reason", nativeCohereReason(res.StopReason, false)}}}},
		{"prompt", nativeLastUserText(req)},
	}
}

func nativeCohereChunks(modelID string, req *genRequest, res genResult) []nativeObj {
	_, genID := nativeCohereIDs(modelID, req, res)
	frags := nativeFragments(res.Text)
	if len(frags) == 0 {
		frags = []string{""}
	}
	out := make([]nativeObj, len(frags))
	for i, f := range frags {
		var reason any
		if i == len(frags)-1 {
			reason = nativeCohereReason(res.StopReason, false)
		}
		out[i] = nativeObj{{"generations", []any{nativeObj{{"finish_reason", reason}, {"id", genID}, {"text", f}}}}}
	}
	return out
}

// ---------------------------------------------------------------------------
// Cohere Command R / R+ (chat API).

var nativeCohereRSpec = famObj([]string{"message"}, map[string]*famSpec{
	"message": famStr(),
	"chat_history": famList(famObj([]string{"role"}, map[string]*famSpec{
		"role": famEnum("USER", "CHATBOT", "SYSTEM", "TOOL"), "message": famStr(),
		"tool_calls": famAnyValue(), "tool_results": famAnyValue(),
	}), 0, 0),
	"documents":           famList(&famSpec{kind: famObject, open: true}, 0, 0),
	"search_queries_only": famBool(),
	"preamble":            famStr(),
	"max_tokens":          {kind: famInteger, min: famFloat(1)},
	"temperature":         famNum(0, 1),
	"p":                   famNum(0.01, 0.99),
	"k":                   famInt(0, 500),
	"prompt_truncation":   famEnum("OFF", "AUTO_PRESERVE_ORDER"),
	"frequency_penalty":   famNum(0, 1),
	"presence_penalty":    famNum(0, 1),
	"seed":                {kind: famInteger},
	"return_prompt":       famBool(),
	"raw_prompting":       famBool(),
	"force_single_step":   famBool(),
	"stop_sequences":      famList(famStr(), 0, 5),
	"tools": famList(famObj([]string{"name", "description"}, map[string]*famSpec{
		"name": famStr(), "description": famStr(),
		"parameter_definitions": {kind: famObject, open: true},
	}), 0, 0),
	"tool_results": famList(famObj([]string{"call", "outputs"}, map[string]*famSpec{
		"call":    famObj([]string{"name", "parameters"}, map[string]*famSpec{"name": famStr(), "parameters": {kind: famObject, open: true}}),
		"outputs": famList(&famSpec{kind: famObject, open: true}, 0, 0),
	}), 0, 0),
})

// nativeCohereCallID names a Cohere tool call (Cohere has no call ids) so the
// generator can pair calls with results.
func nativeCohereCallID(name string, params any) string {
	b, _ := json.Marshal(params)
	return "cohere_" + nativeBase62ID(16, name, string(b))
}

// nativeCohereType maps Cohere's Python-style parameter types to JSON Schema.
func nativeCohereType(t string) string {
	switch {
	case t == "str":
		return "string"
	case t == "int":
		return "integer"
	case t == "float":
		return "number"
	case t == "bool":
		return "boolean"
	case strings.HasPrefix(t, "List") || strings.HasPrefix(t, "list"):
		return "array"
	case strings.HasPrefix(t, "Dict") || strings.HasPrefix(t, "dict"):
		return "object"
	}
	return "string"
}

func nativeParseCohereR(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeCohereRSpec)
	if err != nil {
		return nil, err
	}
	req := &genRequest{MaxTokens: famGetInt(m, "max_tokens", 0), StopSequences: nativeStopSeqs(m, "stop_sequences")}
	if p := famGetString(m, "preamble"); p != "" {
		req.System = []string{p}
	}
	for _, raw := range famGetList(m, "chat_history") {
		h := raw.(map[string]any)
		text := famGetString(h, "message")
		switch famGetString(h, "role") {
		case "USER":
			req.Messages = append(req.Messages, genMessage{Role: "user", Text: text})
		case "CHATBOT":
			gm := genMessage{Role: "assistant", Text: text}
			if calls, ok := h["tool_calls"].([]any); ok {
				for _, c := range calls {
					cm, _ := c.(map[string]any)
					in, _ := json.Marshal(cm["parameters"])
					gm.ToolUses = append(gm.ToolUses, genToolUse{ID: nativeCohereCallID(famGetString(cm, "name"), cm["parameters"]), Name: famGetString(cm, "name"), Input: in})
				}
			}
			req.Messages = append(req.Messages, gm)
		case "SYSTEM":
			req.System = append(req.System, text)
		}
	}
	user := genMessage{Role: "user", Text: famGetString(m, "message")}
	if results := famGetList(m, "tool_results"); len(results) > 0 {
		// The calls being answered belong to the previous (chatbot) turn.
		var calls genMessage
		calls.Role = "assistant"
		for _, raw := range results {
			r := raw.(map[string]any)
			call := famGetObject(r, "call")
			id := nativeCohereCallID(famGetString(call, "name"), call["parameters"])
			in, _ := json.Marshal(call["parameters"])
			calls.ToolUses = append(calls.ToolUses, genToolUse{ID: id, Name: famGetString(call, "name"), Input: in})
			out, _ := json.Marshal(r["outputs"])
			user.ToolResults = append(user.ToolResults, genToolResult{ToolUseID: id, Text: string(out)})
		}
		n := len(req.Messages)
		if n > 0 && req.Messages[n-1].Role == "assistant" && len(req.Messages[n-1].ToolUses) > 0 {
			req.Messages[n-1].ToolUses = calls.ToolUses
		} else {
			req.Messages = append(req.Messages, calls)
		}
	}
	req.Messages = append(req.Messages, user)
	for _, raw := range famGetList(m, "tools") {
		t := raw.(map[string]any)
		props, required := map[string]any{}, []any{}
		defs := famGetObject(t, "parameter_definitions")
		keys := make([]string, 0, len(defs))
		for k := range defs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d, _ := defs[k].(map[string]any)
			props[k] = map[string]any{"type": nativeCohereType(famGetString(d, "type")), "description": famGetString(d, "description")}
			if famGetBool(d, "required", false) {
				required = append(required, k)
			}
		}
		req.Tools = append(req.Tools, genTool{Name: famGetString(t, "name"), Description: famGetString(t, "description"),
			Schema: map[string]any{"type": "object", "properties": props, "required": required}})
	}
	return req, nil
}

func nativeCohereRIDs(modelID string, req *genRequest, res genResult) (respID, genID string) {
	seed := modelID + "\x00" + nativeLastUserText(req) + "\x00" + res.Text
	return nativeUUID("cohere-r-response", seed), nativeUUID("cohere-r-generation", seed)
}

func nativeCohereRToolCalls(res genResult) []any {
	var calls []any
	for _, u := range res.ToolUses {
		calls = append(calls, nativeObj{{"name", u.Name}, {"parameters", nativeRawInput(u.Input)}})
	}
	return calls
}

func nativeCohereRResponse(modelID string, req *genRequest, res genResult) nativeObj {
	respID, genID := nativeCohereRIDs(modelID, req, res)
	var history []any
	for _, msg := range req.Messages {
		role := "USER"
		if msg.Role == "assistant" {
			role = "CHATBOT"
		}
		if len(msg.ToolResults) > 0 && msg.Text == "" {
			continue
		}
		history = append(history, nativeObj{{"role", role}, {"message", msg.Text}})
	}
	reply := nativeObj{{"role", "CHATBOT"}, {"message", res.Text}}
	if len(res.ToolUses) > 0 {
		reply = append(reply, nativeKV{"tool_calls", nativeCohereRToolCalls(res)})
	}
	history = append(history, reply)
	out := nativeObj{
		{"response_id", respID},
		{"text", res.Text},
		{"generation_id", genID},
		{"chat_history", history},
	}
	if len(res.ToolUses) > 0 {
		out = append(out, nativeKV{"tool_calls", nativeCohereRToolCalls(res)})
	}
	return append(out, nativeKV{"finish_reason", nativeCohereReason(res.StopReason, true)})
}

// nativeCohereRChunks are Cohere's chat stream events: stream-start, one
// text-generation per fragment, tool-calls-generation when tools are called,
// and stream-end carrying the whole response.
func nativeCohereRChunks(modelID string, req *genRequest, res genResult) []nativeObj {
	_, genID := nativeCohereRIDs(modelID, req, res)
	out := []nativeObj{{{"is_finished", false}, {"event_type", "stream-start"}, {"generation_id", genID}}}
	for _, f := range nativeFragments(res.Text) {
		out = append(out, nativeObj{{"is_finished", false}, {"event_type", "text-generation"}, {"text", f}})
	}
	if len(res.ToolUses) > 0 {
		out = append(out, nativeObj{{"is_finished", false}, {"event_type", "tool-calls-generation"}, {"text", res.Text}, {"tool_calls", nativeCohereRToolCalls(res)}})
	}
	return append(out, nativeObj{
		{"is_finished", true},
		{"event_type", "stream-end"},
		{"response", nativeCohereRResponse(modelID, req, res)},
		{"finish_reason", nativeCohereReason(res.StopReason, true)},
	})
}
