import type { ErrorDetail, StepDefinition, StepType, WorkflowDefinition } from '@jetflow/contracts';
import { MAX_DURATION_SECONDS, MAX_DURATION_TEXT } from '../execution/durations';
import type { StepDraft } from './step-draft';
import { validateStepParameters } from './step-parameters.validator';
import { validateStepFields } from './step.validator';
import { validateTemplateReferences } from './template-references.validator';
import { ValidationIssues } from './validation-issues';
import { isFiniteNumber, isRecord, own, show, typeName } from './value.checks';
import { validateGraph } from './workflow-graph.validator';

/** Outcome of validating a workflow body: the normalized definition, or every problem found. */
export type ValidationResult = { ok: true; definition: WorkflowDefinition } | { ok: false; details: ErrorDetail[] };

export const MAX_WORKFLOW_NAME_LENGTH = 200;
export const MAX_STEPS = 500;

/**
 * Validates a "Creating a Workflow" body (the guide's shape) and reports every problem at once,
 * one `ErrorDetail` per problem with a path such as `steps[1].parameters.condition`, the step id
 * and a short code. On success returns the normalized definition: `parameters` defaults to {},
 * `next_steps` to [], unknown fields are dropped. Never throws, whatever the input.
 */
export function validateWorkflow(body: unknown): ValidationResult {
  try {
    return validate(body);
  } catch (err) {
    // Only reachable for exotic objects (throwing getters, proxies); JSON bodies never get here.
    return { ok: false, details: [{ path: '', code: 'INVALID_BODY', message: `body could not be read: ${err instanceof Error ? err.message : String(err)}` }] };
  }
}

function validate(body: unknown): ValidationResult {
  const issues = new ValidationIssues();
  if (!isRecord(body)) {
    issues.add('INVALID_BODY', '', `workflow body must be a JSON object, got ${typeName(body)}`);
    return { ok: false, details: issues.result() };
  }

  const name = own(body, 'name');
  if (name === undefined || name === null) issues.add('MISSING_FIELD', 'name', 'name is required');
  else if (typeof name !== 'string' || !name.trim()) issues.add('INVALID_FIELD', 'name', `name must be a non-empty string, got ${show(name)}`);
  else if (name.length > MAX_WORKFLOW_NAME_LENGTH) issues.add('INVALID_FIELD', 'name', `name must be at most ${MAX_WORKFLOW_NAME_LENGTH} characters`);

  const description = own(body, 'description');
  if (description !== undefined && description !== null && typeof description !== 'string') {
    issues.add('INVALID_FIELD', 'description', `description must be a string, got ${typeName(description)}`);
  }
  const timeout = own(body, 'timeout_seconds');
  if (timeout !== undefined && timeout !== null && !(isFiniteNumber(timeout) && timeout > 0)) {
    issues.add('INVALID_FIELD', 'timeout_seconds', `timeout_seconds must be a number > 0, got ${show(timeout)}`);
  } else if (isFiniteNumber(timeout) && timeout > MAX_DURATION_SECONDS) {
    issues.add('INVALID_FIELD', 'timeout_seconds', `timeout_seconds must be at most ${MAX_DURATION_TEXT}, got ${show(timeout)}`);
  }

  const steps = own(body, 'steps');
  let drafts: StepDraft[] = [];
  if (steps === undefined || steps === null) issues.add('MISSING_FIELD', 'steps', 'steps is required');
  else if (!Array.isArray(steps)) issues.add('INVALID_FIELD', 'steps', `steps must be an array, got ${typeName(steps)}`);
  else if (steps.length === 0) issues.add('INVALID_FIELD', 'steps', 'steps must not be empty');
  else if (steps.length > MAX_STEPS) issues.add('INVALID_FIELD', 'steps', `a workflow may have at most ${MAX_STEPS} steps, got ${steps.length}`);
  else drafts = validateSteps(steps, issues);

  if (!issues.empty) return { ok: false, details: issues.result() };
  return {
    ok: true,
    definition: {
      name: name as string,
      ...(typeof description === 'string' ? { description } : {}),
      ...(isFiniteNumber(timeout) ? { timeout_seconds: timeout } : {}),
      steps: drafts.map(toDefinition),
    },
  };
}

function validateSteps(steps: readonly unknown[], issues: ValidationIssues): StepDraft[] {
  const drafts = steps.map((raw, i) => validateStepFields(raw, i, issues));
  const firstIndex = new Map<string, number>();
  for (const d of drafts) {
    if (d.id === undefined) continue;
    const first = firstIndex.get(d.id);
    if (first === undefined) firstIndex.set(d.id, d.index);
    else issues.add('DUPLICATE_STEP_ID', `${d.path}.step_id`, `step_id ${JSON.stringify(d.id)} is already used by steps[${first}]`, d.id);
  }
  for (const d of drafts) validateStepParameters(d, issues);
  const { inLoopBody } = validateGraph(drafts, issues);
  const ids = new Set(firstIndex.keys());
  for (const d of drafts) validateTemplateReferences(d, ids, d.id !== undefined && inLoopBody.has(d.id), issues);
  return drafts;
}

function toDefinition(d: StepDraft): StepDefinition {
  return {
    step_id: d.id as string,
    step_type: d.type as StepType,
    parameters: d.parameters,
    next_steps: d.next_steps,
    ...(d.else_steps ? { else_steps: d.else_steps } : {}),
    ...(d.retry ? { retry: d.retry } : {}),
    ...(d.timeout_seconds !== undefined ? { timeout_seconds: d.timeout_seconds } : {}),
    ...(d.name !== undefined ? { name: d.name } : {}),
  };
}
