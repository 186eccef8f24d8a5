// Drives the Quarry emulator with the AWS SDK for JavaScript v3 on its
// default configuration (only region, endpoint and credentials are set, so
// the default NodeHttp2Handler speaks HTTP/2: h2c or TLS by the URL). Run by
// emulator/js_sdk_test.go: node sdk_test.mjs <endpoint>. For TLS the test
// sets NODE_EXTRA_CA_CERTS to the emulator's CA file. Prints one line per
// check; exits non-zero on the first failure.
import {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, InvokeModelCommand,
  InvokeModelWithResponseStreamCommand, CountTokensCommand, ApplyGuardrailCommand,
  InvokeModelWithBidirectionalStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";
import assert from "node:assert/strict";

const endpoint = process.argv[2];
const client = new BedrockRuntimeClient({
  region: "us-east-1",
  endpoint,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const enc = new TextEncoder();
const dec = new TextDecoder();
const ok = (name) => console.log("ok", name);

async function converse() {
  const out = await client.send(new ConverseCommand({
    modelId: "us.amazon.nova-lite-v1:0",
    messages: [{ role: "user", content: [{ text: "Say hello" }] }],
  }));
  assert.equal(out.output.message.content[0].text, "Hello.");
  assert.equal(out.stopReason, "end_turn");
  assert.equal(out.usage.totalTokens, out.usage.inputTokens + out.usage.outputTokens);
  ok("Converse");
}

async function converseStream() {
  const out = await client.send(new ConverseStreamCommand({
    modelId: "anthropic.claude-3-5-haiku-20241022-v1:0",
    messages: [{ role: "user", content: [{ text: "Tell me about rivers" }] }],
  }));
  let text = "", stop = "", usage;
  for await (const ev of out.stream) {
    if (ev.contentBlockDelta) text += ev.contentBlockDelta.delta.text;
    if (ev.messageStop) stop = ev.messageStop.stopReason;
    if (ev.metadata) usage = ev.metadata.usage;
  }
  assert.ok(text.length > 10, text);
  assert.equal(stop, "end_turn");
  assert.ok(usage.outputTokens > 0);
  // An in-stream exception surfaces as the SDK's modeled error.
  const bad = await client.send(new ConverseStreamCommand({
    modelId: "amazon.nova-lite-v1:0",
    messages: [{ role: "user", content: [{ text: "[[quarry:throttle-stream]] Tell me about rivers" }] }],
  }));
  await assert.rejects(async () => { for await (const _ of bad.stream) { /* drain */ } }, { name: "ThrottlingException" });
  ok("ConverseStream");
}

async function invoke() {
  const out = await client.send(new InvokeModelCommand({
    modelId: "anthropic.claude-3-haiku-20240307-v1:0",
    body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 100, messages: [{ role: "user", content: "Say hi" }] }),
  }));
  const body = JSON.parse(dec.decode(out.body));
  assert.equal(body.content[0].text, "Hi.");
  assert.equal(out.contentType, "application/json");
  ok("InvokeModel");
}

async function invokeStream() {
  const out = await client.send(new InvokeModelWithResponseStreamCommand({
    modelId: "amazon.nova-micro-v1:0",
    body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "Tell me about rivers" }] }] }),
  }));
  let text = "";
  let last;
  for await (const ev of out.body) {
    const c = JSON.parse(dec.decode(ev.chunk.bytes));
    if (c.contentBlockDelta) text += c.contentBlockDelta.delta.text;
    last = c;
  }
  assert.ok(text.length > 10, text);
  assert.ok(last["amazon-bedrock-invocationMetrics"], JSON.stringify(last));
  ok("InvokeModelWithResponseStream");
}

async function countTokens() {
  const out = await client.send(new CountTokensCommand({
    modelId: "anthropic.claude-3-5-haiku-20241022-v1:0",
    input: { converse: { messages: [{ role: "user", content: [{ text: "Say hello" }] }] } },
  }));
  assert.ok(out.inputTokens > 0);
  ok("CountTokens");
}

async function applyGuardrail() {
  const out = await client.send(new ApplyGuardrailCommand({
    guardrailIdentifier: "js-guard", guardrailVersion: "DRAFT", source: "INPUT",
    content: [{ text: { text: "tell me about bitcoin" } }],
  }));
  assert.equal(out.action, "GUARDRAIL_INTERVENED");
  const fine = await client.send(new ApplyGuardrailCommand({
    guardrailIdentifier: "js-guard", guardrailVersion: "DRAFT", source: "INPUT",
    content: [{ text: { text: "tell me about rivers" } }],
  }));
  assert.equal(fine.action, "NONE");
  ok("ApplyGuardrail");
}

// A queue the SDK reads the session's input from, fed as replies arrive.
class Input {
  constructor() { this.items = []; this.waiting = null; this.done = false; }
  push(...events) {
    for (const e of events) this.items.push({ chunk: { bytes: enc.encode(JSON.stringify({ event: e })) } });
    this.wake();
  }
  end() { this.done = true; this.wake(); }
  wake() { if (this.waiting) { const w = this.waiting; this.waiting = null; w(); } }
  async *[Symbol.asyncIterator]() {
    for (;;) {
      while (this.items.length) yield this.items.shift();
      if (this.done) return;
      await new Promise((r) => { this.waiting = r; });
    }
  }
}

const P = "p1";
function opening(input, prompt, tools) {
  const promptStart = {
    promptName: P,
    textOutputConfiguration: { mediaType: "text/plain" },
    audioOutputConfiguration: { mediaType: "audio/lpcm", sampleRateHertz: 24000, sampleSizeBits: 16, channelCount: 1, voiceId: "tiffany", encoding: "base64", audioType: "SPEECH" },
  };
  if (tools) {
    promptStart.toolUseOutputConfiguration = { mediaType: "application/json" };
    promptStart.toolConfiguration = { tools: [{ toolSpec: { name: "get_weather", description: "Get the weather for a city",
      inputSchema: { json: JSON.stringify({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }) } } }] };
  }
  input.push(
    { sessionStart: { inferenceConfiguration: { maxTokens: 1024, topP: 0.9, temperature: 0.7 } } },
    { promptStart },
    { contentStart: { promptName: P, contentName: "sys", type: "TEXT", interactive: false, role: "SYSTEM", textInputConfiguration: { mediaType: "text/plain" } } },
    { textInput: { promptName: P, contentName: "sys", content: "You are a friendly assistant." } },
    { contentEnd: { promptName: P, contentName: "sys" } },
    { contentStart: { promptName: P, contentName: "u1", type: "TEXT", interactive: true, role: "USER", textInputConfiguration: { mediaType: "text/plain" } } },
    { textInput: { promptName: P, contentName: "u1", content: prompt } },
    { contentEnd: { promptName: P, contentName: "u1" } },
  );
}

async function bidi() {
  // Text in, tool use round trip, transcript, text and audio out.
  const input = new Input();
  opening(input, "What is the weather in Paris?", true);
  const out = await client.send(new InvokeModelWithBidirectionalStreamCommand({ modelId: "amazon.nova-sonic-v1:0", body: input }));
  const seen = [];
  let transcript = "", reply = "", audioBytes = 0, toolUses = 0;
  for await (const ev of out.body) {
    const e = JSON.parse(dec.decode(ev.chunk.bytes)).event;
    const [name] = Object.keys(e);
    seen.push(name);
    const f = e[name];
    if (name === "textOutput" && f.role === "USER") transcript = f.content;
    if (name === "textOutput" && f.role === "ASSISTANT") reply = f.content;
    if (name === "audioOutput") audioBytes += Buffer.from(f.content, "base64").length;
    if (name === "toolUse") {
      toolUses++;
      assert.equal(f.toolName, "get_weather");
      assert.ok(JSON.parse(f.content).city !== undefined, f.content);
      input.push(
        { contentStart: { promptName: P, contentName: "t1", interactive: false, type: "TOOL", role: "TOOL",
          toolResultInputConfiguration: { toolUseId: f.toolUseId, type: "TEXT", textInputConfiguration: { mediaType: "text/plain" } } } },
        { toolResult: { promptName: P, contentName: "t1", content: JSON.stringify({ forecast: "sunny and 21 degrees" }) } },
        { contentEnd: { promptName: P, contentName: "t1" } },
      );
    }
    if (name === "usageEvent" && toolUses === 1 && reply) {
      input.push({ promptEnd: { promptName: P } }, { sessionEnd: {} });
      input.end();
    }
  }
  assert.equal(transcript, "What is the weather in Paris?");
  assert.equal(toolUses, 1);
  assert.ok(reply.includes("sunny"), reply);
  assert.ok(audioBytes > 0 && audioBytes % 2 === 0, String(audioBytes));
  assert.equal(seen[0], "completionStart");
  assert.equal(seen[seen.length - 1], "completionEnd");
  ok("InvokeModelWithBidirectionalStream text, tool use, audio");

  // An in-stream error ends the session with the modeled exception.
  const bad = new Input();
  opening(bad, "[[quarry:model-stream-error]] hello", false);
  // (The SDK reads the first event before send returns, so an exception
  // that comes first rejects send itself.)
  const session = (body) => async () => {
    const out = await client.send(new InvokeModelWithBidirectionalStreamCommand({ modelId: "amazon.nova-sonic-v1:0", body }));
    for await (const _ of out.body) { /* drain */ }
  };
  await assert.rejects(session(bad), { name: "ModelStreamErrorException" });
  bad.end();
  const bad2 = new Input();
  bad2.push({ promptStart: { promptName: P } });
  await assert.rejects(session(bad2), { name: "ValidationException", message: /sessionStart/ });
  bad2.end();
  ok("InvokeModelWithBidirectionalStream errors");

  // Cancel mid-session: abort after the first reply; the Go test checks the
  // emulator saw the session go.
  const ac = new AbortController();
  const live = new Input();
  opening(live, "Tell me about rivers", false);
  const out4 = await client.send(new InvokeModelWithBidirectionalStreamCommand({ modelId: "amazon.nova-sonic-v1:0", body: live }), { abortSignal: ac.signal });
  let replies = 0;
  try {
    for await (const ev of out4.body) {
      const e = JSON.parse(dec.decode(ev.chunk.bytes)).event;
      if (e.usageEvent) { replies++; ac.abort(); break; }
    }
  } catch (err) {
    if (err.name !== "AbortError") throw err;
  }
  assert.equal(replies, 1);
  live.end();
  ok("InvokeModelWithBidirectionalStream cancel");
}

const only = process.argv[3];
for (const [name, fn] of Object.entries({ converse, converseStream, invoke, invokeStream, countTokens, applyGuardrail, bidi })) {
  if (only && only !== name) continue;
  await fn();
}
client.destroy();
