package emulator

import (
	"bytes"
	"encoding/json"
	"strings"
)

// promptSchema finds a JSON schema that a client put in the prompt to ask
// for JSON output, as the Vercel AI SDK's generateObject does for a
// provider without native structured output ("JSON schema:" followed by
// the schema, then "You MUST answer with a JSON object that matches the
// JSON schema above."), and as OpenAI json_object callers do in their own
// words. It looks in the system prompt and the last user message, and only
// when they ask for JSON; nil when there is none.
func promptSchema(req *genRequest) map[string]any {
	// Most prompts never say JSON: answer them without building anything.
	asked := false
	for _, t := range req.System {
		asked = asked || mentionsJSON(t)
	}
	for i := len(req.Messages) - 1; i >= 0 && !asked; i-- {
		if req.Messages[i].Role == "user" {
			asked = mentionsJSON(req.Messages[i].Text)
			break
		}
	}
	if !asked {
		return nil
	}
	var texts []string
	texts = append(texts, req.System...)
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			texts = append(texts, req.Messages[i].Text)
			break
		}
	}
	all := strings.Join(texts, "\n")
	lower := strings.ToLower(all)
	if !strings.Contains(lower, "json") {
		return nil
	}
	for _, marker := range []string{"json schema:", "json schema", "schema:"} {
		i := strings.Index(lower, marker)
		if i < 0 {
			continue
		}
		if s := schemaAfter(all[i+len(marker):]); s != nil {
			return s
		}
	}
	return nil
}

// schemaAfter decodes the first JSON object in s if it looks like a schema
// (it has a type, properties or $schema).
func schemaAfter(s string) map[string]any {
	j := strings.IndexByte(s, '{')
	if j < 0 {
		return nil
	}
	var v map[string]any
	if json.NewDecoder(bytes.NewReader([]byte(s[j:]))).Decode(&v) != nil {
		return nil
	}
	for _, k := range []string{"type", "properties", "$schema"} {
		if _, ok := v[k]; ok {
			return v
		}
	}
	return nil
}

// mentionsJSON reports whether s contains "json" in any case.
func mentionsJSON(s string) bool {
	for i := 0; i+4 <= len(s); i++ {
		if (s[i]|0x20) == 'j' && strings.EqualFold(s[i:i+4], "json") {
			return true
		}
	}
	return false
}
