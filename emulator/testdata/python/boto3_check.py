"""Drives the Quarry emulator with boto3 on its defaults (region, endpoint,
credentials only): every operation boto3 has for Bedrock Runtime except the
bidirectional stream (boto3 has none). Run by emulator/python_sdk_test.go:
python3 boto3_check.py <endpoint>; for HTTPS the test sets AWS_CA_BUNDLE to
the emulator's CA file. Prints one line per check; exits non-zero on the
first failure."""
import json
import sys

import boto3
import botocore.exceptions

endpoint = sys.argv[1]
client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=endpoint,
                      aws_access_key_id="test", aws_secret_access_key="test")
msgs = lambda text: [{"role": "user", "content": [{"text": text}]}]

out = client.converse(modelId="us.amazon.nova-lite-v1:0", messages=msgs("Say hello"))
assert out["output"]["message"]["content"][0]["text"] == "Hello.", out
assert out["usage"]["totalTokens"] == out["usage"]["inputTokens"] + out["usage"]["outputTokens"]
print("ok converse")

out = client.converse_stream(modelId="anthropic.claude-3-5-haiku-20241022-v1:0", messages=msgs("Tell me about rivers"))
text, stop = "", None
for ev in out["stream"]:
    if "contentBlockDelta" in ev:
        text += ev["contentBlockDelta"]["delta"]["text"]
    if "messageStop" in ev:
        stop = ev["messageStop"]["stopReason"]
assert len(text) > 10 and stop == "end_turn", (text, stop)
out = client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=msgs("[[quarry:throttle-stream]] Tell me about rivers"))
try:
    for ev in out["stream"]:
        pass
    raise AssertionError("no in-stream throttling")
except botocore.exceptions.EventStreamError as e:
    assert e.response["Error"]["Code"] == "throttlingException", e.response
print("ok converse_stream")

out = client.invoke_model(modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": [{"role": "user", "content": "Say hi"}]}))
assert json.loads(out["body"].read())["content"][0]["text"] == "Hi."
print("ok invoke_model")

out = client.invoke_model_with_response_stream(modelId="amazon.nova-micro-v1:0", body=json.dumps({"messages": msgs("Tell me about rivers")}))
chunks = [json.loads(ev["chunk"]["bytes"]) for ev in out["body"]]
assert "amazon-bedrock-invocationMetrics" in chunks[-1], chunks[-1]
print("ok invoke_model_with_response_stream")

out = client.count_tokens(modelId="anthropic.claude-3-5-haiku-20241022-v1:0", input={"converse": {"messages": msgs("Say hello")}})
assert out["inputTokens"] > 0
print("ok count_tokens")

out = client.apply_guardrail(guardrailIdentifier="py-guard", guardrailVersion="DRAFT", source="INPUT",
                             content=[{"text": {"text": "tell me about bitcoin"}}])
assert out["action"] == "GUARDRAIL_INTERVENED", out
print("ok apply_guardrail")

try:
    client.converse(modelId="no.such-model", messages=msgs("hi"))
    raise AssertionError("no error for an unknown model")
except client.exceptions.ValidationException as e:
    assert "model identifier is invalid" in str(e)
print("ok errors")
