package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/clip"
)

// messages translates the conversation.
func (c *chatConverter) messages() *apiError {
	if c.req.Messages == nil {
		return invalid("messages", "Missing required parameter: 'messages'.")
	}
	if len(c.req.Messages) == 0 {
		return invalid("messages", "'messages' is empty; send at least one message.")
	}
	if s := strings.TrimSpace(c.m.SystemPrompt); s != "" {
		c.out.System = append(c.out.System, bedrock.SystemText(c.m.SystemPrompt))
	}
	turns := make([]bedrock.Message, 0, len(c.req.Messages))
	var msg chatMessage // one for every message: decoding moves it to the heap
	for i, raw := range c.req.Messages {
		p := "messages[" + strconv.Itoa(i) + "]"
		msg = chatMessage{}
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			return invalid(p, "Invalid '%s': expected a message object.", p)
		}
		if err := json.Unmarshal(raw, &msg); err != nil {
			return jsonError(p, err)
		}
		role, blocks, aerr := c.message(&msg, p)
		if aerr != nil {
			return aerr
		}
		if role == "" { // system text, added to c.out.System
			continue
		}
		// Bedrock requires alternating roles: consecutive messages of one
		// role (tool results and the user message after them, say) merge.
		if n := len(turns); n > 0 && turns[n-1].Role == role {
			turns[n-1].Content = append(turns[n-1].Content, blocks...)
			continue
		}
		turns = append(turns, bedrock.Message{Role: role, Content: blocks})
	}
	if len(turns) == 0 {
		return invalid("messages", "'messages' has no user or assistant message; Bedrock needs a conversation, not only a system prompt.")
	}
	c.out.Messages = turns
	return nil
}

// message converts one decoded message: the Bedrock role and content of a
// turn, or role "" for a system message, which it adds to c.out.System.
// It is its own function, not part of messages' loop, so that the frame
// under json.Unmarshal stays small: a handler's goroutine stack grows from
// 8 to 16 KiB (and a held stream keeps the 16) when a request's deepest
// call passes ~7 KiB (docs/benchmarks.md, "Open streams").
func (c *chatConverter) message(msg *chatMessage, p string) (string, []bedrock.ContentBlock, *apiError) {
	marker, aerr := messageCachePoint(msg, p)
	if aerr != nil {
		return "", nil, aerr
	}
	switch msg.Role {
	case "system", "developer":
		return "", nil, c.systemMessage(msg, p, marker)
	case "user":
		blocks, aerr := c.userContent(msg.Content, p)
		if aerr != nil {
			return "", nil, aerr
		}
		if !hasContent(blocks) {
			return "", nil, invalid(p+".content", "'%s' is empty: its content is missing or blank, and Bedrock refuses blank text.", p)
		}
		return bedrock.RoleUser, withCachePoint(blocks, marker), nil
	case "assistant":
		blocks, aerr := c.assistantContent(msg, p)
		if aerr != nil {
			return "", nil, aerr
		}
		if !hasContent(blocks) {
			return "", nil, invalid(p+".content", "'%s' is empty: an assistant message needs non-blank content or tool_calls.", p)
		}
		return bedrock.RoleAssistant, withCachePoint(blocks, marker), nil
	case "tool":
		return c.toolMessage(msg, p, marker)
	default:
		return "", nil, roleError(msg.Role, p)
	}
}

// systemMessage adds a system or developer message to c.out.System.
func (c *chatConverter) systemMessage(msg *chatMessage, p string, marker *bedrock.CachePointBlock) *apiError {
	blocks, aerr := c.textContent(msg.Content, p, false)
	if aerr != nil {
		return aerr
	}
	if len(blocks) == 0 {
		return invalid(p+".content", "'%s' is empty: a %s message needs non-blank text.", p, msg.Role)
	}
	for _, b := range blocks {
		if b.CachePoint != nil {
			c.out.System = append(c.out.System, bedrock.SystemContentBlock{CachePoint: b.CachePoint})
		} else {
			c.out.System = append(c.out.System, bedrock.SystemText(b.Text))
		}
	}
	if marker != nil {
		c.out.System = append(c.out.System, bedrock.SystemContentBlock{CachePoint: marker})
	}
	return nil
}

// toolMessage converts a tool message: a user turn with its result.
func (c *chatConverter) toolMessage(msg *chatMessage, p string, marker *bedrock.CachePointBlock) (string, []bedrock.ContentBlock, *apiError) {
	block, aerr := c.toolResult(msg, p)
	if aerr != nil {
		return "", nil, aerr
	}
	return bedrock.RoleUser, withCachePoint([]bedrock.ContentBlock{block}, marker), nil
}

// roleError is the error for a message role that is not one of ours.
func roleError(role, p string) *apiError {
	switch role {
	case "":
		return invalid(p+".role", "Missing required parameter: '%s.role'.", p)
	case "function":
		return invalid(p+".role", "The deprecated 'function' role in '%s.role' is not supported; use tool_calls and 'tool' messages.", p)
	}
	return invalid(p+".role", "Invalid value for '%s.role': %q. Supported roles: system, developer, user, assistant, tool.", p, clip.String(role, 40, "..."))
}

func hasContent(blocks []bedrock.ContentBlock) bool {
	for _, b := range blocks {
		if b.CachePoint == nil {
			return true
		}
	}
	return false
}

// withCachePoint is not inlined: each inlined copy puts a ContentBlock
// temporary in its caller's frame (see message).
//
//go:noinline
func withCachePoint(blocks []bedrock.ContentBlock, cp *bedrock.CachePointBlock) []bedrock.ContentBlock {
	if cp != nil {
		blocks = append(blocks, bedrock.ContentBlock{CachePoint: cp})
	}
	return blocks
}

// messageCachePoint reads a message's cache marker (cache_control or
// cachePoint).
func messageCachePoint(msg *chatMessage, p string) (*bedrock.CachePointBlock, *apiError) {
	return cacheMarker(msg.CacheControl, msg.CachePoint, p)
}

func cacheMarker(cc *cacheControl, cp *bedrock.CachePointBlock, p string) (*bedrock.CachePointBlock, *apiError) {
	switch {
	case cp != nil:
		return checkCachePoint(cp, p+".cachePoint")
	case cc != nil:
		if cc.Type != "ephemeral" {
			return nil, invalid(p+".cache_control.type", "Invalid '%s.cache_control.type': %q; only \"ephemeral\" is supported.", p, clip.String(cc.Type, 40, "..."))
		}
		return checkCachePoint(&bedrock.CachePointBlock{Type: "default", TTL: cc.TTL}, p+".cache_control")
	}
	return nil, nil
}

func checkCachePoint(cp *bedrock.CachePointBlock, p string) (*bedrock.CachePointBlock, *apiError) {
	out := *cp
	if out.Type == "" {
		out.Type = "default"
	}
	if out.Type != "default" {
		return nil, invalid(p+".type", "Invalid '%s.type': %q; only \"default\" is supported.", p, clip.String(out.Type, 40, "..."))
	}
	switch out.TTL {
	case "", "5m", "1h":
	default:
		return nil, invalid(p+".ttl", "Invalid '%s.ttl': %q; use \"5m\" or \"1h\".", p, clip.String(out.TTL, 40, "..."))
	}
	return &out, nil
}

// decodeContent splits a message's content into its string form (isText)
// or its parts. A missing or null content is neither.
func decodeContent(raw json.RawMessage, p string) (text string, isText bool, parts []contentPart, err *apiError) {
	if isNull(raw) {
		return "", false, nil, nil
	}
	switch bytes.TrimSpace(raw)[0] {
	case '"':
		s, ok := jsonString(raw)
		if !ok {
			return "", false, nil, invalid(p+".content", "Invalid '%s.content': not a valid string.", p)
		}
		return s, true, nil, nil
	case '[':
		var raws []json.RawMessage
		if e := json.Unmarshal(raw, &raws); e != nil {
			return "", false, nil, invalid(p+".content", "Invalid '%s.content': not a valid array.", p)
		}
		parts = make([]contentPart, len(raws))
		for j, r := range raws {
			pp := contentPath(p, j)
			if t := bytes.TrimSpace(r); len(t) == 0 || t[0] != '{' {
				return "", false, nil, invalid(pp, "Invalid '%s': expected a content part object such as {\"type\": \"text\", \"text\": ...}.", pp)
			}
			if e := json.Unmarshal(r, &parts[j]); e != nil {
				return "", false, nil, jsonError(pp, e)
			}
		}
		return "", false, parts, nil
	}
	return "", false, nil, invalid(p+".content", "Invalid type for '%s.content': expected a string or an array of content parts.", p)
}

// contentPath is the path of part j of the content of message path p.
func contentPath(p string, j int) string { return p + ".content[" + strconv.Itoa(j) + "]" }

// jsonString decodes a JSON string as json.Unmarshal does; ok is false when
// raw is not one. A string without escapes is taken as it is, the
// common case, without the decoder.
func jsonString(raw []byte) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		inner := raw[1 : n-1]
		plain := true
		for _, c := range inner {
			if c < ' ' || c == '"' || c == '\\' {
				plain = false
				break
			}
		}
		if plain && utf8.Valid(inner) {
			return string(inner), true
		}
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err == nil
}

// textContent reads content that may hold only text (system, developer,
// tool messages; assistant text with refusals when refusals is set). Blank
// text is dropped: Bedrock refuses blank text blocks.
func (c *chatConverter) textContent(raw json.RawMessage, p string, refusals bool) ([]bedrock.ContentBlock, *apiError) {
	text, isText, parts, aerr := decodeContent(raw, p)
	if aerr != nil {
		return nil, aerr
	}
	if isText {
		return textBlocks(text), nil
	}
	var out []bedrock.ContentBlock
	for j, part := range parts {
		pp := contentPath(p, j)
		var s *string
		switch {
		case part.Type == "text":
			if part.Text == nil {
				return nil, invalid(pp+".text", "Missing required parameter: '%s.text'.", pp)
			}
			s = part.Text
		case part.Type == "refusal" && refusals:
			if part.Refusal == nil {
				return nil, invalid(pp+".refusal", "Missing required parameter: '%s.refusal'.", pp)
			}
			s = part.Refusal
		case part.Type == "":
			return nil, invalid(pp+".type", "Missing required parameter: '%s.type'.", pp)
		default:
			return nil, invalid(pp+".type", "Invalid '%s.type': %q is not allowed in this message; only text is.", pp, clip.String(part.Type, 40, "..."))
		}
		out = append(out, textBlocks(*s)...)
		cp, aerr := cacheMarker(part.CacheControl, part.CachePoint, pp)
		if aerr != nil {
			return nil, aerr
		}
		out = withCachePoint(out, cp)
	}
	return out, nil
}

// textBlocks is s as one text block, or none when it is blank: Bedrock
// refuses blank text blocks.
func textBlocks(s string) []bedrock.ContentBlock {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return []bedrock.ContentBlock{bedrock.TextBlock(s)}
}

// userContent reads a user message: text and media parts.
func (c *chatConverter) userContent(raw json.RawMessage, p string) ([]bedrock.ContentBlock, *apiError) {
	text, isText, parts, aerr := decodeContent(raw, p)
	if aerr != nil {
		return nil, aerr
	}
	if isText {
		return textBlocks(text), nil
	}
	return c.userParts(parts, p)
}

// userParts converts a user message's content parts. Apart from
// userContent, whose plain-text path is most requests', to keep that
// path's frames small (see message).
func (c *chatConverter) userParts(parts []contentPart, p string) ([]bedrock.ContentBlock, *apiError) {
	var out []bedrock.ContentBlock
	for j, part := range parts {
		pp := contentPath(p, j)
		switch part.Type {
		case "text":
			if part.Text == nil {
				return nil, invalid(pp+".text", "Missing required parameter: '%s.text'.", pp)
			}
			out = append(out, textBlocks(*part.Text)...)
		case "image_url":
			if part.ImageURL == nil || strings.TrimSpace(part.ImageURL.URL) == "" {
				return nil, invalid(pp+".image_url", "Missing required parameter: '%s.image_url.url'.", pp)
			}
			img, aerr := c.image(part.ImageURL.URL, pp+".image_url")
			if aerr != nil {
				return nil, aerr
			}
			out = append(out, bedrock.ContentBlock{Image: img})
		case "input_audio":
			a := part.InputAudio
			if a == nil || a.Data == "" {
				return nil, invalid(pp+".input_audio", "Missing required parameter: '%s.input_audio.data'.", pp)
			}
			format := strings.ToLower(a.Format)
			if !mediaAudioFormats[format] {
				return nil, invalid(pp+".input_audio.format", "Invalid '%s.input_audio.format': %q. Supported: wav, mp3 (and Bedrock's other audio formats).", pp, clip.String(a.Format, 40, "..."))
			}
			data, err := decodeBase64Lenient(a.Data)
			if err != nil || len(data) == 0 {
				return nil, invalid(pp+".input_audio.data", "Invalid '%s.input_audio.data': expected base64-encoded audio.", pp)
			}
			out = append(out, bedrock.ContentBlock{Audio: &bedrock.AudioBlock{Format: format, Source: bedrock.MediaSource{Bytes: data}}})
		case "video_url", "audio_url":
			u, kind := part.VideoURL, "video"
			if part.Type == "audio_url" {
				u, kind = part.AudioURL, "audio"
			}
			b, aerr := c.urlMedia(kind, u, pp+"."+part.Type)
			if aerr != nil {
				return nil, aerr
			}
			out = append(out, b)
		case "file":
			doc, aerr := c.document(part.File, pp+".file")
			if aerr != nil {
				return nil, aerr
			}
			out = append(out, bedrock.ContentBlock{Document: doc})
		case "":
			return nil, invalid(pp+".type", "Missing required parameter: '%s.type'.", pp)
		default:
			return nil, invalid(pp+".type", "Invalid '%s.type': %q. Supported content parts: text, image_url, input_audio, audio_url, video_url, file.", pp, clip.String(part.Type, 40, "..."))
		}
		cp, aerr := cacheMarker(part.CacheControl, part.CachePoint, pp)
		if aerr != nil {
			return nil, aerr
		}
		out = withCachePoint(out, cp)
	}
	return out, nil
}

// media resolves a media reference (data: URI, s3:// URI, http(s) URL): its
// bytes and MIME type, or its S3 location.
func (c *chatConverter) media(ref, p string) (data []byte, mt string, s3 *bedrock.S3Location, aerr *apiError) {
	ref = strings.TrimSpace(ref)
	switch {
	case hasPrefixFold(ref, "data:"):
		d, err := parseDataURI(ref)
		if err != nil {
			return nil, "", nil, invalid(p, "Invalid data URI in '%s': %s.", p, err.Error())
		}
		return d.Data, d.MIME, nil, nil
	case hasPrefixFold(ref, "s3://"):
		if _, ok := parseS3URI(ref); !ok {
			return nil, "", nil, invalid(p, "Invalid S3 URI in '%s': expected s3://bucket/key.", p)
		}
		return nil, "", &bedrock.S3Location{URI: ref}, nil
	case hasPrefixFold(ref, "http://"), hasPrefixFold(ref, "https://"):
		if c.fetch == nil {
			return nil, "", nil, invalid(p, "'%s' is an http(s) URL, but this gateway does not fetch media URLs; send the data inline as a data: URI.", p)
		}
		data, mt, err := c.fetch(c.ctx, ref)
		if err != nil {
			var me *mediaError
			if errors.As(err, &me) {
				return nil, "", nil, invalid(p, "Could not use the URL in '%s': fetching from %s failed: %s.", p, me.Host, me.Reason)
			}
			return nil, "", nil, invalid(p, "Could not use the URL in '%s': the download failed.", p)
		}
		return data, mt, nil, nil
	}
	return nil, "", nil, invalid(p, "Invalid URL in '%s': expected a data: URI, an http(s) URL or an s3:// URI.", p)
}

func hasPrefixFold(s, prefix string) bool {
	_, ok := cutPrefixFold(s, prefix)
	return ok
}

// image resolves an image_url part.
func (c *chatConverter) image(ref, p string) (*bedrock.ImageBlock, *apiError) {
	if aerr := checkMediaMode(c.m.Shaping, c.m.Name, "image", ref, p); aerr != nil {
		return nil, aerr
	}
	data, mt, s3, aerr := c.media(ref, p)
	if aerr != nil {
		return nil, aerr
	}
	if s3 != nil {
		key, _ := parseS3URI(s3.URI)
		f, ok := mediaImageExtensions[strings.ToLower(pathExt(key))]
		if !ok {
			return nil, invalid(p, "Cannot tell the image format of the S3 object in '%s' from its name; use a .png, .jpg, .jpeg, .gif or .webp key.", p)
		}
		return &bedrock.ImageBlock{Format: f, Source: bedrock.MediaSource{S3Location: s3}}, nil
	}
	f, ok := imageFormatOf(mt, data)
	if !ok {
		return nil, invalid(p, "Unsupported image format %q in '%s'. Supported: image/png, image/jpeg, image/gif, image/webp.", clip.String(mt, 60, "..."), p)
	}
	return &bedrock.ImageBlock{Format: f, Source: bedrock.MediaSource{Bytes: data}}, nil
}

// document resolves a file part into a document block.
func (c *chatConverter) document(f *filePart, p string) (*bedrock.DocumentBlock, *apiError) {
	if f == nil {
		return nil, invalid(p, "Missing required parameter: '%s'.", p)
	}
	if f.FileData == "" {
		if f.FileID != "" {
			return nil, invalid(p+".file_id", "'%s.file_id' is not supported: this gateway has no Files API. Send the file inline in 'file_data' as a data: URI.", p)
		}
		return nil, invalid(p+".file_data", "Missing required parameter: '%s.file_data'.", p)
	}
	ref := f.FileData
	var data []byte
	var mt string
	var s3 *bedrock.S3Location
	if aerr := checkMediaMode(c.m.Shaping, c.m.Name, "pdf", ref, p+".file_data"); aerr != nil {
		return nil, aerr
	}
	if hasPrefixFold(ref, "data:") || hasPrefixFold(ref, "s3://") || hasPrefixFold(ref, "http://") || hasPrefixFold(ref, "https://") {
		var aerr *apiError
		if data, mt, s3, aerr = c.media(ref, p+".file_data"); aerr != nil {
			return nil, aerr
		}
	} else {
		// Bare base64, as some clients send it: the file name says the format.
		var err error
		if data, err = decodeBase64Lenient(ref); err != nil || len(data) == 0 {
			return nil, invalid(p+".file_data", "Invalid '%s.file_data': expected a data: URI or base64 data.", p)
		}
	}
	filename := f.Filename
	if filename == "" && s3 != nil {
		filename, _ = parseS3URI(s3.URI)
	}
	format, ok := documentFormatOf(mt, filename)
	if !ok {
		return nil, invalid(p, "Unsupported document type in '%s' (%s). Supported: pdf, csv, doc, docx, xls, xlsx, html, txt, md.", p, clip.String(describeType(mt, filename), 80, "..."))
	}
	src := bedrock.DocumentSource{Bytes: data, S3Location: s3}
	if c.docNames == nil {
		c.docNames = map[string]bool{}
	}
	doc := &bedrock.DocumentBlock{Format: format, Name: documentName(baseName(filename), c.docNames), Source: src}
	switch {
	case f.Citations != nil:
		if f.Citations.Enabled {
			doc.Citations = f.Citations
		}
	case c.m.Citations:
		doc.Citations = &bedrock.CitationsConfig{Enabled: true}
	}
	return doc, nil
}

func describeType(mt, filename string) string {
	switch {
	case mt != "" && filename != "":
		return mt + ", " + filename
	case mt != "":
		return mt
	case filename != "":
		return filename
	}
	return "no type and no file name"
}

func pathExt(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 && !strings.ContainsRune(s[i:], '/') {
		return s[i:]
	}
	return ""
}

func baseName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		return s[i+1:]
	}
	return s
}

// assistantContent reads an assistant message: text, then tool calls.
func (c *chatConverter) assistantContent(msg *chatMessage, p string) ([]bedrock.ContentBlock, *apiError) {
	blocks, aerr := c.textContent(msg.Content, p, true)
	if aerr != nil {
		return nil, aerr
	}
	if len(msg.ThinkingBlocks) > 0 && (hasContent(blocks) || len(msg.ToolCalls) > 0) {
		blocks = append(thinkingContent(msg.ThinkingBlocks), blocks...)
	}
	for j, raw := range msg.ToolCalls {
		pp := p + ".tool_calls[" + strconv.Itoa(j) + "]"
		var tc chatToolCall
		if err := json.Unmarshal(raw, &tc); err != nil {
			return nil, jsonError(pp, err)
		}
		if tc.ID == "" {
			return nil, invalid(pp+".id", "Missing required parameter: '%s.id'.", pp)
		}
		if tc.Type != "" && tc.Type != "function" {
			return nil, invalid(pp+".type", "Invalid '%s.type': %q; only \"function\" is supported.", pp, clip.String(tc.Type, 40, "..."))
		}
		if tc.Function.Name == "" {
			return nil, invalid(pp+".function.name", "Missing required parameter: '%s.function.name'.", pp)
		}
		input, aerr := toolArguments(tc.Function.Arguments, pp+".function.arguments")
		if aerr != nil {
			return nil, aerr
		}
		if c.toolsAsText {
			blocks = append(blocks, bedrock.TextBlock(fmt.Sprintf("[called tool %s with arguments %s]", tc.Function.Name, input)))
			continue
		}
		blocks = append(blocks, bedrock.ContentBlock{ToolUse: &bedrock.ToolUseBlock{
			ToolUseID: toolUseID(tc.ID), Name: tc.Function.Name, Input: input,
		}})
	}
	return blocks, nil
}

// toolArguments parses a tool call's arguments: a string holding a JSON
// object, as OpenAI sends them (an object itself is accepted too). Bedrock
// needs the parsed object.
func toolArguments(raw json.RawMessage, p string) (json.RawMessage, *apiError) {
	if isNull(raw) {
		return json.RawMessage("{}"), nil
	}
	args := []byte(raw)
	if t := bytes.TrimSpace(raw); t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, invalid(p, "Invalid '%s': not a valid string.", p)
		}
		if strings.TrimSpace(s) == "" {
			return json.RawMessage("{}"), nil
		}
		args = []byte(s)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(args, &obj); err != nil || obj == nil {
		return nil, invalid(p, "Invalid '%s': the arguments must be a JSON object encoded as a string, e.g. \"{\\\"city\\\": \\\"Paris\\\"}\"; got %q.", p, clip.String(string(args), 80, "..."))
	}
	var compact bytes.Buffer
	json.Compact(&compact, args)
	return compact.Bytes(), nil
}

// toolUseID makes an OpenAI tool call ID fit Bedrock's pattern
// [a-zA-Z0-9_.:-]{1,64}. The mapping is deterministic, so a call and its
// result still match.
func toolUseID(id string) string {
	if toolUseIDRE.MatchString(id) {
		return id
	}
	b := []byte(id)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || ch == ':' || ch == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// toolResult reads a tool message. Text-only content; an empty result is
// sent as "(no output)" because Bedrock refuses blank text.
func (c *chatConverter) toolResult(msg *chatMessage, p string) (bedrock.ContentBlock, *apiError) {
	if msg.ToolCallID == nil || *msg.ToolCallID == "" {
		return bedrock.ContentBlock{}, invalid(p+".tool_call_id", "Missing required parameter: '%s.tool_call_id'.", p)
	}
	blocks, aerr := c.textContent(msg.Content, p, false)
	if aerr != nil {
		return bedrock.ContentBlock{}, aerr
	}
	var texts []string
	for _, b := range blocks {
		if b.CachePoint == nil {
			texts = append(texts, b.Text)
		}
	}
	text := strings.Join(texts, "\n")
	if text == "" {
		text = "(no output)"
	}
	if c.toolsAsText {
		return bedrock.TextBlock(fmt.Sprintf("[result of tool call %s: %s]", *msg.ToolCallID, text)), nil
	}
	return bedrock.ToolResultText(toolUseID(*msg.ToolCallID), text), nil
}
