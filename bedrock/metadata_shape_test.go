package bedrock

import (
	"net/http"
	"testing"
)

// Every response type carries its request ID and header in the same place,
// promoted from an embedded ResponseMetadata (InvokeModel responses through
// InvokeMetadata), and both stream types offer the same two methods. The
// test is mostly that this compiles; it also checks the JSON bodies do not
// carry the metadata.
func TestResponseMetadataShape(t *testing.T) {
	md := ResponseMetadata{RequestID: "rid", Header: http.Header{"X": {"y"}}}
	im := InvokeMetadata{ResponseMetadata: md}
	responses := []struct {
		name      string
		requestID string
		header    http.Header
	}{
		{"ConverseResponse", (&ConverseResponse{ResponseMetadata: md}).RequestID, (&ConverseResponse{ResponseMetadata: md}).Header},
		{"CountTokensResponse", (&CountTokensResponse{ResponseMetadata: md}).RequestID, (&CountTokensResponse{ResponseMetadata: md}).Header},
		{"ApplyGuardrailResponse", (&ApplyGuardrailResponse{ResponseMetadata: md}).RequestID, (&ApplyGuardrailResponse{ResponseMetadata: md}).Header},
		{"InvokeModelOutput", (&InvokeModelOutput{InvokeMetadata: im}).RequestID, (&InvokeModelOutput{InvokeMetadata: im}).Header},
		{"AnthropicResponse", (&AnthropicResponse{InvokeMetadata: im}).RequestID, (&AnthropicResponse{InvokeMetadata: im}).Header},
		{"NovaResponse", (&NovaResponse{InvokeMetadata: im}).RequestID, (&NovaResponse{InvokeMetadata: im}).Header},
		{"LlamaResponse", (&LlamaResponse{InvokeMetadata: im}).RequestID, (&LlamaResponse{InvokeMetadata: im}).Header},
		{"MistralResponse", (&MistralResponse{InvokeMetadata: im}).RequestID, (&MistralResponse{InvokeMetadata: im}).Header},
		{"CohereCommandResponse", (&CohereCommandResponse{InvokeMetadata: im}).RequestID, (&CohereCommandResponse{InvokeMetadata: im}).Header},
		{"CohereCommandRResponse", (&CohereCommandRResponse{InvokeMetadata: im}).RequestID, (&CohereCommandRResponse{InvokeMetadata: im}).Header},
		{"TitanTextResponse", (&TitanTextResponse{InvokeMetadata: im}).RequestID, (&TitanTextResponse{InvokeMetadata: im}).Header},
		{"TitanEmbedResponse", (&TitanEmbedResponse{InvokeMetadata: im}).RequestID, (&TitanEmbedResponse{InvokeMetadata: im}).Header},
		{"CohereEmbedResponse", (&CohereEmbedResponse{InvokeMetadata: im}).RequestID, (&CohereEmbedResponse{InvokeMetadata: im}).Header},
		{"NovaEmbedResponse", (&NovaEmbedResponse{InvokeMetadata: im}).RequestID, (&NovaEmbedResponse{InvokeMetadata: im}).Header},
		{"ImageResponse", (&ImageResponse{InvokeMetadata: im}).RequestID, (&ImageResponse{InvokeMetadata: im}).Header},
		{"ConverseStream", (&ConverseStream{meta: md}).RequestID(), (&ConverseStream{meta: md}).ResponseMetadata().Header},
		{"InvokeStream", (&InvokeStream{meta: md}).RequestID(), (&InvokeStream{meta: md}).ResponseMetadata().Header},
	}
	for _, r := range responses {
		if r.requestID != "rid" || r.header.Get("X") != "y" {
			t.Errorf("%s: request ID %q, header %v", r.name, r.requestID, r.header)
		}
	}
}
