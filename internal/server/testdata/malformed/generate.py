# Generates the malformed-input corpus (*.jsonl beside this file) that
# internal/server/malformed_corpus_test.go sends to the quick start:
#   python3 internal/server/testdata/malformed/generate.py
# Each line: name, method, path, content_type, headers, body (or
# body_base64, or expand for repeated text) and the field the 4xx must name.
import json, base64
import os
OUT=os.path.dirname(os.path.abspath(__file__))+'/'
WRONG={'input':[True,{}],'string':[5,True,[],{}],'number':['"5"'and "5",True,[],{}],'integer':["5",True,[],{},1.5],'bool':["true",1,[],{}],'array':["x",5,{}],'object':["x",5,[]]}
def tname(v):
    return {str:'string',bool:'bool',int:'number',float:'number',list:'array',dict:'object'}[type(v)]

def common(path, base, fields, extra_rows, fmt_field_nested):
    rows=[]
    # JSON syntax
    syn=['{', '{"model":', '{"model":"x",}', "{'model':'x'}", '{"model":NaN}', '{"a":1}/* c */', '[', '[]', '"hello"', '42', 'true', 'null',
         '{"model":"x"} {"model":"y"}', '{"model":"x"', '{"model":"\\x"}', '{"model":"\\ud800"', '{"model":01}', '{"model":-}', '{"model":1e}', '\ufeff'+json.dumps(base),
         '{,}', '{"model"}', '{"model"::"x"}', '{"model":"x"]', 'nul', '{"model":tru}', '{"a":"\t"}', ' ', '\n\n', '{"model":"x","messages":[}',
         '{"model":"x"\u0000}', '{"model":"x\n"}', '{"model":+1}', '{"model":.5}', '{"model":0x10}', '{"model":Infinity}', '{"model":undefined}', '{model:"x"}',
         '{"model":"x",,"a":1}', '{"model" "x"}', '{"model":["x"}', '{"model":{"a":1]}', '}', ']', '{"model":"x"}}', r'{"\u":1}', r'{"a":"\uZZZZ"}', '\u00ef\u00bb\u00bf{}']
    for i,s in enumerate(syn):
        rows.append({'name':'syntax %d'%i,'body':s,'field':''})
    # encoding tricks
    b=json.dumps(base).encode()
    rows.append({'name':'invalid UTF-8 in a string','body_base64':base64.b64encode(b[:-2]+b'\xff\xfe"}').decode(),'field':''})
    for i,bad in enumerate([b'\xc0\xaf', b'\xed\xa0\x80', b'\xf8\x88\x80\x80\x80', b'\x80', b'\xfe\xff']):
        body=json.dumps(base).encode().replace(b'"'+list(base.keys())[0].encode()+b'"', b'"'+bad+b'"',1)
        rows.append({'name':'bad UTF-8 bytes %d'%i,'body_base64':base64.b64encode(body).decode(),'field':''})
    rows.append({'name':'UTF-16 body','body_base64':base64.b64encode(json.dumps(base).encode('utf-16')).decode(),'field':''})
    rows.append({'name':'NUL bytes','body_base64':base64.b64encode(b'\x00'+json.dumps(base).encode()).decode(),'field':''})
    for ce in ['gzip','br','deflate','compress']:
        rows.append({'name':'content-encoding '+ce,'body':json.dumps(base),'headers':{'Content-Encoding':ce},'field':'Content-Encoding'})
    for ct in ['text/html','application/octet-stream','application/cbor','application/yaml','text/csv','application/javascript','application/json-seq','*/*','application/','json',
               'text/plain','application/x-www-form-urlencoded','multipart/form-data; boundary=x','application/xml','application/json; charset=latin1','application/json; charset=utf-16','image/png',';;','application/jsonx','text/json']:
        rows.append({'name':'content-type '+ct,'body':json.dumps(base),'content_type':ct,'field':'Content-Type'})
    # deep nesting / huge
    rows.append({'name':'deep array nesting','body':'{"model":<<A>><<B>>}','expand':[['<<A>>','[',20000],['<<B>>',']',20000]],'field':''})
    rows.append({'name':'deep object nesting','body':'{"model":<<A>>1<<B>>}','expand':[['<<A>>','{"a":',20000],['<<B>>','}',20000]],'field':''})
    rows.append({'name':'body over the size limit','body':'{"model":"<<A>>"}','expand':[['<<A>>','a',70<<10]],'field':''})
    # wrong types for every field
    for f,(typ,_) in fields.items():
        for v in WRONG[typ]:
            if typ=='number' and v=='"5"': v="5"
            body=dict(base); body[f]=v
            rows.append({'name':'%s as %s'%(f,tname(v)),'body':json.dumps(body),'field':fmt_field_nested(f)})
    for r in extra_rows:
        rows.append(r)
    for r in rows:
        r.setdefault('method','POST'); r['path']=r.get('path',path)
    return rows

def write(name, rows):
    with open(OUT+name+'.jsonl','w') as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=True)+'\n')
    print(name, len(rows))

ident=lambda f:f
# chat
chat_base={'model':'nova-lite','messages':[{'role':'user','content':'hi'}]}
chat_fields={'model':('string',0),'messages':('array',0),'max_tokens':('integer',0),'max_completion_tokens':('integer',0),'temperature':('number',0),
 'top_p':('number',0),'n':('integer',0),'stream':('bool',0),
 'tools':('array',0),'response_format':('object',0),'stream_options':('object',0),'parallel_tool_calls':('bool',0)}
# presence_penalty, frequency_penalty, logprobs and seed are ignored by the
# gateway (Bedrock has no use for them), so their types are not checked.
chat_extra=[]
def cb(**kw):
    b=dict(chat_base); b.update(kw); return json.dumps(b)
for name,body,field in [
  ('missing model',json.dumps({'messages':chat_base['messages']}),'model'),
  ('empty model',cb(model=''),'model'),
  ('huge model name',cb(model='m'*10000),'model'),
  ('missing messages',json.dumps({'model':'nova-lite'}),'messages'),
  ('empty messages',cb(messages=[]),'messages'),
  ('message not an object',cb(messages=['hi']),'messages'),
  ('message without role',cb(messages=[{'content':'hi'}]),'role'),
  ('message role a number',cb(messages=[{'role':5,'content':'hi'}]),'role'),
  ('unknown role',cb(messages=[{'role':'wizard','content':'hi'}]),'role'),
  ('content a number',cb(messages=[{'role':'user','content':5}]),'content'),
  ('content an object',cb(messages=[{'role':'user','content':{}}]),'content'),
  ('content part without type',cb(messages=[{'role':'user','content':[{'text':'x'}]}]),'type'),
  ('content part unknown type',cb(messages=[{'role':'user','content':[{'type':'hologram'}]}]),'type'),
  ('text part text a number',cb(messages=[{'role':'user','content':[{'type':'text','text':5}]}]),'text'),
  ('image_url without url',cb(messages=[{'role':'user','content':[{'type':'image_url','image_url':{}}]}]),'url'),
  ('image_url a number',cb(messages=[{'role':'user','content':[{'type':'image_url','image_url':5}]}]),'image_url'),
  ('image data URI not base64',cb(messages=[{'role':'user','content':[{'type':'image_url','image_url':{'url':'data:image/png;base64,!!!'}}]}]),'url'),
  ('image URL ftp',cb(messages=[{'role':'user','content':[{'type':'image_url','image_url':{'url':'ftp://x/y.png'}}]}]),'url'),
  ('max_tokens negative',cb(max_tokens=-1),'max_tokens'),
  ('max_tokens zero',cb(max_tokens=0),'max_tokens'),
  ('max_tokens 1e20',cb(max_tokens=10**20),'max_tokens'),
  ('temperature 1e308',cb(temperature=1e308),'temperature'),
  ('temperature negative',cb(temperature=-1),'temperature'),
  ('top_p 2',cb(top_p=2),'top_p'),
  ('n 1000000',cb(n=1000000),'n'),
  ('n zero',cb(n=0),'n'),
  ('stop a number',cb(stop=5),'stop'),
  ('stop list of numbers',cb(stop=[1,2]),'stop'),
  ('tool not an object',cb(tools=['x']),'tools'),
  ('tool without function',cb(tools=[{'type':'function'}]),'function'),
  ('tool function name a number',cb(tools=[{'type':'function','function':{'name':5}}]),'name'),
  ('tool_choice unknown',cb(tool_choice='sometimes'),'tool_choice'),
  ('tool_choice a number',cb(tool_choice=5),'tool_choice'),
  ('response_format unknown type',cb(response_format={'type':'yaml'}),'response_format'),
  ('tool message without tool_call_id',cb(messages=[{'role':'tool','content':'x'}]),'tool_call_id'),
]:
    chat_extra.append({'name':name,'body':body,'field':field})
for p in ['/v1/chat/completion','/v1/chat/completions/x','/v1/chat/completions%2F','/v1/Chat/Completions','/v1/chat/completions/..%2F..%2Fmodels','/v1/chat/completions;x']:
    chat_extra.append({'name':'path '+p,'path':p,'body':json.dumps(chat_base),'field':''})
chat_extra.append({'name':'GET with a body','method':'GET','body':json.dumps(chat_base),'field':''})
write('chat', common('/v1/chat/completions', chat_base, chat_fields, chat_extra, ident))

emb_base={'model':'titan-embed','input':'hello'}
emb_fields={'model':('string',0),'input':('input',0),'dimensions':('integer',0),'encoding_format':('string',0),'user':('string',0),
 'input_type':('string',0),'truncate':('string',0),'normalize':('bool',0),'embedding_purpose':('string',0),'truncation_mode':('string',0)}
emb_extra=[]
def eb(**kw):
    b=dict(emb_base); b.update(kw); return json.dumps(b)
for name,body,field in [
  ('missing model',json.dumps({'input':'x'}),'model'),('missing input',json.dumps({'model':'titan-embed'}),'input'),
  ('empty input string',eb(input=''),'input'),('empty input list',eb(input=[]),'input'),('input list with a number',eb(input=['a',5]),'input'),
  ('input list with an object',eb(input=[{}]),'input'),('input list with empty string',eb(input=['a','']),'input'),('input nested lists of strings',eb(input=[['a']]),'input'),
  ('input token ids negative',eb(input=[-1,2]),'input'),('input 3000 items',eb(input=['x']*3000),'input'),
  ('dimensions 7',eb(dimensions=7),'dimensions'),('dimensions negative',eb(dimensions=-256),'dimensions'),('dimensions 1e12',eb(dimensions=10**12),'dimensions'),
  ('encoding_format hex',eb(encoding_format='hex'),'encoding_format'),('unknown model',eb(model='ada-002'),'model'),('chat model',eb(model='nova-lite'),'model'),
  ('huge model name',eb(model='m'*10000),'model'),('input_type unknown (cohere)',json.dumps({'model':'cohere-embed','input':'x','input_type':'poem'}),'input_type'),
  ('input list of 3 empty strings',eb(input=['','','']),'input'),('dimensions a float',eb(dimensions=256.5),'dimensions'),('dimensions zero',eb(dimensions=0),'dimensions'),
  ('encoding_format empty object',eb(encoding_format={}),'encoding_format'),('input token id lists',eb(input=[[1,2],[3]]),'input'),('model null',eb(model=None),'model'),
  ('input null',eb(input=None),'input'),
  ('truncate unknown (cohere)',json.dumps({'model':'cohere-embed','input':'x','truncate':'MIDDLE'}),'truncate'),
]:
    emb_extra.append({'name':name,'body':body,'field':field})
for p in ['/v1/embedding','/v1/embeddings/x','/v1/embeddings%2F','/v1/Embeddings']:
    emb_extra.append({'name':'path '+p,'path':p,'body':json.dumps(emb_base),'field':''})
write('embeddings', common('/v1/embeddings', emb_base, emb_fields, emb_extra, ident))

img_base={'model':'nova-canvas','prompt':'a cat'}
img_fields={'model':('string',0),'prompt':('string',0),'n':('integer',0),'size':('string',0),'quality':('string',0),'response_format':('string',0),
 'style':('string',0),'user':('string',0),'negative_text':('string',0),'cfg_scale':('number',0),'seed':('integer',0)}
img_extra=[]
def ib(**kw):
    b=dict(img_base); b.update(kw); return json.dumps(b)
for name,body,field in [
  ('missing prompt',json.dumps({'model':'nova-canvas'}),'prompt'),('empty prompt',ib(prompt=''),'prompt'),('missing model',json.dumps({'prompt':'x'}),'model'),
  ('n zero',ib(n=0),'n'),('n 1000',ib(n=1000),'n'),('size nonsense',ib(size='big'),'size'),('size 0x0',ib(size='0x0'),'size'),('size huge',ib(size='99999x99999'),'size'),
  ('size negative',ib(size='-512x512'),'size'),('quality unknown',ib(quality='ultra'),'quality'),('response_format unknown',ib(response_format='gif'),'response_format'),
  ('unknown model',ib(model='dall-e-3'),'model'),('chat model',ib(model='nova-lite'),'model'),('prompt 100k chars (over the body limit)',ib(prompt='a'*100000),''),
  ('n a float',ib(n=1.5),'n'),('n negative',ib(n=-1),'n'),('size with spaces',ib(size='512 x 512'),'size'),('size one number',ib(size='512'),'size'),
  ('prompt null',ib(prompt=None),'prompt'),('model null',ib(model=None),'model'),('size 1x1',ib(size='1x1'),'size'),
  ('cfg_scale 1e9',ib(cfg_scale=1e9),'cfg_scale'),('seed negative',ib(seed=-5),'seed'),('style unknown',ib(style='cubist'),'style'),
]:
    img_extra.append({'name':name,'body':body,'field':field})
for p in ['/v1/images/generation','/v1/images/generations/x','/v1/images%2Fgenerations']:
    img_extra.append({'name':'path '+p,'path':p,'body':json.dumps(img_base),'field':''})
write('images', common('/v1/images/generations', img_base, img_fields, img_extra, ident))

# _inference: POST to an existing text_embedding endpoint, plus PUT bodies
inf_base={'input':'hello'}
inf_fields={'input':('input',0),'task_settings':('object',0),'input_type':('string',0)}
inf_extra=[]
put_base={'service':'amazonbedrock','service_settings':{'access_key':'AKIAEXAMPLEKEY','secret_key':'example-secret-value','region':'us-east-1','provider':'amazontitan','model':'amazon.titan-embed-text-v2:0'}}
def pb(**kw):
    b=json.loads(json.dumps(put_base)); 
    for k,v in kw.items():
        if k in ('service','task_settings','chunking_settings'): b[k]=v
        else: b['service_settings'][k]=v
    return json.dumps(b)
for i,(name,body,field) in enumerate([
  ('missing service',json.dumps({'service_settings':put_base['service_settings']}),'service'),
  ('service a number',pb(service=5),'service'),('unknown service',pb(service='openai'),'service'),
  ('service_settings missing',json.dumps({'service':'amazonbedrock'}),'service_settings'),
  ('access_key a number',pb(access_key=5),'access_key'),('secret_key a number',pb(secret_key=5),'secret_key'),('secret_key an object',pb(secret_key={'a':1}),'secret_key'),
  ('region a number',pb(region=5),'region'),('provider unknown',pb(provider='acme'),'provider'),('model a number',pb(model=5),'model'),
  ('model empty',pb(model=''),'model'),('dimensions a string',pb(dimensions='256'),'dimensions'),('unknown service setting',pb(colour='blue'),'colour'),
  ('task_settings a string',pb(task_settings='x'),'task_settings'),('rate_limit a string',pb(rate_limit='fast'),'rate_limit'),
]):
    inf_extra.append({'name':'create: '+name,'method':'PUT','path':'/_inference/text_embedding/mal-new-%d'%i,'body':body,'field':field})
j=100
for f in ['access_key','secret_key','region','provider','model','dimensions','rate_limit']:
    for v in ([5,True,[],{}] if f!='dimensions' else ['x',True,[],{}]):
        if f=='rate_limit' and v=={}: v='fast'
        inf_extra.append({'name':'create: %s as %s'%(f,tname(v)),'method':'PUT','path':'/_inference/text_embedding/mal-new-%d'%j,'body':pb(**{f:v}),'field':f}); j+=1
for q,field in [('timeout=abc','timeout'),('timeout=','timeout'),('timeout=-5s','timeout'),('timeout=99999999999999999999ms','timeout')]:
    inf_extra.append({'name':'query '+q,'path':'/_inference/text_embedding/mal-embed?'+q,'body':json.dumps(inf_base),'field':field})
for name,body,field in [
  ('missing input',json.dumps({}),'input'),('input a number',json.dumps({'input':5}),'input'),('input list with numbers',json.dumps({'input':[1,2]}),'input'),
  ('input empty list',json.dumps({'input':[]}),'input'),('input list with null',json.dumps({'input':['a',None]}),'input'),
  ('input nested lists',json.dumps({'input':[['a']]}),'input'),('input list with an object',json.dumps({'input':[{}]}),'input'),('input an object',json.dumps({'input':{}}),'input'),('unknown field',json.dumps({'input':'x','colour':'blue'}),'colour'),
]:
    inf_extra.append({'name':name,'body':body,'field':field})
for p in ['/_inference/text_embedding/no-such-endpoint','/_inference/hologram/mal-embed','/_inference/text_embedding/mal-embed/_bogus','/_inference/completion/mal-embed']:
    inf_extra.append({'name':'path '+p,'path':p,'body':json.dumps(inf_base),'field':''})
write('inference', common('/_inference/text_embedding/mal-embed', inf_base, inf_fields, inf_extra, ident))

# /v1/messages (Anthropic's Messages API)
msg_base={'model':'nova-lite','max_tokens':10,'messages':[{'role':'user','content':'hi'}]}
msg_fields={'model':('string',0),'messages':('array',0),'max_tokens':('integer',0),'temperature':('number',0),'top_p':('number',0),
 'top_k':('integer',0),'stream':('bool',0),'stop_sequences':('array',0),'tools':('array',0),'tool_choice':('object',0),
 'thinking':('object',0),'metadata':('object',0)}
def mb(**kw):
    b=dict(msg_base); b.update(kw); return json.dumps(b)
msg_extra=[]
for name,body,field in [
  ('missing model',json.dumps({'max_tokens':10,'messages':msg_base['messages']}),'model'),
  ('unknown model',mb(model='claude-9'),'model'),
  ('embedding model',mb(model='titan-embed'),'model'),
  ('missing max_tokens',json.dumps({'model':'nova-lite','messages':msg_base['messages']}),'max_tokens'),
  ('max_tokens 0',mb(max_tokens=0),'max_tokens'),
  ('max_tokens negative',mb(max_tokens=-5),'max_tokens'),
  ('missing messages',json.dumps({'model':'nova-lite','max_tokens':10}),'messages'),
  ('empty messages',mb(messages=[]),'messages'),
  ('message not an object',mb(messages=['hi']),'messages'),
  ('role missing',mb(messages=[{'content':'hi'}]),'role'),
  ('role unknown',mb(messages=[{'role':'robot','content':'hi'}]),'role'),
  ('content missing',mb(messages=[{'role':'user'}]),'content'),
  ('content a number',mb(messages=[{'role':'user','content':5}]),'content'),
  ('block without type',mb(messages=[{'role':'user','content':[{'text':'hi'}]}]),'type'),
  ('block type unknown',mb(messages=[{'role':'user','content':[{'type':'hologram'}]}]),'type'),
  ('text block without text',mb(messages=[{'role':'user','content':[{'type':'text'}]}]),'text'),
  ('image without source',mb(messages=[{'role':'user','content':[{'type':'image'}]}]),'source'),
  ('image bad base64',mb(messages=[{'role':'user','content':[{'type':'image','source':{'type':'base64','media_type':'image/png','data':'%%%'}}]}]),'data'),
  ('tool_use in a user turn',mb(messages=[{'role':'user','content':[{'type':'tool_use','id':'t1','name':'f','input':{}}]}]),'tool_use'),
  ('tool without name',mb(tools=[{'input_schema':{'type':'object'}}]),'name'),
  ('tool_choice type unknown',mb(tools=[{'name':'f','input_schema':{'type':'object'}}],tool_choice={'type':'maybe'}),'tool_choice'),
  ('thinking budget too small',mb(max_tokens=5000,thinking={'type':'enabled','budget_tokens':10}),'budget_tokens'),
  ('temperature 5',mb(temperature=5),'temperature'),
  ('top_p 2',mb(top_p=2),'top_p'),
]:
    msg_extra.append({'name':name,'body':body,'field':field})
for p in ['/v1/messages/x','/v1/messages/count_token','/v1/messages/batches','/v1/messages/count_tokens/x']:
    msg_extra.append({'name':'path '+p,'path':p,'body':json.dumps(msg_base),'field':''})
write('messages', common('/v1/messages', msg_base, msg_fields, msg_extra, ident))

# /v1/responses (OpenAI's Responses API)
resp_base={'model':'nova-lite','input':'hi','store':False}
resp_fields={'model':('string',0),'input':('input',0),'instructions':('string',0),'max_output_tokens':('integer',0),'temperature':('number',0),
 'top_p':('number',0),'stream':('bool',0),'store':('bool',0),'tools':('array',0),'text':('object',0),'reasoning':('object',0),
 'metadata':('object',0),'parallel_tool_calls':('bool',0),'previous_response_id':('string',0)}
def rb(**kw):
    b=dict(resp_base); b.update(kw); return json.dumps(b)
resp_extra=[]
for name,body,field in [
  ('missing model',json.dumps({'input':'hi'}),'model'),
  ('unknown model',rb(model='gpt-9'),'model'),
  ('embedding model',rb(model='titan-embed'),'model'),
  ('missing input',json.dumps({'model':'nova-lite'}),'input'),
  ('empty input list',rb(input=[]),'input'),
  ('item not an object',rb(input=['hi']),'input'),
  ('item type unknown',rb(input=[{'type':'hologram'}]),'type'),
  ('message role unknown',rb(input=[{'type':'message','role':'robot','content':'hi'}]),'role'),
  ('content part type unknown',rb(input=[{'type':'message','role':'user','content':[{'type':'input_hologram'}]}]),'type'),
  ('input_image without url',rb(input=[{'type':'message','role':'user','content':[{'type':'input_image'}]}]),'image'),
  ('input_image file_id',rb(input=[{'type':'message','role':'user','content':[{'type':'input_image','file_id':'file-1'}]}]),'file_id'),
  ('function_call_output without call_id',rb(input=[{'type':'function_call_output','output':'x'}]),'call_id'),
  ('web_search tool',rb(tools=[{'type':'web_search'}]),'web_search'),
  ('function tool without name',rb(tools=[{'type':'function','parameters':{'type':'object'}}]),'name'),
  ('tool_choice unknown',rb(tool_choice='sometimes'),'tool_choice'),
  ('text.format type unknown',rb(text={'format':{'type':'yaml'}}),'format'),
  ('json_schema without schema',rb(text={'format':{'type':'json_schema','name':'x'}}),'schema'),
  ('reasoning effort unknown',rb(reasoning={'effort':'extreme'}),'effort'),
  ('background true',rb(background=True),'background'),
  ('max_output_tokens 0',rb(max_output_tokens=0),'max_output_tokens'),
  ('temperature 5',rb(temperature=5),'temperature'),
  ('previous_response_id unknown',rb(previous_response_id='resp_nope'),'previous_response_id'),
]:
    resp_extra.append({'name':name,'body':body,'field':field})
for p in ['/v1/response','/v1/responses/x/y/z','/v1/Responses']: # unknown URLs answer in OpenAI's format
    resp_extra.append({'name':'path '+p,'path':p,'body':json.dumps(resp_base),'field':''})
write('responses', common('/v1/responses', resp_base, resp_fields, resp_extra, ident))
