import { AgentEntity } from './agent.entity';
import { ApprovalExecutionEntity } from './approval-execution.entity';
import { ApprovalEntity } from './approval.entity';
import { ExecutionEntity } from './execution.entity';
import { ProjectionCheckpointEntity } from './projection-checkpoint.entity';
import { ToolEntity } from './tool.entity';
import { WorkflowVersionEntity } from './workflow-version.entity';
import { WorkflowEntity } from './workflow.entity';

/** Every entity the data source maps. */
export const ENTITIES = [WorkflowEntity, WorkflowVersionEntity, ExecutionEntity, ProjectionCheckpointEntity, ApprovalEntity, ApprovalExecutionEntity, AgentEntity, ToolEntity];
