package emulator

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"time"
)

// Prompt caching for native Claude bodies: a cache_control marker on a
// tool, system block or message block is a cache breakpoint, as on
// Anthropic's API. The prompt up to the last breakpoint (in cache order:
// tools, system, messages) is written to the emulator's prompt cache the
// first time and read from it afterwards, and the usage says so
// (cache_creation_input_tokens, cache_read_input_tokens), with input_tokens
// counting only the tokens after the breakpoint, as Claude reports them.

// nativeClaudeCache works out res's cache usage for a Claude body and
// moves those tokens out of res.InputTokens.
func (e *Emulator) nativeClaudeCache(modelID string, body []byte, res *genResult) {
	tokens, key, ttl, ok := claudeCachePrefix(modelID, body)
	if !ok {
		return
	}
	tokens = min(tokens, res.InputTokens)
	if e.cache.use(key, ttl, time.Now()) {
		res.CacheReadTokens = tokens
	} else {
		res.CacheWriteTokens = tokens
	}
	res.InputTokens -= tokens
}

// claudeCachePrefix finds the last cache breakpoint of a Claude body: the
// token count and hash of the prompt up to it, and its TTL.
func claudeCachePrefix(modelID string, body []byte) (tokens int, key [32]byte, ttl time.Duration, ok bool) {
	var req struct {
		System   json.RawMessage   `json:"system"`
		Tools    []json.RawMessage `json:"tools"`
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0, key, 0, false
	}
	h := sha256.New()
	io.WriteString(h, modelID)
	n := 0
	add := func(raw json.RawMessage) {
		var b struct {
			Type         string `json:"type"`
			Text         string `json:"text"`
			Name         string `json:"name"`
			Description  string `json:"description"`
			CacheControl *struct {
				TTL string `json:"ttl"`
			} `json:"cache_control"`
		}
		if json.Unmarshal(raw, &b) != nil {
			return
		}
		switch b.Type {
		case "image", "document":
			n += nativeBlobTokens
		default:
			n += countTokens(b.Text) + countTokens(b.Name) + countTokens(b.Description)
		}
		h.Write(raw)
		if b.CacheControl != nil {
			tokens, ok = n, true
			copy(key[:], h.Sum(nil))
			ttl = 5 * time.Minute
			if b.CacheControl.TTL == "1h" {
				ttl = time.Hour
			}
		}
	}
	for _, t := range req.Tools {
		add(t)
	}
	blocks := func(raw json.RawMessage) {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			var s string
			json.Unmarshal(raw, &s)
			n += countTokens(s)
			io.WriteString(h, s)
			return
		}
		for _, b := range list {
			add(b)
		}
	}
	blocks(req.System)
	for _, m := range req.Messages {
		blocks(m.Content)
	}
	return tokens, key, ttl, ok
}

// nativeClaudeUsage is Claude's usage object; the cache members appear when
// the request used the prompt cache.
func nativeClaudeUsage(res genResult, output int) nativeObj {
	u := nativeObj{{"input_tokens", res.InputTokens}}
	if res.CacheReadTokens+res.CacheWriteTokens > 0 {
		u = append(u, nativeKV{"cache_creation_input_tokens", res.CacheWriteTokens}, nativeKV{"cache_read_input_tokens", res.CacheReadTokens})
	}
	return append(u, nativeKV{"output_tokens", output})
}
