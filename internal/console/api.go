package console

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/config"
)

// modelView is one configured model on the overview.
type modelView struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	Aliases     []string `json:"aliases,omitempty"`
	Description string   `json:"description,omitempty"`
	Target      string   `json:"target"`
	Region      string   `json:"region"`
	Endpoint    string   `json:"endpoint,omitempty"`
	RPMLimit    int      `json:"requests_per_min_limit"`
	MaxInFlight int      `json:"max_concurrent_invocations"`
	Guardrail   string   `json:"guardrail,omitempty"`
	Credentials string   `json:"credentials"`
	InFlight    int64    `json:"in_flight"`
	Live        Summary  `json:"live"`
}

func (h *Handler) models() []modelView {
	cfg := h.opts.Config
	var out []modelView
	for _, list := range [][]config.Model{cfg.Models, cfg.Embeddings, cfg.Images, cfg.Rerank} {
		for _, m := range list {
			v := modelView{
				Name: m.Name, Kind: m.Kind.String(), Aliases: m.Aliases, Description: m.Description,
				Target: m.ModelID, Region: m.AWS.Region, RPMLimit: m.AWS.RequestsPerMinute, MaxInFlight: m.AWS.MaxConcurrent,
				Credentials: credentialsOf(m.AWS, cfg.Emulator.Enabled),
				InFlight:    h.opts.Capture.InFlight(m.ModelID),
				Live:        h.opts.Stats.Summary(m.Name),
			}
			if m.AWS.EndpointURL != "" {
				v.Endpoint = m.AWS.EndpointURL
			}
			if v.Region == "" {
				v.Region = "default chain"
			}
			if v.RPMLimit == 0 {
				v.RPMLimit = bedrock.DefaultRequestsPerMinute
			}
			if v.MaxInFlight == 0 {
				v.MaxInFlight = bedrock.DefaultMaxConcurrent
			}
			if g := m.Guardrail; g != nil {
				v.Guardrail = g.Identifier + ":" + g.Version
			}
			out = append(out, v)
		}
	}
	return out
}

// credentialsOf says how a model authenticates, naming no secret.
func credentialsOf(a config.AWS, emulator bool) string {
	switch {
	case emulator && a.EndpointURL == "":
		return "built-in emulator"
	case a.APIKey.Reveal() != "":
		return "Bedrock API key (set)"
	case a.RoleARN != "":
		return "assumed role " + a.RoleARN
	case a.AccessKeyID.Reveal() != "":
		return "access key (set)"
	case a.Profile != "":
		return "profile " + a.Profile
	}
	return "default credential chain"
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"models": h.models(), "window_minutes": windowMinutes}
	eps, status := h.endpoints(r.Context())
	out["endpoints"] = eps
	if status != http.StatusOK {
		out["endpoints_error"] = http.StatusText(status)
	}
	writeJSON(w, http.StatusOK, out)
}

// endpoints lists the _inference endpoints through the Elasticsearch API,
// their secrets replaced by "set".
func (h *Handler) endpoints(ctx context.Context) ([]any, int) {
	if h.opts.Inference == nil {
		return []any{}, http.StatusNotFound
	}
	status, body := h.call(ctx, h.opts.Inference, http.MethodGet, "/_inference/_all", nil)
	var v struct {
		Endpoints []any `json:"endpoints"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &v) != nil {
		return []any{}, status
	}
	if v.Endpoints == nil {
		v.Endpoints = []any{}
	}
	redact(v.Endpoints)
	return v.Endpoints, http.StatusOK
}

// secretFields are service settings whose values are never shown.
var secretFields = map[string]bool{"access_key": true, "secret_key": true, "api_key": true, "session_token": true, "secret_access_key": true}

// redact replaces the values of secret fields, at any depth, with "set".
// The API never returns an endpoint's credentials; an amazonbedrock
// endpoint cannot exist without both, so its listing says they are set.
func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["inference_id"]; ok && t["service"] == "amazonbedrock" {
			t["secrets"] = map[string]any{"access_key": "set", "secret_key": "set"}
		}
		for k, x := range t {
			if secretFields[k] {
				t[k] = "set"
			} else {
				t[k] = redact(x)
			}
		}
	case []any:
		for i := range t {
			t[i] = redact(t[i])
		}
	}
	return v
}

// call runs an in-process request on h and returns its status and body.
func (h *Handler) call(ctx context.Context, target http.Handler, method, path string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadRequest, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	bw := &bufferWriter{header: http.Header{}}
	target.ServeHTTP(bw, req)
	if bw.status == 0 {
		bw.status = http.StatusOK
	}
	return bw.status, bw.buf.Bytes()
}

type bufferWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

// inference forwards the endpoints page's calls to the Elasticsearch API
// (create with PUT, update with PUT …/_update, delete, get), so that the form
// validates exactly as the API does and shows the API's own error.
func (h *Handler) inference(w http.ResponseWriter, r *http.Request) {
	if h.opts.Inference == nil {
		writeJSON(w, http.StatusNotFound, apiError{"the inference API is not available in this gateway"})
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, PUT, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, apiError{"method not allowed"})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{"request body: " + err.Error()})
		return
	}
	path := "/_inference/" + strings.TrimPrefix(r.PathValue("path"), "/")
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	if len(body) == 0 {
		body = nil
	}
	status, out := h.call(r.Context(), h.opts.Inference, r.Method, path, body)
	var v any
	if json.Unmarshal(out, &v) == nil {
		writeJSON(w, status, redact(v))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write(out)
}

// playgroundPaths are the gateway routes the playground may call.
var playgroundPaths = map[string]string{
	"chat":       "/v1/chat/completions",
	"embeddings": "/v1/embeddings",
	"images":     "/v1/images/generations",
}

// playground calls the gateway's own OpenAI route in-process, so the
// browser needs no API key. A streamed chat is passed through as it comes,
// followed by one "bedrock_request" event with the Bedrock requests it
// became; any other answer comes back as {status, response,
// bedrock_requests}.
func (h *Handler) playground(w http.ResponseWriter, r *http.Request) {
	path, ok := playgroundPaths[r.PathValue("op")]
	if !ok || h.opts.Gateway == nil {
		writeJSON(w, http.StatusNotFound, apiError{"no such playground operation: " + r.PathValue("op")})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{"request body: " + err.Error()})
		return
	}
	var probe struct {
		Stream bool `json:"stream"`
	}
	json.Unmarshal(body, &probe)
	ctx, cp := withCapture(r.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if !probe.Stream {
		bw := &bufferWriter{header: http.Header{}}
		h.opts.Gateway.ServeHTTP(bw, req)
		if bw.status == 0 {
			bw.status = http.StatusOK
		}
		resp := json.RawMessage(bw.buf.Bytes())
		if !json.Valid(resp) {
			resp, _ = json.Marshal(bw.buf.String())
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": bw.status, "response": resp, "bedrock_requests": cp.list()})
		return
	}
	// The access log's recorder: it passes the stream through (Flush
	// included) and remembers its status.
	sw := &accesslog.Recorder{ResponseWriter: w}
	h.opts.Gateway.ServeHTTP(sw, req)
	if sw.Status == http.StatusOK && strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
		b, _ := json.Marshal(cp.list())
		w.Write(append(append([]byte("event: bedrock_request\ndata: "), b...), '\n', '\n'))
		http.NewResponseController(w).Flush()
	}
}
