package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// toolResultText flattens ToolResultContentBlocks (text, json, …) into the
// text the model "reads".
func toolResultText(blocks []json.RawMessage) string {
	var parts []string
	for _, raw := range blocks {
		var b struct {
			Text *string         `json:"text"`
			JSON json.RawMessage `json:"json"`
		}
		if json.Unmarshal(raw, &b) != nil {
			continue
		}
		switch {
		case b.Text != nil:
			parts = append(parts, *b.Text)
		case b.JSON != nil:
			parts = append(parts, string(b.JSON))
		}
	}
	return strings.Join(parts, " ")
}

// usage is TokenUsage plus the unmodeled duplicates real Bedrock sends.
type usage struct {
	input, output, cacheRead, cacheWrite int
	caching                              bool // cache members present
}

func (u *usage) total() int { return u.input + u.output + u.cacheRead + u.cacheWrite }

// appendJSON writes the usage object with members in Bedrock's (sorted) order.
func (u *usage) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if u.caching {
		b = append(b, `"cacheReadInputTokenCount":`...)
		b = appendInt(b, u.cacheRead)
		b = append(b, `,"cacheReadInputTokens":`...)
		b = appendInt(b, u.cacheRead)
		b = append(b, `,"cacheWriteInputTokenCount":`...)
		b = appendInt(b, u.cacheWrite)
		b = append(b, `,"cacheWriteInputTokens":`...)
		b = appendInt(b, u.cacheWrite)
		b = append(b, ',')
	}
	b = append(b, `"inputTokens":`...)
	b = appendInt(b, u.input)
	b = append(b, `,"outputTokens":`...)
	b = appendInt(b, u.output)
	if u.caching {
		b = append(b, `,"serverToolUsage":{}`...)
	}
	b = append(b, `,"totalTokens":`...)
	b = appendInt(b, u.total())
	return append(b, '}')
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

func appendBase64(b []byte, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	b = append(b, make([]byte, n)...)
	base64.StdEncoding.Encode(b[len(b)-n:], src)
	return b
}

// promptCache remembers prompt prefixes (by hash) that have been written to
// the cache, so the next request with the same prefix reads it.
type promptCache struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time // expiry
}

func newPromptCache() *promptCache { return &promptCache{entries: map[[32]byte]time.Time{}} }

// use reports whether key was cached (a read) and refreshes its TTL; a miss
// writes it.
func (p *promptCache) use(key [32]byte, ttl time.Duration, now time.Time) (hit bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	exp, ok := p.entries[key]
	hit = ok && now.Before(exp)
	p.entries[key] = now.Add(ttl)
	if len(p.entries) > 100_000 {
		for k, e := range p.entries {
			if now.After(e) {
				delete(p.entries, k)
			}
		}
	}
	return hit
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeJSON writes a 200 JSON response with Bedrock's headers.
func (c *call) writeJSON(body []byte, extra map[string]string) {
	h := c.w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["x-amzn-RequestId"] = []string{c.id}
	for k, v := range extra {
		h[k] = []string{v}
	}
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(body)
}

// serveConverse handles Converse and ConverseStream.
func (e *Emulator) serveConverse(c *call, modelID string) {
	m := e.lookupModel(c, modelID)
	if m == nil {
		return
	}
	if m.Kind != kindChat {
		c.fail(validationError("This action doesn't support the model that you provided. Try again with a supported text or chat model."))
		return
	}
	var req converseRequest
	if aerr := decodeStrict(c.body, &req); aerr != nil {
		c.fail(aerr)
		return
	}
	in, aerr := parseConverse(&req, m)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	var guard *guardOutcome
	if gc := in.guardrail; gc != nil {
		gr, aerr := e.findGuardrail(gc.GuardrailIdentifier, gc.GuardrailVersion)
		if aerr != nil {
			c.fail(aerr)
			return
		}
		guard = &guardOutcome{g: gr, trace: gc.Trace}
	}
	streaming := c.op == OpConverseStream
	f := e.faults.pick(m.ID, c.body)
	if !c.applyFaults(f, streaming, m) {
		return
	}
	res, aerr := e.generateAdmitted(m, &in.gen)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	if guard != nil {
		guard.guardInput(in.guardTexts)
		guard.apply(&res)
	}
	if res.Text != "" && res.StopReason != "guardrail_intervened" {
		res.Citations = in.cited
	}
	u := usage{input: res.InputTokens, output: res.OutputTokens}
	if in.cacheTok > 0 && m.Caching {
		// A prefix shorter than the model's minimum is not cached: Bedrock
		// bills it as plain input and reports zero cache tokens.
		u.caching = true
		if in.cacheTok >= m.MinCacheTokens {
			if e.cache.use(in.cacheKey, in.cacheTTL, time.Now()) {
				u.cacheRead = in.cacheTok
			} else {
				u.cacheWrite = in.cacheTok
			}
			u.input -= in.cacheTok
		}
	}
	lat := e.latency(f)
	var trace []byte
	if guard != nil {
		trace = guard.traceJSON()
	}
	additional := additionalFields(in.fieldPaths, &res)
	if streaming {
		e.streamConverse(c, m, &res, &u, lat, f, trace, additional)
		return
	}
	if !c.wait(lat.FirstToken + time.Duration(res.OutputTokens)*lat.BetweenTokens) {
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := appendConverseResponse((*bp)[:0], &res, &u, latencyMs(c, lat, res.OutputTokens), trace, additional)
	if f.kind == faultTruncate {
		writeTruncatedBody(c.w, b)
	} else {
		c.writeJSON(b, nil)
	}
	*bp = b
	bufPool.Put(bp)
}

// latencyMs is the reported metrics.latencyMs: the real elapsed time when a
// latency is configured, else a plausible figure derived from the output size.
func latencyMs(c *call, lat Latency, outputTokens int) int {
	if lat.FirstToken > 0 || lat.BetweenTokens > 0 {
		return int(time.Since(c.start) / time.Millisecond)
	}
	return 150 + 4*outputTokens
}

// additionalFields answers additionalModelResponseFieldPaths that the
// emulator knows ("/stop_sequence"); unknown pointers are ignored, as Bedrock
// ignores pointers absent from the model output.
func additionalFields(paths []string, res *genResult) []byte {
	for _, p := range paths {
		if p == "/stop_sequence" {
			if res.StopSequence != "" {
				return append(appendJSONString([]byte(`{"stop_sequence":`), res.StopSequence), '}')
			}
			return []byte(`{"stop_sequence":null}`)
		}
	}
	return nil
}

// appendConverseResponse renders the ConverseResponse body with members in
// lexicographic order, as Bedrock serializes it.
func appendConverseResponse(b []byte, res *genResult, u *usage, latency int, trace, additional []byte) []byte {
	b = append(b, '{')
	if len(additional) > 0 {
		b = append(b, `"additionalModelResponseFields":`...)
		b = append(b, additional...)
		b = append(b, ',')
	}
	b = append(b, `"metrics":{"latencyMs":`...)
	b = appendInt(b, latency)
	b = append(b, `},"output":{"message":{"content":[`...)
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if res.Reasoning != "" {
		sep()
		b = append(b, `{"reasoningContent":{"reasoningText":{"signature":`...)
		b = appendJSONString(b, res.ReasoningSignature)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, res.Reasoning)
		b = append(b, `}}}`...)
	}
	if res.Text != "" || (len(res.ToolUses) == 0 && res.Reasoning == "") {
		sep()
		if len(res.Citations) > 0 {
			b = appendCitationsContent(b, res.Text, res.Citations)
		} else {
			b = append(b, `{"text":`...)
			b = appendJSONString(b, res.Text)
			b = append(b, '}')
		}
	}
	for _, tu := range res.ToolUses {
		sep()
		b = append(b, `{"toolUse":{"input":`...)
		b = append(b, tu.Input...)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, tu.Name)
		b = append(b, `,"toolUseId":`...)
		b = appendJSONString(b, tu.ID)
		b = append(b, `}}`...)
	}
	b = append(b, `],"role":"assistant"}},"stopReason":`...)
	b = appendJSONString(b, res.StopReason)
	if len(trace) > 0 {
		b = append(b, `,"trace":`...)
		b = append(b, trace...)
	}
	b = append(b, `,"usage":`...)
	b = u.appendJSON(b)
	return append(b, '}')
}

// streamConverse writes ConverseStream's events. Text blocks have no
// contentBlockStart (real Bedrock omits it); tool-use blocks get one.
func (e *Emulator) streamConverse(c *call, m *Model, res *genResult, u *usage, lat Latency, f faults, trace, additional []byte) {
	ew := c.startStream(streamSeed(e.cfg.Seed, c.body), nil)
	ew.gap = lat.BetweenTokens
	ew.arm(f.kind)
	var events []func() error
	add := func(fn func() error) { events = append(events, fn) }
	add(ew.messageStart)
	idx := 0
	if res.Reasoning != "" {
		i := idx
		for _, p := range textPieces(res.Reasoning, ew.rng) {
			add(func() error { return ew.reasoningDelta(i, "text", p) })
		}
		add(func() error { return ew.reasoningDelta(i, "signature", res.ReasoningSignature) })
		add(func() error { return ew.blockStop(i) })
		idx++
	}
	if res.Text != "" {
		i := idx
		var pieces []string
		if m.Family == familyTitanText {
			pieces = []string{res.Text}
		} else {
			pieces = textPieces(res.Text, ew.rng)
		}
		for _, p := range pieces {
			add(func() error { return ew.textDelta(i, p) })
		}
		for j := range res.Citations {
			add(func() error { return ew.citationDelta(i, &res.Citations[j]) })
		}
		add(func() error { return ew.blockStop(i) })
		idx++
	}
	for _, tu := range res.ToolUses {
		i := idx
		add(func() error { return ew.toolUseStart(i, tu.Name, tu.ID) })
		for _, frag := range inputFragments(m.Family, string(tu.Input), ew.rng) {
			add(func() error { return ew.toolUseDelta(i, frag) })
		}
		add(func() error { return ew.blockStop(i) })
		idx++
	}
	add(func() error { return ew.messageStop(res.StopReason, additional) })
	add(func() error { return ew.metadata(latencyMs(c, lat, res.OutputTokens), u, trace) })
	ew.total = len(events)

	if !c.wait(lat.FirstToken) {
		return
	}
	for _, ev := range events {
		if err := ev(); err != nil {
			return
		}
	}
}

// inputFragments splits a tool input JSON into partial-JSON deltas. Claude
// streams it in small fragments, the first one empty; other families send it
// whole.
func inputFragments(family, input string, rng interface{ IntN(int) int }) []string {
	if family != familyAnthropic {
		return []string{input}
	}
	return partialJSONFragments(input, func() int { return 4 + rng.IntN(12) })
}

// partialJSONFragments splits a tool input's JSON the way Claude streams it:
// an empty delta first, then pieces of size() bytes, each widened to end on
// a rune boundary.
func partialJSONFragments(input string, size func() int) []string {
	frags := []string{""}
	for len(input) > 0 {
		n := min(size(), len(input))
		for n < len(input) && !utf8.RuneStart(input[n]) {
			n++
		}
		frags = append(frags, input[:n])
		input = input[n:]
	}
	return frags
}

// streamSeed seeds a stream's padding and chunking: deterministic per
// request body.
func streamSeed(seed uint64, body []byte) uint64 {
	h := sha256.Sum256(body)
	var s uint64
	for i := 0; i < 8; i++ {
		s = s<<8 | uint64(h[i])
	}
	return s ^ seed
}
