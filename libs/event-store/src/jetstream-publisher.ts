import { JetStreamApiError, JetStreamError, type PubAck } from '@nats-io/jetstream';
import { createInbox, headers as natsHeaders, NoRespondersError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

export interface PublishOptions {
  /** `Nats-Msg-Id`: the stream drops a repeat inside its duplicate window (the ack says `duplicate`). */
  readonly msgID?: string;
  /** `Nats-Expected-Last-Subject-Sequence` (0: the subject must be empty). */
  readonly expectLastSubjectSequence?: number;
}

interface Pending {
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: Error) => void;
  readonly deadline: number;
  readonly subject: string;
}

const decoder = new TextDecoder();
/** How often expired publishes are failed (their deadline is checked, not timed one by one). */
const SWEEP_MS = 250;

/**
 * Acked JetStream publishes, for the engine's hot path. Same wire protocol and results as
 * `jetstream(nc).publish()` (a publish with a reply subject; the stream answers with a PubAck or
 * an API error, thrown as `JetStreamApiError` with the server's `err_code`), without its per-message
 * cost: the client's request builds an `Error` for every *successful* request (its cancel after
 * the reply) and arms a timer per request, a few percent of the engine's CPU at a few thousand
 * publishes per second. Here every reply comes to one inbox subscription and one interval fails
 * whatever passed its deadline (all share one timeout, so insertion order is deadline order).
 * No retry: a caller that gets an error decides (appends are compare-and-set, tasks carry ids).
 */
export class JetStreamPublisher {
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private sub?: Subscription;
  private sweeper?: NodeJS.Timeout;
  private counter = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5_000,
  ) {
    this.prefix = `${createInbox()}.`;
  }

  publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): Promise<PubAck> {
    if (this.nc.isClosed()) return Promise.reject(new Error('NATS connection closed'));
    this.subscribe();
    const token = (++this.counter).toString(36);
    let h: MsgHdrs | undefined;
    if (opts.msgID !== undefined || opts.expectLastSubjectSequence !== undefined) {
      h = natsHeaders();
      if (opts.msgID !== undefined) h.set('Nats-Msg-Id', opts.msgID);
      if (opts.expectLastSubjectSequence !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(opts.expectLastSubjectSequence));
    }
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs, subject });
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, ...(h ? { headers: h } : {}) });
      } catch (err) {
        this.pending.delete(token);
        reject(err as Error);
        return;
      }
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS);
    });
  }

  /** Fails every publish still waiting (the connection is going away). */
  close(): void {
    this.failAll(new Error('publisher closed'));
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private subscribe(): void {
    if (this.sub && !this.sub.isClosed()) return;
    this.sub = this.nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err) this.failAll(err);
        else this.onReply(msg);
      },
    });
    // A closed connection closes the subscription without calling back for it: fail what waits.
    void this.sub.closed.then((err) => this.failAll(err ?? new Error('NATS connection closed')));
  }

  private onReply(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const p = this.pending.get(token);
    if (!p) return; // timed out already
    this.pending.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      p.reject(new NoRespondersError(p.subject));
      return;
    }
    try {
      const body = JSON.parse(decoder.decode(msg.data)) as Partial<PubAck> & { error?: { code: number; err_code: number; description: string } };
      if (body.error) p.reject(new JetStreamApiError(body.error));
      else if (!body.stream) p.reject(new JetStreamError('invalid ack response'));
      else p.resolve({ ...(body as PubAck), duplicate: body.duplicate ?? false });
    } catch (err) {
      p.reject(err as Error);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(token);
      p.reject(new TimeoutError());
    }
    if (this.pending.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
