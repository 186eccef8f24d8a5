package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// part is one field of a multipart form: a value, or a file.
type part struct {
	name, value string
	file        []byte
}

func multipartBody(t *testing.T, parts []part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.file != nil {
			fw, err := w.CreateFormFile(p.name, "f.png")
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(p.file)
			continue
		}
		w.WriteField(p.name, p.value)
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// TestImageEditAndRerankMalformedE2E: malformed image-edit, variation and
// rerank requests through the quick start, each a 4xx in OpenAI's error
// format naming the field at fault.
func TestImageEditAndRerankMalformedE2E(t *testing.T) {
	g := startGateway(t, quickstart, nil)
	img := testPNG(t, 512, 320)
	mask := openAIMask(t, 512, 320)
	gray := func(w, h int, c color.Color) []byte {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.Set(x, y, c)
			}
		}
		return encodePNG(t, m)
	}
	withAlpha := gray(512, 320, color.NRGBA{10, 20, 30, 128})
	base := func(extra ...part) []part {
		return append([]part{{name: "model", value: "nova-canvas"}, {name: "prompt", value: "a red door"}, {name: "image", file: img}}, extra...)
	}
	noImage := []part{{name: "model", value: "nova-canvas"}, {name: "prompt", value: "x"}}
	var manyDocs []string
	for i := 0; i < 1001; i++ {
		manyDocs = append(manyDocs, fmt.Sprintf("doc %d", i))
	}
	many, _ := json.Marshal(map[string]any{"model": "cohere-rerank", "query": "q", "documents": manyDocs})

	type req struct {
		path, ctype string
		body        []byte
	}
	form := func(path string, parts []part) func() req {
		return func() req {
			ct, b := multipartBody(t, parts)
			return req{path, ct, b}
		}
	}
	rerank := func(body string) func() req {
		return func() req { return req{"/v1/rerank", "application/json", []byte(body)} }
	}
	const edits, variations = "/v1/images/edits", "/v1/images/variations"
	for _, c := range []struct {
		name   string
		req    func() req
		status int
		param  string
	}{
		// Image edits.
		{"edit without image", form(edits, append(noImage, part{name: "mask_prompt", value: "door"})), 400, "image"},
		{"edit with two images", form(edits, base(part{name: "image[]", file: img}, part{name: "mask_prompt", value: "door"})), 400, "image"},
		{"edit image not an image", form(edits, append(noImage, part{name: "image", file: []byte("hello, not a picture")}, part{name: "mask_prompt", value: "door"})), 400, "image"},
		{"edit image too small", form(edits, append(noImage, part{name: "image", file: testPNG(t, 256, 256)}, part{name: "mask_prompt", value: "door"})), 400, "image"},
		{"edit image too many pixels", form(edits, append(noImage, part{name: "image", file: testPNG(t, 2048, 2048)}, part{name: "mask_prompt", value: "door"})), 400, "image"},
		{"edit image aspect ratio", form(edits, append(noImage, part{name: "image", file: testPNG(t, 1344, 320)}, part{name: "mask_prompt", value: "door"})), 400, "image"},
		{"edit image transparent", form(edits, append(noImage, part{name: "image", file: withAlpha}, part{name: "mask_prompt", value: "door"})), 400, "image"},
		{"mask of another size", form(edits, base(part{name: "mask", file: openAIMask(t, 320, 320)})), 400, "mask"},
		{"mask grey, not black and white", form(edits, base(part{name: "mask", file: gray(512, 320, color.NRGBA{128, 128, 128, 255})})), 400, "mask"},
		{"mask semi-transparent", form(edits, base(part{name: "mask", file: withAlpha})), 400, "mask"},
		{"mask and mask_prompt", form(edits, base(part{name: "mask", file: mask}, part{name: "mask_prompt", value: "door"})), 400, "mask_prompt"},
		{"neither mask nor mask_prompt", form(edits, base()), 400, "mask"},
		{"outpainting_mode unknown", form(edits, base(part{name: "mask", file: mask}, part{name: "outpainting_mode", value: "WIDE"})), 400, "outpainting_mode"},
		{"task_type unknown", form(edits, base(part{name: "task_type", value: "VIRTUAL_TRY_ON"})), 400, "task_type"},
		{"task_type variation on edits", form(edits, base(part{name: "task_type", value: "IMAGE_VARIATION"})), 400, "task_type"},
		{"background removal n 2", form(edits, base(part{name: "task_type", value: "BACKGROUND_REMOVAL"}, part{name: "n", value: "2"})), 400, "n"},
		{"background removal with mask", form(edits, base(part{name: "task_type", value: "BACKGROUND_REMOVAL"}, part{name: "mask", file: mask})), 400, "mask"},
		{"n zero", form(edits, base(part{name: "mask", file: mask}, part{name: "n", value: "0"})), 400, "n"},
		{"n above max_images", form(edits, base(part{name: "mask", file: mask}, part{name: "n", value: "11"})), 400, "n"},
		{"n not a number", form(edits, base(part{name: "mask", file: mask}, part{name: "n", value: "two"})), 400, "n"},
		{"size differs from image", form(edits, base(part{name: "mask", file: mask}, part{name: "size", value: "1024x1024"})), 400, "size"},
		{"prompt too long", form(edits, []part{{name: "model", value: "nova-canvas"}, {name: "prompt", value: strings.Repeat("a", 1025)}, {name: "image", file: img}, {name: "mask", file: mask}}), 400, "prompt"},
		{"mask_prompt too long", form(edits, base(part{name: "mask_prompt", value: strings.Repeat("d", 1025)})), 400, "mask_prompt"},
		{"colors not hex", form(edits, base(part{name: "colors", value: "orange"})), 400, "colors"},
		{"colors with outpainting", form(edits, base(part{name: "task_type", value: "OUTPAINTING"}, part{name: "mask", file: mask}, part{name: "colors", value: "#000000"})), 400, "colors"},
		{"similarity_strength on edits", form(edits, base(part{name: "mask", file: mask}, part{name: "similarity_strength", value: "0.5"})), 400, "similarity_strength"},
		{"cfg_scale out of range", form(edits, base(part{name: "mask", file: mask}, part{name: "cfg_scale", value: "20"})), 400, "cfg_scale"},
		{"response_format url", form(edits, base(part{name: "mask", file: mask}, part{name: "response_format", value: "url"})), 400, "response_format"},
		{"edit with an embedding model", form(edits, []part{{name: "model", value: "titan-embed"}, {name: "prompt", value: "x"}, {name: "image", file: img}}), 400, "model"},
		{"edit with an unknown model", form(edits, []part{{name: "model", value: "dall-e-2"}, {name: "prompt", value: "x"}, {name: "image", file: img}}), 404, "model"},
		{"edit sent as JSON", func() req { return req{edits, "application/json", []byte(`{"model":"nova-canvas","prompt":"x"}`)} }, 400, ""},
		// Variations.
		{"similarity_strength too low", form(variations, []part{{name: "model", value: "nova-canvas"}, {name: "image", file: img}, {name: "similarity_strength", value: "0.1"}}), 400, "similarity_strength"},
		{"variation of six images", form(variations, []part{{name: "model", value: "nova-canvas"}, {name: "image[]", file: img}, {name: "image[]", file: img}, {name: "image[]", file: img},
			{name: "image[]", file: img}, {name: "image[]", file: img}, {name: "image[]", file: img}}), 400, "image"},
		{"variation with a mask", form(variations, []part{{name: "model", value: "nova-canvas"}, {name: "image", file: img}, {name: "mask", file: mask}}), 400, "mask"},
		{"variation without image", form(variations, []part{{name: "model", value: "nova-canvas"}}), 400, "image"},
		// Rerank.
		{"rerank without query", rerank(`{"model":"cohere-rerank","documents":["a"]}`), 400, "query"},
		{"rerank blank query", rerank(`{"model":"cohere-rerank","query":"  ","documents":["a"]}`), 400, "query"},
		{"rerank query not a string", rerank(`{"model":"cohere-rerank","query":7,"documents":["a"]}`), 400, "query"},
		{"rerank without documents", rerank(`{"model":"cohere-rerank","query":"q"}`), 400, "documents"},
		{"rerank no documents", rerank(`{"model":"amazon-rerank","query":"q","documents":[]}`), 400, "documents"},
		{"rerank 1001 documents", rerank(string(many)), 400, "documents"},
		{"rerank document a number", rerank(`{"model":"cohere-rerank","query":"q","documents":["a",3]}`), 400, "documents[1]"},
		{"rerank empty document", rerank(`{"model":"cohere-rerank","query":"q","documents":[""]}`), 400, "documents[0]"},
		{"rerank empty object", rerank(`{"model":"cohere-rerank","query":"q","documents":[{}]}`), 400, "documents[0]"},
		{"rerank text not a string", rerank(`{"model":"cohere-rerank","query":"q","documents":[{"text":5}]}`), 400, "documents[0].text"},
		{"rerank top_n zero", rerank(`{"model":"cohere-rerank","query":"q","documents":["a"],"top_n":0}`), 400, "top_n"},
		{"rerank top_n a string", rerank(`{"model":"cohere-rerank","query":"q","documents":["a"],"top_n":"3"}`), 400, "top_n"},
		{"rerank return_documents a string", rerank(`{"model":"cohere-rerank","query":"q","documents":["a"],"return_documents":"yes"}`), 400, "return_documents"},
		{"rerank with a chat model", rerank(`{"model":"nova-lite","query":"q","documents":["a"]}`), 400, "model"},
		{"rerank with an unknown model", rerank(`{"model":"rerank-english-v3.0","query":"q","documents":["a"]}`), 404, "model"},
		{"rerank without model", rerank(`{"query":"q","documents":["a"]}`), 400, "model"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.req()
			resp, err := http.Post(g.URL+r.path, r.ctype, bytes.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
				} `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("status %d, body not OpenAI's error JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != c.status {
				t.Errorf("status %d; want %d (%s)", resp.StatusCode, c.status, body.Error.Message)
			}
			got := ""
			if body.Error.Param != nil {
				got = *body.Error.Param
			}
			if got != c.param {
				t.Errorf("param %q; want %q (%s)", got, c.param, body.Error.Message)
			}
			if body.Error.Message == "" || body.Error.Type != "invalid_request_error" {
				t.Errorf("error %+v; want an invalid_request_error with a message", body.Error)
			}
		})
	}
}
