package openai

// How POST /v1/chat/completions maps to Bedrock Converse, where the two APIs
// differ and the gateway had to choose. The golden files in testdata/chat
// pin each point.
//
// Messages
//   - system and developer messages become system blocks, wherever they
//     appear, after the model's system_prompt.
//   - Consecutive messages of one role are merged (Bedrock needs user and
//     assistant to alternate); consecutive tool messages become one user
//     message of toolResult blocks, in order, merged with a user message
//     that follows them.
//   - Blank text is dropped (Bedrock refuses blank text blocks); a message
//     left with nothing is a 400 naming it. An empty tool result is sent as
//     "(no output)". name is ignored.
//   - Tool call IDs outside Bedrock's pattern [a-zA-Z0-9_.:-]{1,64} are
//     mapped deterministically (invalid characters to '_'), so a call and
//     its result still match.
//
// Tools
//   - tool_choice none sends no toolConfig at all (Converse has no "none");
//     tool calls and results already in the history become text, since
//     Bedrock refuses toolUse blocks without a toolConfig. The same happens
//     when a request has tool history but no tools.
//   - parallel_tool_calls: false returns only the first tool call of a
//     reply (Converse has no such switch; the model may still plan several).
//
// response_format
//   - json_schema uses Bedrock structured output (outputConfig.textFormat)
//     on models known to support it (Claude 4.5 and later: bedrock.LookupModel);
//     elsewhere a forced tool whose input schema is the requested schema,
//     named after it. The tool's input is returned as the message content,
//     with finish_reason stop; text the model writes before the call (Nova's
//     <thinking>) is dropped, and when streaming it is held back until it is
//     clear whether the answer tool comes.
//   - json_object is a forced tool with the schema {"type":"object"} on
//     every model (Bedrock has no "any JSON" mode).
//   - With tools of the client's own, the answer tool is added to them and
//     toolChoice becomes any (call a tool, or answer through the answer
//     tool), unless the client named a tool.
//
// reasoning_effort
//   - Claude 3.7 and later: thinking with budget_tokens 1024/4096/16384 for
//     low/medium/high; maxTokens becomes the budget plus the requested
//     max tokens (4096 if none); temperature and top_p are dropped. Thinking
//     is left off when a tool call is forced (Claude refuses the pair) and on
//     a turn that carries tool results (Claude wants its signed thinking
//     block back, which OpenAI clients do not send).
//   - Nova 2 and Nova Premier: reasoningConfig with maxReasoningEffort.
//   - none and minimal turn it off; other models ignore it.
//   - The Vercel AI SDK's reasoningConfig, as a top-level member, does the
//     same: {"type": "enabled", "budgetTokens": N} is Claude's budget
//     (at least 1024; on Nova the effort it falls in), maxReasoningEffort
//     Nova's effort (on Claude its budget), enabled with neither is medium,
//     disabled is off. With reasoning_effort too it is a 400.
//
// Parameters
//   - temperature and top_p must be in [0, 1] (Bedrock's range); Claude 4.5
//     and later refuse both together, so the gateway answers 400 naming
//     both, whether they came from the request or the model's defaults.
//   - max_completion_tokens wins over max_tokens; a model default for one
//     does not override the request's other.
//   - Converse's names (Spice.ai's): maxTokens, topP, topK and
//     stopSequences set max_tokens, top_p, top_k and stop (temperature is
//     spelled alike). Both names of one parameter with different values are
//     a 400 naming both.
//   - n > 1 is a 400; seed, penalties, logprobs, logit_bias, store and
//     other OpenAI-only members are accepted and ignored.
//   - user and metadata become requestMetadata (user under the key "user"),
//     within Bedrock's limits; service_tier auto/default/flex/priority
//     becomes serviceTier (auto: none).
//   - Stop sequences on Claude also ask for /stop_sequence, so the matched
//     one can be reported in the bedrock object.
//
// Bedrock members in the body: guardrailConfig (a configured guardrail
// always applies; the request may only set trace and streamProcessingMode),
// additionalModelRequestFields (merged over what the gateway computed),
// additionalModelResponseFieldPaths, performanceConfig, serviceTier (wins
// over service_tier), and cache markers: cache_control {"type":"ephemeral",
// "ttl"} or cachePoint on a content part, message or tool adds a cachePoint
// block after it.
//
// Media: image_url, file and input_audio parts take data: URIs, s3:// URIs
// (passed to Bedrock as s3Location; the format comes from the key's
// extension) and http(s) URLs, which the gateway fetches itself (media.go).
// Document names are made to fit Bedrock's rules and unique.
//
// Responses carry the x-amzn-requestid header and a "bedrock" object (the
// trace, cache read/write tokens, matched stop sequence, performance config,
// service tier and request ID): a top-level member of a chat.completion, and
// in the last chunk of a stream, which is the usage chunk when
// stream_options.include_usage is set and the finish chunk otherwise.
