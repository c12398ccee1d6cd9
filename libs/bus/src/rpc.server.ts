import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { JetflowError, SUBJECTS, toErrorBody, type ErrorBody, type RpcReply } from '@jetflow/contracts';
import { decodeJson, encodeJson } from './json.codec';

/** The services that answer requests on `jetflow.rpc.<service>.<op>`. */
export type RpcService = 'workflows' | 'executions' | 'approvals' | 'tools';

/** Where the server reports failures that are not domain errors (a bug, a lost dependency). */
export interface RpcLogger {
  error(message: string, err: unknown): void;
}

export interface RpcServerOptions {
  /** Queue group; replicas in the same group share the load. Default `jetflow-<service>`. */
  readonly queue?: string;
  readonly logger?: RpcLogger;
}

const consoleLogger: RpcLogger = { error: (message, err) => console.error(message, err) };

/**
 * Answers request/reply calls for one service. Every operation is a subject
 * `SUBJECTS.rpc(service, op)` subscribed in a queue group; requests are handled concurrently and
 * every outcome becomes a JSON {@link RpcReply}. A thrown `JetflowError` keeps its code; anything
 * else is logged and answered as `INTERNAL` with its message only.
 */
export class RpcServer {
  private readonly subs: Subscription[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly queue: string;
  private readonly logger: RpcLogger;

  constructor(
    private readonly nc: NatsConnection,
    private readonly service: RpcService,
    opts: RpcServerOptions = {},
  ) {
    this.queue = opts.queue ?? `jetflow-${service}`;
    this.logger = opts.logger ?? consoleLogger;
  }

  /** Registers `handler` for `op`. The request payload is the decoded JSON body. */
  handle<Req, Res>(op: string, handler: (req: Req) => Promise<Res>): void {
    const subject = SUBJECTS.rpc(this.service, op);
    const sub = this.nc.subscribe(subject, {
      queue: this.queue,
      callback: (err, msg) => {
        if (err) {
          this.logger.error(`rpc subscription ${subject} failed`, err);
          return;
        }
        const work = this.dispatch(subject, msg, handler as (req: unknown) => Promise<unknown>);
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      },
    });
    this.subs.push(sub);
  }

  /** Stops taking requests and waits until the ones being handled have been answered. */
  async close(): Promise<void> {
    await Promise.all(this.subs.splice(0).map((s) => (s.isClosed() ? Promise.resolve() : s.drain())));
    await Promise.allSettled([...this.inFlight]);
  }

  private async dispatch(subject: string, msg: Msg, handler: (req: unknown) => Promise<unknown>): Promise<void> {
    let reply: RpcReply<unknown>;
    try {
      let req: unknown;
      try {
        req = decodeJson(msg.data);
      } catch {
        throw new JetflowError('VALIDATION_ERROR', 'request body is not valid JSON');
      }
      reply = { ok: true, data: await handler(req) };
    } catch (err) {
      const error: ErrorBody = toErrorBody(err);
      if (!(err instanceof JetflowError) || error.code === 'INTERNAL') this.logger.error(`rpc ${subject} failed`, err);
      reply = { ok: false, error };
    }
    if (!msg.reply) return;
    try {
      msg.respond(encodeJson(reply));
    } catch (err) {
      // Connection closing or the reply is too large: the caller times out / gets UNAVAILABLE.
      this.logger.error(`rpc ${subject} could not reply`, err);
      if (reply.ok) {
        try {
          msg.respond(encodeJson({ ok: false, error: toErrorBody(err) } satisfies RpcReply<never>));
        } catch {
          /* connection gone */
        }
      }
    }
  }
}
