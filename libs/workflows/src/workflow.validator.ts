import type { ErrorDetail, WorkflowDefinition } from '@jetflow/contracts';

/** Outcome of validating a workflow body (the engine's `validateWorkflow` has this shape). */
export type WorkflowValidation = { ok: true; definition: WorkflowDefinition } | { ok: false; details: ErrorDetail[] };

/** Validates (and may normalize) a request body into a definition. Injected into `WorkflowsService`. */
export type WorkflowValidator = (body: unknown) => WorkflowValidation;
