export { ExecutionsProjection, type ExecutionsProjectionOptions } from './executions.projection';
export { ExecutionsProjector, toEntry, type ExecutionsProjectorOptions } from './executions.projector';
export { ExecutionsQuery, type ExecutionListQuery } from './executions.query';
export { foldPatches, type ExecutionPatch, type ProjectionEntry } from './execution-patch';
