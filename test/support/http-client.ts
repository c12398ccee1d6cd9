import { request } from 'node:http';
import { SCOPE_HEADERS } from './jetflow-system';

export interface HttpResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

/** A tiny JSON client over node:http (the real network path, no supertest shortcuts). */
export function http<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = SCOPE_HEADERS,
): Promise<HttpResponse<T>> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers: { ...headers, ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface SseMessage {
  id?: string;
  event: string;
  data: any;
}

/** Reads an SSE stream until it ends (after `complete`) or `until` says stop. */
export function readSse(
  baseUrl: string,
  path: string,
  opts: { headers?: Record<string, string>; until?: (m: SseMessage, all: SseMessage[]) => boolean; timeoutMs?: number } = {},
): Promise<{ status: number; messages: SseMessage[] }> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const messages: SseMessage[] = [];
    const req = request(url, { method: 'GET', headers: { accept: 'text/event-stream', ...SCOPE_HEADERS, ...(opts.headers ?? {}) } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ status: res.statusCode ?? 0, messages });
        return;
      }
      let buffer = '';
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`SSE timed out; got ${messages.map((m) => m.event).join(',')}`));
      }, opts.timeoutMs ?? 20_000);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let idx;
        while ((idx = buffer.indexOf('\n\n')) >= 0) {
          const raw = buffer.slice(0, idx);
          buffer = buffer.slice(idx + 2);
          const m: SseMessage = { event: 'message', data: undefined };
          for (const line of raw.split('\n')) {
            if (line.startsWith('id: ')) m.id = line.slice(4);
            else if (line.startsWith('event: ')) m.event = line.slice(7);
            else if (line.startsWith('data: ')) m.data = JSON.parse(line.slice(6));
          }
          if (!raw.trim() || raw.startsWith(':')) continue;
          messages.push(m);
          if (opts.until?.(m, messages)) {
            clearTimeout(timer);
            req.destroy();
            resolve({ status: 200, messages });
            return;
          }
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: 200, messages });
      });
    });
    req.on('error', (err) => (messages.length ? resolve({ status: 200, messages }) : reject(err)));
    req.end();
  });
}
