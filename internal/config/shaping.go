package config

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/quarry-dev/quarry/bedrock/shaping"
)

// This file holds a chat model's request-shaping params, after BAML's
// aws-bedrock client options: roles, finish reasons, the streaming switch,
// media URL handling, additional model request fields and the inference
// configuration. They live in a chat model's params beside the others:
//
//	params:
//	  allowed_roles: [user, assistant]   # system messages become user messages
//	  remap_roles: {assistant: assistant}
//	  allowed_role_metadata: [cache_control, cachePoint]
//	  finish_reason_deny_list: [length]
//	  supports_streaming: false
//	  media_url_handler: {image: send_url, pdf: send_base64}
//	  additional_model_request_fields: {top_k: 50}
//	  inference_configuration: {max_tokens: 512, temperature: 0.2}
//
// It also holds the server's media fetching limits (server.media).

// Shaping is how the gateway shapes a chat model's requests and checks its
// answers. A loaded config has every field resolved to its default; the
// zero Shaping means the defaults too (models built in code).
//
// The library's shaping.Options holds the options and their rules
// (Validate, Role, CheckFinish, Apply); the config decodes them and reports
// Validate's problems at their YAML lines. Options.Inference and
// Options.TopK stay nil here: inference_configuration and bedrock_top_k
// become the model's OpenAI request defaults (Model.Defaults), which the
// gateway applies with the request's own parameters.
type Shaping struct {
	shaping.Options
	// MediaURLHandler is the mode for each media type (image, audio, pdf,
	// video): send_base64, send_url, send_url_add_mime_type or
	// send_base64_unless_google_url. Defaults: send_base64 for image, audio
	// and pdf, send_url for video (BAML's Bedrock defaults).
	MediaURLHandler map[string]string
}

// Media URL handler modes.
const (
	MediaSendBase64             = "send_base64"
	MediaSendURL                = "send_url"
	MediaSendURLAddMIMEType     = "send_url_add_mime_type"
	MediaSendBase64UnlessGoogle = "send_base64_unless_google_url"
)

// Media fetching defaults (server.media).
const (
	DefaultMediaMaxBytes     = 20 << 20
	DefaultMediaTimeout      = 30 * time.Second
	DefaultMediaMaxRedirects = 5
)

// Media limits the gateway's own fetching of media URLs in requests.
type Media struct {
	MaxBytes     int64
	Timeout      time.Duration
	MaxRedirects int
	// TrustedHosts may be fetched from even when they resolve to loopback,
	// private, link-local or metadata addresses (host or host:port).
	TrustedHosts []string
}

var (
	shapingMediaTypes = []string{"image", "audio", "pdf", "video"}
	shapingMediaModes = []string{MediaSendBase64, MediaSendURL, MediaSendURLAddMIMEType, MediaSendBase64UnlessGoogle}
	// inferenceConfiguration maps inference_configuration's keys to the
	// request defaults they set (OpenAI names, as bedrock_<param> sets them).
	inferenceConfiguration = map[string]string{
		"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "stop_sequences": "stop",
	}
)

// shapingParams are the chat params this file decodes.
var shapingParams = []string{
	"default_role", "allowed_roles", "remap_roles", "allowed_role_metadata",
	"finish_reason_allow_list", "finish_reason_deny_list", "supports_streaming",
	"media_url_handler", "additional_model_request_fields", "inference_configuration",
}

// shapingState carries what finishShaping needs: the nodes, for lines.
type shapingState struct {
	nodes map[string]*yaml.Node
	// inference are the defaults inference_configuration sets, applied
	// after every param is read so that clashes with bedrock_<param> show.
	inference map[string]any
}

// shapingParam decodes one shaping param of a chat model.
func (d *decoder) shapingParam(m *Model, st *shapingState, key string, v *yaml.Node, path string) {
	s := &m.Shaping
	st.nodes[key] = v
	switch key {
	case "default_role":
		s.DefaultRole = d.enum(v, path, shaping.Roles...)
	case "allowed_roles":
		s.AllowedRoles, _ = d.strList(v, path)
	case "remap_roles":
		s.RemapRoles = d.roleMap(v, path)
	case "allowed_role_metadata":
		s.AllowedRoleMetadata, _ = d.strList(v, path)
	case "finish_reason_allow_list":
		s.FinishReasonAllowList = d.finishList(v, path)
	case "finish_reason_deny_list":
		s.FinishReasonDenyList = d.finishList(v, path)
	case "supports_streaming":
		b, ok := d.boolean(v, path)
		if ok {
			s.NoStreaming = !b
		}
	case "media_url_handler":
		for k, mv := range d.mapping(v, path, shapingMediaTypes...) {
			if mode := d.enum(mv, path+"."+k, shapingMediaModes...); mode != "" {
				s.MediaURLHandler[k] = mode
			}
		}
	case "additional_model_request_fields":
		if v.Kind != yaml.MappingNode {
			d.problem(v, path, "must be a mapping of the model's native request fields, e.g. {top_k: 50}")
			return
		}
		if val, ok := d.value(v, path); ok {
			s.AdditionalModelRequestFields = val.(map[string]any)
		}
	case "inference_configuration":
		f := d.mapping(v, path, "max_tokens", "temperature", "top_p", "stop_sequences")
		for k, n := range f {
			p := path + "." + k
			st.nodes["inference_configuration."+k] = n
			var val any
			var ok bool
			switch k {
			case "max_tokens":
				val, ok = intParam(1, 1<<31)(d, n, p)
			case "temperature", "top_p":
				val, ok = floatParam(0, 1)(d, n, p)
			case "stop_sequences":
				val, ok = stopParam(d, n, p)
			}
			if ok {
				if i, isInt := val.(int64); isInt {
					val = float64(i)
				}
				st.inference[inferenceConfiguration[k]] = val
			}
		}
	}
}

// roleMap decodes remap_roles (shaping.Options.Validate checks the roles).
func (d *decoder) roleMap(n *yaml.Node, path string) map[string]string {
	out := map[string]string{}
	for from, v := range d.mapping(n, path) {
		if to, ok := d.str(v, path+"."+from); ok {
			out[from] = to
		}
	}
	return out
}

// finishList decodes a finish-reason list, lower-cased (matching is
// case-insensitive; shaping.Options.Validate checks the names).
func (d *decoder) finishList(n *yaml.Node, path string) []string {
	l, ok := d.strList(n, path)
	if !ok {
		return nil
	}
	out := []string{}
	for _, r := range l {
		out = append(out, strings.ToLower(strings.TrimSpace(r)))
	}
	return out
}

// newShaping returns a chat model's shaping with every default set.
func newShaping() (Shaping, *shapingState) {
	return Shaping{
		MediaURLHandler: map[string]string{
			"image": MediaSendBase64, "audio": MediaSendBase64, "pdf": MediaSendBase64, "video": MediaSendURL,
		},
	}, &shapingState{nodes: map[string]*yaml.Node{}, inference: map[string]any{}}
}

// defaultShaping gives a chat model without params the default shaping.
func (d *decoder) defaultShaping(m *Model) {
	s, st := newShaping()
	m.Shaping = s
	d.finishShaping(nil, "", m, st)
}

// finishShaping checks the shaping params together and resolves defaults.
func (d *decoder) finishShaping(_ *yaml.Node, field string, m *Model, st *shapingState) {
	s := &m.Shaping
	if err := s.Validate(); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			fe := e.(*shaping.FieldError)
			d.problem(shapingNode(st.nodes, fe.Field), field+"."+fe.Field, fe.Problem)
		}
	}
	s.AllowedRoles, s.DefaultRole = s.EffectiveRoles()
	// Keep only the remappings Validate accepted: a config with problems
	// is refused anyway, and the rest of the model must still resolve.
	for from, to := range s.RemapRoles {
		if !contains(s.AllowedRoles, from) || !contains(shaping.Roles, to) {
			delete(s.RemapRoles, from)
		}
	}
	for _, k := range sortedKeys(st.inference) {
		clash := []string{k}
		if a := map[string]string{"max_tokens": "max_completion_tokens"}[k]; a != "" {
			clash = append(clash, a)
		}
		for _, c := range clash {
			if _, set := m.Defaults[c]; set {
				ik := k
				if k == "stop" {
					ik = "stop_sequences"
				}
				d.problem(st.nodes["inference_configuration."+ik], field+".inference_configuration."+ik,
					fmt.Sprintf("also set by bedrock_%s: set it in one place", c))
			}
		}
		if m.Defaults == nil {
			m.Defaults = map[string]any{}
		}
		if _, set := m.Defaults[k]; !set {
			m.Defaults[k] = st.inference[k]
		}
	}
}

// serverMedia decodes server.media.
func (d *decoder) serverMedia(n *yaml.Node, m *Media) {
	f := d.mapping(n, "server.media", "max_bytes", "timeout", "max_redirects", "trusted_hosts")
	if v, ok := f["max_bytes"]; ok {
		if b, ok := d.bytes(v, "server.media.max_bytes"); ok {
			m.MaxBytes = b
		}
	}
	if v, ok := f["timeout"]; ok {
		if t, ok := d.duration(v, "server.media.timeout"); ok {
			if t == 0 {
				d.problem(v, "server.media.timeout", "must be more than 0")
			} else {
				m.Timeout = t
			}
		}
	}
	if v, ok := f["max_redirects"]; ok {
		if r, ok := d.integer(v, "server.media.max_redirects", 1, 20); ok {
			m.MaxRedirects = int(r)
		}
	}
	if v, ok := f["trusted_hosts"]; ok {
		l, _ := d.strList(v, "server.media.trusted_hosts")
		for i, h := range l {
			h = strings.ToLower(strings.TrimSpace(h))
			if h == "" || strings.ContainsAny(h, "/ ?#@") {
				d.problem(v, fmt.Sprintf("server.media.trusted_hosts[%d]", i), fmt.Sprintf("%q must be a host name or IP address, optionally with :port", h))
				continue
			}
			m.TrustedHosts = append(m.TrustedHosts, h)
		}
	}
}

// shapingNode is the YAML node of a shaping.FieldError's field, for its
// line: the element (allowed_roles[2], remap_roles.user) when it can be
// found, else the param.
func shapingNode(nodes map[string]*yaml.Node, field string) *yaml.Node {
	key, rest, _ := strings.Cut(field, ".")
	key, idx, _ := strings.Cut(key, "[")
	n := nodes[key]
	if rest != "" {
		if n2, ok := nodes[key+"."+rest]; ok { // inference_configuration.<k>
			return n2
		}
	}
	if n == nil {
		return nil
	}
	switch {
	case idx != "" && n.Kind == yaml.SequenceNode:
		var i int
		if _, err := fmt.Sscanf(idx, "%d]", &i); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i]
		}
	case rest != "" && n.Kind == yaml.MappingNode:
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == rest {
				return n.Content[j+1]
			}
		}
	}
	return n
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
