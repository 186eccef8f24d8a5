package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/quarry-dev/quarry/bedrock"
)

// model decodes one entry of models/embeddings/images.
func (d *decoder) model(n *yaml.Node, field string, kind Kind) (Model, bool) {
	m := Model{Kind: kind, Line: n.Line}
	before := len(d.problems)
	f := d.mapping(n, field, "name", "from", "aliases", "description", "params", "price", "targets", "strategy", "cooldown", "attempt_timeout", "fallbacks")
	if v, ok := f["name"]; ok {
		m.Name, _ = d.str(v, field+".name")
		if m.Name != "" && (len(m.Name) > 256 || !modelNamePattern.MatchString(m.Name)) {
			d.problem(v, field+".name", fmt.Sprintf("%q may contain only letters, digits, '.', '_', ':', '/' and '-' (at most 256)", m.Name))
		}
	} else {
		d.problem(n, field+".name", "required")
	}
	v, hasFrom := f["from"]
	_, hasTargets := f["targets"]
	switch {
	case hasFrom && hasTargets:
		d.problem(v, field+".from", "cannot be combined with targets (give each target its own from)")
	case hasFrom:
		m.ModelID = d.from(v, field+".from", kind)
	case !hasTargets:
		d.problem(n, field+".from", "required (bedrock:<model id>), or targets")
	}
	if v, ok := f["aliases"]; ok {
		d.aliases(v, field+".aliases", &m)
	}
	if v, ok := f["description"]; ok {
		m.Description, _ = d.str(v, field+".description")
	}
	if v, ok := f["params"]; ok {
		d.params(v, field+".params", &m)
	}
	if v, ok := f["price"]; ok {
		m.Price = d.price(v, field+".price")
	}
	d.routing(n, f, field, &m) // targets.go
	if kind == KindChat && m.Shaping.MediaURLHandler == nil {
		d.defaultShaping(&m) // no params
	}
	if kind == KindImage && m.Image.Width == 0 {
		m.Image.Width, m.Image.Height = 1024, 1024
	}
	if kind == KindImage && m.Image.MaxImages == 0 {
		m.Image.MaxImages = 10
	}
	return m, len(d.problems) == before
}

// from decodes a from: value (bedrock:<model id>) and returns the model ID.
func (d *decoder) from(v *yaml.Node, field string, kind Kind) string {
	from, _ := d.str(v, field)
	id, ok := strings.CutPrefix(from, "bedrock:")
	if !ok {
		d.problem(v, field, fmt.Sprintf("must start with bedrock: followed by a model ID, inference-profile ID or ARN (got %q)", from))
		return ""
	}
	if err := checkModelID(id, kind); err != nil {
		d.problem(v, field, err.Error())
	}
	return id
}

// modelNamePattern and a length of at most 256 is a model name's rule (a
// bounded repetition, {1,256}, would compile to 256 copies of the class).
var modelNamePattern = regexp.MustCompile(`^[A-Za-z0-9._:/-]+$`)

var (
	// Foundation-model and inference-profile IDs: provider.model[-vN][:N],
	// optionally behind a cross-region prefix (us., eu., apac., global., ...).
	modelIDPattern = regexp.MustCompile(`^([a-z]{2,7}\.)?[a-z0-9-]+\.[A-Za-z0-9._:-]+$`)
	// Bedrock resource ARNs accepted as a modelId.
	modelARNPattern = regexp.MustCompile(`^arn:aws(-[a-z]+)*:bedrock:[a-z0-9-]{1,20}:([0-9]{12})?:(foundation-model|inference-profile|application-inference-profile|provisioned-model|custom-model|custom-model-deployment|imported-model|prompt|prompt-router|default-prompt-router)/[A-Za-z0-9._:/+-]+$`)
)

func checkModelID(id string, kind Kind) error {
	switch {
	case id == "":
		return fmt.Errorf("the model ID after bedrock: is empty")
	case len(id) > 2048:
		return fmt.Errorf("the model ID is longer than 2048 characters")
	case strings.HasPrefix(id, "arn:"):
		if !modelARNPattern.MatchString(id) {
			return fmt.Errorf("%q is not a Bedrock model or inference-profile ARN (arn:aws:bedrock:<region>:<account>:<foundation-model|inference-profile|application-inference-profile|provisioned-model|custom-model|imported-model>/<id>)", id)
		}
		if kind == KindChat && strings.Contains(id, ":imported-model/") {
			return fmt.Errorf("imported models cannot serve chat: the Converse API does not support them")
		}
	case !modelIDPattern.MatchString(id):
		return fmt.Errorf("%q is not a Bedrock model ID (provider.model-name[:version], e.g. amazon.nova-lite-v1:0 or us.amazon.nova-lite-v1:0)", id)
	case kind == KindRerank && !strings.Contains(id, ".rerank-"):
		return fmt.Errorf("%q is not a Bedrock rerank model (amazon.rerank-v1:0 or cohere.rerank-v3-5:0)", id)
	}
	// A model listed under the wrong kind would only fail on its first
	// request; catch it here. IDs whose family is unknown (most ARNs)
	// cannot be checked.
	if want, ok := kindOfFamily(bedrock.ModelFamily(id)); ok && want != kind {
		return fmt.Errorf("%q is %s %s model: list it under %q, not %q", id, article(want), want, want.section(), kind.section())
	}
	return nil
}

// kindOfFamily is the kind of model a family serves; false when the family
// is unknown.
func kindOfFamily(f bedrock.Family) (Kind, bool) {
	switch {
	case f == bedrock.FamilyUnknown:
		return 0, false
	case f.IsEmbedding():
		return KindEmbedding, true
	case f.IsImage():
		return KindImage, true
	}
	return KindChat, true
}

// article is "a" or "an" before a kind's name.
func article(k Kind) string {
	if k == KindChat {
		return "a"
	}
	return "an"
}

// Guardrail patterns from the Bedrock service model (and Spice.ai's checks).
var (
	guardrailIDPattern      = regexp.MustCompile(`^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+))$`)
	guardrailVersionPattern = regexp.MustCompile(`^(([1-9][0-9]{0,7})|(DRAFT))$`)
)

// overridable are the request parameters a model may default with
// bedrock_<param> (Spice.ai's list, plus top_k and max_tokens).
var overridable = map[string]func(d *decoder, n *yaml.Node, field string) (any, bool){
	"temperature":            floatParam(0, 1),
	"top_p":                  floatParam(0, 1),
	"top_k":                  intParam(0, 1<<31),
	"max_completion_tokens":  intParam(1, 1<<31),
	"max_tokens":             intParam(1, 1<<31),
	"stop":                   stopParam,
	"reasoning_effort":       enumParam("none", "minimal", "low", "medium", "high"),
	"frequency_penalty":      floatParam(-2, 2),
	"presence_penalty":       floatParam(-2, 2),
	"logit_bias":             anyParam,
	"logprobs":               boolParam,
	"top_logprobs":           intParam(0, 20),
	"store":                  boolParam,
	"metadata":               anyParam,
	"n":                      intParam(1, 1),
	"response_format":        anyParam,
	"seed":                   intParam(-1<<53, 1<<53),
	"stream":                 boolParam,
	"stream_options":         anyParam,
	"tool_choice":            anyParam,
	"parallel_tool_calls":    boolParam,
	"prompt_cache_key":       stringParam,
	"prompt_cache_retention": stringParam,
	"user":                   stringParam,
}

func floatParam(min, max float64) func(*decoder, *yaml.Node, string) (any, bool) {
	return func(d *decoder, n *yaml.Node, field string) (any, bool) { return d.float(n, field, min, max) }
}

func intParam(min, max int64) func(*decoder, *yaml.Node, string) (any, bool) {
	return func(d *decoder, n *yaml.Node, field string) (any, bool) { return d.integer(n, field, min, max) }
}

func enumParam(allowed ...string) func(*decoder, *yaml.Node, string) (any, bool) {
	return func(d *decoder, n *yaml.Node, field string) (any, bool) {
		v := d.enum(n, field, allowed...)
		return v, v != ""
	}
}

func boolParam(d *decoder, n *yaml.Node, field string) (any, bool)   { return d.boolean(n, field) }
func stringParam(d *decoder, n *yaml.Node, field string) (any, bool) { return d.str(n, field) }
func anyParam(d *decoder, n *yaml.Node, field string) (any, bool)    { return d.value(n, field) }

func stopParam(d *decoder, n *yaml.Node, field string) (any, bool) {
	l, ok := d.strList(n, field)
	if !ok {
		return nil, false
	}
	out := make([]any, len(l))
	for i, s := range l {
		if s == "" {
			d.problem(n, field, "stop sequences must not be empty")
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// commonParams apply to every kind.
var commonParams = []string{
	"aws_region", "aws_profile", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
	"aws_role_arn", "aws_external_id", "bedrock_api_key", "endpoint_url",
	"max_concurrent_invocations", "requests_per_min_limit", "tokens_per_min_limit",
}

var kindParams = map[Kind][]string{
	KindChat:      append([]string{"bedrock_guardrail_identifier", "bedrock_guardrail_version", "bedrock_trace", "system_prompt", "anthropic_betas", "citations"}, shapingParams...),
	KindEmbedding: {"dimensions", "normalize", "input_type", "truncate", "embedding_purpose", "truncation_mode"},
	KindImage:     {"size", "quality", "cfg_scale", "seed", "style", "negative_text", "max_images"},
	KindRerank:    nil,
}

var novaCanvasStyles = []string{"3D_ANIMATED_FAMILY_FILM", "DESIGN_SKETCH", "FLAT_VECTOR_ILLUSTRATION",
	"GRAPHIC_NOVEL_ILLUSTRATION", "MAXIMALISM", "MIDCENTURY_RETRO", "PHOTOREALISM", "SOFT_DIGITAL_PAINTING"}

func (d *decoder) params(n *yaml.Node, field string, m *Model) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, field, "must be a mapping")
		return
	}
	allowed := map[string]bool{}
	for _, p := range commonParams {
		allowed[p] = true
	}
	for _, p := range kindParams[m.Kind] {
		allowed[p] = true
	}
	var guardNode *yaml.Node
	var shaping *shapingState
	if m.Kind == KindChat {
		m.Shaping, shaping = newShaping()
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, path := k.Value, field+"."+k.Value
		if !allowed[key] {
			if m.Kind == KindChat {
				if name, ok := strings.CutPrefix(key, "bedrock_"); ok {
					d.override(m, v, path, name)
					continue
				}
				if name, ok := strings.CutPrefix(key, "openai_"); ok {
					// Spice.ai's older spelling of the same defaults.
					d.override(m, v, path, name)
					continue
				}
			}
			d.problem(k, path, fmt.Sprintf("unknown parameter for a %s model (allowed: %s)", m.Kind, strings.Join(paramNames(m.Kind), ", ")))
			continue
		}
		if d.awsParam(&m.AWS, key, v, path) {
			continue
		}
		switch key {
		case "bedrock_guardrail_identifier":
			guardNode = v
			id, _ := d.str(v, path)
			if len(id) > 2048 || !guardrailIDPattern.MatchString(id) {
				d.problem(v, path, fmt.Sprintf("%q is not a guardrail ID or ARN (e.g. abc123 or arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123)", id))
			}
			d.guardrail(m).Identifier = id
		case "bedrock_guardrail_version":
			ver, _ := d.str(v, path)
			if !guardrailVersionPattern.MatchString(ver) {
				d.problem(v, path, fmt.Sprintf("%q must be a version number (1-99999999) or DRAFT", ver))
			}
			d.guardrail(m).Version = ver
		case "bedrock_trace":
			d.guardrail(m).Trace = d.enum(v, path, "disabled", "enabled", "enabled_full")
		case "system_prompt":
			m.SystemPrompt, _ = d.str(v, path)
		case "anthropic_betas":
			d.anthropicBetas(v, path, m)
		case "citations":
			m.Citations, _ = d.boolean(v, path)
		case "dimensions", "normalize", "input_type", "truncate", "embedding_purpose", "truncation_mode":
			d.embeddingParam(m, key, v, path)
		case "default_role", "allowed_roles", "remap_roles", "allowed_role_metadata", "finish_reason_allow_list",
			"finish_reason_deny_list", "supports_streaming", "media_url_handler", "additional_model_request_fields",
			"inference_configuration":
			d.shapingParam(m, shaping, key, v, path)
		default:
			d.imageParam(m, key, v, path)
		}
	}
	if shaping != nil {
		d.finishShaping(n, field, m, shaping)
	}
	d.checkCredentials(n, field, m.AWS)
	if g := m.Guardrail; g != nil {
		switch {
		case g.Identifier == "":
			d.problem(n, field+".bedrock_guardrail_identifier", "required when bedrock_guardrail_version or bedrock_trace is set")
		case g.Version == "":
			d.problem(guardNode, field+".bedrock_guardrail_version", "required with bedrock_guardrail_identifier (a version number or DRAFT)")
		}
		if g.Trace == "" {
			g.Trace = "disabled"
		}
	}
}

// awsParam decodes one of the commonParams (how a model or target reaches
// Bedrock) into a; false when key is not one of them.
func (d *decoder) awsParam(a *AWS, key string, v *yaml.Node, path string) bool {
	switch key {
	case "aws_region":
		a.Region, _ = d.str(v, path)
		if a.Region != "" && !regionPattern.MatchString(a.Region) {
			d.problem(v, path, fmt.Sprintf("%q is not an AWS region name", a.Region))
		}
	case "aws_profile":
		a.Profile, _ = d.str(v, path)
	case "aws_access_key_id":
		a.AccessKeyID = d.secret(v, path)
	case "aws_secret_access_key":
		a.SecretAccessKey = d.secret(v, path)
	case "aws_session_token":
		a.SessionToken = d.secret(v, path)
	case "aws_role_arn":
		a.RoleARN, _ = d.str(v, path)
		if a.RoleARN != "" && !roleARNPattern.MatchString(a.RoleARN) {
			d.problem(v, path, fmt.Sprintf("%q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", a.RoleARN))
		}
	case "aws_external_id":
		a.ExternalID = d.secret(v, path)
	case "bedrock_api_key":
		a.APIKey = d.secret(v, path)
	case "endpoint_url":
		a.EndpointURL, _ = d.str(v, path)
		if a.EndpointURL != "" && !endpointPattern.MatchString(a.EndpointURL) {
			d.problem(v, path, fmt.Sprintf("%q must be an absolute http(s) URL", a.EndpointURL))
		}
	case "max_concurrent_invocations":
		c, _ := d.integer(v, path, 1, 100000)
		a.MaxConcurrent = int(c)
	case "requests_per_min_limit":
		r, _ := d.integer(v, path, 1, 10_000_000)
		a.RequestsPerMinute = int(r)
	case "tokens_per_min_limit":
		t, _ := d.integer(v, path, 1, 1_000_000_000)
		a.TokensPerMinute = int(t)
	default:
		return false
	}
	return true
}

// checkCredentials reports credential params that cannot go together.
func (d *decoder) checkCredentials(n *yaml.Node, field string, a AWS) {
	switch {
	case a.AccessKeyID != "" && a.SecretAccessKey == "":
		d.problem(n, field+".aws_secret_access_key", "required when aws_access_key_id is set")
	case a.SecretAccessKey != "" && a.AccessKeyID == "":
		d.problem(n, field+".aws_access_key_id", "required when aws_secret_access_key is set")
	case a.SessionToken != "" && a.AccessKeyID == "":
		d.problem(n, field+".aws_access_key_id", "aws_session_token needs aws_access_key_id and aws_secret_access_key")
	}
	if a.Profile != "" && a.AccessKeyID != "" {
		d.problem(n, field+".aws_profile", "cannot be combined with aws_access_key_id/aws_secret_access_key")
	}
	if a.APIKey != "" && (a.AccessKeyID != "" || a.Profile != "" || a.RoleARN != "") {
		d.problem(n, field+".bedrock_api_key", "cannot be combined with AWS credentials (keys, profile or role)")
	}
	if a.ExternalID != "" && a.RoleARN == "" {
		d.problem(n, field+".aws_external_id", "requires aws_role_arn")
	}
}

var (
	regionPattern   = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$`)
	roleARNPattern  = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]+$`)
	endpointPattern = regexp.MustCompile(`^https?://[^/?#\s]+(/[^?#\s]*)?$`)
)

func paramNames(k Kind) []string {
	names := append(append([]string(nil), commonParams...), kindParams[k]...)
	if k == KindChat {
		names = append(names, "bedrock_<request parameter>")
	}
	return names
}

func (d *decoder) guardrail(m *Model) *Guardrail {
	if m.Guardrail == nil {
		m.Guardrail = &Guardrail{}
	}
	return m.Guardrail
}

func (d *decoder) override(m *Model, v *yaml.Node, path, name string) {
	parse, ok := overridable[name]
	if !ok {
		names := make([]string, 0, len(overridable))
		for k := range overridable {
			names = append(names, "bedrock_"+k)
		}
		d.problem(v, path, "unknown request parameter (allowed: "+strings.Join(sorted(names), ", ")+")")
		return
	}
	val, ok := parse(d, v, path)
	if !ok {
		return
	}
	if i, isInt := val.(int64); isInt {
		val = float64(i) // JSON numbers, as a request body decodes them
	}
	if m.Defaults == nil {
		m.Defaults = map[string]any{}
	}
	m.Defaults[name] = val
}

// Embedding dimensions each family accepts.
var embeddingDims = []struct {
	match string
	dims  []int
}{
	{"titan-embed-text-v2", []int{256, 512, 1024}},
	{"titan-embed-text-v1", []int{1536}},
	{"titan-embed-g1-text", []int{1536}},
	{"cohere.embed-v4", []int{256, 512, 1024, 1536}},
	{"cohere.embed-", []int{1024}},
	{"nova-2-multimodal-embeddings", []int{256, 384, 1024, 3072}},
}

func (d *decoder) embeddingParam(m *Model, key string, v *yaml.Node, path string) {
	e := &m.Embedding
	cohere := strings.Contains(m.ModelID, "cohere.embed")
	switch key {
	case "dimensions":
		n, ok := d.integer(v, path, 1, 100000)
		if !ok {
			return
		}
		for _, f := range embeddingDims {
			if strings.Contains(m.ModelID, f.match) && !containsInt(f.dims, int(n)) {
				d.problem(v, path, fmt.Sprintf("%s accepts %s (got %d)", m.ModelID, joinInts(f.dims), n))
				return
			}
		}
		e.Dimensions = int(n)
	case "normalize":
		b, ok := d.boolean(v, path)
		if ok {
			e.Normalize = &b
		}
	case "input_type":
		e.InputType = d.enum(v, path, "search_document", "search_query", "classification", "clustering")
	case "truncate":
		if strings.Contains(m.ModelID, "embed-v4") {
			e.Truncate = d.enum(v, path, "NONE", "LEFT", "RIGHT")
		} else {
			e.Truncate = d.enum(v, path, "NONE", "START", "END")
		}
	case "embedding_purpose":
		e.EmbeddingPurpose = d.enum(v, path, "GENERIC_INDEX", "GENERIC_RETRIEVAL", "TEXT_RETRIEVAL", "IMAGE_RETRIEVAL",
			"VIDEO_RETRIEVAL", "DOCUMENT_RETRIEVAL", "AUDIO_RETRIEVAL", "CLASSIFICATION", "CLUSTERING")
	case "truncation_mode":
		e.TruncationMode = d.enum(v, path, "START", "END", "NONE")
	}
	if (key == "input_type" || key == "truncate") && !cohere && strings.Contains(m.ModelID, "titan") {
		d.problem(v, path, "applies to Cohere embedding models only")
	}
}

func (d *decoder) imageParam(m *Model, key string, v *yaml.Node, path string) {
	im := &m.Image
	switch key {
	case "size":
		s, ok := d.str(v, path)
		if !ok {
			return
		}
		w, h, err := ParseImageSize(s)
		if err != nil {
			d.problem(v, path, err.Error())
			return
		}
		im.Width, im.Height = w, h
	case "quality":
		im.Quality = d.enum(v, path, "standard", "premium")
	case "cfg_scale":
		f, ok := d.float(v, path, 1.1, 10)
		if ok {
			im.CfgScale = &f
		}
	case "seed":
		// Nova Canvas takes 0-858,993,459; Titan Image 0-2,147,483,646.
		max := int64(2147483646)
		if strings.Contains(m.ModelID, "nova-canvas") {
			max = 858993459
		}
		s, ok := d.integer(v, path, 0, max)
		if ok {
			im.Seed = &s
		}
	case "style":
		if !strings.Contains(m.ModelID, "nova-canvas") {
			d.problem(v, path, "style presets exist for Nova Canvas only")
			return
		}
		im.Style = d.enum(v, path, novaCanvasStyles...)
	case "negative_text":
		im.NegativeText, _ = d.str(v, path)
	case "max_images":
		n, ok := d.integer(v, path, 1, 100)
		if ok {
			im.MaxImages = int(n)
		}
	}
}

// ParseImageSize parses WIDTHxHEIGHT and checks Bedrock's image size rules:
// each side 320 to 4096 pixels and a multiple of 16, aspect ratio between
// 1:4 and 4:1, and fewer than 4,194,304 pixels in all.
func ParseImageSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%q must be WIDTHxHEIGHT, e.g. 1024x1024", s)
	}
	switch {
	case w < 320 || w > 4096 || h < 320 || h > 4096:
		return 0, 0, fmt.Errorf("%dx%d: each side must be between 320 and 4096 pixels", w, h)
	case w%16 != 0 || h%16 != 0:
		return 0, 0, fmt.Errorf("%dx%d: each side must be a multiple of 16", w, h)
	case w > 4*h || h > 4*w:
		return 0, 0, fmt.Errorf("%dx%d: the aspect ratio must be between 1:4 and 4:1", w, h)
	case w*h >= 4194304:
		return 0, 0, fmt.Errorf("%dx%d: the image must have fewer than 4,194,304 pixels", w, h)
	}
	return w, h, nil
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func joinInts(l []int) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

// aliases decodes a model's other names (e.g. the Anthropic model names
// clients have built in); their uniqueness is checked with the names.
func (d *decoder) aliases(n *yaml.Node, field string, m *Model) {
	m.Aliases = d.matchingList(n, field, modelNamePattern, "may contain only letters, digits, '.', '_', ':', '/' and '-'")
}

// anthropicBetas decodes the anthropic_betas allowlist: the anthropic-beta
// values the Messages API passes on to this model (an empty list passes
// none).
func (d *decoder) anthropicBetas(n *yaml.Node, field string, m *Model) {
	m.AnthropicBetas = d.matchingList(n, field, betaPattern, "is not an anthropic-beta value (lower-case words and digits joined by '-', e.g. interleaved-thinking-2025-05-14)")
}

// matchingList decodes a string or list of strings, each matching re (a
// problem saying rule for the others, which are left out). An empty list
// is not nil.
func (d *decoder) matchingList(n *yaml.Node, field string, re *regexp.Regexp, rule string) []string {
	l, ok := d.strList(n, field)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for i, v := range l {
		if !re.MatchString(v) {
			d.problem(n, fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q %s", v, rule))
			continue
		}
		out = append(out, v)
	}
	return out
}

var betaPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
