package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/upstream"
)

// checkConvertGolden compares v, as indented JSON, with testdata/<dir>/<name>.json.
// QUARRY_UPDATE_GOLDEN=1 rewrites the files from the actual output.
func checkConvertGolden(t *testing.T, dir, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", dir, name+".json")
	if os.Getenv("QUARRY_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with QUARRY_UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", path, got, want)
	}
}

// goldenOutcome is what a conversion gave: the result or the 400.
type goldenOutcome struct {
	Result any           `json:"result,omitempty"`
	Error  *convertError `json:"error,omitempty"`
}

type convertError struct {
	Status  int    `json:"status"`
	Type    string `json:"type"`
	Param   string `json:"param"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

func outcome(result any, aerr *apiError) goldenOutcome {
	if aerr != nil {
		return goldenOutcome{Error: &convertError{aerr.Status, aerr.Type, aerr.Param, aerr.Code, aerr.Msg}}
	}
	return goldenOutcome{Result: result}
}

// testModel is a served model for conversion tests (no client: the
// conversions never call Bedrock).
func testModel(kind config.Kind, name, modelID string, edit func(*config.Model)) *upstream.Model {
	cm := config.Model{Kind: kind, Name: name, ModelID: modelID}
	if edit != nil {
		edit(&cm)
	}
	return &upstream.Model{Model: cm, Family: bedrock.ModelFamily(modelID)}
}

var (
	titanV2 = testModel(config.KindEmbedding, "titan-embed", "amazon.titan-embed-text-v2:0", func(m *config.Model) {
		m.Embedding.Dimensions = 512
	})
	titanV1      = testModel(config.KindEmbedding, "titan-v1", "amazon.titan-embed-text-v1", nil)
	titanImage   = testModel(config.KindEmbedding, "titan-mm", "amazon.titan-embed-image-v1", nil)
	cohereV3     = testModel(config.KindEmbedding, "cohere-embed", "cohere.embed-english-v3", func(m *config.Model) { m.Embedding.Truncate = "END" })
	cohereV4     = testModel(config.KindEmbedding, "cohere-v4", "us.cohere.embed-v4:0", nil)
	novaEmbed    = testModel(config.KindEmbedding, "nova-embed", "amazon.nova-2-multimodal-embeddings-v1:0", nil)
	chatModelDef = testModel(config.KindChat, "nova-lite", "us.amazon.nova-lite-v1:0", nil)
	canvasModel  = testModel(config.KindImage, "nova-canvas", "amazon.nova-canvas-v1:0", nil)
)

func TestPlanEmbeddingsGolden(t *testing.T) {
	for _, c := range []struct {
		name  string
		model *upstream.Model
		body  string
	}{
		{"titan_v2_model_defaults", titanV2, `{"model":"titan-embed","input":["a","b"]}`},
		{"titan_v2_request_overrides", titanV2, `{"model":"titan-embed","input":"a","dimensions":1024,"normalize":false}`},
		{"titan_v2_bad_dimensions", titanV2, `{"model":"titan-embed","input":"a","dimensions":1536}`},
		{"titan_v1_fixed_1536_not_sent", titanV1, `{"model":"titan-v1","input":"a","dimensions":1536}`},
		{"titan_v1_bad_dimensions", titanV1, `{"model":"titan-v1","input":"a","dimensions":1024}`},
		{"titan_v1_normalize_refused", titanV1, `{"model":"titan-v1","input":"a","normalize":true}`},
		{"titan_multimodal_length", titanImage, `{"model":"titan-mm","input":"a","dimensions":384}`},
		{"titan_input_type_refused", titanV2, `{"model":"titan-embed","input":"a","input_type":"search_query"}`},
		{"cohere_v3_defaults", cohereV3, `{"model":"cohere-embed","input":["a","b","c"],"encoding_format":"base64"}`},
		{"cohere_v3_query", cohereV3, `{"model":"cohere-embed","input":"a","input_type":"search_query","dimensions":1024}`},
		{"cohere_v3_bad_dimensions", cohereV3, `{"model":"cohere-embed","input":"a","dimensions":512}`},
		{"cohere_v3_bad_input_type", cohereV3, `{"model":"cohere-embed","input":"a","input_type":"documents"}`},
		{"cohere_v4_dimensions_truncate", cohereV4, `{"model":"cohere-v4","input":["a"],"dimensions":256,"truncate":"LEFT"}`},
		{"cohere_v4_v3_truncate_refused", cohereV4, `{"model":"cohere-v4","input":["a"],"truncate":"END"}`},
		{"nova_defaults", novaEmbed, `{"model":"nova-embed","input":["a","b"]}`},
		{"nova_overrides", novaEmbed, `{"model":"nova-embed","input":"a","dimensions":3072,"embedding_purpose":"TEXT_RETRIEVAL","truncation_mode":"START"}`},
		{"nova_bad_dimensions", novaEmbed, `{"model":"nova-embed","input":"a","dimensions":512}`},
		{"chat_model", chatModelDef, `{"model":"nova-lite","input":"a"}`},
		{"image_model", canvasModel, `{"model":"nova-canvas","input":"a"}`},
		{"bad_encoding_format", titanV2, `{"model":"titan-embed","input":"a","encoding_format":"int8"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var req embeddingRequest
			if err := json.Unmarshal([]byte(c.body), &req); err != nil {
				t.Fatal(err)
			}
			plan, aerr := planEmbeddings(c.model, &req)
			checkConvertGolden(t, "embeddings", c.name, outcome(plan, aerr))
		})
	}
}

func TestEmbeddingInputs(t *testing.T) {
	for _, c := range []struct {
		raw   string
		want  []string
		param string // the field the 400 names
	}{
		{`"hello"`, []string{"hello"}, ""},
		{`["a","b"]`, []string{"a", "b"}, ""},
		{`"  "`, nil, "input"},
		{`""`, nil, "input"},
		{`[]`, nil, "input"},
		{`["a",""]`, nil, "input[1]"},
		{`["a"," \n"]`, nil, "input[1]"},
		{`["a",null]`, nil, "input[1]"},
		{`["a",{"text":"b"}]`, nil, "input[1]"},
		{`[1,2,3]`, nil, "input"},
		{`[[1,2],[3]]`, nil, "input"},
		{`42`, nil, "input"},
		{`{"text":"a"}`, nil, "input"},
		{`null`, nil, "input"},
		{``, nil, "input"},
	} {
		got, aerr := embeddingInputs(json.RawMessage(c.raw))
		switch {
		case c.param != "":
			if aerr == nil || aerr.Param != c.param || aerr.Status != 400 {
				t.Errorf("%s: got %v, %+v; want a 400 naming %s", c.raw, got, aerr, c.param)
			}
		case aerr != nil:
			t.Errorf("%s: %v", c.raw, aerr)
		case fmt.Sprint(got) != fmt.Sprint(c.want):
			t.Errorf("%s: got %q; want %q", c.raw, got, c.want)
		}
	}
	many, _ := json.Marshal(make([]string, maxEmbeddingInputs+1))
	if _, aerr := embeddingInputs(many); aerr == nil || aerr.Param != "input" {
		t.Errorf("%d inputs: %+v; want a 400 naming input", maxEmbeddingInputs+1, aerr)
	}
	if _, aerr := embeddingInputs(json.RawMessage(`[1,2]`)); aerr == nil || !strings.Contains(aerr.Msg, "text") {
		t.Errorf("token arrays: %+v; want a message explaining Bedrock embeds text", aerr)
	}
}

func TestDimensionRules(t *testing.T) {
	for _, c := range []struct {
		model *upstream.Model
		ok    []int
		bad   []int
	}{
		{titanV2, []int{256, 512, 1024}, []int{0, 128, 384, 1536, 3072}},
		{titanV1, []int{1536}, []int{256, 512, 1024}},
		{titanImage, []int{256, 384, 1024}, []int{512, 1536}},
		{cohereV3, []int{1024}, []int{256, 512, 1536}},
		{cohereV4, []int{256, 512, 1024, 1536}, []int{384, 3072}},
		{novaEmbed, []int{256, 384, 1024, 3072}, []int{512, 1536}},
	} {
		for _, d := range append(append([]int(nil), c.ok...), c.bad...) {
			d := d
			req := &embeddingRequest{Input: json.RawMessage(`"x"`), Dimensions: &d}
			_, aerr := planEmbeddings(c.model, req)
			wantOK := containsDim(c.ok, d)
			if wantOK && aerr != nil {
				t.Errorf("%s dimensions %d: %v", c.model.ModelID, d, aerr)
			}
			if !wantOK && (aerr == nil || aerr.Param != "dimensions") {
				t.Errorf("%s dimensions %d: %+v; want a 400 naming dimensions", c.model.ModelID, d, aerr)
			}
		}
	}
}

func TestCohereBatchesOf96KeepOrder(t *testing.T) {
	texts := make([]string, 200)
	for i := range texts {
		texts[i] = fmt.Sprintf("text %d", i)
	}
	raw, _ := json.Marshal(texts)
	plan, aerr := planEmbeddings(cohereV3, &embeddingRequest{Input: raw})
	if aerr != nil {
		t.Fatal(aerr)
	}
	var sizes, firsts []int
	var joined []string
	for _, c := range plan.Calls {
		if c.Cohere == nil || c.Titan != nil || c.Nova != nil {
			t.Fatalf("call %+v is not a Cohere call", c)
		}
		if len(c.Cohere.Texts) != c.Count {
			t.Errorf("call at %d: %d texts, Count %d", c.First, len(c.Cohere.Texts), c.Count)
		}
		sizes, firsts = append(sizes, c.Count), append(firsts, c.First)
		joined = append(joined, c.Cohere.Texts...)
	}
	if fmt.Sprint(sizes) != "[96 96 8]" || fmt.Sprint(firsts) != "[0 96 192]" {
		t.Errorf("batches of %v at %v; want [96 96 8] at [0 96 192]", sizes, firsts)
	}
	if fmt.Sprint(joined) != fmt.Sprint(texts) {
		t.Error("the batches do not hold the texts in input order")
	}

	// Results put back by First land in input order whatever the batches
	// hold: vector i is [i].
	vectors := make([][]float64, 200)
	for _, c := range plan.Calls {
		res := make([][]float64, c.Count)
		for j := range res {
			res[j] = []float64{float64(c.First + j)}
		}
		copy(vectors[c.First:], res)
	}
	resp := embeddingResponseOf("cohere-embed", vectors, 7, false)
	for i, d := range resp.Data {
		if d.Index != i || d.Embedding.([]float32)[0] != float32(i) {
			t.Fatalf("data[%d] = index %d, %v", i, d.Index, d.Embedding)
		}
	}
}

// decodeEmbeddingBase64 is how the SDKs read OpenAI's base64 embeddings:
// little-endian float32.
func decodeEmbeddingBase64(s string) ([]float32, error) {
	buf, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(buf)%4 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of float32 values", len(buf))
	}
	out := make([]float32, len(buf)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return out, nil
}

func TestEmbeddingBase64RoundTrip(t *testing.T) {
	// A fixed vector against bytes worked out by hand: 1.0 = 0x3f800000,
	// -2.0 = 0xc0000000, little-endian.
	if got := encodeEmbeddingBase64([]float64{1, -2}); got != "AACAPwAAAMA=" {
		t.Errorf("encode [1 -2] = %s", got)
	}
	for _, v := range [][]float64{
		{},
		{0},
		{0.1, -0.25, 1e-8, -3.4e38, 123.456, math.SmallestNonzeroFloat32},
		{0.012345678901234567, -0.9876543210987654},
	} {
		s := encodeEmbeddingBase64(v)
		got, err := decodeEmbeddingBase64(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(v) {
			t.Fatalf("%v: decoded %d values", v, len(got))
		}
		for i := range v {
			if got[i] != float32(v[i]) {
				t.Errorf("%v[%d]: decoded %v; want float32 %v", v, i, got[i], float32(v[i]))
			}
		}
	}
}

func TestEmbeddingResponseGolden(t *testing.T) {
	vectors := [][]float64{{0.5, -0.25, 0.125}, {1, 0, -1}}
	checkConvertGolden(t, "embeddings", "response_float", embeddingResponseOf("titan-embed", vectors, 9, false))
	checkConvertGolden(t, "embeddings", "response_base64", embeddingResponseOf("titan-embed", vectors, 9, true))
}

func TestEmbedResultOf(t *testing.T) {
	one := embedCall{Count: 1}
	r, err := embedResultOf(one, &bedrock.TitanEmbedResponse{Embedding: []float64{1, 2}, InputTextTokenCount: 3}, nil, nil)
	if err != nil || r.Tokens != 3 || len(r.Vectors) != 1 {
		t.Errorf("titan: %+v, %v", r, err)
	}
	cohere := &bedrock.CohereEmbedResponse{Embeddings: bedrock.CohereEmbeddings{Float: [][]float64{{1}, {2}}}}
	cohere.InputTokenCount = 11
	r, err = embedResultOf(embedCall{Count: 2}, nil, cohere, nil)
	if err != nil || r.Tokens != 11 {
		t.Errorf("cohere: tokens from the header: %+v, %v", r, err)
	}
	if _, err := embedResultOf(embedCall{Count: 3}, nil, cohere, nil); err == nil {
		t.Error("2 vectors for 3 inputs accepted; the indexes would shift")
	}
	if _, err := embedResultOf(one, &bedrock.TitanEmbedResponse{}, nil, nil); err == nil {
		t.Error("an empty vector accepted")
	}
	n := 4
	r, err = embedResultOf(one, nil, nil, &bedrock.NovaEmbedResponse{InputTokenCount: &n,
		Embeddings: []bedrock.NovaEmbedding{{EmbeddingType: "TEXT", Embedding: []float64{1}}}})
	if err != nil || r.Tokens != 4 {
		t.Errorf("nova: %+v, %v", r, err)
	}
}
