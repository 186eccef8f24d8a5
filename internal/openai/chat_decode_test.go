package openai

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// decodeChatTest decodes a chat request body as Handler.decodeChat does,
// for a model with these defaults, without a registry to resolve the model.
func decodeChatTest(body []byte, defaults map[string]any) (*chatRequest, *apiError) {
	b, aerr := decodeChatBody(body)
	if aerr != nil {
		return nil, aerr
	}
	name, _ := jsonString(b.Model)
	d := newChatDefaults(defaults)
	return d.request(b, name)
}

// TestChatBodyMembers checks chatBody against chatRequest: every member of
// chatRequest is decoded, and every decoded member can say whether the
// request left it out (which a bool or string field cannot).
func TestChatBodyMembers(t *testing.T) {
	rt := reflect.TypeFor[chatRequest]()
	for i := range rt.NumField() {
		if !rt.Field(i).IsExported() {
			continue // not decoded (chatRequest.ignored)
		}
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if _, ok := chatFields[name]; !ok {
			t.Errorf("chatRequest member %q is not in chatFields", name)
		}
	}
	if len(chatFields) > 64 {
		t.Errorf("%d members: chatDefaults.fill keeps a set of them in a uint64", len(chatFields))
	}
	bt := reflect.TypeFor[chatBody]()
	for name, index := range chatFields {
		switch k := bt.FieldByIndex(index).Type.Kind(); k {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		default:
			t.Errorf("member %q decodes into a %s, which cannot be unset: shadow it in chatBody", name, k)
		}
	}
}

// TestChatDefaults checks that a default fills a member the request leaves
// out or sets to null, and nothing else; that max_tokens and
// max_completion_tokens count as one member; and that a member the request
// sets to its zero value (stream: false) keeps it.
func TestChatDefaults(t *testing.T) {
	defaults := map[string]any{
		"temperature": 0.3, "max_completion_tokens": float64(1024), "stream": true, "reasoning_effort": "high",
		"user": "gateway", "stop": []any{"##"}, "top_k": float64(5), "stream_options": map[string]any{"include_usage": true},
		"frequency_penalty": 0.5, // not a member chatRequest declares: dropped
	}
	for _, c := range []struct {
		name, body string
		want       string // the chatRequest's members that matter, as JSON
	}{
		{"all defaults", `{"model":"m"}`,
			`{"temperature":0.3,"max_tokens":null,"max_completion_tokens":1024,"stream":true,"reasoning_effort":"high","user":"gateway","stop":["##"],"top_k":5,"include_usage":true}`},
		{"nulls take the defaults", `{"model":"m","temperature":null,"stream":null,"user":null,"stop":null,"top_k":null,"stream_options":null,"reasoning_effort":null}`,
			`{"temperature":0.3,"max_tokens":null,"max_completion_tokens":1024,"stream":true,"reasoning_effort":"high","user":"gateway","stop":["##"],"top_k":5,"include_usage":true}`},
		{"zero values win", `{"model":"m","temperature":0,"stream":false,"user":"","reasoning_effort":"","stop":[],"top_k":0,"stream_options":{}}`,
			`{"temperature":0,"max_tokens":null,"max_completion_tokens":1024,"stream":false,"reasoning_effort":"","user":"","stop":[],"top_k":0,"include_usage":false}`},
		{"the alias stops the default", `{"model":"m","max_tokens":32}`,
			`{"temperature":0.3,"max_tokens":32,"max_completion_tokens":null,"stream":true,"reasoning_effort":"high","user":"gateway","stop":["##"],"top_k":5,"include_usage":true}`},
		{"a name matched ignoring case is set", `{"model":"m","Temperature":0.9,"STREAM":false}`,
			`{"temperature":0.9,"max_tokens":null,"max_completion_tokens":1024,"stream":false,"reasoning_effort":"high","user":"gateway","stop":["##"],"top_k":5,"include_usage":true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, aerr := decodeChatTest([]byte(c.body), defaults)
			if aerr != nil {
				t.Fatal(aerr.Msg)
			}
			got, _ := json.Marshal(map[string]any{
				"temperature": req.Temperature, "max_tokens": req.MaxTokens, "max_completion_tokens": req.MaxCompletionTokens,
				"stream": req.Stream, "reasoning_effort": req.ReasoningEffort, "user": req.User, "stop": req.Stop, "top_k": req.TopK,
				"include_usage": req.StreamOptions != nil && req.StreamOptions.IncludeUsage,
			})
			if !jsonEqual(got, []byte(c.want)) {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if req.Model != "m" {
				t.Errorf("model %q", req.Model)
			}
		})
	}
}

// TestChatDefaultsAliases checks that defaults for both max_tokens and
// max_completion_tokens both apply when the request sets neither, and
// neither applies when it sets one.
func TestChatDefaultsAliases(t *testing.T) {
	defaults := map[string]any{"max_tokens": float64(7), "max_completion_tokens": float64(9)}
	for _, c := range []struct {
		body       string
		tokens     int // max_tokens; 0: unset
		completion int // max_completion_tokens; 0: unset
	}{
		{`{"model":"m"}`, 7, 9},
		{`{"model":"m","max_tokens":null}`, 7, 9},
		{`{"model":"m","max_tokens":3}`, 3, 0},
		{`{"model":"m","max_completion_tokens":4}`, 0, 4},
	} {
		req, aerr := decodeChatTest([]byte(c.body), defaults)
		if aerr != nil {
			t.Fatalf("%s: %v", c.body, aerr.Msg)
		}
		if got, want := intOr0(req.MaxTokens), c.tokens; got != want {
			t.Errorf("%s: max_tokens = %d; want %d", c.body, got, want)
		}
		if got, want := intOr0(req.MaxCompletionTokens), c.completion; got != want {
			t.Errorf("%s: max_completion_tokens = %d; want %d", c.body, got, want)
		}
	}
}

// TestChatDefaultsNotShared checks that a request cannot change the
// defaults the next request gets.
func TestChatDefaultsNotShared(t *testing.T) {
	d := newChatDefaults(map[string]any{"temperature": 0.3, "stream_options": map[string]any{"include_usage": true}})
	for i := range 2 {
		b, _ := decodeChatBody([]byte(`{"model":"m"}`))
		req, aerr := d.request(b, "m")
		if aerr != nil {
			t.Fatal(aerr.Msg)
		}
		if *req.Temperature != 0.3 || !req.StreamOptions.IncludeUsage {
			t.Fatalf("request %d: temperature %v, include_usage %v", i, *req.Temperature, req.StreamOptions.IncludeUsage)
		}
		*req.Temperature, req.StreamOptions.IncludeUsage = 1, false
	}
}

// TestChatDefaultBroken checks a default that does not decode into its
// member: a request it applies to fails as if it had sent the value; one
// that sets the member itself does not.
func TestChatDefaultBroken(t *testing.T) {
	defaults := map[string]any{"stream_options": "yes", "temperature": 0.3}
	_, aerr := decodeChatTest([]byte(`{"model":"m"}`), defaults)
	if aerr == nil || aerr.Param != "stream_options" || !strings.Contains(aerr.Msg, "expected an object, got string") {
		t.Errorf("got %+v; want a 400 on stream_options", aerr)
	}
	req, aerr := decodeChatTest([]byte(`{"model":"m","stream_options":{"include_usage":true}}`), defaults)
	if aerr != nil || !req.StreamOptions.IncludeUsage || *req.Temperature != 0.3 {
		t.Errorf("got %+v, %+v", req, aerr)
	}
	// Not JSON at all: left out.
	req, aerr = decodeChatTest([]byte(`{"model":"m"}`), map[string]any{"temperature": func() {}, "top_p": 0.5})
	if aerr != nil || req.Temperature != nil || *req.TopP != 0.5 {
		t.Errorf("got %+v, %+v", req, aerr)
	}
}

// TestChatDecodeErrors checks the wording of errors about the body and its
// members, the model first.
func TestChatDecodeErrors(t *testing.T) {
	for _, c := range []struct{ body, param, msg string }{
		{`null`, "", "The request body must be a JSON object."},
		{` [] `, "", "The request body must be a JSON object."},
		{`"model"`, "", "The request body must be a JSON object."},
		{`{"model":"m"`, "", "The request body is not valid JSON (offset 12): unexpected end of JSON input."},
		{`{"model":"m"}{}`, "", "The request body is not valid JSON (offset 14): invalid character '{' after top-level value."},
		{`{"max_tokens":"32","model":42}`, "model", "Invalid type for 'model': expected a string."},
		{`{"max_tokens":"32"}`, "model", "Missing required parameter: 'model'."},
		{`{"model":null}`, "model", "Missing required parameter: 'model'."},
		{`{"model":"m","max_tokens":"32"}`, "max_tokens", "Invalid type for 'max_tokens': expected a number, got string."},
		{`{"model":"m","stream":"yes"}`, "stream", "Invalid type for 'stream': expected a boolean, got string."},
		{`{"model":"m","user":1}`, "user", "Invalid type for 'user': expected a string, got number."},
		{`{"model":"m","messages":{}}`, "messages", "Invalid type for 'messages': expected an array, got object."},
		{`{"model":"m","stream_options":{"include_usage":1}}`, "stream_options.include_usage", "Invalid type for 'stream_options.include_usage': expected a boolean, got number."},
	} {
		aerr := decodeChatErr(c.body)
		if aerr == nil || aerr.Status != 400 || aerr.Param != c.param || aerr.Msg != c.msg {
			t.Errorf("%s: got %+v\nwant 400 %q %q", c.body, aerr, c.param, c.msg)
		}
	}
}

// decodeChatErr is Handler.decodeChat's error for body, the model taken
// as found.
func decodeChatErr(body string) *apiError {
	b, aerr := decodeChatBody([]byte(body))
	if b == nil {
		return aerr
	}
	if _, merr := chatModelName(b.Model); merr != nil {
		return merr
	}
	if aerr != nil {
		return aerr
	}
	d := newChatDefaults(nil)
	_, aerr = d.request(b, "m")
	return aerr
}

func intOr0(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
