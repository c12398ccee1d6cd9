import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { JetflowError, SUBJECTS, toErrorBody, type ErrorBody, type RpcReply } from '@jetflow/contracts';
import { decodeJson, encodeJson } from './json.codec';
import { tooLarge } from './max-payload';
import { localRpc, type LocalRpcHandler } from './local-rpc.registry';

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
  private readonly locals: [string, LocalRpcHandler][] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
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
        this.track(this.dispatch(subject, msg, handler as (req: unknown) => Promise<unknown>));
      },
    });
    this.subs.push(sub);
    const local: LocalRpcHandler = (req) => this.track(this.answer(subject, () => req, handler as (req: unknown) => Promise<unknown>));
    localRpc.register(this.nc, subject, local);
    this.locals.push([subject, local]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  /** Stops taking requests and waits until the ones being handled have been answered. */
  async close(): Promise<void> {
    for (const [subject, local] of this.locals.splice(0)) localRpc.unregister(this.nc, subject, local);
    await Promise.all(this.subs.splice(0).map((s) => (s.isClosed() ? Promise.resolve() : s.drain())));
    await Promise.allSettled([...this.inFlight]);
  }

  private async dispatch(subject: string, msg: Msg, handler: (req: unknown) => Promise<unknown>): Promise<void> {
    const reply = await this.answer(
      subject,
      () => {
        try {
          return decodeJson(msg.data);
        } catch {
          throw new JetflowError('VALIDATION_ERROR', 'request body is not valid JSON');
        }
      },
      handler,
    );
    if (!msg.reply) return;
    try {
      let body = encodeJson(reply);
      try {
        tooLarge(this.nc, body.length, `the reply of ${subject}`);
      } catch (err) {
        body = encodeJson({ ok: false, error: toErrorBody(err) } satisfies RpcReply<never>);
      }
      msg.respond(body);
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

  /** Runs `handler` on the decoded request; every outcome becomes a reply. */
  private async answer(subject: string, request: () => unknown, handler: (req: unknown) => Promise<unknown>): Promise<RpcReply<unknown>> {
    try {
      return { ok: true, data: await handler(request()) };
    } catch (err) {
      const error: ErrorBody = toErrorBody(err);
      if (!(err instanceof JetflowError) || error.code === 'INTERNAL') this.logger.error(`rpc ${subject} failed`, err);
      return { ok: false, error };
    }
  }
}
