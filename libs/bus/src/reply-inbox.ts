import { createInbox, NoRespondersError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

interface Pending {
  readonly resolve: (msg: Msg) => void;
  readonly reject: (err: Error) => void;
  readonly deadline: number;
  readonly subject: string;
}

/** How often expired requests are failed (deadlines are checked, not timed one by one). */
const SWEEP_MS = 250;

/**
 * Request/reply for the hot path: every reply comes to one inbox subscription and one interval
 * fails whatever passed its deadline. All requests of an instance share one timeout, so insertion
 * order is deadline order and the sweep stops at the first live one.
 *
 * Same wire protocol and outcomes as `nc.request()` (a publish with a reply subject; a reply, a
 * `NoRespondersError` when nobody listens, a `TimeoutError`), without its per-request cost: the
 * client arms a timer per request and builds an `Error` even for every *successful* one (its
 * cancel after the reply) — a few percent of the engine's CPU at a few thousand requests a second.
 */
export class ReplyInbox {
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private sub?: Subscription;
  private sweeper?: NodeJS.Timeout;
  private counter = 0;

  constructor(
    private readonly nc: NatsConnection,
    readonly timeoutMs: number,
  ) {
    this.prefix = `${createInbox()}.`;
  }

  request(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<Msg> {
    if (this.nc.isClosed()) return Promise.reject(new Error('NATS connection closed'));
    this.subscribe();
    const token = (++this.counter).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs, subject });
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, ...(headers ? { headers } : {}) });
      } catch (err) {
        this.pending.delete(token);
        reject(err as Error);
        return;
      }
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS);
    });
  }

  /** Fails every request still waiting and drops the subscription (a later request subscribes again). */
  close(): void {
    this.failAll(new Error('reply inbox closed'));
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private subscribe(): void {
    if (this.sub && !this.sub.isClosed()) return;
    const sub = this.nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err) this.failAll(err);
        else this.onReply(msg);
      },
    });
    this.sub = sub;
    // A closed connection closes the subscription without calling back for it: fail what waits.
    void sub.closed.then((err) => {
      if (this.sub === sub || this.sub === undefined) this.failAll(err ?? new Error('NATS connection closed'));
    });
  }

  private onReply(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const p = this.pending.get(token);
    if (!p) return; // timed out already
    this.pending.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) p.reject(new NoRespondersError(p.subject));
    else p.resolve(msg);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(token);
      p.reject(new TimeoutError());
    }
    if (this.pending.size === 0) this.stopSweeper();
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
    this.stopSweeper();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
