package openai

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// chatDecodeDefaults are the model defaults the decoding tests run with.
var chatDecodeDefaults = []map[string]any{
	nil,
	{"temperature": 0.3, "max_completion_tokens": float64(1024)},
	{"stop": []any{"##", "<end>"}, "reasoning_effort": "high", "stream": true, "top_k": float64(5),
		"stream_options": map[string]any{"include_usage": true}, "frequency_penalty": 0.5},
	{"max_tokens": float64(7), "metadata": map[string]any{"team": "a&b"}},
	{"max_tokens": float64(7), "max_completion_tokens": float64(9)}, // both aliases
	{"stream_options": "yes"},                       // does not decode: the request fails
	{"Temperature": 0.9},                            // a name only encoding/json matches
	{"temperature": func() {}, "top_p": float64(1)}, // not JSON: left out
}

// chatDecodeBodies exercise what a one-pass decode could get wrong.
var chatDecodeBodies = []string{
	`{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":32}`,
	` {"model": "m", "messages": [ {"role": "user", "content": "a <b> & c"} ] , "stop" : [ "x" ] }` + "\n",
	`{"model":"m","messages":[{"role":"user","content":"line\u2028sep` + "\u2029" + `"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"caf\u00e9 \" \\ <"}],"user":"u<1>"}`,
	`{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":{ "type": "object", "description": "a < b" }}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	`{"model":"m","temperature":null,"max_tokens":null,"stream":false,"reasoning_effort":""}`,
	`{"model":"m","max_tokens":10,"stop":null,"stream_options":null,"metadata":{"k":"v"}}`,
	`{"model":"m","max_completion_tokens":10,"top_k":null,"user":"x","n":1,"parallel_tool_calls":false}`,
	`{"model":"m","stream_options":{"include_usage":true},"stream_options":{}}`,
	`{"model":"m","stream":true,"stream":false}`,
	`{"model":"m","seed":1,"seed":2,"logit_bias":{"1":2}}`,
	`{"model":"m","Model":"n"}`,
	`{"MODEL":"m"}`,
	`{"model":"m","STREAM":true}`,
	`{"model":"m","ſtream":true}`,
	`{"model":"m","temperature":0.5,"Temperature":0.9}`,
	`{"mod\u0065l":"m"}`,
	`{"model":"m","max_tokens":"32"}`,
	`{"model":"m","messages":{}}`,
	`{"model":"m","guardrailConfig":{"guardrailIdentifier":"g","guardrailVersion":"1"},"serviceTier":{"type":"flex"},"performanceConfig":{"latency":"optimized"}}`,
	`{"model":"m","additionalModelRequestFields":{"a":[1, 2 ,{"b":null}]},"additionalModelResponseFieldPaths":["/x"]}`,
	`{"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object", "pattern":"<[a-z]+>"}}}}`,
	`{"model":"m"}{"model":"n"}`,
	`{"model":"m"`,
	`{"model":"m","x":"unterminated}`,
	`{}`,
	`null`,
	`[]`,
	`"model"`,
	`{"model":42}`,
	"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}",
}

// checkChatDecode decodes body both ways with defaults: when the one-pass
// decode takes the body, it must give what decodeChatRequest gives. It
// reports whether the one-pass decode took it.
func checkChatDecode(t *testing.T, body []byte, defaults map[string]any) (fast bool) {
	t.Helper()
	var want *chatRequest
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) == nil && members != nil {
		want, _ = decodeChatRequest(members, defaults)
	}
	got, set, ok := decodeChatFast(body)
	if !ok {
		return false
	}
	d := newChatDefaults(defaults)
	if !d.apply(got, set) {
		return false
	}
	if want == nil {
		t.Fatalf("body %s with defaults %v: the one-pass decode took a body decodeChatRequest refuses", body, defaults)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("body %s with defaults %v:\none pass: %s\nreference: %s", body, defaults, g, w)
	}
	return true
}

func TestChatDecodeFast(t *testing.T) {
	for _, body := range chatDecodeBodies {
		for _, d := range chatDecodeDefaults {
			checkChatDecode(t, []byte(body), d)
		}
	}
	// The golden requests, with and without defaults.
	files, _ := filepath.Glob("testdata/chat/*.json")
	for _, file := range files {
		var g chatGolden
		if data, err := os.ReadFile(file); err == nil && json.Unmarshal(data, &g) == nil && len(g.Request) > 0 {
			for _, d := range chatDecodeDefaults {
				checkChatDecode(t, g.Request, d)
			}
		}
	}
}

// TestChatDecodeFastTaken checks that ordinary bodies do take the one-pass
// decode, and the bodies it cannot decode exactly do not.
func TestChatDecodeFastTaken(t *testing.T) {
	defaults := chatDecodeDefaults[1]
	for _, c := range []struct {
		body string
		fast bool
	}{
		{chatDecodeBodies[0], true},
		{chatDecodeBodies[1], true},
		{chatDecodeBodies[5], true},
		{`{"model":"m","seed":1,"seed":2}`, true},
		{`{"model":"m","stream":true,"stream":false}`, false},
		{`{"model":"m","Stream":true}`, false},
		{`{"mod\u0065l":"m"}`, false},
		{`{"model":"m","max_tokens":"32"}`, false},
		{`null`, false},
	} {
		if got := checkChatDecode(t, []byte(c.body), defaults); got != c.fast {
			t.Errorf("%s: one pass = %v; want %v", c.body, got, c.fast)
		}
	}
	if checkChatDecode(t, []byte(chatDecodeBodies[0]), map[string]any{"Temperature": 0.9}) {
		t.Errorf("a default named only ignoring case took the one-pass decode")
	}
}

// FuzzChatDecodeFast compares the one-pass decode with decodeChatRequest on
// arbitrary bodies.
func FuzzChatDecodeFast(f *testing.F) {
	for _, b := range chatDecodeBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, d := range chatDecodeDefaults {
			checkChatDecode(t, body, d)
		}
	})
}

// TestDecodeChatRequestAliasDefaults checks that defaults for both
// max_tokens and max_completion_tokens both apply when the request sets
// neither, and neither applies when it sets one: a default must not count
// as set by the request. (decodeChatRequest used to apply only the first of
// them in the defaults map's order, so which one reached Bedrock varied
// from request to request.)
func TestDecodeChatRequestAliasDefaults(t *testing.T) {
	defaults := map[string]any{"max_tokens": float64(7), "max_completion_tokens": float64(9)}
	for _, c := range []struct {
		body       string
		tokens     int // max_tokens
		completion int // max_completion_tokens; 0: unset
	}{
		{`{"model":"m"}`, 7, 9},
		{`{"model":"m","max_tokens":null}`, 7, 9},
		{`{"model":"m","max_tokens":3}`, 3, 0},
		{`{"model":"m","max_completion_tokens":4}`, 0, 4},
	} {
		var members map[string]json.RawMessage
		if err := json.Unmarshal([]byte(c.body), &members); err != nil {
			t.Fatal(err)
		}
		for range 20 { // the defaults map's order varies
			req, aerr := decodeChatRequest(members, defaults)
			if aerr != nil {
				t.Fatalf("%s: %v", c.body, aerr)
			}
			if got, want := intOr0(req.MaxTokens), c.tokens; got != want {
				t.Fatalf("%s: max_tokens = %d; want %d", c.body, got, want)
			}
			if got, want := intOr0(req.MaxCompletionTokens), c.completion; got != want {
				t.Fatalf("%s: max_completion_tokens = %d; want %d", c.body, got, want)
			}
		}
	}
}

func intOr0(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
