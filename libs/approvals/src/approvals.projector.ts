import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import { LogProjector, type LogProjectorOptions } from '@jetflow/projections';
import { ApprovalsProjection } from './approvals.projection';

export type ApprovalsProjectorOptions = Omit<LogProjectorOptions, 'durableName'> & { readonly durableName?: string };

/** Durable consumer (and checkpoint name) of the approvals read model when it has one of its own. */
export const APPROVALS_PROJECTOR_DURABLE = 'jetflow-projector-approvals';

/** Pending approvals, fed from the log (durable `jetflow-projector-approvals` by default). */
export class ApprovalsProjector extends LogProjector {
  constructor(nc: NatsConnection, dataSource: DataSource, opts: ApprovalsProjectorOptions) {
    const durableName = opts.durableName ?? APPROVALS_PROJECTOR_DURABLE;
    super(nc, dataSource, new ApprovalsProjection({ checkpointName: durableName }), { ...opts, durableName });
  }
}
