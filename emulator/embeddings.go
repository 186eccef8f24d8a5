package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// invokeEmbedding answers InvokeModel for an embedding model (Titan Text
// Embeddings v1/v2, Cohere Embed v3/v4, Nova multimodal embeddings) with the
// model's native response body, and the input token count for the
// X-Amzn-Bedrock-Input-Token-Count header.
func invokeEmbedding(modelID string, body []byte) (resp []byte, inputTokens int, err *apiError) {
	base := famBaseModelID(modelID)
	switch {
	case strings.HasPrefix(base, "amazon.titan-embed-text-v1"), strings.HasPrefix(base, "amazon.titan-embed-g1-text"):
		return embedTitanV1(body)
	case strings.HasPrefix(base, "amazon.titan-embed-text-v2"):
		return embedTitanV2(body)
	case strings.HasPrefix(base, "cohere.embed-english-v3"), strings.HasPrefix(base, "cohere.embed-multilingual-v3"):
		return embedCohereV3(body)
	case strings.HasPrefix(base, "cohere.embed-v4"):
		return embedCohereV4(body)
	case strings.HasPrefix(base, "amazon.nova-2-multimodal-embeddings"):
		return embedNova(body)
	}
	return nil, 0, errInvalidModel()
}

// ---------------------------------------------------------------------------
// Vectors.
//
// A vector is feature hashing of the text: lower-cased word unigrams (weight
// 1) and character trigrams of each padded word (weight 0.5) are hashed with a
// fixed seed into signed buckets. Texts that share words and word pieces share
// buckets, so similar texts come out closer than unrelated ones, which is what
// retrieval tests against the emulator need; the same text always gives the
// same vector. Each feature touches embedSpread buckets so vectors are dense
// enough for the quantized types to carry information.

const (
	embedSeed   = "quarry-embed-v1"
	embedSpread = 4
)

// embedVector is the unit-length embedding of text in dims dimensions.
func embedVector(text string, dims int) []float64 {
	v := make([]float64, dims)
	add := func(feature string, w float64) {
		h := fnv.New64a()
		h.Write([]byte(embedSeed))
		h.Write([]byte(feature))
		x := h.Sum64()
		for i := 0; i < embedSpread; i++ {
			// splitmix64 derives independent buckets from one hash.
			x += 0x9e3779b97f4a7c15
			z := x
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
			z = (z ^ (z >> 27)) * 0x94d049bb133111eb
			z ^= z >> 31
			sign := 1.0
			if z>>63 == 1 {
				sign = -1
			}
			v[int(z%uint64(dims))] += sign * w
		}
	}
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, w := range words {
		add("w:"+w, 1)
		padded := []rune(" " + w + " ")
		for i := 0; i+3 <= len(padded); i++ {
			add("t:"+string(padded[i:i+3]), 0.5)
		}
	}
	if len(words) == 0 {
		// Text without letters or digits still gets a stable vector.
		for _, r := range text {
			if !unicode.IsSpace(r) {
				add("r:"+string(r), 1)
			}
		}
		add("s:"+text, 1)
	}
	return embedNormalize(v)
}

// embedBytesVector is the embedding of binary content (an image): unrelated
// to any text, stable for the same bytes.
func embedBytesVector(data []byte, dims int) []float64 {
	sum := sha256.Sum256(data)
	return embedVector("image "+hex.EncodeToString(sum[:]), dims)
}

func embedNormalize(v []float64) []float64 {
	var n float64
	for _, x := range v {
		n += x * x
	}
	n = math.Sqrt(n)
	if n == 0 {
		return v
	}
	for i := range v {
		v[i] /= n
	}
	return v
}

// embedMagnitude scales a unit vector for models that do not normalize
// (Titan v1, Titan v2 with normalize=false): real vectors there have norms
// well above 1 that vary with the input.
func embedMagnitude(v []float64, text string) []float64 {
	h := fnv.New32a()
	h.Write([]byte(text))
	scale := 8 + float64(h.Sum32()%800)/100
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x * scale
	}
	return out
}

// embedRound keeps the JSON short and float32-like, as the real models emit.
func embedRound(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(float32(x))
	}
	return out
}

// embedQuantize converts a float vector to one of Cohere's embedding types.
func embedQuantize(v []float64, typ string) any {
	maxAbs := 0.0
	for _, x := range v {
		maxAbs = math.Max(maxAbs, math.Abs(x))
	}
	if maxAbs == 0 {
		maxAbs = 1
	}
	switch typ {
	case "int8":
		out := make([]int, len(v))
		for i, x := range v {
			out[i] = int(math.Round(x / maxAbs * 127))
		}
		return out
	case "uint8":
		out := make([]int, len(v))
		for i, x := range v {
			out[i] = int(math.Round(x/maxAbs*127.5 + 127.5))
		}
		return out
	case "binary", "ubinary":
		// One bit per dimension (1 when positive), packed MSB first; binary
		// is the packed byte shifted into int8 range.
		out := make([]int, (len(v)+7)/8)
		for i, x := range v {
			if x > 0 {
				out[i/8] |= 0x80 >> (i % 8)
			}
		}
		if typ == "binary" {
			for i := range out {
				out[i] -= 128
			}
		}
		return out
	}
	return embedRound(v)
}

// embedTruncateTokens keeps at most limit words of text, from the start
// (keepEnd false) or the end, for the truncate option of Cohere models.
func embedTruncateTokens(text string, limit int, keepEnd bool) string {
	if countTokens(text) <= limit {
		return text
	}
	words := strings.Fields(text)
	for len(words) > 0 && countTokens(strings.Join(words, " ")) > limit {
		if keepEnd {
			words = words[1:]
		} else {
			words = words[:len(words)-1]
		}
	}
	return strings.Join(words, " ")
}

// embedID is a deterministic response id in UUID form.
func embedID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ---------------------------------------------------------------------------
// Amazon Titan Text Embeddings.

// embedTitanInput decodes a Titan Text Embeddings body against spec and
// counts its inputText, refusing more than the models' 8192 tokens.
func embedTitanInput(body []byte, spec *famSpec) (map[string]any, string, int, *apiError) {
	m, err := famDecode(body, spec)
	if err != nil {
		return nil, "", 0, err
	}
	text := famGetString(m, "inputText")
	tokens := countTokens(text)
	if tokens > 8192 {
		return nil, "", 0, validationError("400 Bad Request: Too many input tokens. Max input tokens: 8192, request input token count: %d ", tokens)
	}
	return m, text, tokens, nil
}

var embedTitanV1Spec = famObj([]string{"inputText"}, map[string]*famSpec{
	"inputText": famStrLen(1, 50000),
})

func embedTitanV1(body []byte) ([]byte, int, *apiError) {
	_, text, tokens, err := embedTitanInput(body, embedTitanV1Spec)
	if err != nil {
		return nil, 0, err
	}
	v := embedMagnitude(embedVector(text, 1536), text)
	return mustJSON(map[string]any{"embedding": embedRound(v), "inputTextTokenCount": tokens}), tokens, nil
}

var embedTitanV2Spec = famObj([]string{"inputText"}, map[string]*famSpec{
	"inputText":      famStrLen(1, 50000),
	"dimensions":     {kind: famInteger, enum: []string{"256", "512", "1024"}},
	"normalize":      famBool(),
	"embeddingTypes": famList(famEnum("float", "binary"), 1, 2),
})

func embedTitanV2(body []byte) ([]byte, int, *apiError) {
	m, text, tokens, err := embedTitanInput(body, embedTitanV2Spec)
	if err != nil {
		return nil, 0, err
	}
	dims := famGetInt(m, "dimensions", 1024)
	unit := embedVector(text, dims)
	v := unit
	if !famGetBool(m, "normalize", true) {
		v = embedMagnitude(unit, text)
	}
	types := famGetStrings(m, "embeddingTypes")
	if len(types) == 0 {
		types = []string{"float"}
	}
	byType := map[string]any{}
	for _, t := range types {
		if t == "binary" {
			bits := make([]int, dims)
			for i, x := range unit {
				if x > 0 {
					bits[i] = 1
				}
			}
			byType["binary"] = bits
		} else {
			byType["float"] = embedRound(v)
		}
	}
	return mustJSON(map[string]any{
		"embedding":           embedRound(v),
		"embeddingsByType":    byType,
		"inputTextTokenCount": tokens,
	}), tokens, nil
}

// ---------------------------------------------------------------------------
// Cohere Embed.

var embedCohereTypes = famList(famEnum("float", "int8", "uint8", "binary", "ubinary"), 1, 5)

var embedCohereV3Spec = famObj([]string{"input_type"}, map[string]*famSpec{
	"texts":           famList(famStrLen(0, 2048), 0, 96),
	"images":          famList(famStr(), 0, 1),
	"input_type":      famEnum("search_document", "search_query", "classification", "clustering", "image"),
	"truncate":        famEnum("NONE", "START", "END"),
	"embedding_types": embedCohereTypes,
})

// embedCohereV3Limit is the per-text token limit of Embed v3.
const embedCohereV3Limit = 512

func embedCohereV3(body []byte) ([]byte, int, *apiError) {
	m, err := famDecode(body, embedCohereV3Spec)
	if err != nil {
		return nil, 0, err
	}
	texts := famGetStrings(m, "texts")
	images := famGetStrings(m, "images")
	_, hasTexts := m["texts"]
	switch {
	case hasTexts && len(images) > 0:
		return nil, 0, validationError("Malformed input request: only one of texts or images may be provided, please reformat your input and try again.")
	case len(texts) == 0 && len(images) == 0:
		return nil, 0, validationError("Malformed input request: texts or images must be provided, please reformat your input and try again.")
	}
	truncate := famGetString(m, "truncate")
	if truncate == "" {
		truncate = "NONE"
	}
	types := famGetStrings(m, "embedding_types")
	total := 0
	var vecs [][]float64
	for i, t := range texts {
		n := countTokens(t)
		if n > embedCohereV3Limit {
			if truncate == "NONE" {
				return nil, 0, validationError("Malformed input request: #/texts/%d: input of %d tokens exceeds the maximum of %d tokens; set truncate to START or END to truncate it, please reformat your input and try again.", i, n, embedCohereV3Limit)
			}
			t = embedTruncateTokens(t, embedCohereV3Limit, truncate == "START")
			n = countTokens(t)
		}
		total += n
		vecs = append(vecs, embedVector(t, 1024))
	}
	var imageMeta []any
	for i, img := range images {
		data, meta, aerr := embedDataURI(img, fmt.Sprintf("#/images/%d", i))
		if aerr != nil {
			return nil, 0, aerr
		}
		imageMeta = append(imageMeta, meta)
		vecs = append(vecs, embedBytesVector(data, 1024))
		total += embedImageTokens
	}
	out := embedCohereBody(vecs, types, body)
	if len(images) > 0 {
		out["images"] = imageMeta
	} else {
		out["texts"] = texts
	}
	return mustJSON(out), total, nil
}

// embedCohereBody is the part of a Cohere embed response shared by v3 and v4:
// a plain list of float vectors, or a map by type when embedding_types was
// given.
func embedCohereBody(vecs [][]float64, types []string, body []byte) map[string]any {
	out := map[string]any{"id": embedID("cohere", string(body))}
	if len(types) == 0 {
		list := make([][]float64, len(vecs))
		for i, v := range vecs {
			list[i] = embedRound(v)
		}
		out["embeddings"] = list
		out["response_type"] = "embeddings_floats"
		return out
	}
	byType := map[string]any{}
	for _, t := range types {
		list := make([]any, len(vecs))
		for i, v := range vecs {
			list[i] = embedQuantize(v, t)
		}
		byType[t] = list
	}
	out["embeddings"] = byType
	out["response_type"] = "embeddings_by_type"
	return out
}

// embedDataURI decodes a "data:image/png;base64,…" image and describes it the
// way Cohere's response does.
func embedDataURI(uri, path string) ([]byte, map[string]any, *apiError) {
	rest, ok := strings.CutPrefix(uri, "data:")
	mediaType, payload, ok2 := strings.Cut(rest, ";base64,")
	if !ok || !ok2 || (mediaType != "image/png" && mediaType != "image/jpeg") {
		return nil, nil, validationError("Malformed input request: %s: expected a data URI of the form data:image/png;base64,<data> or data:image/jpeg;base64,<data>, please reformat your input and try again.", path)
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return nil, nil, validationError("Malformed input request: %s: the image is not valid base64, please reformat your input and try again.", path)
	}
	if len(data) > 5<<20 {
		return nil, nil, validationError("Malformed input request: %s: the image is larger than 5 MB, please reformat your input and try again.", path)
	}
	cfg, format, derr := imgDecodeConfig(data)
	if derr != nil {
		return nil, nil, validationError("Malformed input request: %s: the image is not a valid PNG or JPEG, please reformat your input and try again.", path)
	}
	return data, map[string]any{"width": cfg.Width, "height": cfg.Height, "format": format, "bit_depth": 8}, nil
}

var embedCohereV4Spec = famObj([]string{"input_type"}, map[string]*famSpec{
	"texts":  famList(famStrLen(0, 2048), 0, 96),
	"images": famList(famStr(), 0, 96),
	"inputs": famList(famObj([]string{"content"}, map[string]*famSpec{
		"content": famList(famObj([]string{"type"}, map[string]*famSpec{
			"type":      famEnum("text", "image_url"),
			"text":      famStr(),
			"image_url": famOneOf(famStr(), famObj([]string{"url"}, map[string]*famSpec{"url": famStr()})),
		}), 1, 0),
	}), 0, 96),
	"input_type":       famEnum("search_document", "search_query", "classification", "clustering"),
	"truncate":         famEnum("NONE", "LEFT", "RIGHT"),
	"embedding_types":  embedCohereTypes,
	"output_dimension": {kind: famInteger, enum: []string{"256", "512", "1024", "1536"}},
	"max_tokens":       famInt(1, 128000),
})

func embedCohereV4(body []byte) ([]byte, int, *apiError) {
	m, err := famDecode(body, embedCohereV4Spec)
	if err != nil {
		return nil, 0, err
	}
	given := 0
	for _, k := range []string{"texts", "images", "inputs"} {
		if len(famGetList(m, k)) > 0 {
			given++
		}
	}
	if given != 1 {
		return nil, 0, validationError("Malformed input request: exactly one of texts, images or inputs must be provided, please reformat your input and try again.")
	}
	dims := famGetInt(m, "output_dimension", 1536)
	limit := famGetInt(m, "max_tokens", 128000)
	truncate := famGetString(m, "truncate")
	if truncate == "" {
		truncate = "NONE"
	}
	total := 0
	embedText := func(t, path string) ([]float64, *apiError) {
		n := countTokens(t)
		if n > limit {
			if truncate == "NONE" {
				return nil, validationError("Malformed input request: %s: input of %d tokens exceeds max_tokens %d; set truncate to LEFT or RIGHT to truncate it, please reformat your input and try again.", path, n, limit)
			}
			t = embedTruncateTokens(t, limit, truncate == "LEFT")
			n = countTokens(t)
		}
		total += n
		return embedVector(t, dims), nil
	}
	var vecs [][]float64
	texts := famGetStrings(m, "texts")
	for i, t := range texts {
		v, aerr := embedText(t, fmt.Sprintf("#/texts/%d", i))
		if aerr != nil {
			return nil, 0, aerr
		}
		vecs = append(vecs, v)
	}
	for i, img := range famGetStrings(m, "images") {
		data, _, aerr := embedDataURI(img, fmt.Sprintf("#/images/%d", i))
		if aerr != nil {
			return nil, 0, aerr
		}
		vecs = append(vecs, embedBytesVector(data, dims))
		total += embedImageTokens
	}
	for i, raw := range famGetList(m, "inputs") {
		// A mixed input (text and images together) is one vector: the sum of
		// its parts, normalized.
		sum := make([]float64, dims)
		for j, part := range famGetList(raw.(map[string]any), "content") {
			p := part.(map[string]any)
			path := fmt.Sprintf("#/inputs/%d/content/%d", i, j)
			var v []float64
			if famGetString(p, "type") == "text" {
				t, ok := p["text"].(string)
				if !ok {
					return nil, 0, famMalformed(path + ": required key [text] not found")
				}
				var aerr *apiError
				if v, aerr = embedText(t, path); aerr != nil {
					return nil, 0, aerr
				}
			} else {
				url, _ := p["image_url"].(string)
				if o, ok := p["image_url"].(map[string]any); ok {
					url = famGetString(o, "url")
				}
				if url == "" {
					return nil, 0, famMalformed(path + ": required key [image_url] not found")
				}
				data, _, aerr := embedDataURI(url, path)
				if aerr != nil {
					return nil, 0, aerr
				}
				v = embedBytesVector(data, dims)
				total += embedImageTokens
			}
			for k := range sum {
				sum[k] += v[k]
			}
		}
		vecs = append(vecs, embedNormalize(sum))
	}
	out := embedCohereBody(vecs, famGetStrings(m, "embedding_types"), body)
	if len(texts) > 0 {
		out["texts"] = texts
	}
	if in := famGetList(m, "inputs"); len(in) > 0 {
		out["inputs"] = in
	}
	return mustJSON(out), total, nil
}

// ---------------------------------------------------------------------------
// Amazon Nova multimodal embeddings.

var embedNovaMediaSource = famObj(nil, map[string]*famSpec{
	"bytes":      famStr(),
	"s3Location": famOpen(famObj([]string{"uri"}, map[string]*famSpec{"uri": famStr()})),
})

var embedNovaSpec = famObj([]string{"taskType", "singleEmbeddingParams"}, map[string]*famSpec{
	"schemaVersion": famEnum("nova-multimodal-embed-v1"),
	"taskType":      famEnum("SINGLE_EMBEDDING"),
	"singleEmbeddingParams": famObj([]string{"embeddingPurpose"}, map[string]*famSpec{
		"embeddingPurpose": famEnum("GENERIC_INDEX", "GENERIC_RETRIEVAL", "TEXT_RETRIEVAL", "IMAGE_RETRIEVAL",
			"VIDEO_RETRIEVAL", "DOCUMENT_RETRIEVAL", "AUDIO_RETRIEVAL", "CLASSIFICATION", "CLUSTERING"),
		"embeddingDimension": {kind: famInteger, enum: []string{"256", "384", "1024", "3072"}},
		"text": famObj([]string{"truncationMode"}, map[string]*famSpec{
			"truncationMode": famEnum("START", "END", "NONE"),
			"value":          famStrLen(1, 0),
			"source":         famObj([]string{"s3Location"}, map[string]*famSpec{"s3Location": famOpen(famObj([]string{"uri"}, map[string]*famSpec{"uri": famStr()}))}),
		}),
		"image": famObj([]string{"format", "source"}, map[string]*famSpec{
			"format":             famEnum("png", "jpeg", "gif", "webp"),
			"detailLevel":        famEnum("STANDARD_IMAGE", "DOCUMENT_IMAGE"),
			"source":             embedNovaMediaSource,
			"embeddingMode":      famStr(),
			"segmentationConfig": famAnyValue(),
		}),
	}),
})

// embedImageTokens is what an image input is billed as.
const embedImageTokens = 1000

// embedNovaTextLimit is the text input limit of Nova multimodal embeddings.
const embedNovaTextLimit = 8172

func embedNova(body []byte) ([]byte, int, *apiError) {
	m, err := famDecode(body, embedNovaSpec)
	if err != nil {
		return nil, 0, err
	}
	p := famGetObject(m, "singleEmbeddingParams")
	dims := famGetInt(p, "embeddingDimension", 3072)
	text, image := famGetObject(p, "text"), famGetObject(p, "image")
	if (text == nil) == (image == nil) {
		return nil, 0, validationError("Malformed input request: #/singleEmbeddingParams: exactly one of text, image, video, audio must be provided, please reformat your input and try again.")
	}
	var vec []float64
	var kind string
	tokens := 0
	if text != nil {
		value, ok := text["value"].(string)
		if !ok {
			return nil, 0, validationError("Malformed input request: #/singleEmbeddingParams/text: value is required (S3 sources are not supported by the emulator), please reformat your input and try again.")
		}
		tokens = countTokens(value)
		if tokens > embedNovaTextLimit {
			switch famGetString(text, "truncationMode") {
			case "NONE":
				return nil, 0, validationError("Input text exceeds the maximum of %d tokens and truncationMode is NONE.", embedNovaTextLimit)
			case "START":
				value = embedTruncateTokens(value, embedNovaTextLimit, true)
			default:
				value = embedTruncateTokens(value, embedNovaTextLimit, false)
			}
			tokens = countTokens(value)
		}
		vec, kind = embedVector(value, dims), "TEXT"
	} else {
		src := famGetObject(image, "source")
		b64, ok := src["bytes"].(string)
		if !ok {
			return nil, 0, validationError("Malformed input request: #/singleEmbeddingParams/image/source: bytes is required (S3 sources are not supported by the emulator), please reformat your input and try again.")
		}
		data, derr := base64.StdEncoding.DecodeString(b64)
		if derr != nil || len(data) == 0 {
			return nil, 0, validationError("Malformed input request: #/singleEmbeddingParams/image/source/bytes: the image is not valid base64, please reformat your input and try again.")
		}
		vec, kind, tokens = embedBytesVector(data, dims), "IMAGE", embedImageTokens
	}
	return mustJSON(map[string]any{
		"embeddings":      []any{map[string]any{"embeddingType": kind, "embedding": embedRound(vec)}},
		"inputTokenCount": tokens,
	}), tokens, nil
}
