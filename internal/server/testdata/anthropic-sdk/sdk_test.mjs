// Acceptance test of the gateway's Messages API with the official Anthropic
// TypeScript SDK. Run by internal/server/anthropic_sdk_test.go:
//   node sdk_test.mjs <gateway base URL> <api key>
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new Anthropic({ apiKey, baseURL, maxRetries: 0 });

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
const PDF = "JVBERi0xLjQKMSAwIG9iajw8L1R5cGUvQ2F0YWxvZy9QYWdlcyAyIDAgUj4+ZW5kb2JqIDIgMCBvYmo8PC9UeXBlL1BhZ2VzL0tpZHNbMyAwIFJdL0NvdW50IDE+PmVuZG9iaiAzIDAgb2JqPDwvVHlwZS9QYWdlL1BhcmVudCAyIDAgUi9NZWRpYUJveFswIDAgMjAwIDIwMF0+PmVuZG9iagp0cmFpbGVyPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg==";

const tools = [
  {
    name: "get_weather",
    description: "Current weather for a city",
    input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
  },
  {
    name: "get_time",
    description: "Current local time in a city",
    input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
  },
];

let failures = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log("ok   " + name);
  } catch (e) {
    failures++;
    console.log("FAIL " + name + ": " + (e && e.stack ? e.stack : e));
  }
}

function text(msg) {
  return msg.content.filter((b) => b.type === "text").map((b) => b.text).join("");
}

// streamed runs a streaming request and returns the final message and the
// raw event types seen.
async function streamed(params) {
  const stream = client.messages.stream(params);
  const types = [];
  const deltas = [];
  stream.on("streamEvent", (ev) => {
    types.push(ev.type);
    if (ev.type === "content_block_delta") deltas.push(ev.delta.type);
  });
  const msg = await stream.finalMessage();
  return { msg, types, deltas };
}

for (const model of ["claude-sonnet", "nova-lite"]) {
  const base = { model, max_tokens: 300 };

  await check(`${model}: create`, async () => {
    const { data: msg, response } = await client.messages
      .create({ ...base, messages: [{ role: "user", content: "Say hello from the gateway" }] })
      .withResponse();
    assert.equal(msg.type, "message");
    assert.equal(msg.role, "assistant");
    assert.equal(msg.model, model);
    assert.match(msg.id, /^msg_/);
    assert.equal(text(msg), "Hello from the gateway.");
    assert.equal(msg.stop_reason, "end_turn");
    assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0, JSON.stringify(msg.usage));
    assert.ok(response.headers.get("request-id"), "request-id header");
  });

  await check(`${model}: stream`, async () => {
    const params = { ...base, messages: [{ role: "user", content: "Tell me about rivers in France" }] };
    const whole = await client.messages.create(params);
    const { msg, types, deltas } = await streamed(params);
    assert.equal(text(msg), text(whole));
    assert.equal(msg.model, model);
    assert.equal(types[0], "message_start");
    assert.equal(types.at(-1), "message_stop");
    assert.ok(types.includes("message_delta") && types.includes("content_block_stop"));
    assert.ok(deltas.length > 1 && deltas.every((d) => d === "text_delta"), deltas.join());
    assert.equal(msg.stop_reason, "end_turn");
    assert.ok(msg.usage.output_tokens > 0);
  });

  for (const stream of [false, true]) {
    await check(`${model}: parallel tool calls round trip${stream ? " (streamed)" : ""}`, async () => {
      const first = { ...base, tools, messages: [{ role: "user", content: "Use get_weather and get_time for Paris" }] };
      const answer = stream ? (await streamed(first)).msg : await client.messages.create(first);
      const calls = answer.content.filter((b) => b.type === "tool_use");
      assert.deepEqual(calls.map((c) => c.name), ["get_weather", "get_time"]);
      assert.equal(answer.stop_reason, "tool_use");
      for (const c of calls) {
        assert.equal(typeof c.input.location, "string", JSON.stringify(c.input));
        assert.ok(c.id);
      }
      const second = {
        ...base,
        tools,
        messages: [
          ...first.messages,
          { role: "assistant", content: answer.content },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: calls[0].id, content: "sunny, 21C" },
              { type: "tool_result", tool_use_id: calls[1].id, content: [{ type: "text", text: "14:05" }] },
            ],
          },
        ],
      };
      const final = stream ? (await streamed(second)).msg : await client.messages.create(second);
      assert.match(text(final), /sunny, 21C/);
      assert.match(text(final), /14:05/);
      assert.equal(final.stop_reason, "end_turn");
    });
  }

  await check(`${model}: prompt cache write then read`, async () => {
    const long = "You are a careful assistant for the Quarry gateway tests. ".repeat(80);
    const params = {
      ...base,
      system: [{ type: "text", text: long + model + " " + Date.now(), cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: "Say cached" }],
    };
    const a = await client.messages.create(params);
    const b = await client.messages.create(params);
    assert.ok(a.usage.cache_creation_input_tokens > 0, "first: " + JSON.stringify(a.usage));
    assert.ok(!a.usage.cache_read_input_tokens, "first: " + JSON.stringify(a.usage));
    assert.equal(b.usage.cache_read_input_tokens, a.usage.cache_creation_input_tokens, "second: " + JSON.stringify(b.usage));
    assert.ok(!b.usage.cache_creation_input_tokens, "second: " + JSON.stringify(b.usage));
  });

  await check(`${model}: image and PDF document`, async () => {
    const msg = await client.messages.create({
      ...base,
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
            { type: "document", title: "Report 2026", source: { type: "base64", media_type: "application/pdf", data: PDF } },
            { type: "text", text: "Describe the picture and the report" },
          ],
        },
      ],
    });
    assert.ok(text(msg).length > 0);
    assert.ok(msg.usage.input_tokens > 1000, "media are billed: " + JSON.stringify(msg.usage));
  });

  await check(`${model}: count_tokens`, async () => {
    const r = await client.messages.countTokens({ model, messages: [{ role: "user", content: "Count these few words" }] });
    assert.ok(r.input_tokens > 0, JSON.stringify(r));
  });
}

await check("claude-sonnet: extended thinking, signed block sent back", async () => {
  const params = {
    model: "claude-sonnet",
    max_tokens: 4000,
    thinking: { type: "enabled", budget_tokens: 1024 },
    messages: [{ role: "user", content: "Why is the sky blue?" }],
  };
  const whole = await client.messages.create(params);
  const th = whole.content.find((b) => b.type === "thinking");
  assert.ok(th && th.thinking && th.signature, JSON.stringify(whole.content));
  const { msg, deltas } = await streamed(params);
  const sth = msg.content.find((b) => b.type === "thinking");
  assert.equal(sth.signature, th.signature);
  assert.equal(sth.thinking, th.thinking);
  assert.ok(deltas.includes("thinking_delta") && deltas.includes("signature_delta"), deltas.join());
  const next = await client.messages.create({
    ...params,
    messages: [...params.messages, { role: "assistant", content: whole.content }, { role: "user", content: "And at sunset?" }],
  });
  assert.ok(text(next).length > 0);
});

await check("alias: a built-in Anthropic model name", async () => {
  const msg = await client.messages.create({ model: "claude-sonnet-4-20250514", max_tokens: 50, messages: [{ role: "user", content: "Say hi" }] });
  assert.equal(msg.model, "claude-sonnet-4-20250514");
  assert.equal(text(msg), "Hi.");
});

await check("Authorization: Bearer is accepted too", async () => {
  const bearer = new Anthropic({ apiKey: null, authToken: apiKey, baseURL, maxRetries: 0 });
  const msg = await bearer.messages.create({ model: "nova-lite", max_tokens: 50, messages: [{ role: "user", content: "Say hi" }] });
  assert.equal(text(msg), "Hi.");
});

// expectError runs fn and checks the SDK error class, status and body.
async function expectError(name, fn, cls, status, type, match) {
  await check("error: " + name, async () => {
    try {
      await fn();
    } catch (e) {
      assert.ok(e instanceof cls, `got ${e && e.constructor && e.constructor.name}: ${e}`);
      assert.equal(e.status, status);
      assert.equal(e.error?.type, "error", JSON.stringify(e.error));
      assert.equal(e.error?.error?.type, type, JSON.stringify(e.error));
      if (match) assert.match(e.error.error.message, match);
      assert.ok(e.requestID, "request-id header on the error");
      return e;
    }
    assert.fail("no error");
  });
}

const msg = (content, extra = {}) => ({ model: "claude-sonnet", max_tokens: 50, messages: [{ role: "user", content }], ...extra });
await expectError("invalid request", () => client.messages.create(msg("hi", { temperature: 5 })), Anthropic.BadRequestError, 400, "invalid_request_error", /temperature/);
await expectError("authentication", () => new Anthropic({ apiKey: "wrong", baseURL, maxRetries: 0 }).messages.create(msg("hi")), Anthropic.AuthenticationError, 401, "authentication_error");
await expectError("not found", () => client.messages.create({ ...msg("hi"), model: "no-such-model" }), Anthropic.NotFoundError, 404, "not_found_error", /no-such-model/);
await expectError("request too large", () => client.messages.create(msg("x".repeat(3 << 20))), Anthropic.APIError, 413, "request_too_large");
await check("error: rate limit, with retry-after", async () => {
  try {
    await client.messages.create(msg("[[quarry:throttle]]"));
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof Anthropic.RateLimitError, String(e));
    assert.equal(e.status, 429);
    assert.equal(e.error.error.type, "rate_limit_error");
    assert.ok(Number(e.headers.get("retry-after")) >= 1, "retry-after");
  }
});
await expectError("api error", () => client.messages.create(msg("[[quarry:internal-error]]")), Anthropic.InternalServerError, 500, "api_error");
await expectError("overloaded", () => client.messages.create(msg("[[quarry:unavailable]]")), Anthropic.APIError, 529, "overloaded_error");
await expectError("overloaded (Nova)", () => client.messages.create({ ...msg("[[quarry:unavailable]]"), model: "nova-lite" }), Anthropic.APIError, 529, "overloaded_error");
await check("error: in-stream error event", async () => {
  try {
    await streamed(msg("Tell me a long story [[quarry:model-stream-error]]", { max_tokens: 300 }));
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof Anthropic.APIError, String(e));
    assert.match(String(e.message), /api_error|error/);
  }
});

if (failures > 0) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
