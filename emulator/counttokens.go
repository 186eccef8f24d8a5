package emulator

import (
	"encoding/base64"
	"strconv"
)

// countTokensRequest is CountTokens' body.
type countTokensRequest struct {
	Input struct {
		Converse    *converseRequest `json:"converse"`
		InvokeModel *struct {
			Body string `json:"body"`
		} `json:"invokeModel"`
	} `json:"input"`
}

// serveCountTokens answers CountTokens with the input tokens Converse (or
// InvokeModel) would bill for the same input.
func (e *Emulator) serveCountTokens(c *call, modelID string) {
	m := e.lookupModel(c, modelID)
	if m == nil {
		return
	}
	if m.Kind != kindChat {
		c.fail(validationError("The provided model doesn't support counting tokens."))
		return
	}
	var req countTokensRequest
	if aerr := decodeStrict(c.body, &req); aerr != nil {
		c.fail(aerr)
		return
	}
	var n int
	switch {
	case req.Input.Converse != nil:
		in, aerr := parseConverse(req.Input.Converse, m)
		if aerr != nil {
			c.fail(aerr)
			return
		}
		n = inputTokens(&in.gen)
	case req.Input.InvokeModel != nil:
		body, err := base64.StdEncoding.DecodeString(req.Input.InvokeModel.Body)
		if err != nil {
			c.fail(validationError("The body field at input.invokeModel.body is not valid base64. Encode the model request body with base64, and try again."))
			return
		}
		gr, aerr := parseNativeFor(m, body)
		if aerr != nil {
			c.fail(aerr)
			return
		}
		n = inputTokens(gr)
	default:
		c.fail(validationError("The input field is empty. Provide input.converse or input.invokeModel, and try again."))
		return
	}
	b := append([]byte(`{"inputTokens":`), strconv.Itoa(n)...)
	c.writeJSON(append(b, '}'), nil)
}
