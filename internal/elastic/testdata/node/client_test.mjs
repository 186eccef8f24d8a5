// Drives Quarry's /_inference with the official Elasticsearch JavaScript
// client (@elastic/elasticsearch), which checks X-Elastic-Product on every
// 2xx answer and sends compatible-with=9 media types.
import { Client, errors } from '@elastic/elasticsearch'
import assert from 'node:assert/strict'

const [url, apiKey] = process.argv.slice(2)
const client = new Client({ node: url, auth: { apiKey } })

const secrets = { access_key: 'AKIDEXAMPLE', secret_key: 'wJalrXUtnFEMI', region: 'us-east-1' }
let r = await client.inference.put({
  task_type: 'text_embedding', inference_id: 'js-emb',
  inference_config: { service: 'amazonbedrock', service_settings: { ...secrets, provider: 'amazontitan', model: 'amazon.titan-embed-text-v2:0' } }
})
assert.equal(r.chunking_settings.strategy, 'sentence')
r = await client.inference.putAmazonbedrock({
  task_type: 'completion', amazonbedrock_inference_id: 'js-comp', service: 'amazonbedrock',
  service_settings: { ...secrets, provider: 'anthropic', model: 'anthropic.claude-3-haiku-20240307-v1:0' }
})
assert.equal(r.inference_id, 'js-comp')
r = await client.inference.get({ inference_id: 'js-emb' })
assert.equal(r.endpoints[0].inference_id, 'js-emb')
r = await client.inference.textEmbedding({ inference_id: 'js-emb', input: ['a', 'b'] })
assert.equal(r.text_embedding.length, 2)
r = await client.inference.completion({ inference_id: 'js-comp', input: 'Say hi' })
assert.ok(r.completion[0].result.length > 0)
const stream = await client.inference.streamCompletion({ inference_id: 'js-comp', input: 'Say hi' }, { asStream: true })
let text = ''
for await (const chunk of stream) text += chunk
assert.match(text, /"delta"/)
r = await client.inference.update({ task_type: 'completion', inference_id: 'js-comp', inference_config: { task_settings: { max_new_tokens: 16 } } })
assert.equal(r.task_settings.max_new_tokens, 16)
await assert.rejects(client.inference.completion({ inference_id: 'nope', input: 'x' }), (e) => {
  assert.ok(e instanceof errors.ResponseError)
  assert.equal(e.statusCode, 404)
  assert.equal(e.body.error.type, 'resource_not_found_exception')
  return true
})
await assert.rejects(client.inference.put({
  task_type: 'text_embedding', inference_id: 'js-bad',
  inference_config: { service: 'amazonbedrock', chunking_settings: { strategy: 'word', max_chunk_size: 5, overlap: 1 }, service_settings: { ...secrets, provider: 'amazontitan', model: 'amazon.titan-embed-text-v2:0' } }
}), (e) => e.statusCode === 400 && e.body.error.type === 'validation_exception')
r = await client.inference.delete({ inference_id: 'js-comp' })
assert.equal(r.acknowledged, true)
console.log('ok')
