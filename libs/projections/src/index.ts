export { ExecutionsProjection, type ExecutionsProjectionOptions } from './executions.projection';
export { EXECUTIONS_PROJECTOR_DURABLE, ExecutionsProjector, type ExecutionsProjectorOptions } from './executions.projector';
export { LogProjector, toEntry, type LogProjection, type LogProjectorOptions, type ProjectorLogger } from './log.projector';
export { ExecutionsQuery, type ExecutionListQuery } from './executions.query';
export { foldPatches, type ExecutionPatch, type ProjectionEntry } from './execution-patch';
export { checkpointUpsert, readCheckpoint } from './projection-checkpoint';
export { pgSafe, pgText } from './pg-safe';
