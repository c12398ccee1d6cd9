import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StepTask } from '@jetflow/contracts';
import type { HandlerOutcome } from '@jetflow/step-workers';
import { FakeOpenAi, type FakeReply } from '../../../test/support/fake-openai.server';
import type { AgentView } from './agent-definition';
import { createAgentExecutionHandler } from './agent-execution.handler';

const OPERATOR_KEY = 'sk-operator';
const AUTHOR_KEY = 'sk-author';
const ENV_KEY = 'sk-from-process-env';

/**
 * A fake OpenAI-compatible endpoint that records the Authorization header of every request it
 * receives (undefined when none was sent), in front of a {@link FakeOpenAi} that answers.
 */
class RecordingEndpoint {
  readonly authorizations: (string | undefined)[] = [];
  /** Value of the `x-operator-tenant` header of every request (set by OPENAI_CUSTOM_HEADERS in the tests). */
  readonly tenantHeaders: (string | undefined)[] = [];
  private constructor(
    private readonly server: Server,
    readonly llm: FakeOpenAi,
  ) {}

  static async start(): Promise<RecordingEndpoint> {
    const llm = await FakeOpenAi.start();
    let self!: RecordingEndpoint;
    const upstream = new URL(llm.baseUrl);
    const server = createServer((req, res) => {
      self.authorizations.push(req.headers.authorization);
      self.tenantHeaders.push(req.headers['x-operator-tenant'] as string | undefined);
      const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    self = new RecordingEndpoint(server, llm);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return self;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    await this.llm.stop();
  }
}

describe('agent_execution: which endpoint gets which API key', () => {
  /** The operator's endpoint (OPENAI_BASE_URL). */
  let operator: RecordingEndpoint;
  /** An endpoint a workflow author wrote into an agent's `base_url`. */
  let author: RecordingEndpoint;
  const envKey = process.env['OPENAI_API_KEY'];

  beforeAll(async () => {
    [operator, author] = await Promise.all([RecordingEndpoint.start(), RecordingEndpoint.start()]);
    // The openai package reads OPENAI_API_KEY from the environment when given no key: it must not.
    process.env['OPENAI_API_KEY'] = ENV_KEY;
  });
  afterAll(async () => {
    if (envKey === undefined) delete process.env['OPENAI_API_KEY'];
    else process.env['OPENAI_API_KEY'] = envKey;
    await Promise.all([operator?.stop(), author?.stop()]);
  });
  afterEach(() => {
    // Whatever a test did, the operator's key (or the environment's) never reached the author's endpoint.
    const leaked = author.authorizations.filter((a) => a?.includes(OPERATOR_KEY) || a?.includes(ENV_KEY));
    operator.authorizations.length = 0;
    author.authorizations.length = 0;
    expect(leaked).toEqual([]);
  });

  async function runAgent(provider: AgentView['provider'], secrets: Record<string, string> = {}, replies?: FakeReply[]): Promise<HandlerOutcome> {
    const at = new Date().toISOString();
    const model = `m-${Math.random().toString(36).slice(2)}`;
    operator.llm.script(model, replies ?? [{ content: 'from the operator endpoint' }]);
    author.llm.script(model, replies ?? [{ content: 'from the author endpoint' }]);
    const handler = createAgentExecutionHandler({
      events: { appendStream: async () => undefined, readStream: async () => [] },
      agents: { get: async () => ({ id: 'a', name: 'a', system_prompt: '', model, tools: [], provider, created_at: at, updated_at: at }) },
      openai: { apiKey: OPERATOR_KEY, baseURL: operator.baseUrl },
      deltaWindowMs: 0,
    });
    const task: StepTask = {
      execution_id: `credentials-${model}`,
      step_id: 'agent',
      attempt: 1,
      step_type: 'agent_execution',
      parameters: { agent_id: 'a' },
      scope: { organization_id: 'o', project_id: 'p' },
      input: { current_message: 'hi' },
      idempotency_key: `credentials-${model}:agent:1`,
    };
    return handler(task, { signal: new AbortController().signal, secrets, allowPrivateNetworks: true });
  }

  it("sends the operator's key to the operator's endpoint when the agent names neither endpoint nor key", async () => {
    expect(await runAgent({ kind: 'openai' })).toMatchObject({ ok: true, output: { response: 'from the operator endpoint' } });
    expect(operator.authorizations).toEqual([`Bearer ${OPERATOR_KEY}`]);
    expect(author.authorizations).toEqual([]);
  });

  it("never sends the operator's key to an agent's own base_url: without api_key_secret, no Authorization header", async () => {
    expect(await runAgent({ kind: 'openai', base_url: author.baseUrl })).toMatchObject({ ok: true, output: { response: 'from the author endpoint' } });
    expect(author.authorizations).toEqual([undefined]);
    expect(operator.authorizations).toEqual([]);
  });

  it("never sends the operator's OPENAI_CUSTOM_HEADERS to an agent's own base_url, and still to the operator's endpoint", async () => {
    const before = process.env['OPENAI_CUSTOM_HEADERS'];
    process.env['OPENAI_CUSTOM_HEADERS'] = 'X-Operator-Tenant: operator-secret-tenant';
    author.tenantHeaders.length = 0;
    operator.tenantHeaders.length = 0;
    try {
      expect(await runAgent({ kind: 'openai', base_url: author.baseUrl })).toMatchObject({ ok: true });
      expect(await runAgent({ kind: 'openai' })).toMatchObject({ ok: true });
    } finally {
      if (before === undefined) delete process.env['OPENAI_CUSTOM_HEADERS'];
      else process.env['OPENAI_CUSTOM_HEADERS'] = before;
    }
    expect(author.tenantHeaders).toEqual([undefined]);
    expect(operator.tenantHeaders).toEqual(['operator-secret-tenant']);
    author.tenantHeaders.length = 0;
    operator.tenantHeaders.length = 0;
  });

  it("sends an agent's api_key_secret to its own base_url", async () => {
    const outcome = await runAgent({ kind: 'openai', base_url: author.baseUrl, api_key_secret: 'AUTHOR_KEY' }, { AUTHOR_KEY, OTHER: 'x' });
    expect(outcome).toMatchObject({ ok: true, output: { response: 'from the author endpoint' } });
    expect(author.authorizations).toEqual([`Bearer ${AUTHOR_KEY}`]);
  });

  it("sends an agent's api_key_secret, not the operator's key, to the operator's endpoint", async () => {
    expect(await runAgent({ kind: 'openai', api_key_secret: 'AUTHOR_KEY' }, { AUTHOR_KEY })).toMatchObject({ ok: true });
    expect(operator.authorizations).toEqual([`Bearer ${AUTHOR_KEY}`]);
  });

  it('never puts the key into the step error when the provider (or a proxy) echoes it back', async () => {
    const echo = (key: string, status = 401): FakeReply[] => [{ status, body: { error: { message: `Incorrect API key provided: ${key}`, type: 'invalid_request_error' } } }];
    const own = await runAgent({ kind: 'openai', base_url: author.baseUrl, api_key_secret: 'AUTHOR_KEY' }, { AUTHOR_KEY }, echo(AUTHOR_KEY));
    expect(own).toMatchObject({ ok: false, retryable: false, error: { code: 'AGENT_ERROR', message: expect.stringMatching(/HTTP 401.*\[REDACTED\]/) } });
    expect(JSON.stringify(own)).not.toContain(AUTHOR_KEY);
    const operators = await runAgent({ kind: 'openai' }, {}, echo(OPERATOR_KEY, 500));
    expect(operators).toMatchObject({ ok: false, retryable: true, error: { code: 'AGENT_ERROR', message: expect.stringContaining('[REDACTED]') } });
    expect(JSON.stringify(operators)).not.toContain(OPERATOR_KEY);
  });

  it('fails with a terminal AGENT_ERROR, calling no endpoint, when api_key_secret names no secret', async () => {
    const outcome = await runAgent({ kind: 'openai', base_url: author.baseUrl, api_key_secret: 'MISSPELT' }, { AUTHOR_KEY });
    expect(outcome).toMatchObject({ ok: false, retryable: false, error: { code: 'AGENT_ERROR', message: expect.stringMatching(/unknown secret MISSPELT/) } });
    expect(author.authorizations).toEqual([]);
    expect(operator.authorizations).toEqual([]);
  });
});
