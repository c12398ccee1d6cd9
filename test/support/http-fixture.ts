import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface FixtureHit {
  readonly path: string;
  readonly at: number;
  readonly headers: IncomingMessage['headers'];
}

/** What the fixture answers the n-th (1-based) request to one path; `null` never answers. */
export type FixtureReply = { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number } | null;

/**
 * A local HTTP server for `api_call` steps in tests (flaky, rate-limited, hanging endpoints).
 * Each path gets its own script; every request is recorded.
 */
export class HttpFixture {
  readonly hits: FixtureHit[] = [];
  readonly responded: FixtureHit[] = [];
  /** Requests the client closed before the fixture answered (an aborted call). */
  readonly aborted: FixtureHit[] = [];
  private readonly scripts = new Map<string, (n: number) => FixtureReply>();
  private readonly sockets = new Set<Socket>();
  private readonly delayed = new Set<NodeJS.Timeout>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<HttpFixture> {
    let fixture!: HttpFixture;
    const server = createServer((req, res) => fixture.handle(req, res));
    fixture = new HttpFixture(server);
    server.on('connection', (s) => {
      fixture.sockets.add(s);
      s.on('close', () => fixture.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return fixture;
  }

  get baseUrl(): string {
    const addr = this.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  /** Scripts `path`: `reply(n)` for its n-th request. Returns the full URL. */
  route(path: string, reply: (n: number) => FixtureReply): string {
    this.scripts.set(path, reply);
    return `${this.baseUrl}${path}`;
  }

  hitsOf(path: string): FixtureHit[] {
    return this.hits.filter((h) => h.path === path);
  }

  async stop(): Promise<void> {
    for (const t of this.delayed) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const hit = { path, at: Date.now(), headers: req.headers };
    this.hits.push(hit);
    req.resume();
    res.on('close', () => {
      if (!res.writableFinished) this.aborted.push(hit);
    });
    const script = this.scripts.get(path);
    const reply = script ? script(this.hitsOf(path).length) : { status: 404, body: { error: 'no such route' } };
    if (reply === null) return; // hang: the socket stays open until the fixture stops
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers ?? {}) });
      res.end(JSON.stringify(reply.body ?? {}));
      this.responded.push(hit);
    };
    if (!reply.delayMs) return send();
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      send();
    }, reply.delayMs);
    this.delayed.add(timer);
  }
}
