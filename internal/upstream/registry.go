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
	// EmulatorURL, when set, is the endpoint of models that name neither an
	// endpoint_url nor credentials; they sign with the emulator's keys.
	EmulatorURL string
	// EmulatorAccessKeyID and EmulatorSecretAccessKey sign requests to the
	// emulator (default test/test).
	EmulatorAccessKeyID, EmulatorSecretAccessKey string
	// Transport is shared by every client; nil builds one sized for the sum
	// of the models' concurrency limits.
	Transport http.RoundTripper
	// UserAgent is appended to the clients' User-Agent.
	UserAgent string
	// Logger receives the AWS SDK's messages (bedrock.Config.Logger).
	Logger *slog.Logger
}

// New builds one Bedrock client per configured model. Credentials and
// endpoints are resolved here, once.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Registry, error) {
	all := append(append(append([]config.Model(nil), cfg.Models...), cfg.Embeddings...), cfg.Images...)
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
	httpc := &http.Client{Transport: transport}
	r := &Registry{byName: make(map[string]*Model, len(all))}
	for _, m := range all {
		bc, err := ClientConfig(m.AWS, opts)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", m.Kind, m.Name, err)
		}
		bc.HTTPClient = httpc
		bc.UserAgent = opts.UserAgent
		client, err := bedrock.New(ctx, bc)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", m.Kind, m.Name, err)
		}
		um := &Model{Model: m, Family: bedrock.ModelFamily(m.ModelID), Client: client}
		r.byName[m.Name] = um
		r.list = append(r.list, um)
	}
	sort.SliceStable(r.list, func(i, j int) bool { return r.list[i].Kind < r.list[j].Kind })
	return r, nil
}

// ClientConfig maps a model's AWS params to a bedrock.Config; models with no
// endpoint and no credentials of their own go to the emulator when one runs.
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
	ownCreds := bc.AccessKeyID != "" || bc.Profile != "" || bc.RoleARN != "" || bc.APIKey != ""
	if opts.EmulatorURL != "" && bc.Endpoint == "" && !ownCreds {
		bc.Endpoint = opts.EmulatorURL
		bc.AccessKeyID, bc.SecretAccessKey = opts.EmulatorAccessKeyID, opts.EmulatorSecretAccessKey
		if bc.AccessKeyID == "" {
			bc.AccessKeyID, bc.SecretAccessKey = "test", "test"
		}
	}
	return bc, nil
}

// Lookup returns the model called name.
func (r *Registry) Lookup(name string) (*Model, bool) {
	m, ok := r.byName[name]
	return m, ok
}

// Models lists every served model: chat first, then embeddings, then images,
// each in config order.
func (r *Registry) Models() []*Model { return r.list }
