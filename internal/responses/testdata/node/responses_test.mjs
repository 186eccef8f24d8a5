// Acceptance test of /v1/responses with the official OpenAI Node SDK (npm
// `openai`), against the quick start. Run by
// internal/server/responses_node_test.go:
//
//   node responses_test.mjs http://127.0.0.1:PORT/v1 KEY OTHER_KEY
//
// Prints one line per check and exits non-zero if any failed.
import OpenAI from 'openai';

const [baseURL, key, otherKey] = process.argv.slice(2);
if (!baseURL || !key || !otherKey) {
  console.error('usage: node responses_test.mjs <base URL> <api key> <another api key>');
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: key, maxRetries: 0, timeout: 20_000 });
const other = new OpenAI({ baseURL, apiKey: otherKey, maxRetries: 0, timeout: 20_000 });

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
async function status(p) {
  try {
    await p;
  } catch (err) {
    return err.status;
  }
  return 200;
}

const weather = {
  type: 'function', name: 'get_weather', description: 'Get the current weather for a city', strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF').toString('base64');

for (const model of ['claude-sonnet', 'nova-lite']) {
  await check(`create ${model}`, async () => {
    const r = await client.responses.create({ model, input: 'Tell me about rivers.', instructions: 'Be brief.' });
    assert(r.id.startsWith('resp_') && r.status === 'completed', `response ${r.id} ${r.status}`);
    assert(r.output_text.length > 0, 'no output_text');
    assert(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, `usage ${JSON.stringify(r.usage)}`);
  });
  await check(`stream ${model}`, async () => {
    const stream = await client.responses.create({ model, input: 'Tell me about rivers.', stream: true });
    let text = '', seq = 0, last;
    for await (const ev of stream) {
      assert(ev.sequence_number === seq++, `sequence ${ev.sequence_number} at ${seq - 1}`);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      last = ev;
    }
    assert(last.type === 'response.completed', `last event ${last.type}`);
    assert(last.response.output_text === undefined || last.response.output_text === text || text.length > 0, 'text');
    const msg = last.response.output.find((o) => o.type === 'message');
    assert(msg.content[0].text === text, `final ${msg.content[0].text} vs deltas ${text}`);
  });
  await check(`stateless tool loop ${model}`, async () => {
    const input = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const first = await client.responses.create({ model, input, tools: [weather], store: false });
    const calls = first.output.filter((o) => o.type === 'function_call');
    assert(calls.length === 1 && calls[0].name === 'get_weather', JSON.stringify(first.output));
    input.push(...first.output);
    input.push({ type: 'function_call', call_id: 'call_lyon', name: 'get_weather', arguments: '{"city":"Lyon"}' });
    input.push({ type: 'function_call_output', call_id: calls[0].call_id, output: 'Sunny, 21 C' });
    input.push({ type: 'function_call_output', call_id: 'call_lyon', output: 'Rainy, 12 C' });
    const second = await client.responses.create({ model, input, tools: [weather], store: false });
    assert(second.output_text.includes('Sunny'), second.output_text);
  });
  await check(`stateful streamed tool loop ${model}`, async () => {
    const stream = await client.responses.create({ model, input: 'What is the weather in Paris?', tools: [weather], stream: true });
    let done, args = '';
    for await (const ev of stream) {
      if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
      if (ev.type === 'response.completed') done = ev.response;
    }
    const call = done.output.find((o) => o.type === 'function_call');
    assert(call && call.arguments === args, `call ${JSON.stringify(call)} args ${args}`);
    const second = await client.responses.create({ model, previous_response_id: done.id, tools: [weather],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'Sunny, 21 C' }] });
    assert(second.output_text.includes('Sunny'), second.output_text);
  });
  await check(`json_schema ${model}`, async () => {
    const r = await client.responses.create({ model, input: 'Describe a person.', text: { format: { type: 'json_schema', name: 'person',
      schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false } } } });
    const v = JSON.parse(r.output_text);
    assert(typeof v.name === 'string' && Number.isInteger(v.age), r.output_text);
  });
}

await check('reasoning with encrypted content sent back', async () => {
  const params = { model: 'claude-sonnet', tools: [weather], store: false, reasoning: { effort: 'low', summary: 'auto' },
    include: ['reasoning.encrypted_content'] };
  const input = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const first = await client.responses.create({ ...params, input });
  const rs = first.output.find((o) => o.type === 'reasoning');
  assert(rs && rs.encrypted_content && rs.summary[0].text, JSON.stringify(first.output));
  const call = first.output.find((o) => o.type === 'function_call');
  input.push(...first.output, { type: 'function_call_output', call_id: call.call_id, output: 'Sunny' });
  const second = await client.responses.create({ ...params, input });
  assert(second.status === 'completed' && second.output_text.includes('Sunny'), JSON.stringify(second.output));
});

await check('image and PDF input', async () => {
  const r = await client.responses.create({ model: 'claude-sonnet', input: [{ role: 'user', content: [
    { type: 'input_text', text: 'What is in these?' },
    { type: 'input_image', image_url: `data:image/png;base64,${png}`, detail: 'auto' },
    { type: 'input_file', filename: 'report.pdf', file_data: `data:application/pdf;base64,${pdf}` },
  ] }] });
  assert(r.output_text.length > 0, 'no answer');
});

await check('GET, input_items, DELETE, and another key', async () => {
  const r = await client.responses.create({ model: 'nova-lite', input: [{ role: 'user', content: 'First.' }, { role: 'user', content: 'Second.' }] });
  const got = await client.responses.retrieve(r.id);
  assert(got.id === r.id && got.output_text === r.output_text, 'GET differs');
  const items = await client.responses.inputItems.list(r.id, { order: 'asc' });
  assert(items.data.length === 2 && items.data[0].content[0].text === 'First.', JSON.stringify(items.data));
  assert(await status(other.responses.retrieve(r.id)) === 404, 'another key can read it');
  assert(await status(other.responses.delete(r.id)) === 404, 'another key can delete it');
  await client.responses.delete(r.id);
  assert(await status(client.responses.retrieve(r.id)) === 404, 'still there after DELETE');
});

await check('input_tokens', async () => {
  const r = await client.responses.inputTokens.count({ model: 'claude-sonnet', input: 'How many tokens is this sentence?' });
  assert(r.input_tokens > 0, JSON.stringify(r));
});

await check('bad request: 400 naming the tool type', async () => {
  try {
    await client.responses.create({ model: 'nova-lite', input: 'Hi', tools: [{ type: 'web_search' }] });
    throw new Error('no error');
  } catch (err) {
    assert(err.status === 400 && err.param === 'tools[0].type' && /web_search/.test(err.message), `${err.status} ${err.message}`);
  }
});

if (failures.length > 0) {
  console.log(`${failures.length} check(s) failed: ${failures.join(', ')}`);
  process.exit(1);
}
