import type { NatsConnection } from '@nats-io/transport-node';
import { JetflowError, SUBJECTS, fromErrorBody, type RpcReply } from '@jetflow/contracts';
import { decodeJson, encodeJson } from './json.codec';
import type { RpcService } from './rpc.server';
import { localRpc, type LocalRpcHandler } from './local-rpc.registry';
import { ReplyInbox } from './reply-inbox';
import { tooLarge } from './max-payload';

export interface RpcClientOptions {
  /** How long to wait for a reply (default 10 000 ms). */
  readonly timeoutMs?: number;
}

/**
 * Calls {@link RpcServer} operations. Resolves with the reply's `data`; a failed reply is thrown
 * as a `JetflowError` with the server's code. No responder, timeout or a closed connection throw
 * `JetflowError('UNAVAILABLE')`.
 */
export class RpcClient {
  private readonly timeoutMs: number;
  private inbox?: ReplyInbox;

  constructor(
    private readonly nc: NatsConnection,
    opts: RpcClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Sends `req` to `SUBJECTS.rpc(service, op)` and returns the reply's data. */
  async request<Res>(service: RpcService, op: string, req: unknown): Promise<Res> {
    const subject = SUBJECTS.rpc(service, op);
    const local = localRpc.find(this.nc, subject);
    let reply: RpcReply<Res>;
    if (local) {
      reply = await this.callLocal<Res>(local, service, op, req);
    } else {
      let data: Uint8Array;
      const body = encodeJson(req ?? null);
      tooLarge(this.nc, body.length, `${service}.${op} request`);
      try {
        const msg = await (this.inbox ??= new ReplyInbox(this.nc, this.timeoutMs)).request(subject, body);
        data = msg.data;
      } catch (err) {
        throw new JetflowError('UNAVAILABLE', `${service}.${op} unavailable: ${describe(err)}`);
      }
      try {
        reply = decodeJson<RpcReply<Res>>(data);
      } catch {
        throw new JetflowError('INTERNAL', `${service}.${op} answered with invalid JSON`);
      }
    }
    if (!reply || typeof reply !== 'object' || typeof reply.ok !== 'boolean') {
      throw new JetflowError('INTERNAL', `${service}.${op} answered with an invalid reply`);
    }
    if (!reply.ok) throw fromErrorBody(reply.error);
    return reply.data;
  }

  /** In-process call with the wire's semantics: JSON copies both ways, the same timeout. */
  private async callLocal<Res>(local: LocalRpcHandler, service: RpcService, op: string, req: unknown): Promise<RpcReply<Res>> {
    const request = JSON.parse(JSON.stringify(req ?? null)) as unknown;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new JetflowError('UNAVAILABLE', `${service}.${op} unavailable: TIMEOUT`)), this.timeoutMs);
    });
    try {
      const reply = await Promise.race([local(request), timeout]);
      return JSON.parse(JSON.stringify(reply)) as RpcReply<Res>;
    } finally {
      clearTimeout(timer);
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
