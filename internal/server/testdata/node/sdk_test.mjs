// Acceptance test of the gateway with the official OpenAI Node SDK (npm
// `openai`): chat, streaming chat and embeddings against the quick-start
// models. Run by internal/server/node_sdk_test.go:
//
//   node sdk_test.mjs http://127.0.0.1:PORT/v1
//
// Prints one line per check and exits non-zero if any failed.
import OpenAI from 'openai';

const baseURL = process.argv[2];
if (!baseURL) {
  console.error('usage: node sdk_test.mjs <gateway base URL, e.g. http://127.0.0.1:8080/v1>');
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 20_000 });

const failures = [];
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (err) {
    failures.push(name);
    console.log(`FAIL ${name}: ${err && err.stack ? err.stack : err}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}
async function expectStatus(status, fn) {
  try {
    await fn();
  } catch (err) {
    assert(err instanceof OpenAI.APIError, `want an OpenAI.APIError, got ${err}`);
    assert(err.status === status, `status ${err.status}, want ${status}: ${err.message}`);
    return err;
  }
  throw new Error(`the request succeeded; want status ${status}`);
}

// ---------------------------------------------------------------- embeddings

await check('embeddings: Titan, SDK default encoding (base64, decoded by the SDK)', async () => {
  // Without encoding_format the Node SDK asks for base64 and decodes the
  // little-endian float32 bytes itself: this proves the gateway's base64.
  const r = await client.embeddings.create({ model: 'titan-embed', input: 'The quick brown fox' });
  assert(r.object === 'list' && r.model === 'titan-embed', `envelope ${JSON.stringify({ object: r.object, model: r.model })}`);
  assert(r.data.length === 1, `${r.data.length} vectors`);
  const v = r.data[0].embedding;
  assert(Array.isArray(v) && v.length === 512 && typeof v[0] === 'number', `vector of ${v && v.length}`);
  assert(r.usage.prompt_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens, `usage ${JSON.stringify(r.usage)}`);

  const f = await client.embeddings.create({ model: 'titan-embed', input: 'The quick brown fox', encoding_format: 'float' });
  assert(f.data[0].embedding.length === 512, 'float vector length');
  for (let i = 0; i < 512; i++) {
    assert(Math.fround(f.data[0].embedding[i]) === Math.fround(v[i]), `float and base64 differ at ${i}`);
  }
});

await check('embeddings: Titan dimensions', async () => {
  const r = await client.embeddings.create({ model: 'titan-embed', input: ['one', 'two'], dimensions: 256 });
  assert(r.data.length === 2 && r.data.every((d) => d.embedding.length === 256), 'want two vectors of 256');
});

await check('embeddings: Cohere batch keeps order; similar texts are closer', async () => {
  const texts = ['The cat sat on the mat.', 'Quarterly revenue grew by ten percent.', 'A cat was sitting on the mat.', 'The cat sat on the mat.'];
  const r = await client.embeddings.create({ model: 'cohere-embed', input: texts });
  assert(r.data.length === texts.length, `${r.data.length} vectors`);
  r.data.forEach((d, i) => assert(d.index === i, `data[${i}].index = ${d.index}`));
  const v = r.data.map((d) => d.embedding);
  assert(v[0].length === 1024, `vector of ${v[0].length}`);
  assert(cosine(v[0], v[3]) > 0.9999, 'the same text at positions 0 and 3 gave different vectors');
  assert(cosine(v[0], v[2]) > cosine(v[0], v[1]), 'a paraphrase is not closer than an unrelated text');
});

await check('embeddings: errors', async () => {
  const nf = await expectStatus(404, () => client.embeddings.create({ model: 'no-such-model', input: 'x' }));
  assert(nf.code === 'model_not_found', `code ${nf.code}`);
  const bd = await expectStatus(400, () => client.embeddings.create({ model: 'titan-embed', input: 'x', dimensions: 100 }));
  assert(bd.param === 'dimensions', `param ${bd.param}`);
  await expectStatus(400, () => client.embeddings.create({ model: 'nova-lite', input: 'x' }));
});

// ---------------------------------------------------------------- models

await check('models: list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  for (const want of ['nova-lite', 'claude-sonnet', 'nova-micro', 'titan-embed', 'cohere-embed', 'nova-canvas']) {
    assert(ids.includes(want), `${want} missing from ${ids}`);
  }
});

// ---------------------------------------------------------------- chat
// CHAT: these checks need POST /v1/chat/completions (internal/openai/chat*.go).

await check('chat: completion', async () => {
  const r = await client.chat.completions.create({
    model: 'nova-lite',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }],
    max_tokens: 64,
  });
  assert(r.object === 'chat.completion', `object ${r.object}`);
  assert(r.choices.length === 1, `${r.choices.length} choices`);
  const c = r.choices[0];
  assert(c.message.role === 'assistant', `role ${c.message.role}`);
  assert(typeof c.message.content === 'string' && c.message.content.length > 0, 'empty content');
  assert(['stop', 'length'].includes(c.finish_reason), `finish_reason ${c.finish_reason}`);
  assert(r.usage && r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0, `usage ${JSON.stringify(r.usage)}`);
});

await check('chat: streaming', async () => {
  const stream = await client.chat.completions.create({
    model: 'claude-sonnet',
    messages: [{ role: 'user', content: 'Count to five.' }],
    max_tokens: 64,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '', chunks = 0, finish = null, usage = null;
  for await (const chunk of stream) {
    chunks++;
    assert(chunk.object === 'chat.completion.chunk', `object ${chunk.object}`);
    for (const choice of chunk.choices) {
      if (choice.delta && choice.delta.content) text += choice.delta.content;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert(chunks > 1, `${chunks} chunks`);
  assert(text.length > 0, 'no streamed text');
  assert(['stop', 'length'].includes(finish), `finish_reason ${finish}`);
  assert(usage && usage.completion_tokens > 0, `usage ${JSON.stringify(usage)}`);
});

await check('chat: unknown model is a 404', async () => {
  await expectStatus(404, () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
});

if (failures.length) {
  console.log(`${failures.length} check(s) failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('all checks passed');
