import { JetStreamApiError, JetStreamError, type PubAck } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { ReplyInbox, tooLarge } from '@jetflow/bus';

export interface PublishOptions {
  /** `Nats-Msg-Id`: the stream drops a repeat inside its duplicate window (the ack says `duplicate`). */
  readonly msgID?: string;
  /** `Nats-Expected-Last-Subject-Sequence` (0: the subject must be empty). */
  readonly expectLastSubjectSequence?: number;
}

type AckBody = Partial<PubAck> & { error?: { code: number; err_code: number; description: string } };

const decoder = new TextDecoder();

/**
 * Bytes the headers may take besides the message id (`NATS/1.0`, `Nats-Msg-Id: `,
 * `Nats-Expected-Last-Subject-Sequence: <uint64>`, line ends).
 */
const HEADER_ALLOWANCE_BYTES = 128;

/**
 * Acked JetStream publishes for the engine's hot path: the same wire protocol and results as
 * `jetstream(nc).publish()` (the stream answers with a PubAck, or an API error thrown as
 * `JetStreamApiError` with the server's `err_code`), over a {@link ReplyInbox} instead of one client
 * request per message. No retry: a caller that gets an error decides (appends are compare-and-set,
 * tasks carry message ids).
 */
export class JetStreamPublisher {
  private readonly inbox: ReplyInbox;

  constructor(
    private readonly nc: NatsConnection,
    timeoutMs = 5_000,
  ) {
    this.inbox = new ReplyInbox(nc, timeoutMs);
  }

  async publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): Promise<PubAck> {
    let h: MsgHdrs | undefined;
    if (opts.msgID !== undefined || opts.expectLastSubjectSequence !== undefined) {
      h = natsHeaders();
      if (opts.msgID !== undefined) h.set('Nats-Msg-Id', opts.msgID);
      if (opts.expectLastSubjectSequence !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(opts.expectLastSubjectSequence));
    }
    // The server counts headers and body against max_payload: a message it would refuse is a
    // PAYLOAD_TOO_LARGE with the sizes, and nothing is written.
    tooLarge(this.nc, data.length + (h ? HEADER_ALLOWANCE_BYTES + (opts.msgID?.length ?? 0) : 0), `a message to ${subject}`);
    const reply = await this.inbox.request(subject, data, h);
    const body = JSON.parse(decoder.decode(reply.data)) as AckBody;
    if (body.error) throw new JetStreamApiError(body.error);
    if (!body.stream) throw new JetStreamError('invalid ack response');
    return { ...(body as PubAck), duplicate: body.duplicate ?? false };
  }

  /** Fails every publish still waiting for its ack. */
  close(): void {
    this.inbox.close();
  }
}
