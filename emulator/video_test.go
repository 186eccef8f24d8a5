package emulator

import (
	"context"
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// videoMessages is a user turn with a video block (source src) and text.
func videoMessages(format types.VideoFormat, src types.VideoSource) []types.Message {
	return []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
		&types.ContentBlockMemberVideo{Value: types.VideoBlock{Format: format, Source: src}},
		&types.ContentBlockMemberText{Value: "Provide video titles for this clip."},
	}}}
}

var testVideoBytes = []byte("\x00\x00\x00\x18ftypmp42 not really a video")

// Nova Lite/Pro/Premier take video blocks (bytes or s3Location) in Converse
// and in native bodies, billed videoInputTokens each, the same in usage,
// CountTokens and the InvokeModel header.
func TestVideoAcceptedByVideoModels(t *testing.T) {
	client, _ := newSDK(t, Config{})
	ctx := ctxT(t)
	text, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("Provide video titles for this clip.")})
	if err != nil {
		t.Fatal(err)
	}
	textTokens := int(*text.Usage.InputTokens)
	for _, model := range []string{"amazon.nova-lite-v1:0", "us.amazon.nova-pro-v1:0", "amazon.nova-premier-v1:0"} {
		for name, src := range map[string]types.VideoSource{
			"bytes": &types.VideoSourceMemberBytes{Value: testVideoBytes},
			"s3":    &types.VideoSourceMemberS3Location{Value: types.S3Location{Uri: aws.String("s3://my-bucket/clip.mp4"), BucketOwner: aws.String("123456789012")}},
		} {
			msgs := videoMessages(types.VideoFormatMp4, src)
			out, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: msgs})
			if err != nil {
				t.Fatalf("%s %s: %v", model, name, err)
			}
			if got := int(*out.Usage.InputTokens); got != textTokens+videoInputTokens {
				t.Errorf("%s %s: input tokens %d, want %d + %d", model, name, got, textTokens, videoInputTokens)
			}
			if replyText(t, out) == "" {
				t.Errorf("%s %s: empty reply", model, name)
			}
			ct, err := client.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String(model),
				Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: msgs}}})
			if err != nil {
				t.Fatalf("%s %s CountTokens: %v", model, name, err)
			}
			if *ct.InputTokens != *out.Usage.InputTokens {
				t.Errorf("%s %s: CountTokens %d, Converse %d", model, name, *ct.InputTokens, *out.Usage.InputTokens)
			}
		}
	}
	// The same request as a native Nova body.
	native := `{"schemaVersion":"messages-v1","messages":[{"role":"user","content":[{"video":{"format":"webm","source":{"bytes":"` +
		base64.StdEncoding.EncodeToString(testVideoBytes) + `"}}},{"text":"Provide video titles for this clip."}]}],"inferenceConfig":{"maxTokens":200}}`
	var hdr string
	out, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Body: []byte(native)},
		func(o *bedrockruntime.Options) {
			o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
				return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("hdr", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					o, md, err := next.HandleDeserialize(ctx, in)
					if r, ok := o.RawResponse.(*smithyhttp.Response); ok {
						hdr = r.Header.Get("X-Amzn-Bedrock-Input-Token-Count")
					}
					return o, md, err
				}), middleware.After)
			})
		})
	if err != nil {
		t.Fatalf("native InvokeModel: %v", err)
	}
	if len(out.Body) == 0 || hdr != strconv.Itoa(textTokens+videoInputTokens) {
		t.Errorf("native: input-token header %q, want %d", hdr, textTokens+videoInputTokens)
	}
	ct, err := client.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String("amazon.nova-lite-v1:0"),
		Input: &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{Body: []byte(native)}}})
	if err != nil {
		t.Fatal(err)
	}
	if strconv.Itoa(int(*ct.InputTokens)) != hdr {
		t.Errorf("CountTokens(invokeModel) %d, InvokeModel header %s", *ct.InputTokens, hdr)
	}
}

// Models without video support refuse it, in Converse and native bodies;
// a bad format or source is a 400 with a precise message.
func TestVideoRefused(t *testing.T) {
	client, _ := newSDK(t, Config{})
	ctx := ctxT(t)
	const noVideo = "This model doesn't support the video content block that you provided. Try again with a supported content block or a different model."
	bytesSrc := &types.VideoSourceMemberBytes{Value: testVideoBytes}
	for _, model := range []string{"amazon.nova-micro-v1:0", "anthropic.claude-3-5-sonnet-20241022-v2:0", "meta.llama3-2-90b-instruct-v1:0"} {
		_, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: videoMessages(types.VideoFormatMp4, bytesSrc)})
		if code, msg := apiCode(err); code != "ValidationException" || msg != noVideo {
			t.Errorf("%s: %q %q", model, code, msg)
		}
	}
	native := `{"messages":[{"role":"user","content":[{"video":{"format":"mp4","source":{"s3Location":{"uri":"s3://b/k.mp4"}}}},{"text":"hi"}]}]}`
	_, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("amazon.nova-micro-v1:0"), Body: []byte(native)})
	if code, msg := apiCode(err); code != "ValidationException" || msg != noVideo {
		t.Errorf("native nova micro: %q %q", code, msg)
	}
	cases := []struct {
		name string
		msgs []types.Message
		msg  string
	}{
		{"format", videoMessages("avi", bytesSrc),
			"1 validation error detected: Value 'avi' at 'messages.0.member.content.0.member.video.format' failed to satisfy constraint: Member must satisfy enum value set: [mkv, mov, mp4, webm, flv, mpeg, mpg, wmv, three_gp]"},
		{"s3 uri", videoMessages(types.VideoFormatMov, &types.VideoSourceMemberS3Location{Value: types.S3Location{Uri: aws.String("https://example.com/a.mov")}}),
			"1 validation error detected: Value 'https://example.com/a.mov' at 'messages.0.member.content.0.member.video.source.s3Location.uri' failed to satisfy constraint: Member must satisfy regular expression pattern: s3://[a-z0-9][\\.\\-a-z0-9]{1,61}[a-z0-9](/.*)?"},
	}
	for _, tc := range cases {
		_, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-pro-v1:0"), Messages: tc.msgs})
		if code, msg := apiCode(err); code != "ValidationException" || msg != tc.msg {
			t.Errorf("%s: %q %q", tc.name, code, msg)
		}
	}
	// Audio stays unsupported everywhere.
	_, err = client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-pro-v1:0"), Messages: []types.Message{{Role: types.ConversationRoleUser,
		Content: []types.ContentBlock{&types.ContentBlockMemberAudio{Value: types.AudioBlock{Format: types.AudioFormatMp3, Source: &types.AudioSourceMemberBytes{Value: []byte("x")}}}}}}})
	if code, _ := apiCode(err); code != "ValidationException" {
		t.Errorf("audio: %v", err)
	}
}
