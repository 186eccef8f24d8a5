package openai

import (
	"net/http"
	"strconv"

	"github.com/quarry-dev/quarry/internal/jsonstring"
	"github.com/quarry-dev/quarry/internal/sse"
)

// startStream starts an OpenAI event stream: "data: <json>" events,
// flushed each at once, then "data: [DONE]".
func startStream(w http.ResponseWriter) *sse.Writer {
	w.Header().Set("Connection", "keep-alive")
	return sse.Start(w, "text/event-stream; charset=utf-8")
}

// doneData ends an OpenAI stream.
var doneData = []byte("[DONE]")

// writeTextChunk writes the "data: <json>" event of a chat.completion.chunk
// whose only choice has index 0 and a delta of just content text, with a
// null finish_reason and no usage or bedrock member: the chunk of almost
// every event of a stream. The bytes are those s.JSON would write for that
// chunk (appendTextChunk; a test checks them against encoding/json),
// without the chunk's allocations or reflection.
func writeTextChunk(s *sse.Writer, id string, created int64, model, text string) error {
	return s.End(appendTextChunk(s.Begin(""), id, created, model, text))
}

// appendTextChunk appends what json.Marshal writes for
//
//	chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
//		Choices: []chunkChoice{{Delta: chunkDelta{Content: &text}}}}
func appendTextChunk(b []byte, id string, created int64, model, text string) []byte {
	b = append(b, `{"id":`...)
	b = jsonstring.Append(b, id, true)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = jsonstring.Append(b, model, true)
	b = append(b, `,"choices":[{"index":0,"delta":{"content":`...)
	b = jsonstring.Append(b, text, true)
	return append(b, `},"finish_reason":null,"logprobs":null}]}`...)
}
