export { WorkflowsService, type PinnedDefinition, type WorkflowListQuery } from './workflows.service';
export type { WorkflowValidation, WorkflowValidator } from './workflow.validator';
export { toWorkflowView } from './workflow.view';
export { WorkflowTriggersQuery } from './workflow-triggers.query';
