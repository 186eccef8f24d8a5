package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func embedTestCall(t *testing.T, model, body string) map[string]any {
	t.Helper()
	resp, _, err := invokeEmbedding(model, []byte(body))
	if err != nil {
		t.Fatalf("invokeEmbedding(%s, %s): %v", model, body, err)
	}
	var m map[string]any
	if jerr := json.Unmarshal(resp, &m); jerr != nil {
		t.Fatalf("response is not JSON: %v\n%s", jerr, resp)
	}
	return m
}

func embedTestKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func embedTestFloats(t *testing.T, v any) []float64 {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("not a vector: %T", v)
	}
	out := make([]float64, len(list))
	for i, x := range list {
		out[i] = x.(float64)
	}
	return out
}

func embedTestNorm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func embedTestCos(a, b []float64) float64 {
	var dot float64
	for i := range a {
		dot += a[i] * b[i]
	}
	return dot / embedTestNorm(a) / embedTestNorm(b)
}

func TestInvokeEmbeddingShapes(t *testing.T) {
	tests := []struct {
		name, model, body string
		keys              []string // top-level response members
		dims              int      // length of the first float vector
		unit              bool     // the float vector is unit length
	}{
		{"titan v1", "amazon.titan-embed-text-v1", `{"inputText":"hello world"}`,
			[]string{"embedding", "inputTextTokenCount"}, 1536, false},
		{"titan v1 via profile ARN", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.titan-embed-text-v1", `{"inputText":"hello"}`,
			[]string{"embedding", "inputTextTokenCount"}, 1536, false},
		{"titan v2 defaults", "amazon.titan-embed-text-v2:0", `{"inputText":"hello world"}`,
			[]string{"embedding", "embeddingsByType", "inputTextTokenCount"}, 1024, true},
		{"titan v2 256", "us.amazon.titan-embed-text-v2:0", `{"inputText":"hello","dimensions":256,"normalize":true,"embeddingTypes":["float","binary"]}`,
			[]string{"embedding", "embeddingsByType", "inputTextTokenCount"}, 256, true},
		{"titan v2 not normalized", "amazon.titan-embed-text-v2:0", `{"inputText":"hello","dimensions":512,"normalize":false}`,
			[]string{"embedding", "embeddingsByType", "inputTextTokenCount"}, 512, false},
		{"cohere english v3", "cohere.embed-english-v3", `{"texts":["a","b"],"input_type":"search_document"}`,
			[]string{"embeddings", "id", "response_type", "texts"}, 1024, true},
		{"cohere multilingual v3", "cohere.embed-multilingual-v3", `{"texts":["hola"],"input_type":"search_query","truncate":"END"}`,
			[]string{"embeddings", "id", "response_type", "texts"}, 1024, true},
		{"cohere v4 default", "global.cohere.embed-v4:0", `{"texts":["hello"],"input_type":"search_document"}`,
			[]string{"embeddings", "id", "response_type", "texts"}, 1536, true},
		{"cohere v4 256", "cohere.embed-v4:0", `{"texts":["hello"],"input_type":"classification","output_dimension":256}`,
			[]string{"embeddings", "id", "response_type", "texts"}, 256, true},
		{"nova text", "amazon.nova-2-multimodal-embeddings-v1:0",
			`{"schemaVersion":"nova-multimodal-embed-v1","taskType":"SINGLE_EMBEDDING","singleEmbeddingParams":{"embeddingPurpose":"GENERIC_INDEX","embeddingDimension":1024,"text":{"truncationMode":"END","value":"hello"}}}`,
			[]string{"embeddings", "inputTokenCount"}, 1024, true},
		{"nova default dims", "us.amazon.nova-2-multimodal-embeddings-v1:0",
			`{"taskType":"SINGLE_EMBEDDING","singleEmbeddingParams":{"embeddingPurpose":"TEXT_RETRIEVAL","text":{"truncationMode":"END","value":"hello"}}}`,
			[]string{"embeddings", "inputTokenCount"}, 3072, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := embedTestCall(t, tc.model, tc.body)
			if got := embedTestKeys(m); !reflect.DeepEqual(got, tc.keys) {
				t.Fatalf("keys = %v, want %v", got, tc.keys)
			}
			var vec []float64
			switch {
			case m["embedding"] != nil:
				vec = embedTestFloats(t, m["embedding"])
			case strings.HasPrefix(tc.model, "amazon.nova") || strings.Contains(tc.model, ".amazon.nova"):
				e := m["embeddings"].([]any)[0].(map[string]any)
				if e["embeddingType"] != "TEXT" {
					t.Errorf("embeddingType = %v", e["embeddingType"])
				}
				vec = embedTestFloats(t, e["embedding"])
			default:
				if m["response_type"] != "embeddings_floats" {
					t.Errorf("response_type = %v", m["response_type"])
				}
				vec = embedTestFloats(t, m["embeddings"].([]any)[0])
			}
			if len(vec) != tc.dims {
				t.Errorf("dims = %d, want %d", len(vec), tc.dims)
			}
			if n := embedTestNorm(vec); tc.unit && math.Abs(n-1) > 1e-4 {
				t.Errorf("norm = %v, want 1", n)
			} else if !tc.unit && n < 2 {
				t.Errorf("norm = %v, want a raw (unnormalized) magnitude", n)
			}
		})
	}
}

func TestEmbeddingTitanV2ByType(t *testing.T) {
	m := embedTestCall(t, "amazon.titan-embed-text-v2:0", `{"inputText":"the cat","dimensions":256,"embeddingTypes":["float","binary"]}`)
	by := m["embeddingsByType"].(map[string]any)
	if !reflect.DeepEqual(embedTestKeys(by), []string{"binary", "float"}) {
		t.Fatalf("embeddingsByType keys = %v", embedTestKeys(by))
	}
	bits := by["binary"].([]any)
	if len(bits) != 256 {
		t.Fatalf("binary length = %d", len(bits))
	}
	fl := embedTestFloats(t, by["float"])
	for i, b := range bits {
		if want := fl[i] > 0; (b.(float64) == 1) != want || (b.(float64) != 0 && b.(float64) != 1) {
			t.Fatalf("binary[%d] = %v for float %v", i, b, fl[i])
		}
	}
	if !reflect.DeepEqual(fl, embedTestFloats(t, m["embedding"])) {
		t.Error("embedding and embeddingsByType.float differ")
	}
}

func TestEmbeddingCohereByType(t *testing.T) {
	for _, model := range []string{"cohere.embed-english-v3", "cohere.embed-v4:0"} {
		t.Run(model, func(t *testing.T) {
			m := embedTestCall(t, model, `{"texts":["one","two","three"],"input_type":"clustering","embedding_types":["float","int8","uint8","binary","ubinary"]}`)
			if m["response_type"] != "embeddings_by_type" {
				t.Fatalf("response_type = %v", m["response_type"])
			}
			by := m["embeddings"].(map[string]any)
			dims := len(by["float"].([]any)[0].([]any))
			want := map[string]struct {
				n      int
				lo, hi float64
			}{
				"float": {dims, -1, 1}, "int8": {dims, -128, 127}, "uint8": {dims, 0, 255},
				"binary": {dims / 8, -128, 127}, "ubinary": {dims / 8, 0, 255},
			}
			for typ, w := range want {
				list := by[typ].([]any)
				if len(list) != 3 {
					t.Fatalf("%s: %d vectors, want 3", typ, len(list))
				}
				for _, vec := range list {
					v := vec.([]any)
					if len(v) != w.n {
						t.Fatalf("%s: length %d, want %d", typ, len(v), w.n)
					}
					for _, x := range v {
						if f := x.(float64); f < w.lo || f > w.hi || (typ != "float" && f != math.Trunc(f)) {
							t.Fatalf("%s: value %v out of range", typ, f)
						}
					}
				}
			}
			if !reflect.DeepEqual(m["texts"], []any{"one", "two", "three"}) {
				t.Errorf("texts = %v", m["texts"])
			}
		})
	}
}

func TestEmbeddingProperties(t *testing.T) {
	vec := func(t *testing.T, model, body string) [][]float64 {
		t.Helper()
		m := embedTestCall(t, model, body)
		if e, ok := m["embedding"]; ok {
			return [][]float64{embedTestFloats(t, e)}
		}
		var out [][]float64
		for _, v := range m["embeddings"].([]any) {
			out = append(out, embedTestFloats(t, v))
		}
		return out
	}
	titan := func(t *testing.T, s string) []float64 {
		b, _ := json.Marshal(map[string]string{"inputText": s})
		return vec(t, "amazon.titan-embed-text-v2:0", string(b))[0]
	}

	t.Run("deterministic", func(t *testing.T) {
		if !reflect.DeepEqual(titan(t, "same text"), titan(t, "same text")) {
			t.Fatal("the same text gave different vectors")
		}
		if reflect.DeepEqual(titan(t, "same text"), titan(t, "other text")) {
			t.Fatal("different texts gave the same vector")
		}
	})

	t.Run("similar texts are closer", func(t *testing.T) {
		a, b, c := titan(t, "the cat sat on the mat"), titan(t, "a cat sat on a mat"), titan(t, "quarterly revenue grew 8 percent")
		simAB, simAC := embedTestCos(a, b), embedTestCos(a, c)
		if !(simAB > simAC) {
			t.Fatalf("cos(cat, cat) = %v, cos(cat, revenue) = %v", simAB, simAC)
		}
		if simAB < 0.5 {
			t.Errorf("cos(cat, cat) = %v, want clearly similar", simAB)
		}
	})

	t.Run("batch order preserved", func(t *testing.T) {
		texts := []string{"alpha beta", "gamma delta", "epsilon"}
		b, _ := json.Marshal(map[string]any{"texts": texts, "input_type": "search_document"})
		batch := vec(t, "cohere.embed-english-v3", string(b))
		for i, s := range texts {
			one, _ := json.Marshal(map[string]any{"texts": []string{s}, "input_type": "search_document"})
			if !reflect.DeepEqual(batch[i], vec(t, "cohere.embed-english-v3", string(one))[0]) {
				t.Fatalf("batch[%d] differs from embedding %q alone", i, s)
			}
		}
	})

	t.Run("token count", func(t *testing.T) {
		_, n, err := invokeEmbedding("amazon.titan-embed-text-v1", []byte(`{"inputText":"Say this is a test"}`))
		if err != nil || n != countTokens("Say this is a test") {
			t.Fatalf("tokens = %d, %v", n, err)
		}
		m := embedTestCall(t, "amazon.titan-embed-text-v1", `{"inputText":"Say this is a test"}`)
		if m["inputTextTokenCount"] != float64(n) {
			t.Errorf("inputTextTokenCount = %v, want %d", m["inputTextTokenCount"], n)
		}
	})

	t.Run("truncate START and END differ", func(t *testing.T) {
		long := strings.Repeat("w ", 600)
		start := vec(t, "cohere.embed-english-v3", `{"texts":["`+long+`first"],"input_type":"search_document","truncate":"START"}`)[0]
		end := vec(t, "cohere.embed-english-v3", `{"texts":["`+long+`first"],"input_type":"search_document","truncate":"END"}`)[0]
		if reflect.DeepEqual(start, end) {
			t.Fatal("START and END truncation gave the same vector")
		}
	})
}

func TestEmbeddingImages(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 8, 4))
	var buf bytes.Buffer
	png.Encode(&buf, img)
	uri := "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())

	m := embedTestCall(t, "cohere.embed-english-v3", `{"images":["`+uri+`"],"input_type":"image"}`)
	meta := m["images"].([]any)[0].(map[string]any)
	if meta["width"] != 8.0 || meta["height"] != 4.0 || meta["format"] != "png" {
		t.Errorf("images = %v", meta)
	}
	m = embedTestCall(t, "cohere.embed-v4:0", `{"inputs":[{"content":[{"type":"text","text":"a chart"},{"type":"image_url","image_url":{"url":"`+uri+`"}}]}],"input_type":"search_document","embedding_types":["float"]}`)
	if got := len(m["embeddings"].(map[string]any)["float"].([]any)); got != 1 {
		t.Errorf("inputs gave %d vectors, want 1", got)
	}
	raw := base64.StdEncoding.EncodeToString(buf.Bytes())
	m = embedTestCall(t, "amazon.nova-2-multimodal-embeddings-v1:0",
		`{"taskType":"SINGLE_EMBEDDING","singleEmbeddingParams":{"embeddingPurpose":"GENERIC_INDEX","embeddingDimension":256,"image":{"format":"png","source":{"bytes":"`+raw+`"}}}}`)
	if e := m["embeddings"].([]any)[0].(map[string]any); e["embeddingType"] != "IMAGE" || len(e["embedding"].([]any)) != 256 {
		t.Errorf("nova image embedding = %v", e["embeddingType"])
	}
}

func TestEmbeddingValidation(t *testing.T) {
	many := `"` + strings.Repeat(`x","`, 96) + `x"`
	tooLong := strings.Repeat("a ", 600)
	titanTooMany := strings.Repeat("a ", 8193)
	tests := []struct {
		name, model, body, msg string
	}{
		{"unknown model", "amazon.titan-embed-nope", `{}`, "The provided model identifier is invalid."},
		{"not JSON", "amazon.titan-embed-text-v1", `hello`,
			"Malformed input request: A JSONObject text must begin with '{' at 1 [character 2 line 1], please reformat your input and try again."},
		{"empty body", "amazon.titan-embed-text-v1", ``,
			"Malformed input request: A JSONObject text must begin with '{' at 0 [character 1 line 1], please reformat your input and try again."},
		{"array body", "amazon.titan-embed-text-v2:0", `[]`,
			"Malformed input request: #: expected type: JSONObject, found: JSONArray, please reformat your input and try again."},
		{"titan v1 missing inputText", "amazon.titan-embed-text-v1", `{}`,
			"Malformed input request: #: required key [inputText] not found, please reformat your input and try again."},
		{"titan v1 no parameters", "amazon.titan-embed-text-v1", `{"inputText":"x","dimensions":256}`,
			"Malformed input request: #: extraneous key [dimensions] is not permitted, please reformat your input and try again."},
		{"titan v2 empty input", "amazon.titan-embed-text-v2:0", `{"inputText":""}`,
			"Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat your input and try again."},
		{"titan v2 wrong dimensions", "amazon.titan-embed-text-v2:0", `{"inputText":"x","dimensions":300}`,
			"Malformed input request: #/dimensions: 300 is not a valid enum value, please reformat your input and try again."},
		{"titan v2 dimensions type", "amazon.titan-embed-text-v2:0", `{"inputText":"x","dimensions":"256"}`,
			"Malformed input request: #/dimensions: expected type: Integer, found: String, please reformat your input and try again."},
		{"titan v2 normalize type", "amazon.titan-embed-text-v2:0", `{"inputText":"x","normalize":"yes"}`,
			"Malformed input request: #/normalize: expected type: Boolean, found: String, please reformat your input and try again."},
		{"titan v2 bad type", "amazon.titan-embed-text-v2:0", `{"inputText":"x","embeddingTypes":["int8"]}`,
			"Malformed input request: #/embeddingTypes/0: int8 is not a valid enum value, please reformat your input and try again."},
		{"titan v2 two violations", "amazon.titan-embed-text-v2:0", `{"inputText":"","foo":1}`,
			"Malformed input request: 2 schema violations found, please reformat your input and try again."},
		{"titan v1 too many tokens", "amazon.titan-embed-text-v1", `{"inputText":"` + titanTooMany + `"}`,
			"400 Bad Request: Too many input tokens. Max input tokens: 8192, request input token count: 8193 "},
		{"titan v2 too many tokens", "amazon.titan-embed-text-v2:0", `{"inputText":"` + titanTooMany + `"}`,
			"400 Bad Request: Too many input tokens. Max input tokens: 8192, request input token count: 8193 "},
		{"cohere missing input_type", "cohere.embed-english-v3", `{"texts":["x"]}`,
			"Malformed input request: #: required key [input_type] not found, please reformat your input and try again."},
		{"cohere bad input_type", "cohere.embed-english-v3", `{"texts":["x"],"input_type":"query"}`,
			"Malformed input request: #/input_type: query is not a valid enum value, please reformat your input and try again."},
		{"cohere too many texts", "cohere.embed-english-v3", `{"texts":[` + many + `],"input_type":"search_query"}`,
			"Malformed input request: #/texts: expected maximum item count: 96, found: 97, please reformat your input and try again."},
		{"cohere text too long", "cohere.embed-multilingual-v3", `{"texts":["` + strings.Repeat("a", 2049) + `"],"input_type":"search_query"}`,
			"Malformed input request: #/texts/0: expected maxLength: 2048, actual: 2049, please reformat your input and try again."},
		{"cohere bad truncate", "cohere.embed-english-v3", `{"texts":["x"],"input_type":"search_query","truncate":"LEFT"}`,
			"Malformed input request: #/truncate: LEFT is not a valid enum value, please reformat your input and try again."},
		{"cohere truncate NONE too long", "cohere.embed-english-v3", `{"texts":["` + tooLong + `"],"input_type":"search_query"}`,
			"Malformed input request: #/texts/0: input of 600 tokens exceeds the maximum of 512 tokens; set truncate to START or END to truncate it, please reformat your input and try again."},
		{"cohere bad embedding type", "cohere.embed-english-v3", `{"texts":["x"],"input_type":"search_query","embedding_types":["double"]}`,
			"Malformed input request: #/embedding_types/0: double is not a valid enum value, please reformat your input and try again."},
		{"cohere no input", "cohere.embed-english-v3", `{"input_type":"search_query"}`,
			"Malformed input request: texts or images must be provided, please reformat your input and try again."},
		{"cohere bad image", "cohere.embed-english-v3", `{"images":["http://x/y.png"],"input_type":"image"}`,
			"Malformed input request: #/images/0: expected a data URI of the form data:image/png;base64,<data> or data:image/jpeg;base64,<data>, please reformat your input and try again."},
		{"cohere v4 bad dimension", "cohere.embed-v4:0", `{"texts":["x"],"input_type":"search_query","output_dimension":768}`,
			"Malformed input request: #/output_dimension: 768 is not a valid enum value, please reformat your input and try again."},
		{"cohere v4 truncate START", "cohere.embed-v4:0", `{"texts":["x"],"input_type":"search_query","truncate":"START"}`,
			"Malformed input request: #/truncate: START is not a valid enum value, please reformat your input and try again."},
		{"cohere v4 max_tokens NONE", "cohere.embed-v4:0", `{"texts":["a b c"],"input_type":"search_query","max_tokens":2}`,
			"Malformed input request: #/texts/0: input of 3 tokens exceeds max_tokens 2; set truncate to LEFT or RIGHT to truncate it, please reformat your input and try again."},
		{"cohere v4 nothing", "cohere.embed-v4:0", `{"input_type":"search_query"}`,
			"Malformed input request: exactly one of texts, images or inputs must be provided, please reformat your input and try again."},
		{"nova wrong dimension", "amazon.nova-2-multimodal-embeddings-v1:0",
			`{"taskType":"SINGLE_EMBEDDING","singleEmbeddingParams":{"embeddingPurpose":"GENERIC_INDEX","embeddingDimension":512,"text":{"truncationMode":"END","value":"x"}}}`,
			"Malformed input request: #/singleEmbeddingParams/embeddingDimension: 512 is not a valid enum value, please reformat your input and try again."},
		{"nova bad task", "amazon.nova-2-multimodal-embeddings-v1:0",
			`{"taskType":"BATCH","singleEmbeddingParams":{"embeddingPurpose":"GENERIC_INDEX","text":{"truncationMode":"END","value":"x"}}}`,
			"Malformed input request: #/taskType: BATCH is not a valid enum value, please reformat your input and try again."},
		{"nova empty text", "amazon.nova-2-multimodal-embeddings-v1:0",
			`{"taskType":"SINGLE_EMBEDDING","singleEmbeddingParams":{"embeddingPurpose":"GENERIC_INDEX","text":{"truncationMode":"END","value":""}}}`,
			"Malformed input request: #/singleEmbeddingParams/text/value: expected minLength: 1, actual: 0, please reformat your input and try again."},
		{"nova no input", "amazon.nova-2-multimodal-embeddings-v1:0",
			`{"taskType":"SINGLE_EMBEDDING","singleEmbeddingParams":{"embeddingPurpose":"GENERIC_INDEX"}}`,
			"Malformed input request: #/singleEmbeddingParams: exactly one of text, image, video, audio must be provided, please reformat your input and try again."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := invokeEmbedding(tc.model, []byte(tc.body))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Status != 400 || err.Code != "ValidationException" || err.Message != tc.msg {
				t.Fatalf("got %d %s %q\nwant 400 ValidationException %q", err.Status, err.Code, err.Message, tc.msg)
			}
		})
	}
}
