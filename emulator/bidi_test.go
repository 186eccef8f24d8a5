package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
)

// sonicEvent is one Nova Sonic output event, decoded.
type sonicEvent struct {
	name   string
	fields map[string]any
}

func (e sonicEvent) str(k string) string { s, _ := e.fields[k].(string); return s }

// sonicScript is the input of a session: system prompt, a tool, a user
// question that calls it.
func sonicStart(prompt string, tools bool) []string {
	ps := `{"event":{"promptStart":{"promptName":"p1","textOutputConfiguration":{"mediaType":"text/plain"},"audioOutputConfiguration":{"mediaType":"audio/lpcm","sampleRateHertz":24000,"sampleSizeBits":16,"channelCount":1,"voiceId":"matthew","encoding":"base64","audioType":"SPEECH"}`
	if tools {
		ps += `,"toolUseOutputConfiguration":{"mediaType":"application/json"},"toolConfiguration":{"tools":[{"toolSpec":{"name":"get_weather","description":"Get the weather for a city","inputSchema":{"json":"{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}"}}}]}`
	}
	ps += `}}}`
	return []string{
		`{"event":{"sessionStart":{"inferenceConfiguration":{"maxTokens":1024,"topP":0.9,"temperature":0.7}}}}`,
		ps,
		`{"event":{"contentStart":{"promptName":"p1","contentName":"sys","type":"TEXT","interactive":false,"role":"SYSTEM","textInputConfiguration":{"mediaType":"text/plain"}}}}`,
		`{"event":{"textInput":{"promptName":"p1","contentName":"sys","content":"You are a friendly assistant."}}}`,
		`{"event":{"contentEnd":{"promptName":"p1","contentName":"sys"}}}`,
		`{"event":{"contentStart":{"promptName":"p1","contentName":"u1","type":"TEXT","interactive":true,"role":"USER","textInputConfiguration":{"mediaType":"text/plain"}}}}`,
		`{"event":{"textInput":{"promptName":"p1","contentName":"u1","content":` + mustString(prompt) + `}}}`,
		`{"event":{"contentEnd":{"promptName":"p1","contentName":"u1"}}}`,
	}
}

func sonicToolResult(id, result string) []string {
	return []string{
		`{"event":{"contentStart":{"promptName":"p1","contentName":"t1","interactive":false,"type":"TOOL","role":"TOOL","toolResultInputConfiguration":{"toolUseId":` + mustString(id) + `,"type":"TEXT","textInputConfiguration":{"mediaType":"text/plain"}}}}}`,
		`{"event":{"toolResult":{"promptName":"p1","contentName":"t1","content":` + mustString(result) + `}}}`,
		`{"event":{"contentEnd":{"promptName":"p1","contentName":"t1"}}}`,
	}
}

var sonicEnd = []string{`{"event":{"promptEnd":{"promptName":"p1"}}}`, `{"event":{"sessionEnd":{}}}`}

func mustString(s string) string { b, _ := json.Marshal(s); return string(b) }

func decodeSonic(t *testing.T, b []byte) sonicEvent {
	t.Helper()
	var ev map[string]map[string]map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("output event %s: %v", b, err)
	}
	for name, f := range ev["event"] {
		return sonicEvent{name, f}
	}
	t.Fatalf("no event in %s", b)
	return sonicEvent{}
}

// sdkBidi opens a session with the AWS SDK for Go v2 over tr.
func sdkBidi(t *testing.T, cfg Config, tr transport) (*bedrockruntime.InvokeModelWithBidirectionalStreamEventStream, *Server, context.CancelFunc) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv, hc, _ := clientFor(t, cfg, tr)
	client := bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1, HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	out, err := client.InvokeModelWithBidirectionalStream(ctx, &bedrockruntime.InvokeModelWithBidirectionalStreamInput{ModelId: aws.String("amazon.nova-sonic-v1:0")})
	if err != nil {
		t.Fatal(err)
	}
	return out.GetStream(), srv, cancel
}

func sdkSend(t *testing.T, st *bedrockruntime.InvokeModelWithBidirectionalStreamEventStream, events []string) {
	t.Helper()
	for _, e := range events {
		if err := st.Send(context.Background(), &types.InvokeModelWithBidirectionalStreamInputMemberChunk{Value: types.BidirectionalInputPayloadPart{Bytes: []byte(e)}}); err != nil {
			t.Fatalf("send %s: %v", e, err)
		}
	}
}

// sdkUntil reads events until one named stop (or the end).
func sdkUntil(t *testing.T, st *bedrockruntime.InvokeModelWithBidirectionalStreamEventStream, stop string) []sonicEvent {
	t.Helper()
	var evs []sonicEvent
	for ev := range st.Events() {
		c, ok := ev.(*types.InvokeModelWithBidirectionalStreamOutputMemberChunk)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		e := decodeSonic(t, c.Value.Bytes)
		evs = append(evs, e)
		if e.name == stop {
			return evs
		}
	}
	return evs
}

// checkReply checks a text+audio reply: a USER transcript equal to heard,
// assistant text, and PCM audio.
func checkReply(t *testing.T, evs []sonicEvent, heard string) (reply string) {
	t.Helper()
	var audio int
	for _, e := range evs {
		switch e.name {
		case "textOutput":
			if e.str("role") == "USER" && e.str("content") != heard {
				t.Errorf("transcript %q, want %q", e.str("content"), heard)
			}
			if e.str("role") == "ASSISTANT" {
				reply = e.str("content")
			}
		case "audioOutput":
			b, err := base64.StdEncoding.DecodeString(e.str("content"))
			if err != nil || len(b)%2 != 0 {
				t.Errorf("audio chunk: %v, %d bytes", err, len(b))
			}
			audio += len(b)
		}
		if e.str("sessionId") == "" || e.str("promptName") != "p1" {
			t.Errorf("%s without session or prompt: %v", e.name, e.fields)
		}
	}
	if reply == "" || audio == 0 {
		t.Errorf("reply %q with %d audio bytes", reply, audio)
	}
	return reply
}

func TestBidiSDKGo(t *testing.T) {
	for _, tr := range []transport{{"h2c", false, 2}, {"tls-h2", true, 2}} {
		t.Run(tr.name, func(t *testing.T) {
			st, _, _ := sdkBidi(t, Config{}, tr)
			sdkSend(t, st, sonicStart("What is the weather in Paris?", true))
			evs := sdkUntil(t, st, "usageEvent")
			var use sonicEvent
			for _, e := range evs {
				if e.name == "toolUse" {
					use = e
				}
			}
			if use.str("toolName") != "get_weather" || !strings.Contains(use.str("content"), "city") {
				t.Fatalf("no get_weather call in %v", evs)
			}
			sdkSend(t, st, sonicToolResult(use.str("toolUseId"), `{"forecast":"sunny and 21 degrees"}`))
			reply := checkReply(t, sdkUntil(t, st, "usageEvent"), "")
			if !strings.Contains(reply, "sunny") {
				t.Errorf("reply does not use the tool result: %q", reply)
			}
			sdkSend(t, st, sonicEnd)
			if evs := sdkUntil(t, st, ""); len(evs) != 1 || evs[0].name != "completionEnd" {
				t.Errorf("after promptEnd: %v", evs)
			}
			st.Close()
			if err := st.Err(); err != nil {
				t.Errorf("stream error: %v", err)
			}
		})
	}
}

func TestBidiSDKGoErrors(t *testing.T) {
	tr := transport{"h2c", false, 2}
	cases := []struct {
		name, code string
		events     []string
	}{
		{"no sessionStart", "ValidationException", []string{`{"event":{"promptEnd":{"promptName":"p1"}}}`}},
		{"not json", "ValidationException", []string{`hello`}},
		{"unknown content", "ValidationException", append(sonicStart("hi", false)[:2], `{"event":{"textInput":{"promptName":"p1","contentName":"nope","content":"x"}}}`)},
		{"throttle marker", "ThrottlingException", sonicStart("[[quarry:throttle]] hi", false)},
		{"stream error marker", "ModelStreamErrorException", sonicStart("[[quarry:model-stream-error]] hi", false)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, _, _ := sdkBidi(t, Config{}, tr)
			sdkSend(t, st, tc.events)
			for range st.Events() {
			}
			var ae smithy.APIError
			if err := st.Err(); !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
			st.Close()
		})
	}
}

func TestBidiCancelSeenByEmulator(t *testing.T) {
	st, srv, _ := sdkBidi(t, Config{}, transport{"h2c", false, 2})
	sdkSend(t, st, sonicStart("Tell me about rivers", false))
	checkReply(t, sdkUntil(t, st, "usageEvent"), "Tell me about rivers")
	st.Close() // the SDK's way to abandon a session
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Disconnects == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the emulator did not see the session cancelled")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
