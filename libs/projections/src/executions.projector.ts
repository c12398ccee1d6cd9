import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import { ExecutionsProjection } from './executions.projection';
import { LogProjector, type LogProjectorOptions } from './log.projector';

export type ExecutionsProjectorOptions = Omit<LogProjectorOptions, 'durableName'> & { readonly durableName?: string };

/** Durable consumer (and checkpoint name) of the executions read model when it has one of its own. */
export const EXECUTIONS_PROJECTOR_DURABLE = 'jetflow-projector-executions';

/** The executions read model, fed from the log (durable `jetflow-projector-executions` by default). */
export class ExecutionsProjector extends LogProjector {
  constructor(nc: NatsConnection, dataSource: DataSource, opts: ExecutionsProjectorOptions) {
    const durableName = opts.durableName ?? EXECUTIONS_PROJECTOR_DURABLE;
    super(nc, dataSource, new ExecutionsProjection({ checkpointName: durableName }), { ...opts, durableName });
  }
}
