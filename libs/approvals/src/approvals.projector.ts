import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import { LogProjector, type LogProjectorOptions } from '@jetflow/projections';
import { ApprovalsProjection } from './approvals.projection';

export type ApprovalsProjectorOptions = Omit<LogProjectorOptions, 'durableName'> & { readonly durableName?: string };

/** Pending approvals, fed from the log (durable `jetflow-projector-approvals` by default). */
export class ApprovalsProjector extends LogProjector {
  constructor(nc: NatsConnection, dataSource: DataSource, opts: ApprovalsProjectorOptions) {
    const durableName = opts.durableName ?? 'jetflow-projector-approvals';
    super(nc, dataSource, new ApprovalsProjection({ checkpointName: durableName }), { ...opts, durableName });
  }
}
