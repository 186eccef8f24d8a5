package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// ResponseMetadata describes the HTTP exchange behind a successful call.
type ResponseMetadata struct {
	// RequestID is Bedrock's x-amzn-RequestId.
	RequestID string `json:"-"`
	// Header is the full response header (token-count headers, etc.).
	Header http.Header `json:"-"`
}

func metadataOf(resp *http.Response) ResponseMetadata {
	return ResponseMetadata{RequestID: requestID(resp.Header), Header: resp.Header}
}

// doJSON sends in as the JSON body of cl and decodes the JSON response into
// out. It returns the response metadata.
func (c *Client) doJSON(ctx context.Context, cl *call, in, out any) (ResponseMetadata, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return ResponseMetadata{}, &OpError{cl.op, fmt.Errorf("encoding request: %w", err)}
	}
	cl.body = body
	if cl.header == nil {
		cl.header = jsonHeader
	}
	resp, s, err := c.sendHeld(ctx, cl)
	if err != nil {
		return ResponseMetadata{}, err
	}
	defer func() {
		resp.Body.Close()
		s.release()
	}()
	md := metadataOf(resp)
	data, err := readBody(resp)
	if err != nil {
		return md, &OpError{cl.op, fmt.Errorf("reading response: %w", err)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return md, &OpError{cl.op, fmt.Errorf("decoding response (request id %s): %w", md.RequestID, err)}
	}
	return md, nil
}

// readBody reads a whole response body, sized up front when the length is
// known so that large responses are not copied while growing.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n < 64<<20 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(resp.Body)
}
