import type { CompleteStep } from '@jetflow/contracts';
import type { DataSource } from 'typeorm';
import type { ApprovalRow } from './approval.view';

/**
 * Sends a command to an execution actor (the executions service's `command` operation). `taken`:
 * the run recorded this decision (false: it had already ended, cancelled or timed out).
 */
export type CommandSender = (executionId: string, command: CompleteStep) => Promise<{ readonly status: string; readonly taken?: boolean }>;

/** What became of a delivered decision. */
export type Delivery = 'taken' | 'run_ended' | 'not_sent';

export interface DecisionDeliveryOptions {
  readonly clock?: () => Date;
  /** How often undelivered decisions are re-sent (default 1000 ms). */
  readonly intervalMs?: number;
  /** Most decisions re-sent per round. */
  readonly batch?: number;
  readonly onError?: (err: unknown, approvalId: string) => void;
}

type Decided = Pick<ApprovalRow, 'id' | 'execution_id' | 'step_id' | 'iteration' | 'attempt' | 'status' | 'comment' | 'decided_by' | 'decided_at'>;

/**
 * Delivers committed decisions to the actor as `CompleteStep` and marks them delivered. A failed
 * send (actor busy, restarting, executions down) leaves the row undelivered; the background loop
 * re-sends every undelivered decision until it goes through. The decider ignores duplicates and
 * results for steps no longer waiting, so re-sending is always safe: a decision is never lost.
 */
export class DecisionDelivery {
  private readonly clock: () => Date;
  private readonly inFlight = new Set<string>();
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private stopped = true;
  private closing = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly send: CommandSender,
    private readonly opts: DecisionDeliveryOptions = {},
  ) {
    this.clock = opts.clock ?? (() => new Date());
  }

  /**
   * Sends one decision. `taken`: the run recorded it (the row is marked delivered). `run_ended`: the
   * run had already ended (cancelled, timed out) and ignored it: the row says so (`cancelled` /
   * `expired`, delivered) instead of a decision nobody acted on. `not_sent`: try again later.
   */
  async deliver(row: Decided): Promise<Delivery> {
    if (this.inFlight.has(row.id)) return 'not_sent';
    this.inFlight.add(row.id);
    try {
      const decision = row.status === 'approved' ? 'approved' : 'rejected';
      const reply = await this.send(row.execution_id, {
        type: 'CompleteStep',
        step_id: row.step_id,
        ...(row.iteration?.length ? { iteration: row.iteration } : {}),
        attempt: row.attempt,
        output: { decision, comment: row.comment, decided_by: row.decided_by, decided_at: row.decided_at ? row.decided_at.toISOString() : null },
        now: this.clock().toISOString(),
      });
      // An executions service without `taken` (older version) took it, as before.
      if (reply.taken === false) {
        const ended = reply.status === 'timeout' ? 'expired' : 'cancelled';
        await this.dataSource.query(`UPDATE approvals SET status = $2, delivered = true WHERE id = $1`, [row.id, ended]);
        return 'run_ended';
      }
      await this.dataSource.query(`UPDATE approvals SET delivered = true WHERE id = $1`, [row.id]);
      return 'taken';
    } catch (err) {
      this.opts.onError?.(err, row.id);
      return 'not_sent';
    } finally {
      this.inFlight.delete(row.id);
    }
  }

  /** Starts the redelivery loop. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.closing = false;
    this.schedule();
  }

  /** Stops the loop and waits for a round in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
  }

  /** One redelivery round (the loop calls it; tests may too). */
  async redeliver(): Promise<number> {
    const rows: Decided[] = await this.dataSource.query(
      `SELECT id, execution_id, step_id, iteration, attempt, status, comment, decided_by, decided_at
       FROM approvals WHERE NOT delivered AND status IN ('approved', 'rejected') ORDER BY decided_at LIMIT $1`,
      [this.opts.batch ?? 100],
    );
    let delivered = 0;
    for (const row of rows) {
      if (this.closing) break;
      if ((await this.deliver(row)) !== 'not_sent') delivered++;
    }
    return delivered;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.round = this.redeliver()
        .then(() => undefined, (err: unknown) => this.opts.onError?.(err, ''))
        .finally(() => {
          this.round = undefined;
          this.schedule();
        });
    }, this.opts.intervalMs ?? 1000);
  }
}
