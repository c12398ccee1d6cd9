import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { ApprovalsProjector, ApprovalsService, DecisionDelivery, type ApprovalListQuery } from '@jetflow/approvals';
import { RpcClient, RpcServer } from '@jetflow/bus';
import type { Scope } from '@jetflow/contracts';
import { streamNames, type StreamOptions } from '@jetflow/event-store';

export interface ApprovalsAppOptions {
  readonly streams: StreamOptions;
  /** Timeout of one delivery to the executions service (kept below the gateway's RPC timeout). */
  readonly deliveryTimeoutMs?: number;
  /** Redelivery loop period (default 1000 ms). */
  readonly redeliveryIntervalMs?: number;
  /** Run the approvals read model's own projector (default); see ExecutionsAppOptions.ownProjector. */
  readonly ownProjector?: boolean;
}

interface DecideRequest {
  readonly scope: Scope;
  readonly id: string;
  readonly body: unknown;
  /** `X-elevAIte-UserEmail`, when the caller sent one (for the approvers check). */
  readonly approver_email?: string | null;
}

/**
 * The approvals service: projects human_approval steps from the execution logs into `approvals`,
 * answers `list` / `decide` (and `approve` / `deny` for elevAIte clients), delivers decisions to
 * the executions service and keeps re-sending any that did not get through.
 */
export async function startApprovalsService(deps: { nc: NatsConnection; dataSource: DataSource; logger: Logger }, opts: ApprovalsAppOptions) {
  const { nc, dataSource, logger } = deps;
  const names = streamNames(opts.streams);
  const executions = new RpcClient(nc, { timeoutMs: opts.deliveryTimeoutMs ?? 2_000 });
  const delivery = new DecisionDelivery(dataSource, (execution_id, command) => executions.request('executions', 'command', { execution_id, command }), {
    intervalMs: opts.redeliveryIntervalMs,
    onError: (err, id) => logger.warn({ err, approval_id: id }, 'decision not delivered yet; will retry'),
  });
  const service = new ApprovalsService(dataSource, delivery);

  const rpc = new RpcServer(nc, 'approvals', { logger: { error: (message, err) => logger.error({ err }, message) } });
  rpc.handle<{ scope: Scope; query?: ApprovalListQuery }, unknown>('list', (r) => service.list(r.scope, r.query ?? {}));
  rpc.handle<DecideRequest, unknown>('decide', (r) => service.decide(r.scope, r.id, r.body, { email: r.approver_email }));
  rpc.handle<DecideRequest, unknown>('approve', (r) => service.decide(r.scope, r.id, withDecision(r.body, 'approved'), { email: r.approver_email }));
  rpc.handle<DecideRequest, unknown>('deny', (r) => service.decide(r.scope, r.id, withDecision(r.body, 'rejected'), { email: r.approver_email }));

  const projector =
    opts.ownProjector === false
      ? undefined
      : new ApprovalsProjector(nc, dataSource, {
          streamName: names.executions,
          onError: (err) => logger.warn({ err }, 'approvals projector batch failed; retrying'),
          logger,
        });
  await projector?.start();
  delivery.start();
  return {
    /** For metrics. */
    parts: { projectors: projector ? [projector] : [] },
    service,
    async stop() {
      await rpc.close();
      await delivery.stop();
      await projector?.stop();
    },
  };
}

/** `approve` / `deny` take an optional `{comment}`; the decision is the operation's. */
function withDecision(body: unknown, decision: 'approved' | 'rejected'): unknown {
  const b = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  return { ...b, decision };
}
