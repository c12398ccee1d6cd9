export { createDataSource, type DataSourceOptions } from './data-source.factory';
export { runMigrations } from './migrations.runner';
export { MIGRATIONS } from './migrations/all-migrations';
export { ENTITIES } from './entities/all-entities';
export { WorkflowEntity, type WorkflowStatus } from './entities/workflow.entity';
export { WorkflowVersionEntity } from './entities/workflow-version.entity';
export { ExecutionEntity } from './entities/execution.entity';
export { ApprovalEntity, type ApprovalStatus } from './entities/approval.entity';
export { ApprovalExecutionEntity } from './entities/approval-execution.entity';
export { AgentEntity } from './entities/agent.entity';
export { ToolEntity } from './entities/tool.entity';
export { ProjectionCheckpointEntity } from './entities/projection-checkpoint.entity';
export {
  DEFAULT_LIST_LIMIT,
  MAX_LIST_LIMIT,
  decodeCursor,
  encodeCursor,
  isUuid,
  parseLimit,
  toPage,
  type ListCursor,
} from './list-paging';
