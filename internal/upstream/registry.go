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
)

// Model is a served model and the client that reaches it.
type Model struct {
	config.Model
	Family bedrock.Family
	Client *bedrock.Client
}

// Registry holds the served models by name. It is read-only after New.
type Registry struct {
	byName map[string]*Model
	list   []*Model
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
	// WrapTransport, when set, wraps the transport (Transport or the one
	// built here), e.g. to trace every attempt.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// New builds one Bedrock client per configured model. Credentials and
// endpoints are resolved here, once.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Registry, error) {
	all := append(append(append([]config.Model(nil), cfg.Models...), cfg.Embeddings...), cfg.Images...)
	all = append(all, cfg.Rerank...)
	transport := opts.Transport
	if transport == nil {
		idle := 0
		for _, m := range all {
			c := m.AWS.MaxConcurrent
			if c <= 0 {
				c = bedrock.DefaultMaxConcurrent
			}
			idle += c
		}
		t, err := bedrock.NewTransport(idle)
		if err != nil {
			return nil, err
		}
		transport = t
	}
	if opts.WrapTransport != nil {
		transport = opts.WrapTransport(transport)
	}
	httpc := &http.Client{Transport: transport}
	r := &Registry{byName: make(map[string]*Model, len(all))}
	for _, m := range all {
		bc, err := ClientConfig(m.AWS, opts)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", m.Kind, m.Name, err)
		}
		if opts.Logger != nil && opts.EmulatorURL != "" {
			if bc.Endpoint == opts.EmulatorURL {
				msg := "model served by the built-in emulator"
				if hasOwnCredentials(m.AWS) {
					msg += "; its own credentials are ignored (emulator: true; set endpoint_url to reach AWS)"
				}
				opts.Logger.Info(msg, "model", m.Name)
			} else {
				opts.Logger.Info("model served by its endpoint_url, not the emulator", "model", m.Name)
			}
		}
		bc.HTTPClient = httpc
		bc.UserAgent = opts.UserAgent
		bc.Logger = opts.Logger
		client, err := bedrock.New(ctx, bc)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", m.Kind, m.Name, err)
		}
		um := &Model{Model: m, Family: bedrock.ModelFamily(m.ModelID), Client: client}
		r.byName[m.Name] = um
		for _, a := range m.Aliases {
			r.byName[a] = um // the config checked aliases are unique
		}
		r.list = append(r.list, um)
	}
	sort.SliceStable(r.list, func(i, j int) bool { return r.list[i].Kind < r.list[j].Kind })
	return r, nil
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

// hasOwnCredentials reports whether a model names credentials of its own.
func hasOwnCredentials(a config.AWS) bool {
	return a.AccessKeyID.Reveal() != "" || a.Profile != "" || a.RoleARN != "" || a.APIKey.Reveal() != ""
}
