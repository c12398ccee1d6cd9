import { ExecutionEntity } from './execution.entity';
import { ProjectionCheckpointEntity } from './projection-checkpoint.entity';
import { WorkflowVersionEntity } from './workflow-version.entity';
import { WorkflowEntity } from './workflow.entity';

/** Every entity the data source maps. */
export const ENTITIES = [WorkflowEntity, WorkflowVersionEntity, ExecutionEntity, ProjectionCheckpointEntity];
