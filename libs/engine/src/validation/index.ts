export { validateWorkflow, type ValidationResult, MAX_STEPS, MAX_WORKFLOW_NAME_LENGTH } from './workflow.validator';
export { VALIDATION_CODES, type ValidationCode } from './validation-issues';
