package openai

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
)

var update = flag.Bool("update", false, "rewrite the expected outputs in testdata/chat from the actual ones")

// chatGolden is one file of testdata/chat. Each part is optional:
//
//   - request (+ model, media): translated to a Converse request, compared
//     with converse, or the translation must fail with error;
//   - response: a Converse response translated with the request's plan,
//     compared with openai;
//   - events: ConverseStream events translated with the request's plan,
//     compared with chunks.
type chatGolden struct {
	Comment string     `json:"comment,omitempty"`
	Model   *chatModel `json:"model,omitempty"` // default: nova-lite
	// Media stands in for the gateway's fetcher: URL → what it returns.
	Media   map[string]goldenMedia `json:"media,omitempty"`
	Request json.RawMessage        `json:"request,omitempty"`
	// Converse is the expected Converse request.
	Converse json.RawMessage `json:"converse,omitempty"`
	// Plan is the expected plan for the answer.
	Plan  json.RawMessage `json:"plan,omitempty"`
	Error *goldenError    `json:"error,omitempty"`

	Response  json.RawMessage `json:"response,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
	OpenAI    json.RawMessage `json:"openai,omitempty"`

	Events json.RawMessage `json:"events,omitempty"`
	Chunks json.RawMessage `json:"chunks,omitempty"`
}

type goldenMedia struct {
	MIME   string `json:"mime,omitempty"`
	Base64 string `json:"base64,omitempty"`
	Error  string `json:"error,omitempty"` // a mediaError reason
}

type goldenError struct {
	Status int    `json:"status"`
	Param  string `json:"param"`
	// Contains is a fragment the message must contain.
	Contains string `json:"contains"`
}

const (
	goldenID      = "chatcmpl-test"
	goldenCreated = 1700000000
)

func TestChatGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/chat/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var g chatGolden
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&g); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			changed := runGolden(t, &g)
			if *update && changed {
				out, err := json.MarshalIndent(&g, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// runGolden checks one case; with -update it fills in the actual outputs
// and reports whether any changed.
func runGolden(t *testing.T, g *chatGolden) (changed bool) {
	t.Helper()
	model := chatModel{Name: "nova-lite", ModelID: "us.amazon.nova-lite-v1:0"}
	if g.Model != nil {
		model = *g.Model
	}
	plan := &chatPlan{Model: model.Name}
	check := func(name string, want *json.RawMessage, got any) {
		gotJSON, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if *update {
			if !jsonEqual(*want, gotJSON) {
				*want = indentJSON(gotJSON)
				changed = true
			}
			return
		}
		if !jsonEqual(*want, gotJSON) {
			t.Errorf("%s differs:\n got: %s\nwant: %s", name, indentJSON(gotJSON), indentJSON(*want))
		}
	}

	if len(g.Request) > 0 {
		fetch := func(_ context.Context, url string) ([]byte, string, error) {
			m, ok := g.Media[url]
			if !ok {
				t.Fatalf("unexpected fetch of %s", url)
			}
			if m.Error != "" {
				host := strings.SplitN(strings.SplitN(url, "://", 2)[1], "/", 2)[0]
				return nil, "", &mediaError{Host: host, Reason: m.Error}
			}
			b, err := base64.StdEncoding.DecodeString(m.Base64)
			if err != nil {
				t.Fatalf("media %s: %v", url, err)
			}
			return b, m.MIME, nil
		}
		req, aerr := decodeChatTest(g.Request, model.Defaults)
		var creq *bedrock.ConverseRequest
		if aerr == nil {
			var p *chatPlan
			creq, p, aerr = convertChatRequest(context.Background(), req, &model, fetch)
			if p != nil {
				plan = p
			}
		}
		switch {
		case g.Error != nil:
			if aerr == nil {
				t.Fatalf("translation succeeded; want error %+v", *g.Error)
			}
			if aerr.Status != g.Error.Status || aerr.Param != g.Error.Param || !strings.Contains(aerr.Msg, g.Error.Contains) {
				t.Errorf("error = %d %q %q; want %d %q containing %q", aerr.Status, aerr.Param, aerr.Msg, g.Error.Status, g.Error.Param, g.Error.Contains)
			}
			if aerr.Status >= 500 {
				t.Errorf("bad input must never be a 5xx")
			}
		case aerr != nil:
			t.Fatalf("translation failed: %d %s: %s", aerr.Status, aerr.Param, aerr.Msg)
		default:
			check("converse", &g.Converse, creq)
			check("plan", &g.Plan, plan)
		}
	}

	if len(g.Response) > 0 {
		var resp bedrock.ConverseResponse
		if err := json.Unmarshal(g.Response, &resp); err != nil {
			t.Fatalf("response: %v", err)
		}
		resp.RequestID = g.RequestID
		check("openai", &g.OpenAI, convertChatResponse(&resp, plan, goldenID, goldenCreated))
	}

	if len(g.Events) > 0 {
		var events []bedrock.StreamEvent
		if err := json.Unmarshal(g.Events, &events); err != nil {
			t.Fatalf("events: %v", err)
		}
		tr := newChatStreamTranslator(plan, goldenID, goldenCreated, g.RequestID)
		chunks := []chatChunk{}
		for _, ev := range events {
			chunks = append(chunks, tr.event(ev)...)
		}
		chunks = append(chunks, tr.end()...)
		check("chunks", &g.Chunks, chunks)
	}
	return changed
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func indentJSON(b []byte) json.RawMessage {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return b
	}
	return out.Bytes()
}

func TestDocumentName(t *testing.T) {
	taken := map[string]bool{}
	for _, c := range []struct{ in, want string }{
		{"Q3 report.final.pdf", "Q3 report final"},
		{"Q3 report.final.pdf", "Q3 report final (2)"},
		{"../../etc/passwd", "etc passwd"},
		{"  ***.pdf", "document"},
		{"naïve—café (v2) [draft].docx", "na ve caf (v2) [draft]"},
	} {
		if got := documentName(c.in, taken); got != c.want {
			t.Errorf("documentName(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestParseDataURI(t *testing.T) {
	for _, c := range []struct {
		in, mime, data string
		ok             bool
	}{
		{"data:image/png;base64,aGVsbG8=", "image/png", "hello", true},
		{"DATA:image/PNG;BASE64,aGVsbG8", "image/png", "hello", true},
		{"data:,hello%20world", "text/plain", "hello world", true},
		{"data:text/plain;charset=utf-8;base64,aGk=", "text/plain", "hi", true},
		{"data:image/png;base64,@@@", "", "", false},
		{"data:image/png;base64", "", "", false},
		{"data:image/png;base64,", "", "", false},
		{"http://x/y.png", "", "", false},
	} {
		d, err := parseDataURI(c.in)
		if (err == nil) != c.ok {
			t.Errorf("parseDataURI(%q) error = %v; want ok %v", c.in, err, c.ok)
			continue
		}
		if c.ok && (d.MIME != c.mime || string(d.Data) != c.data) {
			t.Errorf("parseDataURI(%q) = %q %q; want %q %q", c.in, d.MIME, d.Data, c.mime, c.data)
		}
	}
}

// FuzzChatRequest feeds arbitrary bodies through decoding and translation:
// bad input must be a 4xx, never a panic or a 5xx.
func FuzzChatRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/chat/*.json")
	for _, file := range files {
		var g chatGolden
		if data, err := os.ReadFile(file); err == nil && json.Unmarshal(data, &g) == nil && len(g.Request) > 0 {
			f.Add([]byte(g.Request))
		}
	}
	models := []chatModel{
		{Name: "nova-lite", ModelID: "us.amazon.nova-lite-v1:0", Defaults: map[string]any{"temperature": 0.3, "stop": []any{"##"}}},
		{Name: "claude", ModelID: "anthropic.claude-sonnet-4-5-20250929-v1:0", SystemPrompt: "Be brief.",
			Guardrail: &modelGuardrail{Identifier: "g", Version: "1", Trace: "enabled"}},
	}
	fetch := func(context.Context, string) ([]byte, string, error) {
		return nil, "", &mediaError{Host: "example.com", Reason: "refused"}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, m := range models {
			req, aerr := decodeChatTest(body, m.Defaults)
			if aerr == nil {
				var creq *bedrock.ConverseRequest
				creq, _, aerr = convertChatRequest(context.Background(), req, &m, fetch)
				if aerr == nil {
					if _, err := json.Marshal(creq); err != nil {
						t.Fatalf("the Converse request does not encode: %v", err)
					}
					continue
				}
			}
			if aerr.Status < 400 || aerr.Status > 499 || aerr.Msg == "" {
				t.Fatalf("error %+v for %s", aerr, body)
			}
		}
	})
}

// TestJSONString checks jsonString against json.Unmarshal.
func TestJSONString(t *testing.T) {
	for _, raw := range []string{
		`"Hi"`, `""`, `"caf` + "\u00e9" + `"`, `"a\"b"`, `"\u00e9\n"`, "\"\xff\"", "\"\xed\xa0\x80\"",
		"\"\xef\xbf\xbd\"", "\"a\tb\"", `"a`, `"`, `a"`, ` "a"`, `"a" `, `"a""b"`, `42`, `null`,
	} {
		checkJSONString(t, []byte(raw))
	}
}

func checkJSONString(t *testing.T, raw []byte) {
	t.Helper()
	var want string
	wantOK := json.Unmarshal(raw, &want) == nil
	got, ok := jsonString(raw)
	if ok != wantOK || got != want {
		t.Errorf("jsonString(%q) = %q, %v; json.Unmarshal gives %q, %v", raw, got, ok, want, wantOK)
	}
}

func FuzzJSONString(f *testing.F) {
	f.Add([]byte(`"Hi"`))
	f.Add([]byte("\"\xff\""))
	f.Fuzz(func(t *testing.T, raw []byte) { checkJSONString(t, raw) })
}

func TestTextJoin(t *testing.T) {
	for _, pieces := range [][]string{
		nil, {""}, {"a"}, {"", "a", ""}, {"a", "b"}, {"a", "", "b", "c"}, {"", "", ""},
	} {
		var j textJoin
		want := ""
		for _, p := range pieces {
			j.add(p)
			want += p
		}
		if got := j.String(); got != want {
			t.Errorf("textJoin of %q = %q; want %q", pieces, got, want)
		}
	}
}
