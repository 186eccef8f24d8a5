package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
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
