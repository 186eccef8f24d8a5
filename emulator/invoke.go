package emulator

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// serveInvoke handles InvokeModel and InvokeModelWithResponseStream: the body
// is the model's native JSON, whatever the Content-Type says (botocore sends
// none, the Go SDK sends application/octet-stream).
func (e *Emulator) serveInvoke(c *call, modelID string) {
	m := e.lookupModel(c, modelID)
	if m == nil {
		return
	}
	streaming := c.op == OpInvokeModelStream
	if a := c.r.Header.Get("Accept"); !streaming && a != "" && !acceptsJSON(a) {
		c.fail(validationError("The requested Accept type %s is not supported. Use application/json, and try again.", a))
		return
	}
	if m.Kind == kindSpeech {
		c.fail(validationError("The model %s supports only InvokeModelWithBidirectionalStream.", m.ID))
		return
	}
	f := e.faults.pick(m.ID, c.body)
	switch m.Kind {
	case kindEmbedding, kindImage, kindRerank:
		if streaming {
			c.fail(validationError("The model is unsupported for streaming."))
			return
		}
		if aerr := e.quotas.admit(m.ID, countTokens(string(c.body)), time.Now()); aerr != nil {
			c.fail(aerr)
			return
		}
		if !c.applyFaults(f, false, m) {
			return
		}
		var resp []byte
		var in int
		var aerr *apiError
		switch m.Kind {
		case kindEmbedding:
			resp, in, aerr = invokeEmbedding(m.ID, c.body)
		case kindRerank:
			resp, in, aerr = invokeRerank(m, c.body)
		default:
			resp, aerr = invokeImage(m.ID, c.body)
		}
		if aerr != nil {
			c.fail(aerr)
			return
		}
		// Latency (Config.Latency, [[quarry:slow]]) is time to first byte:
		// an embedding or image arrives in one piece after it.
		lat := e.latency(f)
		if !c.wait(lat.FirstToken) {
			return
		}
		hdr := map[string]string{
			"X-Amzn-Bedrock-Invocation-Latency": strconv.Itoa(latencyMs(c, lat, 0)),
			"X-Amzn-Bedrock-Input-Token-Count":  strconv.Itoa(in),
		}
		if m.Kind == kindImage {
			hdr["X-Amzn-Bedrock-Input-Token-Count"] = strconv.Itoa(countTokens(string(c.body)))
		}
		if m.Kind == kindEmbedding || m.Kind == kindRerank {
			hdr["X-Amzn-Bedrock-Output-Token-Count"] = "0"
		}
		if f.kind == faultTruncate {
			c.writeTruncated(resp, hdr)
			return
		}
		c.writeJSON(resp, hdr)
		return
	}

	req, aerr := parseNativeFor(m, c.body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	if req.MaxTokens > 0 && m.MaxTokens > 0 && req.MaxTokens > m.MaxTokens {
		c.fail(validationError("The maximum tokens you requested exceeds the model limit of %d. Try again with a maximum tokens value that is lower than %d.", m.MaxTokens, m.MaxTokens+1))
		return
	}
	var guard *guardOutcome
	if gid := c.r.Header.Get("X-Amzn-Bedrock-GuardrailIdentifier"); gid != "" {
		gr, aerr := e.findGuardrail(gid, c.r.Header.Get("X-Amzn-Bedrock-GuardrailVersion"))
		if aerr != nil {
			c.fail(aerr)
			return
		}
		guard = &guardOutcome{g: gr, trace: strings.ToLower(c.r.Header.Get("X-Amzn-Bedrock-Trace"))}
	}
	if !c.applyFaults(f, streaming, m) {
		return
	}
	res, aerr := e.generateAdmitted(m, req)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	if m.Family == familyAnthropic {
		e.nativeClaudeCache(m.ID, c.body, &res)
	}
	if guard != nil {
		texts := append([]string(nil), req.System...)
		for _, msg := range req.Messages {
			if msg.Role == "user" {
				texts = append(texts, msg.Text)
			}
		}
		guard.guardInput(texts)
		guard.apply(&res)
		if res.StopReason == "guardrail_intervened" {
			// Native bodies have no such stop reason; the verdict travels
			// in amazon-bedrock-guardrailAction instead.
			res.StopReason = "end_turn"
		}
	}
	lat := e.latency(f)
	if streaming {
		e.streamInvoke(c, m, req, &res, lat, f, guard)
		return
	}
	if !c.wait(lat.FirstToken + time.Duration(res.OutputTokens)*lat.BetweenTokens) {
		return
	}
	body := withGuardrailMembers(renderNative(m.Family, m.ID, req, res), guard)
	lms := latencyMs(c, lat, res.OutputTokens)
	hdr := map[string]string{
		"X-Amzn-Bedrock-Input-Token-Count":  strconv.Itoa(res.InputTokens),
		"X-Amzn-Bedrock-Output-Token-Count": strconv.Itoa(res.OutputTokens),
		"X-Amzn-Bedrock-Invocation-Latency": strconv.Itoa(lms),
	}
	if m.Family == familyNova || m.Family == familyAnthropic {
		hdr["X-Amzn-Bedrock-Cache-Read-Input-Token-Count"] = strconv.Itoa(res.CacheReadTokens)
		hdr["X-Amzn-Bedrock-Cache-Write-Input-Token-Count"] = strconv.Itoa(res.CacheWriteTokens)
	}
	if f.kind == faultTruncate {
		c.writeTruncated(body, hdr)
		return
	}
	c.writeJSON(body, hdr)
}

// writeTruncated sends the headers of a successful InvokeModel response and
// half of its body ([[quarry:truncate]]).
func (c *call) writeTruncated(body []byte, hdr map[string]string) {
	for k, v := range hdr {
		c.w.Header()[k] = []string{v}
	}
	c.w.Header()["Content-Type"] = []string{"application/json"}
	c.w.Header()["x-amzn-RequestId"] = []string{c.id}
	writeTruncatedBody(c.w, body)
}

func acceptsJSON(a string) bool {
	for _, part := range strings.Split(a, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch mt {
		case "application/json", "*/*", "application/*":
			return true
		}
	}
	return false
}

// withGuardrailMembers adds "amazon-bedrock-guardrailAction" (and
// "amazon-bedrock-trace" when tracing) to a native response object, as
// Bedrock does when a guardrail runs on InvokeModel.
func withGuardrailMembers(body []byte, g *guardOutcome) []byte {
	if g == nil || len(body) == 0 || body[0] != '{' {
		return body
	}
	action := "NONE"
	if g.intervened() {
		action = "INTERVENED"
	}
	var b bytes.Buffer
	b.WriteString(`{"amazon-bedrock-guardrailAction":"` + action + `"`)
	if t := g.traceJSON(); t != nil && (g.trace == "enabled" || g.trace == "enabled_full") {
		b.WriteString(`,"amazon-bedrock-trace":`)
		b.Write(t)
	}
	if rest := bytes.TrimSpace(body[1:]); len(rest) > 0 && rest[0] != '}' {
		b.WriteByte(',')
	}
	b.Write(body[1:])
	return b.Bytes()
}

// streamInvoke writes InvokeModelWithResponseStream's chunk events.
func (e *Emulator) streamInvoke(c *call, m *Model, req *genRequest, res *genResult, lat Latency, f faults, guard *guardOutcome) {
	metrics := invocationMetrics{
		InputTokenCount:           res.InputTokens,
		OutputTokenCount:          res.OutputTokens,
		InvocationLatency:         latencyMs(c, lat, res.OutputTokens),
		FirstByteLatency:          100 + int(lat.FirstToken/time.Millisecond),
		CacheReadInputTokenCount:  res.CacheReadTokens,
		CacheWriteInputTokenCount: res.CacheWriteTokens,
	}
	chunks := renderNativeChunks(m.Family, m.ID, req, *res, metrics)
	if guard != nil {
		chunks[len(chunks)-1] = withGuardrailMembers(chunks[len(chunks)-1], guard)
	}
	ew := c.startStream(streamSeed(e.cfg.Seed, c.body), map[string]string{"X-Amzn-Bedrock-Content-Type": "application/json"})
	ew.gap = lat.BetweenTokens
	ew.total = len(chunks)
	ew.arm(f.kind)
	if !c.wait(lat.FirstToken) {
		return
	}
	for _, ch := range chunks {
		if err := ew.chunk(ch); err != nil {
			return
		}
	}
}
