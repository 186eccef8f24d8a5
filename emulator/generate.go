package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// genRequest is any model call (Converse, or a family's native InvokeModel
// body) reduced to what the deterministic reply generator needs.
type genRequest struct {
	ModelID       string
	System        []string
	Messages      []genMessage
	MaxTokens     int // 0: the model's default
	StopSequences []string
	Tools         []genTool
	// ToolChoice is "" or "auto" (the model decides), "any" (must call some
	// tool), or the name of the one tool it must call.
	ToolChoice string
	// Reasoning asks for a reasoning block before the answer.
	Reasoning bool
	// JSONSchema, when set, asks for a reply that is JSON valid against it
	// (structured output).
	JSONSchema map[string]any
	// Family is the model family (native.go constants); it shapes the reply
	// (Nova writes a <thinking> preamble before tool calls). Optional.
	Family string
	// ExtraInputTokens are billed input tokens not visible as text (images,
	// documents, videos).
	ExtraInputTokens int
}

type genMessage struct {
	Role        string // "user" or "assistant"
	Text        string // all text content of the message, joined
	ToolUses    []genToolUse
	ToolResults []genToolResult
}

type genTool struct {
	Name        string
	Description string
	Schema      map[string]any // the tool's input JSON schema
	// SchemaJSON is the schema as sent, when the parser has it (saves a
	// marshal for token counting). Optional.
	SchemaJSON string
}

type genToolUse struct {
	ID    string
	Name  string
	Input json.RawMessage
}

type genToolResult struct {
	ToolUseID string
	Text      string
	Status    string // "", "success" or "error"
}

// genResult is the deterministic reply to a genRequest.
type genResult struct {
	Reasoning    string // non-empty when reasoning was requested
	Text         string
	ToolUses     []genToolUse
	StopReason   string // end_turn | max_tokens | stop_sequence | tool_use
	StopSequence string // the matched stop sequence, when StopReason is stop_sequence
	InputTokens  int
	OutputTokens int
	// ReasoningSignature signs Reasoning (opaque, deterministic).
	ReasoningSignature string
	// CacheReadTokens and CacheWriteTokens are prompt-cache usage of a
	// native Claude body (native_cache.go), not included in InputTokens.
	CacheReadTokens, CacheWriteTokens int
	// Citations, when set, make the text a citationsContent block citing
	// them (Converse, documents with citations enabled).
	Citations []docCitation
}

// inputTokens is what a request bills as input. Converse, native
// InvokeModel and CountTokens all use it, so the numbers agree.
func inputTokens(req *genRequest) int {
	n := req.ExtraInputTokens
	for i := range req.Tools {
		n += toolTokens(&req.Tools[i])
	}
	for _, s := range req.System {
		n += countTokens(s)
	}
	for i := range req.Messages {
		n += messageTokens(&req.Messages[i])
	}
	return n
}

func toolTokens(t *genTool) int {
	n := countTokens(t.Name) + countTokens(t.Description)
	if t.SchemaJSON != "" {
		n += countTokens(t.SchemaJSON)
	} else if t.Schema != nil {
		b, _ := json.Marshal(t.Schema)
		n += countTokens(string(b))
	}
	return n
}

func messageTokens(m *genMessage) int {
	n := countTokens(m.Text)
	for _, u := range m.ToolUses {
		n += countTokens(u.Name) + countTokens(string(u.Input))
	}
	for _, r := range m.ToolResults {
		n += countTokens(r.Text)
	}
	return n
}

// generate produces the reply. It is a pure function of the request and the
// server's seed: the same input always gives the same output.
//
// The rules (documented for users in doc.go):
//   - after a toolResult answering the assistant's last toolUse, the reply is
//     text that quotes the result (a result with status "error" is retried
//     once with the same input);
//   - tools are called when toolChoice is "any" or names a tool, or when the
//     last user text mentions a tool's name or a keyword of it (a word of at
//     least four letters from its name or description); the input is
//     generated from the tool's JSON schema;
//   - with JSONSchema, or a JSON schema in the prompt (promptSchema), the
//     text is JSON valid against it;
//   - otherwise the text is a few English sentences built from the prompt's
//     words (and the system prompt's), a fixed vocabulary and the seed.
//
// Stop sequences cut the text before the first match; MaxTokens truncates.
func generate(seed uint64, req *genRequest) genResult {
	g := newGen(seed, req)
	res := genResult{InputTokens: inputTokens(req), StopReason: "end_turn"}

	if req.Reasoning {
		res.Reasoning = g.reasoning()
	}
	schema := req.JSONSchema
	if schema == nil {
		schema = promptSchema(req)
	}
	switch {
	case g.answerToolResult(&res):
	case g.callTools(&res):
	case schema != nil:
		res.Text = string(mustJSON(g.value(schema, schema, "", 0)))
	default:
		res.Text = g.text()
	}

	// Stop sequences apply to the text the model writes.
	if len(req.StopSequences) > 0 && res.Text != "" {
		cut, seqAt := len(res.Text), ""
		for _, s := range req.StopSequences {
			if s == "" {
				continue
			}
			if i := strings.Index(res.Text, s); i >= 0 && i < cut {
				cut, seqAt = i, s
			}
		}
		if seqAt != "" {
			res.Text = res.Text[:cut]
			res.StopReason, res.StopSequence = "stop_sequence", seqAt
			res.ToolUses = nil
		}
	}

	// maxTokens bounds everything the model writes: reasoning first, then
	// text, then tool calls.
	budget := req.MaxTokens
	if budget <= 0 {
		budget = 1 << 30
	}
	rt := countTokens(res.Reasoning)
	if rt > budget {
		res.Reasoning, _ = cutTokens(res.Reasoning, budget)
		rt = budget
		res.Text, res.ToolUses, res.StopReason, res.StopSequence = "", nil, "max_tokens", ""
	}
	budget -= rt
	tt := countTokens(res.Text)
	if tt > budget {
		res.Text, _ = cutTokens(res.Text, budget)
		tt = budget
		res.ToolUses, res.StopReason, res.StopSequence = nil, "max_tokens", ""
	}
	budget -= tt
	ut := 0
	for _, u := range res.ToolUses {
		ut += countTokens(u.Name) + countTokens(string(u.Input))
	}
	if ut > budget {
		res.ToolUses, res.StopReason, ut = nil, "max_tokens", 0
	}
	if len(res.ToolUses) > 0 {
		res.StopReason = "tool_use"
	}
	if res.Reasoning != "" {
		sum := sha256.Sum256([]byte(res.Reasoning + "\x00" + req.ModelID))
		res.ReasoningSignature = base64.StdEncoding.EncodeToString(append(sum[:], sum[:16]...))
	}
	res.OutputTokens = rt + tt + ut
	return res
}

// gen carries the per-request state of the generator.
type gen struct {
	req     *genRequest
	rng     *rand.Rand
	words   []string          // content words of the last user text, then the system prompt
	proper  []string          // capitalised words of the last user text (names, places)
	last    string            // the last user text
	display map[string]string // lower-cased proper nouns to their spelling
	seed    uint64
}

func newGen(seed uint64, req *genRequest) *gen {
	h := fnv.New64a()
	h.Write([]byte(req.ModelID))
	for _, s := range req.System {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	for _, m := range req.Messages {
		h.Write([]byte{1})
		h.Write([]byte(m.Role))
		h.Write([]byte(m.Text))
		for _, r := range m.ToolResults {
			h.Write([]byte(r.Text))
		}
	}
	g := &gen{req: req, seed: seed, rng: rand.New(rand.NewPCG(h.Sum64(), seed))}
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if m := req.Messages[i]; m.Role == "user" && strings.TrimSpace(m.Text) != "" {
			g.last = m.Text
			break
		}
	}
	g.words, g.proper = contentWords(g.last)
	g.display = map[string]string{}
	for _, p := range g.proper {
		g.display[strings.ToLower(p)] = p
	}
	sys, _ := contentWords(strings.Join(req.System, " "))
	g.words = append(g.words, sys...)
	return g
}

var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the and or but if then else of to in on at by for with from into onto about
		as is are was were be been being am do does did have has had having i me my we our you your he she it its they them
		their this that these those what which who whom whose when where why how all any both each few more most other some
		such no nor not only own same so than too very can will just should could would may might must shall now please
		tell say said give get got let make use using used want need like also there here up down out over under again
		further once today tomorrow yesterday exactly provide call containing contain popular explain describe
		convert write summarise summarize list show help know find tell think compare create generate answer question
		following given current currently using based into` + " " + quarryMarkerWords) {
		stopWords[w] = true
	}
}

const quarryMarkerWords = "quarry throttle stream model timeout ready unavailable internal error reset truncate slow"

// contentWords returns the distinct content words of s (lower-cased) and its
// capitalised words that are not sentence starters.
func contentWords(s string) (words, proper []string) {
	seen := map[string]bool{}
	start := true
	for _, f := range strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '.' && r != '?' && r != '!'
	}) {
		end := strings.HasSuffix(f, ".") || strings.HasSuffix(f, "?") || strings.HasSuffix(f, "!")
		w := strings.Trim(f, ".?!'")
		if w == "" {
			start = start || end
			continue
		}
		lw := strings.ToLower(w)
		if r, _ := utf8.DecodeRuneInString(w); unicode.IsUpper(r) && !start && !stopWords[lw] && !seen["P"+w] {
			seen["P"+w] = true
			proper = append(proper, w)
		}
		start = end
		if utf8.RuneCountInString(lw) < 3 || stopWords[lw] || seen[lw] {
			continue
		}
		seen[lw] = true
		words = append(words, lw)
	}
	return words, proper
}

var (
	adjectives = []string{"useful", "simple", "important", "common", "practical", "reliable", "clear", "flexible", "interesting", "straightforward"}
	nouns      = []string{"the question", "this topic", "the details", "the context", "the main idea", "the example"}
	// Templates: %t is a topic word from the prompt, %a an adjective.
	openers = []string{
		"Here is what I can tell you about %t.",
		"Thanks for asking about %t.",
		"That is a good question about %t.",
		"Let me explain %t in a few words.",
	}
	middles = []string{
		"The key point is that %t is %a in most situations.",
		"In practice, %t and %t are closely related.",
		"Most people find %t %a once they look at %t.",
		"A %a way to think about %t is to start with %t.",
		"It helps to compare %t with %t before deciding.",
		"When it comes to %t, the %a answer is usually the right one.",
	}
	closers = []string{
		"I hope this helps.",
		"Let me know if you want more detail on %t.",
		"Feel free to ask a follow-up question.",
		"I can go deeper into %t if you like.",
	}
)

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// topic returns a topic word from the prompt, falling back to the vocabulary.
func (g *gen) topic() string {
	if len(g.words) == 0 {
		return g.pick(nouns)
	}
	// Favour the first words of the prompt: they usually carry the topic.
	n := len(g.words)
	if n > 6 {
		n = 6
	}
	w := g.words[g.rng.IntN(n)]
	if d, ok := g.display[w]; ok {
		return d
	}
	return w
}

func (g *gen) fill(tmpl string) string {
	var b strings.Builder
	b.Grow(len(tmpl) + 48)
	start := 0
	for i := 0; i < len(tmpl)-1; i++ {
		if tmpl[i] != '%' || (tmpl[i+1] != 't' && tmpl[i+1] != 'a') {
			continue
		}
		b.WriteString(tmpl[start:i])
		if tmpl[i+1] == 't' {
			b.WriteString(g.topic())
		} else {
			b.WriteString(g.pick(adjectives))
		}
		i++
		start = i + 1
	}
	b.WriteString(tmpl[start:])
	return b.String()
}

func capitalise(s string) string {
	if s != "" && s[0] < utf8.RuneSelf {
		// ASCII: only a-z change (as with unicode.ToUpper), in one allocation.
		if c := s[0]; c >= 'a' && c <= 'z' {
			var b strings.Builder
			b.Grow(len(s))
			b.WriteByte(c - 'a' + 'A')
			b.WriteString(s[1:])
			return b.String()
		}
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// persona is what a system prompt "You are X." makes the model introduce
// itself as.
func (g *gen) persona() string {
	for _, s := range g.req.System {
		ls := strings.ToLower(s)
		if i := strings.Index(ls, "you are "); i >= 0 {
			p := s[i+len("you are "):]
			if j := strings.IndexAny(p, ".,;!\n"); j >= 0 {
				p = p[:j]
			}
			if p = strings.TrimSpace(p); p != "" && len(p) < 60 {
				return p
			}
		}
	}
	return ""
}

func (g *gen) terse() bool {
	for _, s := range g.req.System {
		ls := strings.ToLower(s)
		for _, w := range []string{"terse", "concise", "brief", "one sentence", "short answer"} {
			if strings.Contains(ls, w) {
				return true
			}
		}
	}
	return false
}

// text is the plain-text answer.
func (g *gen) text() string {
	last := strings.TrimSpace(stripMarkers(g.last))
	// "Say X" is answered with X, as chat models do.
	if ls := strings.ToLower(last); strings.HasPrefix(ls, "say ") && len(last) < 200 {
		s := strings.TrimRight(strings.TrimSpace(last[4:]), ".!")
		if s != "" {
			return capitalise(s) + "."
		}
	}
	var parts []string
	opener := capitalise(g.fill(g.pick(openers)))
	if p := g.persona(); p != "" {
		opener = "As " + p + ", " + strings.ToLower(opener[:1]) + opener[1:]
	}
	parts = append(parts, opener)
	if !g.terse() {
		n := 1 + g.rng.IntN(3)
		for i := 0; i < n; i++ {
			parts = append(parts, capitalise(g.fill(g.pick(middles))))
		}
		parts = append(parts, capitalise(g.fill(g.pick(closers))))
	}
	return strings.Join(parts, " ")
}

func (g *gen) reasoning() string {
	t := g.topic()
	return "The user is asking about " + t + ". I should give a " + g.pick(adjectives) +
		" answer and keep it focused. Let me consider " + g.topic() + " first, then " + t + "."
}

// stripMarkers removes [[quarry:…]] fault markers from prompt text.
func stripMarkers(s string) string {
	for {
		i := strings.Index(s, "[[quarry:")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "]]")
		if j < 0 {
			return s
		}
		s = s[:i] + s[i+j+2:]
	}
}

// answerToolResult handles a conversation whose last user turn returns the
// results of the assistant's last tool calls.
func (g *gen) answerToolResult(res *genResult) bool {
	msgs := g.req.Messages
	if len(msgs) < 2 {
		return false
	}
	lastMsg, prev := msgs[len(msgs)-1], msgs[len(msgs)-2]
	if lastMsg.Role != "user" || len(lastMsg.ToolResults) == 0 || prev.Role != "assistant" || len(prev.ToolUses) == 0 {
		return false
	}
	byID := map[string]genToolUse{}
	for _, u := range prev.ToolUses {
		byID[u.ID] = u
	}
	var b strings.Builder
	for _, r := range lastMsg.ToolResults {
		u, ok := byID[r.ToolUseID]
		if !ok {
			continue
		}
		if r.Status == "error" && g.errorsSoFar() < 2 {
			// Retry the failed call once, as models usually do.
			res.Text = "The " + u.Name + " tool returned an error, so I will try again."
			res.ToolUses = []genToolUse{{ID: g.toolUseID(u.Name, 1), Name: u.Name, Input: u.Input}}
			return true
		}
		result := strings.TrimSpace(r.Text)
		if len(result) > 300 {
			result = result[:300] + "…"
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		if result == "" {
			b.WriteString("The " + u.Name + " tool returned no data.")
		} else {
			b.WriteString("The " + u.Name + " tool returned: " + result + ".")
		}
	}
	if b.Len() == 0 {
		return false
	}
	b.WriteString(" Based on that result, the answer to your question about " + g.topic() + " is above. Let me know if you need anything else.")
	res.Text = b.String()
	return true
}

func (g *gen) errorsSoFar() int {
	n := 0
	for _, m := range g.req.Messages {
		for _, r := range m.ToolResults {
			if r.Status == "error" {
				n++
			}
		}
	}
	return n
}

// callTools decides on tool calls (see generate's doc for the rule).
func (g *gen) callTools(res *genResult) bool {
	if len(g.req.Tools) == 0 {
		return false
	}
	if n := len(g.req.Messages); n == 0 || g.req.Messages[n-1].Role != "user" || len(g.req.Messages[n-1].ToolResults) > 0 {
		if g.req.ToolChoice == "" || g.req.ToolChoice == "auto" {
			return false
		}
	}
	var tool *genTool
	best := 0
	switch choice := g.req.ToolChoice; choice {
	case "", "auto", "any":
		for i := range g.req.Tools {
			if s := toolScore(&g.req.Tools[i], g.last); s > best {
				best, tool = s, &g.req.Tools[i]
			}
		}
		if tool == nil && choice == "any" {
			tool = &g.req.Tools[0]
		}
	default:
		for i := range g.req.Tools {
			if g.req.Tools[i].Name == choice {
				tool = &g.req.Tools[i]
			}
		}
	}
	if tool == nil {
		return false
	}
	calls := []*genTool{tool}
	if c := g.req.ToolChoice; c == "" || c == "auto" || c == "any" {
		// A prompt that names several tools gets them all, in parallel.
		if named := g.namedTools(); len(named) > 1 {
			calls = named
		}
	}
	res.ToolUses = nil
	for i, t := range calls {
		input := mustJSON(g.value(t.Schema, t.Schema, "", 0))
		if len(t.Schema) == 0 {
			input = []byte("{}")
		}
		res.ToolUses = append(res.ToolUses, genToolUse{ID: g.toolUseID(t.Name, i), Name: t.Name, Input: input})
	}
	// Nova always thinks aloud before a call; Claude explains itself when
	// it chose the tool on its own (not named by the user nor forced).
	switch {
	case g.req.Family == familyNova:
		res.Text = "<thinking>The user asked about " + g.topic() + ". I will use the `" + tool.Name + "` tool to answer.</thinking>\n"
	case g.req.Family == familyAnthropic && best > 0 && best < 10 && (g.req.ToolChoice == "" || g.req.ToolChoice == "auto"):
		res.Text = "To answer your question about " + g.topic() + ", I'll use the " + tool.Name + " tool."
	}
	return true
}

// namedTools are the tools the last user text names, in the tools' order.
func (g *gen) namedTools() []*genTool {
	var out []*genTool
	for i := range g.req.Tools {
		if toolScore(&g.req.Tools[i], g.last) >= 10 {
			out = append(out, &g.req.Tools[i])
		}
	}
	return out
}

// toolScore is how strongly text asks for tool t: 10 when it names the tool,
// plus one per keyword of the tool's name and description it contains.
func toolScore(t *genTool, text string) int {
	lt := strings.ToLower(text)
	score := 0
	name := strings.ToLower(t.Name)
	if strings.Contains(lt, name) || strings.Contains(lt, strings.NewReplacer("_", " ", "-", " ").Replace(name)) {
		score += 10
	}
	words, _ := contentWords(lt)
	have := map[string]bool{}
	for _, w := range words {
		have[w] = true
	}
	kw, _ := contentWords(strings.NewReplacer("_", " ", "-", " ").Replace(splitCamel(t.Name)) + " " + t.Description)
	for _, k := range kw {
		if utf8.RuneCountInString(k) >= 4 && have[k] {
			score++
		}
	}
	return score
}

func splitCamel(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// toolUseID is a deterministic ID shaped like Bedrock's ("tooluse_" + 22
// URL-safe characters).
func (g *gen) toolUseID(name string, n int) string {
	h := sha256.Sum256([]byte(name + "\x00" + g.last + "\x00" + string(rune('0'+n)) + "\x00" + strings.Join(g.req.System, "")))
	h[0] ^= byte(g.seed)
	return "tooluse_" + base64.RawURLEncoding.EncodeToString(h[:16])[:22]
}

// cutTokens returns the longest prefix of s that countTokens counts as at
// most n tokens, and whether s was cut.
func cutTokens(s string, n int) (string, bool) {
	if n <= 0 {
		return "", s != ""
	}
	count, run := 0, 0
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if run%4 == 0 {
				count++
				if count > n {
					return strings.TrimRightFunc(s[:i], unicode.IsSpace), true
				}
			}
			run++
		case unicode.IsSpace(r):
			run = 0
		default:
			run = 0
			count++
			if count > n {
				return strings.TrimRightFunc(s[:i], unicode.IsSpace), true
			}
		}
	}
	return s, false
}

// textPieces splits text into stream deltas of one to three words each, the
// whitespace before a word travelling with it (" The", " weather").
func textPieces(text string, rng *rand.Rand) []string {
	var pieces []string
	start, words := 0, 0
	want := 1 + rng.IntN(3)
	inWord := false
	for i, r := range text {
		sp := unicode.IsSpace(r)
		if sp && inWord {
			words++
			if words == want {
				pieces = append(pieces, text[start:i])
				start, words, want = i, 0, 1+rng.IntN(3)
			}
		}
		inWord = !sp
	}
	if start < len(text) {
		pieces = append(pieces, text[start:])
	}
	return pieces
}
