package openai

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
)

// A chat request body is decoded once, by encoding/json, into a chatBody;
// then the model it names is resolved (Handler.decodeChat), and the model's
// defaults, decoded once per model into the same type (chatDefaults), fill
// the members the request leaves out or sets to null.

// chatBody is a chat request as decoded: chatRequest with the members whose
// zero value a request may send (stream: false, user: "") shadowed by
// nillable ones, so that "left out or null" can be told from "set".
// encoding/json fills the outer field of a name and never the embedded one.
// Every other member is nillable already (a pointer, a slice or raw JSON).
type chatBody struct {
	chatRequest
	// Model is raw so that what is wrong with it is said before what is
	// wrong with any other member (Handler.decodeChat).
	Model           json.RawMessage `json:"model"`
	Stream          *bool           `json:"stream"`
	ReasoningEffort *string         `json:"reasoning_effort"`
	User            *string         `json:"user"`
	ServiceTier     *string         `json:"service_tier"`

	// Converse's names of OpenAI parameters, as Spice.ai documents them
	// (temperature is spelled alike): they set the OpenAI members before
	// the defaults apply (converseNames).
	ConverseMaxTokens     *int            `json:"maxTokens"`
	ConverseTopP          *float64        `json:"topP"`
	ConverseTopK          json.RawMessage `json:"topK"`
	ConverseStopSequences json.RawMessage `json:"stopSequences"`

	// Members OpenAI defines that change sampling or the answer's shape
	// and that Bedrock has no equivalent for: accepted, ignored, and named
	// in the answer's X-Quarry-Warning so that nobody relies on them
	// unknowingly (ignoredMembers).
	Seed             json.RawMessage `json:"seed"`
	FrequencyPenalty json.RawMessage `json:"frequency_penalty"`
	PresencePenalty  json.RawMessage `json:"presence_penalty"`
	LogitBias        json.RawMessage `json:"logit_bias"`
	Logprobs         json.RawMessage `json:"logprobs"`
	TopLogprobs      json.RawMessage `json:"top_logprobs"`
}

// ignoredMembers names the members b sets that the gateway cannot honour.
func (b *chatBody) ignoredMembers() string {
	var names []string
	for _, m := range []struct {
		name string
		raw  json.RawMessage
	}{{"seed", b.Seed}, {"frequency_penalty", b.FrequencyPenalty}, {"presence_penalty", b.PresencePenalty},
		{"logit_bias", b.LogitBias}, {"logprobs", b.Logprobs}, {"top_logprobs", b.TopLogprobs}} {
		// Values that ask for nothing (0, false, {}) are not worth a warning.
		if s := string(m.raw); s != "" && s != "null" && s != "0" && s != "false" && s != "{}" {
			names = append(names, m.name)
		}
	}
	return strings.Join(names, ", ")
}

// decodeChatBody decodes a request body. With a member of the wrong type it
// returns the body too, decoded but for that member (encoding/json goes on
// after a type error), so that the model is still resolved and its errors
// come first; a nil body comes with an error about the body as a whole.
func decodeChatBody(body []byte) (*chatBody, *apiError) {
	b := new(chatBody)
	err := json.Unmarshal(body, b)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		if isNull(body) {
			return nil, invalid("", "The request body must be a JSON object.")
		}
		return b, nil
	case errors.As(err, &te) && te.Field != "":
		return b, jsonError("", memberTypeError(te))
	}
	return nil, bodyError(err)
}

// memberTypeError names the member as the request does: encoding/json
// names a chatRequest member by the embedded field's path.
func memberTypeError(te *json.UnmarshalTypeError) *json.UnmarshalTypeError {
	named := *te
	named.Field = strings.TrimPrefix(te.Field, "chatRequest.")
	return &named
}

// request is the chatRequest b asks for, for the model named model, with
// the defaults filling what b leaves out. It reuses b's memory.
func (d *chatDefaults) request(b *chatBody, model string) (*chatRequest, *apiError) {
	if aerr := b.converseNames(); aerr != nil {
		return nil, aerr
	}
	if len(d.fields) > 0 {
		if aerr := d.fill(b); aerr != nil {
			return nil, aerr
		}
	}
	req := &b.chatRequest
	req.Model = model
	if b.Stream != nil {
		req.Stream = *b.Stream
	}
	if b.ReasoningEffort != nil {
		req.ReasoningEffort = *b.ReasoningEffort
	}
	if b.User != nil {
		req.User = *b.User
	}
	if b.ServiceTier != nil {
		req.ServiceTier = *b.ServiceTier
	}
	req.ignored = b.ignoredMembers()
	return req, nil
}

// chatDefaults are a model's request defaults (chatModel.Defaults, OpenAI
// member names), decoded once into a chatBody.
type chatDefaults struct {
	v      chatBody
	fields []defaultField // the members v sets, in chatBody's field order
}

// defaultField is one member with a default: it applies when the request
// leaves the member, and every member in skip (its alias), unset.
type defaultField struct {
	index []int // in chatBody
	skip  [][]int
	// err is set when the default does not decode into its member (a config
	// value of the wrong shape): a request it applies to fails with it, as a
	// request that sent the value itself would.
	err *apiError
}

// chatFields maps each chatBody member name to its field.
var chatFields = func() map[string][]int {
	t := reflect.TypeFor[chatBody]()
	out := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || name == "" || name == "-" {
			continue
		}
		if _, shadowed := out[name]; !shadowed || len(f.Index) < len(out[name]) {
			out[name] = f.Index
		}
	}
	return out
}()

// aliases are request members that set the same thing: a default for one
// does not apply when the request sets the other.
var aliases = map[string]string{"max_tokens": "max_completion_tokens", "max_completion_tokens": "max_tokens"}

// newChatDefaults decodes a model's defaults. Each is decoded as a request
// member would be, names matched as encoding/json matches them; defaults
// that are not request members are left out, as a request's own are, and
// so are those JSON cannot represent (a config bug, not the client's).
func newChatDefaults(defaults map[string]any) chatDefaults {
	var d chatDefaults
	dv := reflect.ValueOf(&d.v).Elem()
	keys := make([]string, 0, len(defaults))
	for k := range defaults {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a name that differs only in case: the last wins, always the same
	byIndex := map[string]int{}
	add := func(name string, index []int, err *apiError, from reflect.Value) {
		f := defaultField{index: index, err: err}
		if a, ok := chatFields[aliases[name]]; ok {
			f.skip = [][]int{a}
		}
		if i, ok := byIndex[name]; ok {
			d.fields[i] = f
		} else {
			byIndex[name] = len(d.fields)
			d.fields = append(d.fields, f)
		}
		if err == nil {
			dv.FieldByIndex(index).Set(from)
		}
	}
	for _, k := range keys {
		raw, err := json.Marshal(map[string]any{k: defaults[k]})
		if err != nil {
			continue
		}
		var one chatBody
		err = json.Unmarshal(raw, &one)
		ov := reflect.ValueOf(&one).Elem()
		for name, index := range chatFields {
			if name != "model" && !unsetMember(ov.FieldByIndex(index)) {
				add(name, index, nil, ov.FieldByIndex(index))
			}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			te = memberTypeError(te)
			name, _, _ := strings.Cut(te.Field, ".")
			if index, ok := chatFields[name]; ok && name != "model" {
				add(name, index, jsonError("", te), reflect.Value{})
			}
		}
	}
	slices.SortFunc(d.fields, func(a, b defaultField) int { return slices.Compare(a.index, b.index) })
	return d
}

// fill sets b's unset members that have a default. Pointers get a copy of
// the default, so that nothing a request does reaches the next one.
func (d *chatDefaults) fill(b *chatBody) *apiError {
	bv := reflect.ValueOf(b).Elem()
	dv := reflect.ValueOf(&d.v).Elem()
	// Which defaults apply is decided on the request alone, before any is
	// set: a default must not count as the request setting its alias.
	var applies uint64
	for i, f := range d.fields {
		if unsetMember(bv.FieldByIndex(f.index)) &&
			!slices.ContainsFunc(f.skip, func(i []int) bool { return !unsetMember(bv.FieldByIndex(i)) }) {
			applies |= 1 << i
		}
	}
	for i, f := range d.fields {
		if applies&(1<<i) == 0 {
			continue
		}
		if f.err != nil {
			return f.err
		}
		dst, src := bv.FieldByIndex(f.index), dv.FieldByIndex(f.index)
		if src.Kind() == reflect.Pointer {
			p := reflect.New(src.Type().Elem())
			p.Elem().Set(src.Elem())
			src = p
		}
		dst.Set(src)
	}
	return nil
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// unsetMember reports whether a chatBody member was left out or null.
func unsetMember(v reflect.Value) bool {
	if v.Type() == rawMessageType {
		return isNull(v.Bytes())
	}
	return v.IsNil()
}

// converseNames sets the OpenAI members from their Converse names
// (maxTokens, topP, topK, stopSequences). Both names of one parameter with
// different values are an error naming both; with the same value, one.
func (b *chatBody) converseNames() *apiError {
	if v := b.ConverseMaxTokens; v != nil {
		if *v < 1 {
			return invalid("maxTokens", "Invalid 'maxTokens': %d; it must be at least 1.", *v)
		}
		for _, o := range []struct {
			name string
			v    *int
		}{{"max_tokens", b.MaxTokens}, {"max_completion_tokens", b.MaxCompletionTokens}} {
			if o.v != nil && *o.v != *v {
				return bothNames("maxTokens", o.name)
			}
		}
		if b.MaxTokens == nil && b.MaxCompletionTokens == nil {
			b.MaxTokens = v
		}
	}
	if v := b.ConverseTopP; v != nil {
		if b.TopP != nil && *b.TopP != *v {
			return bothNames("topP", "top_p")
		}
		b.TopP = v
	}
	if v := b.ConverseTopK; !isNull(v) {
		if !isNull(b.TopK) && !sameJSON(b.TopK, v) {
			return bothNames("topK", "top_k")
		}
		b.TopK = v
	}
	if v := b.ConverseStopSequences; !isNull(v) {
		var seqs []string
		if err := json.Unmarshal(v, &seqs); err != nil {
			return invalid("stopSequences", "Invalid type for 'stopSequences': expected an array of strings.")
		}
		if !isNull(b.Stop) && !sameJSON(stopList(b.Stop), v) {
			return bothNames("stopSequences", "stop")
		}
		b.Stop = v
	}
	return nil
}

func bothNames(converse, openai string) *apiError {
	return invalid(converse, "'%s' and '%s' are one parameter (Converse's name and OpenAI's) set to different values; send one of them.", converse, openai)
}

// stopList is a stop member as an array: OpenAI takes a single string too.
func stopList(raw json.RawMessage) json.RawMessage {
	if s, ok := jsonString(raw); ok {
		b, _ := json.Marshal([]string{s})
		return b
	}
	return raw
}

// sameJSON reports whether two JSON values are equal as values (1 and 1.0,
// spacing aside).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}
