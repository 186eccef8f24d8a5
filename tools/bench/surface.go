package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// surface is how the load generator talks to one API surface of the
// gateway: the same workload (chatBody, chatStreamBody: the OpenAI and
// Anthropic request bodies coincide for it) on path, an answer checked as
// that surface's clients would, and its stream's data lines read for the
// first token and the end.
type surface struct {
	path string
	// body and streamBody replace chatBody and chatStreamBody when set
	// (the Responses API takes "input", not "messages").
	body, streamBody string
	check            func(io.Reader) error // a non-streaming answer
	token            func(data []byte) bool
	done             func(data []byte) bool
}

var openAISurface = surface{
	path: "/v1/chat/completions",
	check: func(r io.Reader) error {
		var cc chatCompletion
		if err := json.NewDecoder(r).Decode(&cc); err != nil {
			return err
		}
		if len(cc.Choices) == 0 || cc.Choices[0].Message.Content == "" {
			return errors.New("empty reply")
		}
		return nil
	},
	token: func(d []byte) bool {
		return bytes.Contains(d, []byte(`"content":"`)) && !bytes.Contains(d, []byte(`"content":""`))
	},
	done: func(d []byte) bool { return bytes.HasPrefix(d, []byte("[DONE]")) },
}

// messagesSurface is Anthropic's Messages API (/v1/messages).
var messagesSurface = surface{
	path: "/v1/messages",
	check: func(r io.Reader) error {
		var m struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if err := json.NewDecoder(r).Decode(&m); err != nil {
			return err
		}
		if len(m.Content) == 0 || m.Content[0].Text == "" {
			return errors.New("empty reply")
		}
		return nil
	},
	token: func(d []byte) bool { return bytes.Contains(d, []byte(`"type":"text_delta"`)) },
	done:  func(d []byte) bool { return bytes.HasPrefix(d, []byte(`{"type":"message_stop"`)) },
}

// messagesClaudeSurface is the Messages API to a Claude model: the native
// path (InvokeModelWithResponseStream), where messagesSurface's Nova model
// goes through Converse.
var messagesClaudeSurface = func() surface {
	s := messagesSurface
	s.body = strings.Replace(chatBody, `"model":"bench"`, `"model":"bench-claude"`, 1)
	s.streamBody = strings.Replace(chatStreamBody, `"model":"bench"`, `"model":"bench-claude"`, 1)
	return s
}()

// responsesSurface is OpenAI's Responses API (/v1/responses), with store
// on or off: the same workload as "input".
func responsesSurface(store bool) surface {
	body := fmt.Sprintf(`{"model":"bench","input":%q,"max_output_tokens":%d,"store":%t}`, prompt, maxToks, store)
	return surface{
		path:       "/v1/responses",
		body:       body,
		streamBody: strings.TrimSuffix(body, "}") + `,"stream":true}`,
		check: func(r io.Reader) error {
			var resp struct {
				Status string `json:"status"`
				Output []struct {
					Content []struct {
						Text string `json:"text"`
					} `json:"content"`
				} `json:"output"`
			}
			if err := json.NewDecoder(r).Decode(&resp); err != nil {
				return err
			}
			for _, o := range resp.Output {
				for _, c := range o.Content {
					if c.Text != "" && resp.Status == "completed" {
						return nil
					}
				}
			}
			return errors.New("empty reply")
		},
		token: func(d []byte) bool { return bytes.Contains(d, []byte(`"type":"response.output_text.delta"`)) },
		done:  func(d []byte) bool { return bytes.Contains(d, []byte(`"type":"response.completed"`)) },
	}
}
