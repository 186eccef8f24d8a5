// Package emulator is a wire-faithful Amazon Bedrock Runtime emulator: an
// http.Handler that answers Converse, ConverseStream, InvokeModel,
// InvokeModelWithResponseStream, ApplyGuardrail, CountTokens and
// InvokeModelWithBidirectionalStream (Nova Sonic, sonic.go) the way the
// real service does (paths, SigV4, headers, compact JSON, event-stream
// frames, error shapes), with deterministic generated replies, over
// HTTP/1.1, h2c or TLS (Config.TLS). Config.Record and Config.Replay turn
// it into a recorder of real Bedrock and a player of its recordings. Use
// it in tests like httptest:
//
//	srv, err := emulator.NewServer(emulator.Config{})
//	if err != nil { ... }
//	defer srv.Close()
//	client := bedrockruntime.New(bedrockruntime.Options{
//		Region:       "us-east-1",
//		BaseEndpoint: aws.String(srv.URL),
//		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
//	})
//
// or run it with `quarry emulate`.
//
// # Authentication
//
// Requests must be SigV4-signed (service "bedrock", any region) with one of
// Config.Credentials (default: test/test), or carry "Authorization: Bearer
// <token>" (any non-empty token unless Config.BearerTokens lists them).
// Config.NoAuth turns checking off.
//
// # Replies
//
// Replies are a pure function of the request and Config.Seed. Plain prompts
// get a few English sentences built from the prompt's words, the system
// prompt's words (a "You are X." system prompt makes the reply start "As X,";
// "concise"/"brief"/"terse" make it one sentence) and a fixed vocabulary; a
// prompt "Say X" is answered "X.". maxTokens truncates (stopReason
// max_tokens), stop sequences cut the text before the match (stop_sequence).
//
// Tools are called when toolChoice is any or names a tool, or when the last
// user text names a tool (get_weather or "get weather") or contains a
// keyword of it: a word of four letters or more from its name or
// description. The best-scoring tool is called once (a prompt naming
// several tools calls each of them, in parallel); its input is generated
// from the tool's input JSON schema (required properties, types, enums,
// const, defaults, bounds, nested objects and arrays, $ref) and names and
// places in the prompt fill string properties such as "location". Nova
// models write a short <thinking> text before the call, as they do. After a
// toolResult for the assistant's last toolUse, the reply is text that quotes
// the result; a result with status "error" is retried once.
//
// outputConfig.textFormat (json_schema) gets JSON valid against the schema.
// Rerank models (amazon.rerank-v1:0, cohere.rerank-v3-5:0, through
// InvokeModel) score each document by the cosine of its word set and the
// query's, most relevant first. The control plane's GET /foundation-models
// and GET /inference-profiles (ListFoundationModels, ListInferenceProfiles)
// list the catalogue and a us. profile per chat model.
//
// Reasoning (Claude additionalModelRequestFields.thinking, Nova
// reasoningConfig) adds a reasoningContent block with text and signature.
// cachePoint blocks make the prefix before the last cache point billed as
// cacheWriteInputTokens on first use and cacheReadInputTokens afterwards
// (keyed by a hash of the prefix, TTL 5m or 1h), with totalTokens = input +
// output + cacheRead + cacheWrite. Token counts are the same in usage,
// stream metadata, InvokeModel headers and CountTokens.
//
// # Fault markers
//
// A marker anywhere in a request body injects a fault; Config.Faults injects
// the same faults at random (seeded) rates:
//
//	[[quarry:throttle]]           429 ThrottlingException "Too many requests, please wait before trying again."
//	[[quarry:throttle-stream]]    streams: throttlingException frame after 3 events (non-streaming: 429)
//	[[quarry:model-timeout]]      408 ModelTimeoutException
//	[[quarry:model-not-ready]]    429 ModelNotReadyException
//	[[quarry:unavailable]]        503 ServiceUnavailableException
//	[[quarry:internal-error]]     500 InternalServerException
//	[[quarry:model-error]]        424 ModelErrorException (originalStatusCode, resourceName)
//	[[quarry:model-stream-error]] streams: modelStreamErrorException frame after 3 events (non-streaming: 424)
//	[[quarry:reset]]              streams: TCP reset after 3 events; non-streaming: reset before any response
//	[[quarry:stall]]              streams: silence after 3 events until the client gives up;
//	                              non-streaming: no answer until the client gives up
//	[[quarry:bad-crc]]            streams: after 3 events, a frame whose message CRC is wrong
//	[[quarry:truncate]]           streams: the last frame is cut in half and the body ends;
//	                              non-streaming: half the body under a full Content-Length, then a reset
//	[[quarry:slow]]               300ms to first token and 30ms between events, each unless Config.Latency sets it
//
// # Quotas
//
// Config.Quotas limits requests and tokens per minute per model, reserving
// input + maxTokens tokens per call like Bedrock, and throttles with 429
// ThrottlingException ("Too many requests…" / "Too many tokens…").
package emulator
