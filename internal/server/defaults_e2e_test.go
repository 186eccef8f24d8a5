package server_test

import (
	"testing"

	"github.com/quarry-dev/quarry/internal/server"
)

// TestChatE2EModelDefaults: the quick start's bedrock_<param> defaults and
// system_prompt, decoded from YAML, reach Bedrock; a value in the request
// wins over the default; user and metadata become requestMetadata.
func TestChatE2EModelDefaults(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	g := startChatGateway(t, quickstart, nil, server.Options{UpstreamTransport: rec})
	e := &shapingEnv{g: g, rec: rec}
	for _, c := range []struct {
		name, body, modelID, field, want string
	}{
		{"defaults fill the request", `{"model":"nova-lite","messages":[{"role":"user","content":"Hi"}]}`,
			"us.amazon.nova-lite-v1:0", "inferenceConfig", `{"maxTokens":1024,"temperature":0.3}`},
		{"the request wins", `{"model":"nova-lite","temperature":0.9,"max_tokens":50,"top_p":0.5,"stop":["END"],"messages":[{"role":"user","content":"Hi"}]}`,
			"us.amazon.nova-lite-v1:0", "inferenceConfig", `{"maxTokens":50,"stopSequences":["END"],"temperature":0.9,"topP":0.5}`},
		{"the request wins when streaming", `{"model":"nova-lite","stream":true,"temperature":0,"messages":[{"role":"user","content":"Hi"}]}`,
			"us.amazon.nova-lite-v1:0", "inferenceConfig", `{"maxTokens":1024,"temperature":0}`},
		{"system_prompt comes first", `{"model":"nova-micro","messages":[{"role":"developer","content":"Answer in French."},{"role":"user","content":"Hi"}]}`,
			"amazon.nova-micro-v1:0", "system", `[{"text":"You are a concise assistant."},{"text":"Answer in French."}]`},
		{"system_prompt alone", `{"model":"nova-micro","messages":[{"role":"user","content":"Hi"}]}`,
			"amazon.nova-micro-v1:0", "system", `[{"text":"You are a concise assistant."}]`},
		{"user and metadata", `{"model":"nova-micro","user":"u-1","metadata":{"team":"search"},"messages":[{"role":"user","content":"Hi"}]}`,
			"amazon.nova-micro-v1:0", "requestMetadata", `{"team":"search","user":"u-1"}`},
	} {
		t.Run(c.name, func(t *testing.T) { e.expectSent(t, c.body, c.modelID, c.field, c.want) })
	}
}
