import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One scripted answer of the fake model. */
export type FakeReply =
  /** Streamed text, `chunk` characters per SSE chunk (default 3). */
  | { readonly content: string; readonly chunk?: number }
  /** Optional text, then tool calls (arguments streamed in fragments, as OpenAI does). */
  | { readonly content?: string; readonly tool_calls: readonly { readonly name: string; readonly arguments: Record<string, unknown> }[] }
  /** An HTTP error before any streaming. */
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  /** Accepts the request and never answers (for timeouts). */
  | { readonly stall: true };

/**
 * A fake OpenAI-compatible `POST /v1/chat/completions` that streams SSE chunks (text and tool
 * calls, with a usage chunk last). Replies are scripted per `model`, so tests sharing one server
 * stay apart: each request takes the next reply of its model; past the end the last one repeats.
 */
export class FakeOpenAi {
  readonly requests = new Map<string, any[]>();
  private readonly scripts = new Map<string, FakeReply[]>();
  private readonly served = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private calls = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeOpenAi> {
    let fake!: FakeOpenAi;
    const server = createServer((req, res) => void fake.handle(req, res));
    fake = new FakeOpenAi(server);
    server.on('connection', (s) => {
      fake.sockets.add(s);
      s.on('close', () => fake.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return fake;
  }

  /** The `base_url` to give the agent (or OPENAI_BASE_URL). */
  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  script(model: string, replies: FakeReply[]): void {
    this.scripts.set(model, replies);
    this.served.set(model, 0);
  }

  /** Requests received for `model` (parsed JSON bodies), in order. */
  requestsFor(model: string): any[] {
    return this.requests.get(model) ?? [];
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const model = String(body.model);
    (this.requests.get(model) ?? this.requests.set(model, []).get(model)!).push(body);
    const script = this.scripts.get(model) ?? [{ content: 'ok' }];
    const n = this.served.get(model) ?? 0;
    this.served.set(model, n + 1);
    const reply = script[Math.min(n, script.length - 1)]!;

    if ('stall' in reply) return;
    if ('status' in reply) {
      res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers ?? {}) });
      res.end(JSON.stringify(reply.body ?? { error: { message: `scripted ${reply.status}`, type: 'server_error' } }));
      return;
    }
    const id = `chatcmpl-${++this.calls}`;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = async (choices: unknown[], extra: Record<string, unknown> = {}) => {
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 0, model, choices, ...extra })}\n\n`);
      await new Promise((r) => setImmediate(r));
    };
    await send([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
    const content = reply.content ?? '';
    const size = 'chunk' in reply && reply.chunk ? reply.chunk : 3;
    for (let i = 0; i < content.length; i += size) await send([{ index: 0, delta: { content: content.slice(i, i + size) }, finish_reason: null }]);
    if ('tool_calls' in reply) {
      for (const [index, call] of reply.tool_calls.entries()) {
        const callId = `call_${this.calls}_${index}`;
        await send([{ index: 0, delta: { tool_calls: [{ index, id: callId, type: 'function', function: { name: call.name, arguments: '' } }] }, finish_reason: null }]);
        const args = JSON.stringify(call.arguments);
        const half = Math.ceil(args.length / 2);
        for (const part of [args.slice(0, half), args.slice(half)]) {
          await send([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: part } }] }, finish_reason: null }]);
        }
      }
    }
    await send([{ index: 0, delta: {}, finish_reason: 'tool_calls' in reply ? 'tool_calls' : 'stop' }]);
    const completion = Math.ceil(content.length / 4);
    await send([], { usage: { prompt_tokens: 10, completion_tokens: completion, total_tokens: 10 + completion } });
    res.end('data: [DONE]\n\n');
  }
}
