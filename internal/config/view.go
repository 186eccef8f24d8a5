package config

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// View is the effective configuration as plain values for GET /admin/config:
// the file's field names, durations as text, and no secret: Secret fields
// read "[redacted]", API keys a short fingerprint of their hash, and every
// value interpolated from a secret reference is scrubbed from any string it
// ended up in (a key inside an endpoint URL, say).
func (c *Config) View() map[string]any {
	s := c.Server
	server := map[string]any{
		"address":              s.Address,
		"api_keys":             keyFingerprints(s.APIKeys),
		"max_request_bytes":    s.MaxRequestBytes,
		"read_header_timeout":  dur(s.ReadHeaderTimeout),
		"body_read_timeout":    dur(s.BodyReadTimeout),
		"idle_timeout":         dur(s.IdleTimeout),
		"upstream_timeout":     dur(s.UpstreamTimeout),
		"stream_idle_timeout":  dur(s.StreamIdleTimeout),
		"queue_timeout":        dur(s.QueueTimeout),
		"shutdown_timeout":     dur(s.ShutdownTimeout),
		"drain_delay":          dur(s.DrainDelay),
		"max_embedding_inputs": s.MaxEmbeddingInputs,
		"max_inference_inputs": s.MaxInferenceInputs,
		"log_level":            s.LogLevel,
		"log_format":           s.LogFormat,
		"bedrock_endpoint_url": s.BedrockEndpointURL,
		"media": map[string]any{
			"max_bytes": s.Media.MaxBytes, "timeout": dur(s.Media.Timeout),
			"max_redirects": s.Media.MaxRedirects, "trusted_hosts": s.Media.TrustedHosts,
		},
	}
	if s.AdminKey != nil {
		server["admin_key"] = keyFingerprints([]APIKey{*s.AdminKey})[0]
	}
	v := map[string]any{
		"emulator": map[string]any{"enabled": c.Emulator.Enabled, "seed": c.Emulator.Seed, "config": c.Emulator.ConfigFile},
		"server":   server,
		"store": map[string]any{
			"path": c.Store.Path, "postgres_dsn": c.Store.PostgresDSN, "encryption_key": c.Store.EncryptionKey,
			"responses_retention": dur(c.Store.ResponsesRetention), "responses_max_bytes": c.Store.ResponsesMaxBytes,
		},
	}
	for _, kind := range []Kind{KindChat, KindEmbedding, KindImage, KindRerank} {
		list := []any{}
		for _, m := range c.models(kind) {
			list = append(list, modelView(m))
		}
		v[kind.section()] = list
	}
	return c.scrub(v)
}

func (c *Config) models(k Kind) []Model {
	return [...][]Model{c.Models, c.Embeddings, c.Images, c.Rerank}[k]
}

func modelView(m Model) map[string]any {
	a := m.AWS
	params := map[string]any{
		"aws_region": a.Region, "aws_profile": a.Profile, "aws_role_arn": a.RoleARN, "endpoint_url": a.EndpointURL,
		"aws_access_key_id": a.AccessKeyID, "aws_secret_access_key": a.SecretAccessKey,
		"aws_session_token": a.SessionToken, "aws_external_id": a.ExternalID, "bedrock_api_key": a.APIKey,
		"max_concurrent_invocations": a.MaxConcurrent, "requests_per_min_limit": a.RequestsPerMinute,
	}
	if m.Guardrail != nil {
		params["bedrock_guardrail_identifier"] = m.Guardrail.Identifier
		params["bedrock_guardrail_version"] = m.Guardrail.Version
		params["bedrock_trace"] = m.Guardrail.Trace
	}
	if m.SystemPrompt != "" {
		params["system_prompt"] = m.SystemPrompt
	}
	for k, d := range m.Defaults {
		params["bedrock_"+k] = d
	}
	if m.AnthropicBetas != nil {
		params["anthropic_betas"] = m.AnthropicBetas
	}
	if m.Citations {
		params["citations"] = true
	}
	out := map[string]any{"name": m.Name, "from": "bedrock:" + m.ModelID, "params": params}
	if len(m.Aliases) > 0 {
		out["aliases"] = m.Aliases
	}
	if m.Description != "" {
		out["description"] = m.Description
	}
	switch m.Kind {
	case KindChat:
		out["shaping"] = m.Shaping
	case KindEmbedding:
		out["embedding"] = m.Embedding
	case KindImage:
		out["image"] = m.Image
	}
	return out
}

// keyFingerprints shows each key as the first 8 bytes of its SHA-256, enough
// to tell keys apart and to match one against the file's sha256: form.
func keyFingerprints(keys []APIKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "sha256:" + hex.EncodeToString(k.sum[:8]) + "…"
	}
	return out
}

func dur(d time.Duration) string { return d.String() }

// scrub round-trips v through JSON (Secret fields marshal redacted) and
// replaces every revealed secret value left in a string.
func (c *Config) scrub(v map[string]any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{"error": "the configuration could not be shown"}
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return map[string]any{"error": "the configuration could not be shown"}
	}
	return scrubValue(out, c.revealed).(map[string]any)
}

func scrubValue(v any, secrets []string) any {
	switch t := v.(type) {
	case string:
		for _, s := range secrets {
			t = strings.ReplaceAll(t, s, redacted)
		}
		return t
	case map[string]any:
		for k, e := range t {
			t[k] = scrubValue(e, secrets)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = scrubValue(e, secrets)
		}
		return t
	}
	return v
}
