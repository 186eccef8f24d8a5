package emulator

import (
	"log/slog"
	"time"
)

// Config configures an Emulator. The zero value is a working emulator that
// accepts the key pair test/test (and any bearer token), with the built-in
// model catalogue, no guardrails, no faults, no latency and no quotas.
type Config struct {
	// Seed changes every generated reply; the same Seed and request always
	// give the same reply.
	Seed uint64 `yaml:"seed"`
	// NoAuth turns request authentication off: unsigned requests are served.
	NoAuth bool `yaml:"no_auth"`
	// Credentials are the accepted SigV4 key pairs. Default when empty: the
	// single pair AccessKeyID "test", SecretAccessKey "test".
	Credentials []Credential `yaml:"credentials"`
	// BearerTokens are the accepted "Authorization: Bearer" tokens (Bedrock
	// API keys). Default when empty: any non-empty bearer token is accepted.
	BearerTokens []string `yaml:"bearer_tokens"`
	// ClockSkew is how far X-Amz-Date may be from the server clock
	// (default 5 minutes, as AWS).
	ClockSkew time.Duration `yaml:"clock_skew"`
	// BodyReadTimeout bounds reading a request body once its headers are in
	// (default 30s; negative: none); a body that has not arrived gets a 408
	// RequestTimeoutException.
	BodyReadTimeout time.Duration `yaml:"body_read_timeout"`
	// Models extends the built-in catalogue (an entry with a built-in ID
	// replaces it).
	Models []Model `yaml:"models"`
	// Guardrails are the guardrails requests may name.
	Guardrails []Guardrail `yaml:"guardrails"`
	// Faults injects errors at a seeded, deterministic rate (the prompt
	// markers documented in the package doc inject them on demand).
	Faults Faults `yaml:"faults"`
	// Latency slows streamed (and non-streamed) replies down like a real model.
	Latency Latency `yaml:"latency"`
	// Quotas throttle per model like Bedrock's on-demand quotas.
	Quotas Quotas `yaml:"quotas"`
	// TLS, when set, serves HTTPS (HTTP/2 and HTTP/1.1) instead of plain
	// HTTP (which speaks HTTP/1.1 and HTTP/2 with prior knowledge).
	TLS *TLSConfig `yaml:"tls"`
	// Record forwards every request to real Bedrock and writes the
	// exchanges to a directory (see RecordConfig).
	Record *RecordConfig `yaml:"record"`
	// Replay answers from recorded exchanges (see ReplayConfig).
	Replay *ReplayConfig `yaml:"replay"`
	// Logger receives one line per request at Debug and problems at Warn;
	// nil discards.
	Logger *slog.Logger `yaml:"-"`
}

// Credential is an accepted SigV4 key pair.
type Credential struct {
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// SessionToken, when set, must arrive in X-Amz-Security-Token.
	SessionToken string `yaml:"session_token"`
}

// Faults configures random (seeded) fault injection.
type Faults struct {
	// Rules apply in order; the first rule whose model matches and whose
	// seeded draw succeeds injects its fault.
	Rules []FaultRule `yaml:"rules"`
}

// FaultRule injects Fault into a fraction Rate of the requests for Model.
type FaultRule struct {
	// Model is a model ID (as resolved, e.g. "amazon.nova-lite-v1:0"); empty
	// means every model.
	Model string `yaml:"model"`
	// Fault is a marker name without brackets: throttle, throttle-stream,
	// model-timeout, model-not-ready, unavailable, internal-error,
	// model-stream-error, model-error, reset, truncate, slow, stall, bad-crc.
	Fault string `yaml:"fault"`
	// Rate is the probability in [0,1].
	Rate float64 `yaml:"rate"`
}

// Latency models a model's speed.
type Latency struct {
	// FirstToken is the delay before the first content event (and before a
	// non-streamed response).
	FirstToken time.Duration `yaml:"first_token"`
	// BetweenTokens is the delay between streamed content events.
	BetweenTokens time.Duration `yaml:"between_tokens"`
}

// Quotas are per-model rate limits; zero means unlimited.
type Quotas struct {
	// RequestsPerMinute and TokensPerMinute apply to every model without its
	// own entry in PerModel.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	TokensPerMinute   int `yaml:"tokens_per_minute"`
	// PerModel overrides the limits for one model ID.
	PerModel map[string]Quota `yaml:"per_model"`
}

// Quota is one model's limits. Tokens are reserved as input + maxTokens, as
// Bedrock does.
type Quota struct {
	RequestsPerMinute int `yaml:"requests_per_minute"`
	TokensPerMinute   int `yaml:"tokens_per_minute"`
}
