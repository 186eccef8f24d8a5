package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
)

// videoInputTokens is what one video content block bills as input, in
// Converse, CountTokens and native Nova bodies alike. Nova samples a video at
// about one frame a second and bills a frame like a small image; a fixed
// figure of a 10-second clip (10 frames × 288 tokens) keeps the count a pure
// function of the request without decoding the video.
const videoInputTokens = 2880

var videoFormats = map[string]bool{
	"mkv": true, "mov": true, "mp4": true, "webm": true, "flv": true,
	"mpeg": true, "mpg": true, "wmv": true, "three_gp": true,
}

// converseVideo is Converse's VideoBlock.
type converseVideo struct {
	Format string `json:"format"`
	Source *struct {
		Bytes      *string `json:"bytes"`
		S3Location *struct {
			URI         string `json:"uri"`
			BucketOwner string `json:"bucketOwner"`
		} `json:"s3Location"`
	} `json:"source"`
}

// checkVideo validates a Converse video block at messages.i.content.j for
// model m and returns the bytes that identify it (for the prompt-cache key).
func checkVideo(raw json.RawMessage, m *Model, i, j int) ([]byte, *apiError) {
	var v converseVideo
	if aerr := decodeStrict(raw, &v); aerr != nil {
		return nil, aerr
	}
	if !videoFormats[v.Format] {
		return nil, validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.video.format' failed to satisfy constraint: Member must satisfy enum value set: [mkv, mov, mp4, webm, flv, mpeg, mpg, wmv, three_gp]", v.Format, i, j)
	}
	if !m.Video {
		return nil, validationError("This model doesn't support the video content block that you provided. Try again with a supported content block or a different model.")
	}
	path := fmt.Sprintf("messages.%d.content.%d", i, j)
	switch {
	case v.Source == nil || (v.Source.Bytes == nil) == (v.Source.S3Location == nil):
		return nil, validationError("The source field in the VideoBlock object at %s must have exactly one of bytes or s3Location. Add a source, and try again.", path)
	case v.Source.Bytes != nil && *v.Source.Bytes == "":
		return nil, validationError("The bytes field in the VideoBlock object at %s is empty. Add the video, and try again.", path)
	case v.Source.S3Location != nil && !strings.HasPrefix(v.Source.S3Location.URI, "s3://"):
		return nil, validationError("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.video.source.s3Location.uri' failed to satisfy constraint: Member must satisfy regular expression pattern: s3://[a-z0-9][\\.\\-a-z0-9]{1,61}[a-z0-9](/.*)?", v.Source.S3Location.URI, i, j)
	}
	return raw, nil
}

// nativeNovaVideos counts the video blocks of a native Nova body's messages
// (famDecode has already validated their shape).
func nativeNovaVideos(body []byte) int {
	var req struct {
		Messages []struct {
			Content []struct {
				Video json.RawMessage `json:"video"`
			} `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0
	}
	n := 0
	for _, m := range req.Messages {
		for _, c := range m.Content {
			if len(c.Video) > 0 && string(c.Video) != "null" {
				n++
			}
		}
	}
	return n
}

// checkNativeVideo refuses a native body with video blocks for a model that
// does not take video.
func checkNativeVideo(m *Model, body []byte) *apiError {
	if m.Family != familyNova || m.Video || nativeNovaVideos(body) == 0 {
		return nil
	}
	return validationError("This model doesn't support the video content block that you provided. Try again with a supported content block or a different model.")
}
