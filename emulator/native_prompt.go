package emulator

import "strings"

// Prompt-style families: Amazon Titan Text, Meta Llama, Mistral and Cohere
// Command, each with its own body schema and chunk shape.

// Amazon Titan Text.

var nativeTitanSpec = famObj([]string{"inputText"}, map[string]*famSpec{
	"inputText": famStr(),
	"textGenerationConfig": famObj(nil, map[string]*famSpec{
		"maxTokenCount": famInt(0, 8192),
		"temperature":   famNum(0, 1),
		"topP":          famNum(0, 1),
		"stopSequences": famList(famStr(), 0, 0),
	}),
})

func nativeParseTitan(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeTitanSpec)
	if err != nil {
		return nil, err
	}
	text := famGetString(m, "inputText")
	if strings.TrimSpace(text) == "" {
		return nil, validationError("Malformed input request: #/inputText: expected minLength: 1, actual: %d, please reformat your input and try again.", len(text))
	}
	cfg := famGetObject(m, "textGenerationConfig")
	req := nativePromptRequest(text)
	req.MaxTokens = famGetInt(cfg, "maxTokenCount", 512)
	req.StopSequences = nativeStopSeqs(cfg, "stopSequences")
	return req, nil
}

// nativeTitanChunks: Titan streams text in large pieces; the first chunk
// carries the input token count, the last the totals and completion reason.
func nativeTitanChunks(res genResult) []nativeObj {
	pieces := nativeGroup(nativeFragments(res.Text), 16)
	if len(pieces) == 0 {
		pieces = []string{""}
	}
	out := make([]nativeObj, len(pieces))
	for i, p := range pieces {
		var total, reason, input any
		if i == 0 {
			input = res.InputTokens
		}
		if i == len(pieces)-1 {
			total, reason = res.OutputTokens, nativeTitanReason(res.StopReason)
		}
		out[i] = nativeObj{{"outputText", p}, {"index", 0}, {"totalOutputTextTokenCount", total}, {"completionReason", reason}, {"inputTextTokenCount", input}}
	}
	return out
}

// nativeGroup joins fragments into pieces of about maxTokens tokens.
func nativeGroup(frags []string, maxTokens int) []string {
	var out []string
	cur, n := "", 0
	for _, f := range frags {
		t := countTokens(f)
		if n > 0 && n+t > maxTokens {
			out = append(out, cur)
			cur, n = "", 0
		}
		cur += f
		n += t
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// nativePromptMessages turns a raw prompt into messages, understanding the
// chat templates clients put in prompt-style bodies: Llama 3 header tokens,
// and [INST] blocks (Llama 2, Mistral) with <<SYS>>. Anything else is one
// user message.
func nativePromptMessages(prompt string) []genMessage {
	if strings.Contains(prompt, "<|start_header_id|>") {
		var out []genMessage
		for _, seg := range strings.Split(prompt, "<|start_header_id|>")[1:] {
			role, text, _ := strings.Cut(seg, "<|end_header_id|>")
			text, _, _ = strings.Cut(text, "<|eot_id|>")
			text = strings.TrimSpace(text)
			switch role {
			case "system":
				out = append(out, genMessage{Role: "system", Text: text})
			case "assistant":
				if text != "" {
					out = append(out, genMessage{Role: "assistant", Text: text})
				}
			default:
				out = append(out, genMessage{Role: "user", Text: text})
			}
		}
		return out
	}
	if strings.Contains(prompt, "[INST]") {
		var out []genMessage
		for _, turn := range strings.Split(prompt, "[INST]")[1:] {
			user, answer, _ := strings.Cut(turn, "[/INST]")
			if sys, rest, ok := strings.Cut(user, "<</SYS>>"); ok {
				out = append(out, genMessage{Role: "system", Text: strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sys), "<<SYS>>"))})
				user = rest
			}
			out = append(out, genMessage{Role: "user", Text: strings.TrimSpace(user)})
			answer = strings.TrimSpace(strings.NewReplacer("</s>", "", "<s>", "").Replace(answer))
			if answer != "" {
				out = append(out, genMessage{Role: "assistant", Text: answer})
			}
		}
		return out
	}
	return []genMessage{{Role: "user", Text: strings.TrimSpace(strings.NewReplacer("<s>", "", "</s>", "", "<|begin_of_text|>", "").Replace(prompt))}}
}

// nativePromptRequest splits the system turns of a parsed prompt out into
// genRequest.System.
func nativePromptRequest(prompt string) *genRequest {
	req := &genRequest{}
	for _, m := range nativePromptMessages(prompt) {
		if m.Role == "system" {
			req.System = append(req.System, m.Text)
			continue
		}
		req.Messages = append(req.Messages, m)
	}
	if len(req.Messages) == 0 {
		req.Messages = []genMessage{{Role: "user", Text: ""}}
	}
	return req
}

// ---------------------------------------------------------------------------
// Meta Llama.

var nativeLlamaSpec = famObj([]string{"prompt"}, map[string]*famSpec{
	"prompt":      famStr(),
	"max_gen_len": famInt(1, 2048),
	"temperature": famNum(0, 1),
	"top_p":       famNum(0, 1),
	"images":      famList(famStr(), 0, 0),
})

func nativeParseLlama(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeLlamaSpec)
	if err != nil {
		return nil, err
	}
	req := nativePromptRequest(famGetString(m, "prompt"))
	req.MaxTokens = famGetInt(m, "max_gen_len", 512)
	req.ExtraInputTokens = nativeBlobTokens * len(famGetList(m, "images"))
	return req, nil
}

func nativeLlamaChunks(res genResult) []nativeObj {
	frags := nativeFragments(res.Text)
	if len(frags) == 0 {
		frags = []string{""}
	}
	out := make([]nativeObj, len(frags))
	sofar := 0
	for i, f := range frags {
		sofar += countTokens(f)
		var prompt, stop any
		if i == 0 {
			prompt = res.InputTokens
		}
		count := sofar
		if i == len(frags)-1 {
			stop, count = nativeLlamaReason(res.StopReason), res.OutputTokens
		}
		out[i] = nativeObj{{"generation", f}, {"prompt_token_count", prompt}, {"generation_token_count", count}, {"stop_reason", stop}}
	}
	return out
}

// ---------------------------------------------------------------------------
// Mistral (prompt-style body).

var nativeMistralSpec = famObj([]string{"prompt"}, map[string]*famSpec{
	"prompt":      famStr(),
	"max_tokens":  {kind: famInteger, min: famFloat(1)},
	"temperature": famNum(0, 1),
	"top_p":       famNum(0, 1),
	"top_k":       famInt(0, 200),
	"stop":        famList(famStr(), 0, 10),
})

func nativeParseMistral(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeMistralSpec)
	if err != nil {
		return nil, err
	}
	req := nativePromptRequest(famGetString(m, "prompt"))
	req.MaxTokens = famGetInt(m, "max_tokens", 512)
	req.StopSequences = nativeStopSeqs(m, "stop")
	return req, nil
}

func nativeMistralChunks(res genResult) []nativeObj {
	frags := nativeFragments(res.Text)
	if len(frags) == 0 {
		frags = []string{""}
	}
	out := make([]nativeObj, len(frags))
	for i, f := range frags {
		var stop any
		if i == len(frags)-1 {
			stop = nativeLlamaReason(res.StopReason)
		}
		out[i] = nativeObj{{"outputs", []any{nativeObj{{"text", f}, {"stop_reason", stop}}}}}
	}
	return out
}

// ---------------------------------------------------------------------------
// Cohere Command (generate API).

var nativeCohereSpec = famObj([]string{"prompt"}, map[string]*famSpec{
	"prompt":             famStr(),
	"max_tokens":         famInt(1, 4096),
	"temperature":        famNum(0, 5),
	"p":                  famNum(0, 1),
	"k":                  famInt(0, 500),
	"stop_sequences":     famList(famStr(), 0, 4),
	"return_likelihoods": famEnum("GENERATION", "ALL", "NONE"),
	"stream":             famBool(),
	"num_generations":    famInt(1, 5),
	"logit_bias":         {kind: famObject, open: true},
	"truncate":           famEnum("NONE", "START", "END"),
})

func nativeParseCohere(body []byte) (*genRequest, *apiError) {
	m, err := famDecode(body, nativeCohereSpec)
	if err != nil {
		return nil, err
	}
	return &genRequest{
		Messages:      []genMessage{{Role: "user", Text: famGetString(m, "prompt")}},
		MaxTokens:     famGetInt(m, "max_tokens", 20),
		StopSequences: nativeStopSeqs(m, "stop_sequences"),
	}, nil
}

func nativeCohereIDs(modelID string, req *genRequest, res genResult) (id, genID string) {
	seed := modelID + "\x00" + nativeLastUserText(req) + "\x00" + res.Text
	return nativeUUID("cohere-response", seed), nativeUUID("cohere-generation", seed)
}

func nativeCohereResponse(modelID string, req *genRequest, res genResult) nativeObj {
	id, genID := nativeCohereIDs(modelID, req, res)
	return nativeObj{
		{"id", id},
		{"generations", []any{nativeObj{{"id", genID}, {"text", res.Text}, {"finish_reason", nativeCohereReason(res.StopReason, false)}}}},
		{"prompt", nativeLastUserText(req)},
	}
}

func nativeCohereChunks(modelID string, req *genRequest, res genResult) []nativeObj {
	_, genID := nativeCohereIDs(modelID, req, res)
	frags := nativeFragments(res.Text)
	if len(frags) == 0 {
		frags = []string{""}
	}
	out := make([]nativeObj, len(frags))
	for i, f := range frags {
		var reason any
		if i == len(frags)-1 {
			reason = nativeCohereReason(res.StopReason, false)
		}
		out[i] = nativeObj{{"generations", []any{nativeObj{{"finish_reason", reason}, {"id", genID}, {"text", f}}}}}
	}
	return out
}
