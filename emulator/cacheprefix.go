package emulator

import (
	"crypto/sha256"
	"hash"
	"io"
)

// cachePrefix follows the prompt in cache order (tools, system, messages):
// the hash of everything so far is the cache key of a cache point placed
// there, and its token count is what that cache point writes or reads. It is
// active only when the request has a cache point at all; otherwise every
// method does nothing, so a request without caching neither hashes its
// prompt nor counts its tokens a second time.
type cachePrefix struct {
	h      hash.Hash // nil: the request has no cache point
	tokens int
}

func newCachePrefix(req *converseRequest, modelID string) cachePrefix {
	if !hasCachePoint(req) {
		return cachePrefix{}
	}
	h := sha256.New()
	io.WriteString(h, modelID)
	return cachePrefix{h: h}
}

func hasCachePoint(req *converseRequest) bool {
	if tc := req.ToolConfig; tc != nil {
		for _, t := range tc.Tools {
			if t.CachePoint != nil {
				return true
			}
		}
	}
	for _, s := range req.System {
		if s.CachePoint != nil {
			return true
		}
	}
	for _, m := range req.Messages {
		for _, b := range m.Content {
			if b.CachePoint != nil {
				return true
			}
		}
	}
	return false
}

// text adds a piece of text, tagged with where it stands.
func (p *cachePrefix) text(tag byte, s string) {
	if p.h == nil {
		return
	}
	p.tokens += countTokens(s)
	p.h.Write([]byte{tag})
	io.WriteString(p.h, s)
}

// blob adds media billed at a fixed token count.
func (p *cachePrefix) blob(tokens int, b []byte) {
	if p.h == nil {
		return
	}
	p.tokens += tokens
	p.h.Write(b)
}

// tool adds a tool definition.
func (p *cachePrefix) tool(t *genTool) {
	if p.h == nil {
		return
	}
	p.tokens += toolTokens(t)
	io.WriteString(p.h, t.Name+"\x00"+t.Description+"\x00"+t.SchemaJSON)
}

// toolUse adds an earlier tool call (name and input are counted apart).
func (p *cachePrefix) toolUse(name string, input []byte) {
	if p.h == nil {
		return
	}
	p.tokens += countTokens(name) + countTokens(string(input))
	p.h.Write([]byte{3})
	io.WriteString(p.h, name)
	p.h.Write(input)
}

// key is the hash of the prompt so far.
func (p *cachePrefix) key() (k [32]byte) {
	copy(k[:], p.h.Sum(nil))
	return k
}
