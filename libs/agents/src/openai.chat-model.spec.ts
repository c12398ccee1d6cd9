import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostResolver } from '@jetflow/tools';
import { FakeOpenAi } from '../../../test/support/fake-openai.server';
import { ModelCallError, type ChatRequest } from './chat-model';
import { OpenAiChatModel } from './openai.chat-model';

/** Names for the tests: `llm.test` is the local fake, the others point where the guard must refuse. */
const resolver: HostResolver = async (host) => {
  if (host === 'llm.test') return [{ address: '127.0.0.1', family: 4 }];
  if (host === 'meta.test') return [{ address: '169.254.169.254', family: 4 }];
  if (host === 'timeout.test') return [{ address: '10.1.2.3', family: 4 }];
  throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
};
const allowPrivate = { policy: { allowPrivate: true }, resolver };
const noPrivate = { policy: { allowPrivate: false }, resolver };
const request = (model: string): ChatRequest => ({ model, messages: [{ role: 'user', content: 'hi' }], tools: [] });
const never = new AbortController().signal;

describe('OpenAiChatModel under the outbound guard (agent base_url)', () => {
  let llm: FakeOpenAi;
  /** A model endpoint that redirects (307): `/to-meta/v1/...` to the metadata address, `/to-fake/v1/...` to the fake. */
  let redirector: Server;
  let redirectorUrl: string;

  beforeAll(async () => {
    llm = await FakeOpenAi.start();
    redirector = createServer((req, res) => {
      req.resume();
      const to = req.url?.startsWith('/to-meta/') ? 'http://169.254.169.254/v1' : llm.baseUrl;
      res.writeHead(307, { location: `${to}/chat/completions` }).end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await llm.stop();
    await new Promise((r) => redirector.close(r));
  });

  async function failure(model: OpenAiChatModel, name: string): Promise<ModelCallError> {
    const err = await model.complete(request(name), () => undefined, never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelCallError);
    return err as ModelCallError;
  }

  it('streams from a loopback endpoint when private ranges are allowed (socket pinned, body streamed)', async () => {
    llm.script('ok', [{ content: 'Hello from the fake.', chunk: 4 }]);
    const chunks: string[] = [];
    const model = new OpenAiChatModel({ apiKey: 'k', baseURL: llm.baseUrl, outbound: allowPrivate });
    const result = await model.complete(request('ok'), (t) => chunks.push(t), never);
    expect(result.content).toBe('Hello from the fake.');
    expect(chunks.length).toBeGreaterThan(1);
    expect(result.usage).toMatchObject({ prompt_tokens: 10 });
    // By name: resolved once by the guard, connected to that address.
    const byName = new OpenAiChatModel({ apiKey: 'k', baseURL: llm.baseUrl.replace('127.0.0.1', 'llm.test'), outbound: allowPrivate });
    expect((await byName.complete(request('ok'), () => undefined, never)).content).toBe('Hello from the fake.');
  });

  it('refuses the metadata address, whatever the policy, with a terminal TOOL_ERROR and no request sent', async () => {
    const err = await failure(new OpenAiChatModel({ apiKey: 'k', baseURL: 'http://169.254.169.254/v1', outbound: allowPrivate }), 'meta');
    expect(err.body).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/^outbound call refused: 169\.254\.169\.254 is a link-local/), details: [{ path: 'provider.base_url' }] });
    expect(err.retryable).toBe(false);
    const alias = await failure(new OpenAiChatModel({ apiKey: 'k', baseURL: 'http://meta.test/v1', outbound: allowPrivate }), 'meta');
    expect(alias.body.message).toMatch(/meta\.test \(169\.254\.169\.254\)/);
    const byName = await failure(new OpenAiChatModel({ apiKey: 'k', baseURL: 'http://metadata.google.internal/v1', outbound: allowPrivate }), 'meta');
    expect(byName.body).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/metadata host/) });
  });

  it('refuses private addresses when the config disallows them (a host name with "timeout" in it stays a refusal)', async () => {
    llm.script('private', [{ content: 'should not be reached' }]);
    const err = await failure(new OpenAiChatModel({ apiKey: 'k', baseURL: llm.baseUrl, outbound: noPrivate }), 'private');
    expect(err.body).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/127\.0\.0\.1 is a private address/) });
    expect(err.retryable).toBe(false);
    expect(llm.requestsFor('private')).toHaveLength(0);
    const named = await failure(new OpenAiChatModel({ apiKey: 'k', baseURL: 'http://timeout.test/v1', outbound: noPrivate }), 'private');
    expect(named.body).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/timeout\.test \(10\.1\.2\.3\) is a private address/) });
  });

  it('re-checks every redirect hop: to the metadata address refused, to the allowed fake followed with the body', async () => {
    const toMeta = await failure(new OpenAiChatModel({ apiKey: 'k', baseURL: `${redirectorUrl}/to-meta/v1`, outbound: allowPrivate }), 'r');
    expect(toMeta.body).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/169\.254\.169\.254/) });

    llm.script('redirected', [{ content: 'after a redirect' }]);
    const model = new OpenAiChatModel({ apiKey: 'k', baseURL: `${redirectorUrl}/to-fake/v1`, outbound: allowPrivate });
    const result = await model.complete(request('redirected'), () => undefined, never);
    expect(result.content).toBe('after a redirect');
    expect(llm.requestsFor('redirected')[0]).toMatchObject({ model: 'redirected', stream: true });
  });

  it('redacts the API key (and other secret values given) from the error, also where the message is cut short', async () => {
    const key = 'sk-live-4f9a2c7e1b';
    // The key straddles the 300-character cut of the message: redacted first, no piece of it is left.
    llm.script('leaky', [{ status: 401, body: { error: { message: `${'x'.repeat(276)} key ${key} tenant t-secret-9` } } }]);
    for (const outbound of [allowPrivate, undefined]) {
      const err = await failure(new OpenAiChatModel({ apiKey: key, baseURL: llm.baseUrl, secretValues: ['t-secret-9'], ...(outbound ? { outbound } : {}) }), 'leaky');
      expect(err.body.code).toBe('AGENT_ERROR');
      expect(err.body.message).toContain('[REDACTED]');
      expect(err.body.message).not.toContain('sk-live');
      expect(err.message).not.toContain('sk-live');
    }
    llm.script('leaky-short', [{ status: 403, body: { error: { message: `bad key ${key} for t-secret-9` } } }]);
    const short = await failure(new OpenAiChatModel({ apiKey: key, baseURL: llm.baseUrl, secretValues: ['t-secret-9'], outbound: allowPrivate }), 'leaky-short');
    expect(short.body.message).toMatch(/^model provider answered HTTP 403: .*bad key \[REDACTED\] for \[REDACTED\]$/);
  });

  it('an aborted call is a retryable TIMEOUT, as without the guard', async () => {
    llm.script('stall', [{ stall: true }]);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const model = new OpenAiChatModel({ apiKey: 'k', baseURL: llm.baseUrl, outbound: allowPrivate });
    const err = await model.complete(request('stall'), () => undefined, abort.signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ body: { code: 'TIMEOUT' }, retryable: true });
  });
});
