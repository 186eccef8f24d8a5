// Package config loads and validates Quarry's YAML configuration: the
// gateway server, the Bedrock models it serves (in the shape of a Spicepod's
// models/embeddings lists), secrets by reference, and the built-in emulator.
//
// Loading resolves and checks everything once; every problem is reported
// together, each with the file, line and field.
package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a loaded, validated configuration file.
type Config struct {
	// Path is the file the configuration was read from.
	Path string
	// Emulator, when enabled, starts the built-in Bedrock emulator in-process;
	// models without an endpoint_url (and without credentials) use it.
	Emulator Emulator
	Server   Server
	// Models are chat models (POST /v1/chat/completions).
	Models []Model
	// Embeddings are embedding models (POST /v1/embeddings).
	Embeddings []Model
	// Images are image-generation models (POST /v1/images/generations).
	Images []Model
	// Rerank are rerank models (POST /v1/rerank).
	Rerank []Model
	// Store keeps the inference endpoints created through /_inference.
	Store Store
	// Limits says where the models' and keys' limits are kept (limits.go).
	Limits Limits
	// Usage configures usage and cost recording (usage.go).
	Usage Usage

	// revealed are the values interpolated from secret references, which
	// View scrubs wherever they ended up (view.go).
	revealed []string
	// Telemetry exports OpenTelemetry traces and metrics (telemetry.go).
	Telemetry Telemetry
}

// DefaultMaxEmbeddingInputs is OpenAI's limit of inputs per embeddings
// request.
const DefaultMaxEmbeddingInputs = 2048

// DefaultMaxInferenceInputs is the default bound on the inputs of one
// /_inference request.
const DefaultMaxInferenceInputs = 1000

// Emulator configures the in-process Bedrock emulator.
type Emulator struct {
	Enabled bool
	// Seed varies the emulator's deterministic replies.
	Seed uint64
	// ConfigFile is an optional emulator config (extra models, guardrails,
	// faults), relative to the Quarry config file.
	ConfigFile string
}

// Server configures the HTTP listener.
type Server struct {
	// Address to listen on. Default 127.0.0.1:8080.
	Address string
	// APIKeys clients must present (Authorization: Bearer, or x-api-key).
	// Required when Address is not a loopback address.
	APIKeys []APIKey
	// MaxRequestBytes caps a request body. Default 32 MiB.
	MaxRequestBytes int64
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout bounds reading a request body once its headers are
	// in: a body that has not arrived by then gets a 408. Default 30s.
	BodyReadTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout time.Duration
	// UpstreamTimeout bounds one non-streaming Bedrock call, and the wait for a
	// stream's first event. Default 10m.
	UpstreamTimeout time.Duration
	// StreamIdleTimeout bounds the gap between two upstream stream events
	// after the first: a stream that stalls longer is cancelled and the
	// client gets the surface's stream error. Default 60s.
	StreamIdleTimeout time.Duration
	// MaxEmbeddingInputs caps the inputs of one embeddings request (OpenAI's
	// limit, 2048, by default); larger requests get a 400 naming it.
	MaxEmbeddingInputs int
	// MaxInferenceInputs caps the inputs of one /_inference request
	// (default 1000; Elasticsearch has no such bound, but Titan embeds one
	// text per call); larger requests get a 400 naming it.
	MaxInferenceInputs int
	// QueueTimeout is how long a request may wait for a model's limiter
	// (requests_per_min_limit, max_concurrent_invocations) before a 429.
	// Default 2s.
	QueueTimeout time.Duration
	// ShutdownTimeout bounds a graceful shutdown. Default 30s.
	ShutdownTimeout time.Duration
	// DrainDelay is how long a stopping gateway keeps serving while
	// /v1/ready answers 503, so load balancers stop sending to it before
	// its listener closes. Default 5s.
	DrainDelay time.Duration
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string
	// LogFormat is json or text. Default json.
	LogFormat string
	// BedrockEndpointURL is the Bedrock Runtime URL of clients that name no
	// endpoint of their own (the /_inference endpoints). Empty: the
	// AWS_ENDPOINT_URL_BEDROCK_RUNTIME environment variable, then the
	// built-in emulator when it runs, then AWS.
	BedrockEndpointURL string
	// Media limits the gateway's fetching of media URLs (shaping.go).
	Media Media
	// AdminKey guards the gateway's own management routes (/admin/…, the
	// console under /ui/). Nil: those routes are open on a loopback
	// address and refused (401) on any other.
	AdminKey *APIKey
	// CostHeaders adds x-quarry-cost-usd to answers (a trailer on streams;
	// see internal/usage).
	CostHeaders bool
	// UpstreamHTTP1Only is server.upstream_http2: false. By default the
	// gateway's Bedrock connections negotiate HTTP/2 over TLS, so that
	// concurrent calls and streams share a few connections; this forces
	// HTTP/1.1, one connection per call in flight (the zero value keeps
	// HTTP/2 for Configs built in code).
	UpstreamHTTP1Only bool
}

// APIKey is an accepted client key, kept only as its SHA-256 hash.
type APIKey struct{ sum [sha256.Size]byte }

// HashAPIKey returns the form of a key to put in the config file
// ("sha256:<hex>").
func HashAPIKey(key string) string {
	s := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(s[:])
}

// Match reports whether presented is this key, in constant time.
func (k APIKey) Match(presented string) bool {
	return k.MatchSum(sha256.Sum256([]byte(presented)))
}

// MatchSum is Match for a key already hashed with SHA-256, so that a caller
// checking one presented key against many hashes it once.
func (k APIKey) MatchSum(sum [sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1
}

// Kind is what a model serves.
type Kind int

const (
	KindChat Kind = iota
	KindEmbedding
	KindImage
	KindRerank
)

func (k Kind) String() string {
	return [...]string{"chat", "embedding", "image", "rerank"}[k]
}

// section is the YAML list a kind is declared in.
func (k Kind) section() string {
	return [...]string{"models", "embeddings", "images", "rerank"}[k]
}

// Model is one served model.
type Model struct {
	Kind Kind
	Name string
	// Aliases are other names the model answers to (unique, like names,
	// across models, embeddings and images).
	Aliases     []string
	Description string
	// ModelID is the Bedrock model ID, inference-profile ID or ARN (the part
	// of `from` after "bedrock:").
	ModelID string
	// Line is where the entry starts in the file, for messages.
	Line int

	AWS AWS
	// Guardrail is applied to every call, when set.
	Guardrail *Guardrail
	// SystemPrompt is prepended to every request's system blocks.
	SystemPrompt string
	// Defaults are request parameters (OpenAI field names: temperature,
	// max_completion_tokens, stop, ...) used when a request does not set
	// them: the bedrock_<param> params.
	Defaults map[string]any

	// Shaping is a chat model's request shaping (shaping.go).
	Shaping Shaping
	// AnthropicBetas, when not nil, are the anthropic-beta values the
	// Messages API passes on to a Claude model (nil: the ones Bedrock
	// documents for the model, see internal/anthropic).
	AnthropicBetas []string
	// Citations turns citations on for every document sent to a chat
	// model (a request's file part can still turn them off).
	Citations bool

	Embedding EmbeddingParams
	Image     ImageParams
	// Price overrides the built-in price table's figures for this model
	// (price.go); nil: the table's.
	Price *Price

	// Routing is where the model's calls go: its targets, the strategy
	// choosing between them, cooldowns and fallbacks (targets.go).
	Routing Routing
}

// AWS holds how a model reaches Bedrock.
type AWS struct {
	Region          string
	Profile         string
	AccessKeyID     Secret
	SecretAccessKey Secret
	SessionToken    Secret
	RoleARN         string
	ExternalID      Secret
	// APIKey is a Bedrock API key (bearer token).
	APIKey      Secret
	EndpointURL string
	// MaxConcurrent and RequestsPerMinute: 0 means the defaults (40, 1500).
	MaxConcurrent     int
	RequestsPerMinute int
	// TokensPerMinute caps the tokens (input plus output, as Bedrock
	// reports them) the model may use per minute. 0: no limit.
	TokensPerMinute int
}

// Guardrail is a Bedrock guardrail applied to a model's calls.
type Guardrail struct {
	Identifier string
	Version    string
	// Trace is disabled, enabled or enabled_full.
	Trace string
}

// EmbeddingParams are the seeds' per-family embedding parameters.
type EmbeddingParams struct {
	Dimensions       int    // Titan v2, Cohere v4, Nova
	Normalize        *bool  // Titan v2; default true
	InputType        string // Cohere; default search_document
	Truncate         string // Cohere
	EmbeddingPurpose string // Nova; default GENERIC_INDEX
	TruncationMode   string // Nova
}

// ImageParams are default image-generation parameters.
type ImageParams struct {
	Width, Height int // default 1024x1024
	Quality       string
	CfgScale      *float64
	Seed          *int64
	Style         string
	NegativeText  string
	// MaxImages bounds n for one request; above the 5 one Bedrock call
	// makes, the gateway splits the request (default 10).
	MaxImages int
}

// Problem is one thing wrong in a config file.
type Problem struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Field == "" {
		return loc + ": " + p.Msg
	}
	return loc + ": " + p.Field + ": " + p.Msg
}

// Error lists every problem found while loading a file.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "config: " + lines[0]
	}
	return fmt.Sprintf("config: %d problems:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// Load reads, interpolates and validates the configuration at path. Secrets
// come from the environment and from .env.local / .env beside the file and in
// the working directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	secrets, err := LoadSecrets(filepath.Dir(path), ".")
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, secrets)
}

// Parse validates a configuration held in memory; name is used in messages.
func Parse(name string, data []byte, secrets *Secrets) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{[]Problem{{File: name, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	d := &decoder{file: name, secrets: secrets}
	cfg := &Config{Path: name}
	if len(root.Content) == 0 {
		d.problem(&root, "", "the file is empty")
	} else {
		d.top(root.Content[0], cfg)
	}
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
		return nil, &Error{d.problems}
	}
	cfg.revealed = d.revealed
	return cfg, nil
}

func (d *decoder) top(n *yaml.Node, cfg *Config) {
	fields := d.mapping(n, "", "version", "emulator", "server", "models", "embeddings", "images", "rerank", "store", "limits", "usage", "telemetry")
	if v, ok := fields["version"]; ok {
		if s, _ := d.str(v, "version"); s != "v1" && s != "v1beta1" && s != "1" {
			d.problem(v, "version", "must be v1")
		}
	}
	if v, ok := fields["emulator"]; ok {
		d.emulator(v, &cfg.Emulator)
	}
	d.server(fields["server"], &cfg.Server)
	d.store(fields["store"], &cfg.Store)
	d.limits(fields["limits"], &cfg.Limits)
	d.usage(fields["usage"], &cfg.Usage)
	d.telemetry(fields["telemetry"], &cfg.Telemetry)
	names := map[string]int{}
	for _, kind := range []Kind{KindChat, KindEmbedding, KindImage, KindRerank} {
		list := fields[kind.section()]
		if list == nil {
			continue
		}
		if list.Kind != yaml.SequenceNode {
			d.problem(list, kind.section(), "must be a list")
			continue
		}
		for i, item := range list.Content {
			field := fmt.Sprintf("%s[%d]", kind.section(), i)
			m, ok := d.model(item, field, kind)
			if !ok {
				continue
			}
			if prev, dup := names[m.Name]; dup {
				d.problem(item, field+".name", fmt.Sprintf("%q is already used by the entry at line %d (names and aliases are shared by models, embeddings, images and rerank)", m.Name, prev))
				continue
			}
			names[m.Name] = m.Line
			for j, a := range m.Aliases {
				if prev, dup := names[a]; dup {
					d.problem(item, fmt.Sprintf("%s.aliases[%d]", field, j), fmt.Sprintf("%q is already used by the entry at line %d (names and aliases are shared by models, embeddings, images and rerank)", a, prev))
					continue
				}
				names[a] = m.Line
			}
			switch kind {
			case KindChat:
				cfg.Models = append(cfg.Models, m)
			case KindEmbedding:
				cfg.Embeddings = append(cfg.Embeddings, m)
			case KindImage:
				cfg.Images = append(cfg.Images, m)
			case KindRerank:
				cfg.Rerank = append(cfg.Rerank, m)
			}
		}
	}
	d.checkFallbacks(cfg) // targets.go
	if len(cfg.Server.APIKeys) == 0 && !IsLoopback(cfg.Server.Address) {
		d.problem(fields["server"], "server.api_keys", fmt.Sprintf("required when server.address (%s) is not a loopback address", cfg.Server.Address))
	}
}

func (d *decoder) emulator(n *yaml.Node, e *Emulator) {
	if n.Kind == yaml.ScalarNode {
		e.Enabled, _ = d.boolean(n, "emulator")
		return
	}
	f := d.mapping(n, "emulator", "enabled", "seed", "config")
	e.Enabled = true
	if v, ok := f["enabled"]; ok {
		e.Enabled, _ = d.boolean(v, "emulator.enabled")
	}
	if v, ok := f["seed"]; ok {
		s, _ := d.integer(v, "emulator.seed", 0, 1<<62)
		e.Seed = uint64(s)
	}
	if v, ok := f["config"]; ok {
		p, _ := d.str(v, "emulator.config")
		if p != "" && !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(d.file), p)
		}
		e.ConfigFile = p
	}
}

func (d *decoder) server(n *yaml.Node, s *Server) {
	*s = Server{
		Address:            "127.0.0.1:8080",
		MaxRequestBytes:    32 << 20,
		ReadHeaderTimeout:  10 * time.Second,
		BodyReadTimeout:    30 * time.Second,
		IdleTimeout:        120 * time.Second,
		UpstreamTimeout:    10 * time.Minute,
		StreamIdleTimeout:  60 * time.Second,
		MaxEmbeddingInputs: DefaultMaxEmbeddingInputs,
		MaxInferenceInputs: DefaultMaxInferenceInputs,
		QueueTimeout:       2 * time.Second,
		ShutdownTimeout:    30 * time.Second,
		DrainDelay:         5 * time.Second,
		LogLevel:           "info",
		LogFormat:          "json",
		Media:              Media{MaxBytes: DefaultMediaMaxBytes, Timeout: DefaultMediaTimeout, MaxRedirects: DefaultMediaMaxRedirects},
	}
	if n == nil {
		return
	}
	f := d.mapping(n, "server", "address", "api_keys", "max_request_bytes", "read_header_timeout",
		"idle_timeout", "upstream_timeout", "queue_timeout", "shutdown_timeout", "log_level", "log_format",
		"bedrock_endpoint_url", "media", "body_read_timeout", "stream_idle_timeout", "max_embedding_inputs",
		"max_inference_inputs", "admin_key", "cost_headers", "upstream_http2", "drain_delay")
	if v, ok := f["address"]; ok {
		if a, ok := d.str(v, "server.address"); ok {
			if _, _, err := net.SplitHostPort(a); err != nil {
				d.problem(v, "server.address", fmt.Sprintf("%q must be host:port", a))
			} else {
				s.Address = a
			}
		}
	}
	if v, ok := f["api_keys"]; ok {
		if v.Kind != yaml.SequenceNode {
			d.problem(v, "server.api_keys", "must be a list of keys (plain, or sha256:<64 hex digits>)")
		} else {
			for i, k := range v.Content {
				field := fmt.Sprintf("server.api_keys[%d]", i)
				raw, ok := d.str(k, field)
				if !ok {
					continue
				}
				key, err := ParseAPIKey(raw)
				if err != nil {
					d.problem(k, field, err.Error())
					continue
				}
				s.APIKeys = append(s.APIKeys, key)
			}
		}
	}
	if v, ok := f["admin_key"]; ok {
		if raw, ok := d.str(v, "server.admin_key"); ok {
			if key, err := ParseAPIKey(raw); err != nil {
				d.problem(v, "server.admin_key", err.Error())
			} else {
				s.AdminKey = &key
			}
		}
	}
	if v, ok := f["max_request_bytes"]; ok {
		if b, ok := d.bytes(v, "server.max_request_bytes"); ok {
			s.MaxRequestBytes = b
		}
	}
	for key, dst := range map[string]*time.Duration{
		"read_header_timeout": &s.ReadHeaderTimeout, "idle_timeout": &s.IdleTimeout,
		"upstream_timeout": &s.UpstreamTimeout, "queue_timeout": &s.QueueTimeout, "shutdown_timeout": &s.ShutdownTimeout,
		"body_read_timeout": &s.BodyReadTimeout, "stream_idle_timeout": &s.StreamIdleTimeout,
		"drain_delay": &s.DrainDelay,
	} {
		if v, ok := f[key]; ok {
			if t, ok := d.duration(v, "server."+key); ok {
				*dst = t
			}
		}
	}
	if v, ok := f["max_inference_inputs"]; ok {
		if n, ok := d.integer(v, "server.max_inference_inputs", 1, 1<<20); ok {
			s.MaxInferenceInputs = int(n)
		}
	}
	if v, ok := f["max_embedding_inputs"]; ok {
		if n, ok := d.integer(v, "server.max_embedding_inputs", 1, 1<<20); ok {
			s.MaxEmbeddingInputs = int(n)
		}
	}
	if v, ok := f["log_level"]; ok {
		s.LogLevel = d.enum(v, "server.log_level", "debug", "info", "warn", "error")
	}
	if v, ok := f["log_format"]; ok {
		s.LogFormat = d.enum(v, "server.log_format", "json", "text")
	}
	if v, ok := f["bedrock_endpoint_url"]; ok {
		s.BedrockEndpointURL = d.endpointURL(v, "server.bedrock_endpoint_url")
	}
	if v, ok := f["media"]; ok {
		d.serverMedia(v, &s.Media)
	}
	if v, ok := f["cost_headers"]; ok {
		s.CostHeaders, _ = d.boolean(v, "server.cost_headers")
	}
	if v, ok := f["upstream_http2"]; ok {
		if b, ok := d.boolean(v, "server.upstream_http2"); ok {
			s.UpstreamHTTP1Only = !b
		}
	}
}

// SetAddress overrides server.address (`quarry serve --addr`) with the
// checks the file's address gets: host:port, and API keys whenever the
// address is not a loopback one, so that a flag cannot open an
// unauthenticated gateway to the network.
func (c *Config) SetAddress(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("config: --addr %q must be host:port", addr)
	}
	if len(c.Server.APIKeys) == 0 && !IsLoopback(addr) {
		return fmt.Errorf("config: --addr %s is not a loopback address: server.api_keys in %s is required to listen on it", addr, c.Path)
	}
	c.Server.Address = addr
	return nil
}

// ParseAPIKey reads a key as the config writes it: plain (at least 8
// characters) or sha256:<64 hex digits>.
func ParseAPIKey(raw string) (APIKey, error) {
	var k APIKey
	if h, ok := strings.CutPrefix(raw, "sha256:"); ok {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return k, errors.New("a hashed key must be sha256: followed by 64 hex digits")
		}
		copy(k.sum[:], b)
		return k, nil
	}
	if len(raw) < 8 {
		return k, errors.New("a key must be at least 8 characters")
	}
	k.sum = sha256.Sum256([]byte(raw))
	return k, nil
}

// IsLoopback reports whether addr (host:port) listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
