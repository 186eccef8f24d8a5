package openai

import (
	"slices"
	"strings"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/clip"
	"github.com/quarry-dev/quarry/internal/config"
)

// This file applies a model's media_url_handler (BAML's option, per media
// type: image for image_url parts, pdf for file parts, audio for audio_url
// parts, video for video_url parts) to a media reference before media()
// resolves it. What each mode means on Bedrock, which reads inline bytes and
// s3:// locations but never fetches a URL itself:
//
//	send_base64                    http(s) URLs are fetched by the gateway and
//	                               inlined (default for image, audio and pdf)
//	send_url                       http(s) URLs are refused with a 400: Bedrock
//	                               cannot fetch them (default for video)
//	send_url_add_mime_type         http(s) URLs are fetched to learn their MIME
//	                               type, and inlined (Bedrock needs the bytes)
//	send_base64_unless_google_url  as send_base64, but gs:// URLs are kept as
//	                               URLs, which Bedrock cannot read: refused
//	                               with a 400 that says so
//
// In every mode data: URIs are decoded and s3:// URIs pass through as
// s3Location with the format told by the object key's extension (the
// gateway does not read S3; Bedrock does, with the caller's permissions).

// mediaModeOf is the mode configured for a media type; send_base64 (BAML's
// Bedrock default) when the model has no shaping.
func mediaModeOf(s *config.Shaping, kind string) string {
	if s != nil {
		if m, ok := s.MediaURLHandler[kind]; ok {
			return m
		}
	}
	if kind == "video" && s != nil {
		return config.MediaSendURL
	}
	return config.MediaSendBase64
}

// checkMediaMode refuses a reference the model's mode for kind does not
// let through; nil lets media() resolve it.
func checkMediaMode(s *config.Shaping, model, kind, ref, p string) *apiError {
	ref = strings.TrimSpace(ref)
	mode := mediaModeOf(s, kind)
	switch {
	case hasPrefixFold(ref, "http://"), hasPrefixFold(ref, "https://"):
		if mode == config.MediaSendURL {
			return invalid(p, "'%s' is an http(s) URL, but %s sends %s URLs as they are (media_url_handler.%s: send_url) and Bedrock cannot fetch http(s) URLs. Send an s3:// URI or the data inline as a data: URI.", p, model, kind, kind)
		}
	case hasPrefixFold(ref, "gs://"):
		if mode == config.MediaSendBase64UnlessGoogle {
			return invalid(p, "'%s' is a Google Cloud Storage URL, which %s keeps as a URL (media_url_handler.%s: send_base64_unless_google_url), but Bedrock cannot read gs:// URLs. Send an s3:// URI, an http(s) URL or a data: URI.", p, model, kind)
		}
		return invalid(p, "'%s' is a Google Cloud Storage URL, which Bedrock cannot read. Send an s3:// URI, an http(s) URL or a data: URI.", p)
	}
	return nil
}

// Bedrock's video and audio formats by MIME type and by file extension.
var (
	videoFormats = map[string]string{
		"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm", "video/x-matroska": "mkv",
		"video/x-flv": "flv", "video/mpeg": "mpeg", "video/x-ms-wmv": "wmv", "video/3gpp": "three_gp",
	}
	videoExtensions = map[string]string{
		".mp4": "mp4", ".mov": "mov", ".webm": "webm", ".mkv": "mkv", ".flv": "flv", ".mpeg": "mpeg",
		".mpg": "mpg", ".wmv": "wmv", ".3gp": "three_gp",
	}
	audioFormats = map[string]string{
		"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav",
		"audio/flac": "flac", "audio/ogg": "ogg", "audio/aac": "aac", "audio/webm": "webm", "audio/mp4": "m4a",
		"audio/opus": "opus",
	}
	audioExtensions = map[string]string{
		".mp3": "mp3", ".wav": "wav", ".flac": "flac", ".ogg": "ogg", ".aac": "aac", ".m4a": "m4a",
		".webm": "webm", ".opus": "opus",
	}
)

// urlMedia resolves a video_url or audio_url part ({"url": ...}, as vLLM
// and others spell them; OpenAI's API has no video part) into a content
// block, within the model's media mode for kind ("video" or "audio").
func (c *chatConverter) urlMedia(kind string, u *imageURL, p string) (bedrock.ContentBlock, *apiError) {
	if u == nil || strings.TrimSpace(u.URL) == "" {
		return bedrock.ContentBlock{}, invalid(p, "Missing required parameter: '%s.url'.", p)
	}
	if aerr := checkMediaMode(c.m.Shaping, c.m.Name, kind, u.URL, p); aerr != nil {
		return bedrock.ContentBlock{}, aerr
	}
	data, mt, s3, aerr := c.media(u.URL, p)
	if aerr != nil {
		return bedrock.ContentBlock{}, aerr
	}
	byType, byExt := videoFormats, videoExtensions
	if kind == "audio" {
		byType, byExt = audioFormats, audioExtensions
	}
	var format string
	if s3 != nil {
		key, _ := parseS3URI(s3.URI)
		format = byExt[strings.ToLower(pathExt(key))]
	} else {
		format = byType[strings.ToLower(mt)]
	}
	if format == "" {
		return bedrock.ContentBlock{}, invalid(p, "Cannot tell the %s format of '%s' (%s). Supported: %s.", kind, p, clip.String(describeType(mt, ""), 60, "..."), strings.Join(sortedExtensions(byExt), ", "))
	}
	src := bedrock.MediaSource{Bytes: data, S3Location: s3}
	if kind == "audio" {
		return bedrock.ContentBlock{Audio: &bedrock.AudioBlock{Format: format, Source: src}}, nil
	}
	return bedrock.ContentBlock{Video: &bedrock.VideoBlock{Format: format, Source: src}}, nil
}

func sortedExtensions(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, strings.TrimPrefix(k, "."))
	}
	slices.Sort(out)
	return out
}
