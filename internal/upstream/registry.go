// Package upstream is the Bedrock side of the gateway: the served models,
// each with its own Bedrock client (credentials, limiter) built once at
// start-up, and the one table that says what a Bedrock failure means for an
// HTTP client.
package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/limits"
)

// Model is a served model and the targets that serve it. Surfaces call
// its methods (pipeline.go), which choose the target and fail over.
type Model struct {
	config.Model
	Family bedrock.Family
	// Client is the first target's client, for what is not a model call
	// (ApplyGuardrail, Reserve).
	Client *bedrock.Client
	// Targets serve the model: one for a from: model.
	Targets []*Target
	// Fallbacks are the models tried once Targets are exhausted.
	Fallbacks []*Model

	group *group // nil with one target
	log   *slog.Logger
}

// Registry holds the served models by name. It is read-only after New.
type Registry struct {
	byName map[string]*Model
	list   []*Model
	// owned is the transport New built (nil when Options gave one): Close
	// releases its idle connections.
	owned *http.Transport
}

// Options adjust how clients are built.
type Options struct {
	// EmulatorURL, when set (emulator: true), is the endpoint of every
	// model without an endpoint_url, whatever credentials it names: they
	// sign with the emulator's keys, so that adding keys to a quick-start
	// model never silently sends it to AWS.
	EmulatorURL string
	// Logger receives one line per model saying where it goes, and each
	// client's notices and AWS SDK messages (bedrock.Config.Logger); nil:
	// none at start-up, slog.Default() for the clients.
	Logger *slog.Logger
	// EmulatorAccessKeyID and EmulatorSecretAccessKey sign requests to the
	// emulator (default test/test).
	EmulatorAccessKeyID, EmulatorSecretAccessKey string
	// Transport is shared by every client; nil builds one sized for the sum
	// of the models' concurrency limits.
	Transport http.RoundTripper
	// UserAgent is appended to the clients' User-Agent.
	UserAgent string
	// WrapTransport, when set, wraps the transport every client uses (the
	// console counts calls in flight and shows the playground's requests).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Limits, when set, admits every model's calls (package limits).
	Limits *limits.Limiter
	// HTTP1Only forces HTTP/1.1 on the transport New builds
	// (server.upstream_http2: false); ignored with Transport.
	HTTP1Only bool
}

// New builds one Bedrock client per target of each configured model. Credentials and
// endpoints are resolved here, once.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Registry, error) {
	all := append(append(append([]config.Model(nil), cfg.Models...), cfg.Embeddings...), cfg.Images...)
	all = append(all, cfg.Rerank...)
	transport := opts.Transport
	var owned *http.Transport
	if transport == nil {
		idle := 0
		for _, m := range all {
			for _, t := range targetsOf(m) {
				c := t.AWS.MaxConcurrent
				if c <= 0 {
					c = bedrock.DefaultMaxConcurrent
				}
				idle += c
			}
		}
		t, err := bedrock.NewTransportWith(bedrock.TransportOptions{MaxConcurrent: idle, HTTP1Only: opts.HTTP1Only})
		if err != nil {
			return nil, err
		}
		transport, owned = t, t
	}
	if opts.WrapTransport != nil {
		transport = opts.WrapTransport(transport)
	}
	httpc := &http.Client{Transport: transport}
	r := &Registry{byName: make(map[string]*Model, len(all)), owned: owned}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	for _, m := range all {
		um := &Model{Model: m, Family: bedrock.ModelFamily(m.ModelID), log: log}
		for _, ct := range targetsOf(m) {
			client, err := newClient(ctx, m, ct, httpc, opts)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", m.Kind, m.Name, err)
			}
			t := &Target{Name: ct.Name, ModelID: ct.ModelID, Region: client.Region(), Client: client, weight: ct.Weight, priority: ct.Priority}
			if m.Routing.Targets == nil {
				// A from: model: its one target is named by where it goes.
				t.Name = config.DefaultTargetName(0, ct.ModelID, client.Region())
			}
			um.Targets = append(um.Targets, t)
		}
		um.Client = um.Targets[0].Client
		if len(um.Targets) > 1 {
			um.group = &group{strategy: m.Routing.Strategy, targets: um.Targets}
		}
		r.byName[m.Name] = um
		for _, a := range m.Aliases {
			r.byName[a] = um // the config checked aliases are unique
		}
		r.list = append(r.list, um)
	}
	for _, um := range r.list {
		for _, name := range um.Routing.Fallbacks {
			fb, ok := r.byName[name]
			if !ok {
				return nil, fmt.Errorf("%s %q: fallback %q is not a served model", um.Kind, um.Name, name)
			}
			um.Fallbacks = append(um.Fallbacks, fb)
		}
	}
	sort.SliceStable(r.list, func(i, j int) bool { return r.list[i].Kind < r.list[j].Kind })
	return r, nil
}

// targetsOf is a model's targets: those it lists, or the one of its from:.
func targetsOf(m config.Model) []config.Target {
	if m.Routing.Targets != nil {
		return m.Routing.Targets
	}
	return []config.Target{{ModelID: m.ModelID, AWS: m.AWS, Weight: 1}}
}

// newClient builds the Bedrock client of one of m's targets.
func newClient(ctx context.Context, m config.Model, t config.Target, httpc *http.Client, opts Options) (*bedrock.Client, error) {
	bc, err := ClientConfig(t.AWS, opts)
	if err != nil {
		return nil, err
	}
	if opts.Logger != nil && opts.EmulatorURL != "" {
		if bc.Endpoint == opts.EmulatorURL {
			msg := "model served by the built-in emulator"
			if hasOwnCredentials(t.AWS) {
				msg += "; its own credentials are ignored (emulator: true; set endpoint_url to reach AWS)"
			}
			opts.Logger.Info(msg, "model", m.Name, "target", t.Name)
		} else {
			opts.Logger.Info("model served by its endpoint_url, not the emulator", "model", m.Name, "target", t.Name)
		}
	}
	if len(m.Routing.Targets) > 1 {
		// The other targets are the retries: a throttled or failing
		// target gives way at once rather than backing off.
		bc.Retry.MaxAttempts = 1
	}
	bc.HTTPClient = httpc
	if opts.Limits != nil {
		// A group's targets are limited each on its own (their quotas
		// are per account and region); a from: model keeps its name.
		scope := m.Name
		if len(m.Routing.Targets) > 1 {
			scope = m.Name + "/" + t.Name
		}
		opts.Limits.Apply(scope, t.AWS, &bc)
	}
	bc.UserAgent = opts.UserAgent
	bc.Logger = opts.Logger
	return bedrock.New(ctx, bc)
}

// ClientConfig maps a model's AWS params to a bedrock.Config; models with no
// endpoint_url go to the emulator when one runs, whatever their credentials.
func ClientConfig(a config.AWS, opts Options) (bedrock.Config, error) {
	bc := bedrock.Config{
		Region:            a.Region,
		Endpoint:          a.EndpointURL,
		AccessKeyID:       a.AccessKeyID.Reveal(),
		SecretAccessKey:   a.SecretAccessKey.Reveal(),
		SessionToken:      a.SessionToken.Reveal(),
		Profile:           a.Profile,
		RoleARN:           a.RoleARN,
		ExternalID:        a.ExternalID.Reveal(),
		APIKey:            a.APIKey.Reveal(),
		MaxConcurrent:     a.MaxConcurrent,
		RequestsPerMinute: a.RequestsPerMinute,
		Logger:            opts.Logger,
	}
	if opts.EmulatorURL != "" && bc.Endpoint == "" {
		bc.Endpoint = opts.EmulatorURL
		bc.Profile, bc.RoleARN, bc.ExternalID, bc.APIKey, bc.SessionToken = "", "", "", "", ""
		bc.AccessKeyID, bc.SecretAccessKey = opts.EmulatorAccessKeyID, opts.EmulatorSecretAccessKey
		if bc.AccessKeyID == "" {
			bc.AccessKeyID, bc.SecretAccessKey = "test", "test"
		}
	}
	return bc, nil
}

// Lookup returns the model called name (its name or one of its aliases).
func (r *Registry) Lookup(name string) (*Model, bool) {
	m, ok := r.byName[name]
	return m, ok
}

// Models lists every served model: chat first, then embeddings, images and rerank,
// each in config order.
func (r *Registry) Models() []*Model { return r.list }

// Close releases what New opened (the idle connections of the transport it
// built). Call it once no request uses the registry any more: a reloaded
// gateway closes the old one after its last in-flight request.
func (r *Registry) Close() {
	if r.owned != nil {
		r.owned.CloseIdleConnections()
	}
}

// hasOwnCredentials reports whether a model names credentials of its own.
func hasOwnCredentials(a config.AWS) bool {
	return a.AccessKeyID.Reveal() != "" || a.Profile != "" || a.RoleARN != "" || a.APIKey.Reveal() != ""
}
