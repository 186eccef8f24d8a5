// Package bedrock is a lean client for Amazon Bedrock Runtime.
//
// It speaks the service's restJson1 wire protocol directly over net/http:
// Converse and ConverseStream, InvokeModel and InvokeModelWithResponseStream
// (with typed bodies per model family), ApplyGuardrail and CountTokens.
// Requests are signed with SigV4 (signing name "bedrock") using
// aws-sdk-go-v2's signer, or authorized with a Bedrock API key
// (Authorization: Bearer). Credentials come from the full AWS chain, resolved
// once per Client and refreshed before they expire.
//
// A Client is safe for concurrent use; create one per set of credentials and
// reuse it. Every call takes a context first; cancelling it (or closing a
// stream) releases the connection at once.
//
//	c, err := bedrock.New(ctx, bedrock.Config{Region: "us-east-1"})
//	resp, err := c.Converse(ctx, "us.amazon.nova-lite-v1:0", &bedrock.ConverseRequest{
//		Messages: []bedrock.Message{bedrock.UserText("Hello")},
//	})
//
// Errors returned by Bedrock are *Error values; match them with errors.Is
// against the sentinels (ErrThrottling, ErrValidation, ...) or errors.As.
package bedrock
