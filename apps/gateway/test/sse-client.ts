import { request, type IncomingHttpHeaders } from 'node:http';

export interface ReceivedSse {
  readonly id?: string;
  readonly event: string;
  readonly data: Record<string, unknown>;
}

export interface SseConnection {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Messages so far (grows as they arrive). */
  readonly messages: ReceivedSse[];
  /** Raw body when the answer was not an event stream. */
  readonly body: () => string;
  /** Resolves when the server ended the response. */
  readonly ended: Promise<void>;
  close(): void;
}

/** A minimal EventSource over node's http client: parses `id`/`event`/`data` blocks. */
export function openSse(url: string, headers: Record<string, string>): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const messages: ReceivedSse[] = [];
      let buffer = '';
      let raw = '';
      res.setEncoding('utf8');
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
      });
      res.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
          }
          messages.push({ ...(fields.id !== undefined ? { id: fields.id } : {}), event: fields.event ?? 'message', data: JSON.parse(fields.data ?? '{}') });
        }
      });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, messages, body: () => raw, ended, close: () => req.destroy() });
    });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
    req.end();
  });
}
