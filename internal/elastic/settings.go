package elastic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The one service this API offers, as Elasticsearch names it.
const serviceName = "amazonbedrock"

// The task types served, as Elasticsearch names them.
const (
	taskCompletion     = "completion"
	taskChatCompletion = "chat_completion"
	taskTextEmbedding  = "text_embedding"
)

// servedTasks are the amazonbedrock service's task types.
var servedTasks = []string{taskTextEmbedding, taskCompletion, taskChatCompletion}

// esTaskTypes are every task type Elasticsearch knows: another word is
// "Unknown task_type [x]", a known one Bedrock does not serve is "not
// supported by the service".
var esTaskTypes = []string{"text_embedding", "sparse_embedding", "rerank", "completion", "chat_completion", "embedding"}

// parseTaskType reads a task type as Elasticsearch does (trimmed, any case).
func parseTaskType(s string) (string, *Error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(esTaskTypes, t) {
		return "", unknownTaskType(s)
	}
	return t, nil
}

// Providers and what each may do (AmazonBedrockProviderCapabilities).
var (
	providers           = []string{"amazontitan", "anthropic", "ai21labs", "cohere", "meta", "mistral"}
	completionProviders = providers
	embeddingProviders  = []string{"amazontitan", "cohere"}
	topKProviders       = []string{"anthropic", "cohere", "mistral"}
	similarities        = []string{"cosine", "dot_product", "l2_norm"}
	truncations         = []string{"end", "none", "start"}
)

// defaultRequestsPerMinute is Elasticsearch's amazonbedrock default.
const defaultRequestsPerMinute = 240

// Batch sizes of one InvokeModel embedding call, as Elasticsearch sends them.
const (
	titanBatch  = 1
	cohereBatch = 96
)

// Settings is a validated endpoint without its secrets. It is what is
// stored (as service_settings and task_settings JSON) and what is shown.
type Settings struct {
	ID                string
	TaskType          string
	Region            string
	Model             string
	Provider          string // lower case
	RequestsPerMinute int64
	// text_embedding: detected at creation, never set by the user.
	Dimensions     int
	Similarity     string
	MaxInputTokens int
	Task           TaskSettings
	// Chunking is text_embedding's chunking_settings (nil for the other
	// task types, which Elasticsearch shows without them).
	Chunking *Chunking
}

// TaskSettings are the completion parameters (completion, chat_completion)
// or the embedding truncation (text_embedding, Cohere only).
type TaskSettings struct {
	Temperature  *float64 `json:"temperature,omitempty"`
	TopP         *float64 `json:"top_p,omitempty"`
	TopK         *float64 `json:"top_k,omitempty"`
	MaxNewTokens *int     `json:"max_new_tokens,omitempty"`
	Truncate     string   `json:"truncate,omitempty"`
}

// override returns t with every field req sets replaced: per-request task
// settings win over the stored ones, field by field.
func (t TaskSettings) override(req TaskSettings) TaskSettings {
	if req.Temperature != nil {
		t.Temperature = req.Temperature
	}
	if req.TopP != nil {
		t.TopP = req.TopP
	}
	if req.TopK != nil {
		t.TopK = req.TopK
	}
	if req.MaxNewTokens != nil {
		t.MaxNewTokens = req.MaxNewTokens
	}
	if req.Truncate != "" {
		t.Truncate = req.Truncate
	}
	return t
}

// Credentials are an endpoint's AWS keys (Elasticsearch's secret settings).
type Credentials struct {
	AccessKey string
	SecretKey string
}

// Names of the secret settings, as stored.
const (
	secretAccessKey = "access_key"
	secretSecretKey = "secret_key"
)

// validID is Elasticsearch's rule for inference IDs (MlStrings.isValidId).
var validID = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9_\-\.]*[a-z0-9])?$`)

const maxIDLength = 64

// checkID is the request's validate() (PutInferenceModelAction,
// UpdateInferenceModelAction): an ActionRequestValidationException, checked
// before anything else.
func checkID(id string) *Error {
	var v validation
	if !validID.MatchString(id) {
		v.add("Invalid inference_id; '%s' can contain lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with alphanumeric", id)
	} else if len(id) > maxIDLength {
		v.add("Invalid inference_id; '%s' cannot contain more than %d characters", id, maxIDLength)
	}
	e := v.err()
	if e != nil {
		e.Type = "action_request_validation_exception"
	}
	return e
}

// object is a decoded JSON object whose numbers keep their text, so that
// integers and decimals are told apart as Elasticsearch's parser does.
type object map[string]any

func decodeObject(body []byte, what string) (object, *Error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, parseErr("Failed to parse %s: %s", what, jsonProblem(err))
	}
	if dec.More() {
		return nil, parseErr("Failed to parse %s: unexpected data after the JSON object", what)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, parseErr("Failed to parse %s: the body must be a JSON object", what)
	}
	return object(m), nil
}

// jsonProblem describes a decode error without quoting the input (which
// may carry secrets).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	}
	return "invalid JSON"
}

// take removes key from o and returns it (nil when absent or JSON null:
// Elasticsearch treats an explicit null as absent).
func (o object) take(key string) any {
	v, ok := o[key]
	if !ok {
		return nil
	}
	delete(o, key)
	return v
}

// takeObject removes a nested object; a value that is not an object is an
// error in Elasticsearch's words.
func (o object) takeObject(key string) (object, *Error) {
	v := o.take(key)
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest("%s", typeMsg(key, v, "Map"))
	}
	return object(m), nil
}

// typeMsg is ServiceUtils.invalidTypeErrorMsg. For a secret setting the
// value is not quoted (Elasticsearch quotes it): only its JSON type is named.
func typeMsg(key string, v any, want string) string {
	if isSecret(key) {
		return fmt.Sprintf("field [%s] is not of the expected type. The value of type [%s] cannot be converted to a [%s]", key, jsonType(v), want)
	}
	return fmt.Sprintf("field [%s] is not of the expected type. The value [%s] cannot be converted to a [%s]", key, javaString(v), want)
}

func isSecret(key string) bool { return key == secretAccessKey || key == secretSecretKey }

// jsonType names a decoded JSON value's type, for messages that must not
// quote the value.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case json.Number:
		return "Number"
	case bool:
		return "Boolean"
	case []any:
		return "List"
	case map[string]any, object:
		return "Map"
	}
	return "null"
}

// javaString prints a decoded JSON value as Java's toString would, so that
// messages quoting values read like Elasticsearch's.
func javaString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = javaString(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return javaMap(x)
	case object:
		return javaMap(x)
	}
	return fmt.Sprint(v)
}

func javaMap(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		if isSecret(k) {
			// Never echo a key, wherever it was misplaced.
			parts[i] = k + "=<" + jsonType(m[k]) + ">"
			continue
		}
		parts[i] = k + "=" + javaString(m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// javaDouble prints a float as Java's Double.toString does for ordinary
// values (1 -> "1.0").
func javaDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// unknownSettings is ServiceUtils.unknownSettingsError: what is left of a
// settings map after every known key was taken.
func unknownSettings(o object) *Error {
	if len(o) == 0 {
		return nil
	}
	return badRequest("Model configuration contains settings [%s] unknown to the [%s] service", javaMap(o), serviceName)
}

// requiredString is ServiceUtils.extractRequiredString.
func (o object) requiredString(key, scope string, v *validation) string {
	raw := o.take(key)
	if raw == nil {
		v.add("[%s] does not contain the required setting [%s]", scope, key)
		return ""
	}
	s, ok := raw.(string)
	if !ok {
		v.add("%s", typeMsg(key, raw, "String"))
		return ""
	}
	if s == "" {
		v.add("[%s] Invalid value empty string. [%s] must be a non-empty string", scope, key)
		return ""
	}
	return s
}

func (o object) optionalString(key, scope string, v *validation) string {
	raw := o.take(key)
	if raw == nil {
		return ""
	}
	s, ok := raw.(string)
	if !ok {
		v.add("%s", typeMsg(key, raw, "String"))
		return ""
	}
	if s == "" {
		v.add("[%s] Invalid value empty string. [%s] must be a non-empty string", scope, key)
	}
	return s
}

// enum is ServiceUtils.extractOptionalEnum: trimmed, any case.
func (o object) enum(key, scope string, allowed []string, required bool, v *validation) string {
	var s string
	if required {
		s = o.requiredString(key, scope, v)
	} else {
		s = o.optionalString(key, scope, v)
	}
	if s == "" {
		return ""
	}
	if norm := strings.ToLower(strings.TrimSpace(s)); slices.Contains(allowed, norm) {
		return norm
	}
	sorted := slices.Clone(allowed)
	slices.Sort(sorted)
	v.add("[%s] Invalid value [%s] received. [%s] must be one of [%s]", scope, s, key, strings.Join(sorted, ", "))
	return ""
}

// doubleInRange is ServiceUtils.extractOptionalDoubleInRange. Unlike
// Elasticsearch's parser it also accepts a whole number (1 for 1.0): a
// request that works there works here.
func (o object) doubleInRange(key, scope string, min, max float64, v *validation) *float64 {
	raw := o.take(key)
	if raw == nil {
		return nil
	}
	n, ok := raw.(json.Number)
	f, err := n.Float64()
	if !ok || err != nil {
		v.add("%s", typeMsg(key, raw, "Double"))
		return nil
	}
	bad := false
	if f < min {
		v.add("[%s] Invalid value [%s]. [%s] must be a greater than or equal to [%s]", scope, javaDouble(f), key, javaDouble(min))
		bad = true
	}
	if f > max {
		v.add("[%s] Invalid value [%s]. [%s] must be a less than or equal to [%s]", scope, javaDouble(f), key, javaDouble(max))
		bad = true
	}
	if bad {
		return nil
	}
	return &f
}

// integer reads a JSON integer; want names the Java type for messages.
func (o object) integer(key, want string, v *validation) (int64, bool) {
	raw := o.take(key)
	if raw == nil {
		return 0, false
	}
	n, ok := raw.(json.Number)
	i, err := n.Int64()
	if !ok || err != nil {
		v.add("%s", typeMsg(key, raw, want))
		return 0, false
	}
	return i, true
}

// positiveInt is ServiceUtils.extractOptionalPositiveInteger.
func (o object) positiveInt(key, scope string, v *validation) *int {
	i, ok := o.integer(key, "Integer", v)
	if !ok {
		return nil
	}
	if i <= 0 || i > 1<<31-1 {
		v.add("[%s] Invalid value [%d]. [%s] must be a positive integer", scope, i, key)
		return nil
	}
	n := int(i)
	return &n
}

// parseTaskSettings validates task settings for a task type (Elasticsearch
// reports these errors on their own, after the service settings').
func parseTaskSettings(task string, o object) (TaskSettings, *Error) {
	var ts TaskSettings
	var v validation
	const scope = "task_settings"
	switch task {
	case taskCompletion, taskChatCompletion:
		ts.Temperature = o.doubleInRange("temperature", scope, 0, 1, &v)
		ts.TopP = o.doubleInRange("top_p", scope, 0, 1, &v)
		ts.TopK = o.doubleInRange("top_k", scope, 0, 1, &v)
		ts.MaxNewTokens = o.positiveInt("max_new_tokens", scope, &v)
	case taskTextEmbedding:
		ts.Truncate = o.enum("truncate", scope, truncations, false, &v)
	}
	return ts, v.err()
}

// checkProviderTask is AmazonBedrockProviderCapabilities.checkProviderForTask.
func checkProviderTask(task, provider string) *Error {
	allowed := completionProviders
	if task == taskTextEmbedding {
		allowed = embeddingProviders
	}
	if !slices.Contains(allowed, provider) {
		return badRequest("The [%s] task type for provider [%s] is not available", task, provider)
	}
	return nil
}

// checkTaskSettings applies the provider rules on task settings: top_k only
// where the model has it, truncate only for Cohere.
func checkTaskSettings(task, provider string, ts TaskSettings) *Error {
	if ts.TopK != nil && !slices.Contains(topKProviders, provider) {
		return badRequest("The [top_k] task parameter is not available for provider [%s]", provider)
	}
	if task == taskTextEmbedding && ts.Truncate != "" && provider != "cohere" {
		return badRequest("The [%s] task type for provider [%s] does not allow [truncate] field", taskTextEmbedding, provider)
	}
	return nil
}

// parseCreate validates a create request (PUT /_inference/[task_type/]id)
// in Elasticsearch's order: the task type, the service, the service
// settings, the task settings, the secrets, the provider rules, and last
// any key left unknown. urlTask is "" when the path has no task type.
func parseCreate(id, urlTask string, body []byte) (*Settings, Credentials, *Error) {
	var creds Credentials
	if e := checkID(id); e != nil {
		return nil, creds, e
	}
	cfg, e := decodeObject(body, "the inference endpoint configuration")
	if e != nil {
		return nil, creds, e
	}
	task, e := resolveTaskType(urlTask, cfg.take("task_type"))
	if e != nil {
		return nil, creds, e
	}
	svc := cfg.take("service")
	switch s, _ := svc.(string); {
	case svc == nil:
		return nil, creds, badRequest("Model configuration is missing a service")
	case s != serviceName:
		return nil, creds, badRequest("Unknown service [%s]", javaString(svc))
	}
	if !slices.Contains(servedTasks, task) {
		return nil, creds, badRequest("The [%s] service does not support task type [%s]", serviceName, task)
	}
	ss, e := cfg.takeObject("service_settings")
	if e != nil {
		return nil, creds, e
	}
	if ss == nil {
		return nil, creds, badRequest("Missing required field [service_settings]")
	}
	tsObj, e := cfg.takeObject("task_settings")
	if e != nil {
		return nil, creds, e
	}
	if tsObj == nil {
		tsObj = object{}
	}
	s := &Settings{ID: id, TaskType: task, RequestsPerMinute: defaultRequestsPerMinute}
	if task == taskTextEmbedding {
		// Read before the service settings, as AmazonBedrockService's
		// parseRequestConfig does; other task types leave the key in the
		// map, where it is an unknown setting.
		co, e := cfg.takeObject("chunking_settings")
		if e != nil {
			return nil, creds, e
		}
		if s.Chunking, e = parseChunking(co); e != nil {
			return nil, creds, e
		}
	}
	var v validation
	const scope = "service_settings"
	s.Model = ss.requiredString("model", scope, &v)
	s.Region = ss.requiredString("region", scope, &v)
	s.Provider = ss.enum("provider", scope, providers, true, &v)
	if rpm, ok := parseRateLimit(ss, &v); ok {
		s.RequestsPerMinute = rpm
	}
	if task == taskTextEmbedding {
		s.Similarity = ss.enum("similarity", scope, similarities, false, &v)
		if n := ss.positiveInt("max_input_tokens", scope, &v); n != nil {
			s.MaxInputTokens = *n
		}
		// Detected by a test call at creation, never taken from the user.
		for _, k := range []string{"dimensions", "dimensions_set_by_user"} {
			if ss.take(k) != nil {
				v.add("[%s] does not allow the setting [%s]", scope, k)
			}
		}
	}
	if e := v.err(); e != nil {
		return nil, creds, e
	}
	if s.Task, e = parseTaskSettings(task, tsObj); e != nil {
		return nil, creds, e
	}
	if creds, e = parseCredentials(ss, true); e != nil {
		return nil, creds, e
	}
	if e := checkProviderTask(task, s.Provider); e != nil {
		return nil, creds, e
	}
	if e := checkTaskSettings(task, s.Provider, s.Task); e != nil {
		return nil, creds, e
	}
	for _, rest := range []object{cfg, ss, tsObj} {
		if e := unknownSettings(rest); e != nil {
			return nil, creds, e
		}
	}
	return s, creds, nil
}

// resolveTaskType is ServiceUtils.resolveTaskType: the task type may be in
// the URL, in the body, or both if they agree.
func resolveTaskType(urlTask string, body any) (string, *Error) {
	if body == nil {
		if urlTask == "" {
			return "", badRequest("model is missing required setting [task_type]")
		}
		return urlTask, nil
	}
	bs, ok := body.(string)
	if !ok {
		return "", badRequest("%s", typeMsg("task_type", body, "String"))
	}
	bt, e := parseTaskType(bs)
	if e != nil {
		return "", e
	}
	if urlTask != "" && bt != urlTask {
		return "", badRequest("Cannot resolve conflicting task_type parameter in the request URL [%s] and the request body [%s]", urlTask, bs)
	}
	return bt, nil
}

// parseRateLimit reads rate_limit.requests_per_minute (RateLimitSettings).
func parseRateLimit(ss object, v *validation) (int64, bool) {
	rl, e := ss.takeObject("rate_limit")
	if e != nil {
		v.add("%s", e.Reason)
		return 0, false
	}
	if rl == nil {
		return 0, false
	}
	rpm, ok := rl.integer("requests_per_minute", "Long", v)
	for k := range rl {
		v.add("[rate_limit] does not allow the setting [%s]", k)
	}
	if !ok {
		return 0, false
	}
	if rpm <= 0 {
		v.add("[rate_limit] Invalid value [%d]. [requests_per_minute] must be a positive long", rpm)
		return 0, false
	}
	return rpm, true
}

// parseCredentials takes access_key and secret_key from the service
// settings. On create both are required; on update, neither or both.
func parseCredentials(ss object, required bool) (Credentials, *Error) {
	var c Credentials
	_, hasA := ss["access_key"]
	_, hasS := ss["secret_key"]
	if !required && !hasA && !hasS {
		return c, nil
	}
	var v validation
	const scope = "secret_settings"
	c.AccessKey = ss.requiredString("access_key", scope, &v)
	c.SecretKey = ss.requiredString("secret_key", scope, &v)
	return c, v.err()
}

// update is a validated _update request.
type update struct {
	Task        *TaskSettings // the merged task settings, when the request has some
	RPM         int64         // 0: unchanged
	MaxInputTok int           // 0: unchanged
	Creds       *Credentials  // nil: unchanged
}

// updateBody is an _update body checked on its own, before the endpoint is
// looked up (UpdateInferenceModelAction.Request.getContentAsSettings, then
// ServiceUtils.resolveTaskType in TransportUpdateInferenceModelAction).
type updateBody struct {
	task   string
	ss, ts object
}

// parseUpdateBody validates what Elasticsearch validates before it reads
// the endpoint: a non-empty object, service_settings and task_settings
// objects, no other field but task_type, and a task type (from the URL or
// the body, agreeing).
func parseUpdateBody(urlTask string, body []byte) (*updateBody, *Error) {
	cfg, e := decodeObject(body, "the inference endpoint update")
	if e != nil {
		return nil, e
	}
	if len(cfg) == 0 {
		return nil, badRequest("Request body is empty")
	}
	whole := javaMap(cfg)
	u := &updateBody{}
	var bodyTask any
	if raw, ok := cfg["task_type"]; ok {
		if _, isStr := raw.(string); !isStr {
			// Elasticsearch answers this one with a 500; a client's mistake
			// is a 400 here.
			return nil, badRequest("Failed to parse [task_type] in update request [%s]", whole)
		}
		bodyTask = cfg.take("task_type")
	}
	for _, f := range []struct {
		key, what string
		dst       *object
	}{{"service_settings", "service", &u.ss}, {"task_settings", "task", &u.ts}} {
		raw, ok := cfg[f.key]
		if !ok {
			continue
		}
		m, isMap := raw.(map[string]any)
		if !isMap {
			return nil, badRequest("Unable to parse %s settings in the request [%s]", f.what, whole)
		}
		delete(cfg, f.key)
		*f.dst = object(m)
	}
	if len(cfg) > 0 {
		return nil, badRequest("Request contained fields which cannot be updated, remove these fields and try again [%s]", javaMap(cfg))
	}
	if bs, ok := bodyTask.(string); ok {
		if _, e := parseTaskType(bs); e != nil {
			return nil, e
		}
	}
	if urlTask == "" && bodyTask == nil {
		// The stored TransportUpdateInferenceModelAction refuses this
		// ("model is missing required setting [task_type]"); the documented
		// PUT _inference/{id}/_update form is kept working: any task type.
		return u, nil
	}
	task, e := resolveTaskType(urlTask, bodyTask)
	if e != nil {
		return nil, e
	}
	u.task = task
	return u, nil
}

// parseUpdate applies a checked _update body to the stored endpoint. Only
// task settings, the rate limit, max_input_tokens and the keys can change;
// the model, region, provider and chunking settings define the endpoint.
func parseUpdate(cur *Settings, b *updateBody) (*update, *Error) {
	if b.task != "" && b.task != cur.TaskType {
		return nil, badRequest("Task type must match the task type of the existing endpoint")
	}
	u := &update{}
	if ss := maps.Clone(b.ss); ss != nil {
		c, e := parseCredentials(ss, false)
		if e != nil {
			return nil, e
		}
		if c.AccessKey != "" {
			u.Creds = &c
		}
		var v validation
		if rpm, ok := parseRateLimit(ss, &v); ok {
			u.RPM = rpm
		}
		if cur.TaskType == taskTextEmbedding {
			if n := ss.positiveInt("max_input_tokens", "service_settings", &v); n != nil {
				u.MaxInputTok = *n
			}
		}
		keys := slices.Sorted(maps.Keys(ss))
		for _, k := range keys {
			v.add("[service_settings] does not allow the setting [%s]", k)
		}
		if e := v.err(); e != nil {
			return nil, e
		}
	}
	if tsObj := maps.Clone(b.ts); tsObj != nil {
		ts, e := parseTaskSettings(cur.TaskType, tsObj)
		if e != nil {
			return nil, e
		}
		if e := unknownSettings(tsObj); e != nil {
			return nil, e
		}
		merged := cur.Task.override(ts)
		if e := checkTaskSettings(cur.TaskType, cur.Provider, merged); e != nil {
			return nil, e
		}
		u.Task = &merged
	}
	return u, nil
}

func mismatchedTask(requested, actual string) *Error {
	return badRequest("Requested task type [%s] does not match the inference endpoint's task type [%s]", requested, actual)
}

// apply returns the settings after u.
func (u *update) apply(cur *Settings) *Settings {
	s := *cur
	if u.Task != nil {
		s.Task = *u.Task
	}
	if u.RPM > 0 {
		s.RequestsPerMinute = u.RPM
	}
	if u.MaxInputTok > 0 {
		s.MaxInputTokens = u.MaxInputTok
	}
	return &s
}
