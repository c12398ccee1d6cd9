import { STEP_TYPES, type RetryPolicy, type StepType } from '@jetflow/contracts';
import { MAX_DURATION_SECONDS, MAX_DURATION_TEXT } from '../execution/durations';
import type { StepDraft } from './step-draft';
import { joinPath, type ValidationIssues } from './validation-issues';
import { has, isFiniteNumber, isInteger, isRecord, own, show, typeName } from './value.checks';

export const MAX_STEP_ID_LENGTH = 100;
export const MAX_STEP_NAME_LENGTH = 200;
const STEP_ID_PATTERN = /^[A-Za-z0-9_-]+$/;
const WITH_ELSE: readonly StepType[] = ['condition', 'human_approval'];

/** Checks a step's own fields (not its parameters, not the graph) and returns what it learned. */
export function validateStepFields(raw: unknown, index: number, issues: ValidationIssues): StepDraft {
  const path = `steps[${index}]`;
  if (!isRecord(raw)) {
    issues.add('INVALID_FIELD', path, `step must be an object, got ${typeName(raw)}`);
    return { index, path, parameters: {}, next_steps: [] };
  }
  const id = stepId(raw, path, issues);
  const type = stepType(raw, path, issues, id);
  const step = { path, id, issues };

  let parameters: Record<string, unknown> = {};
  const rawParameters = own(raw, 'parameters');
  if (rawParameters !== undefined && rawParameters !== null) {
    if (isRecord(rawParameters)) parameters = rawParameters;
    else issues.add('INVALID_FIELD', `${path}.parameters`, `parameters must be an object, got ${typeName(rawParameters)}`, id);
  }

  const next_steps = stepIdList(raw, 'next_steps', step) ?? [];
  let else_steps: string[] | undefined;
  if (has(raw, 'else_steps')) {
    const list = own(raw, 'else_steps');
    if (type && !WITH_ELSE.includes(type) && !(Array.isArray(list) && list.length === 0)) {
      issues.add('INVALID_FIELD', `${path}.else_steps`, `else_steps is only allowed on condition and human_approval steps, not on ${type}`, id);
    } else {
      else_steps = stepIdList(raw, 'else_steps', step);
    }
  }

  return {
    index,
    path,
    id,
    type,
    parameters,
    next_steps,
    ...(else_steps ? { else_steps } : {}),
    ...optional('retry', retryPolicy(raw, step)),
    ...optional('timeout_seconds', positiveNumber(raw, 'timeout_seconds', step)),
    ...optional('name', stepName(raw, step)),
  };
}

interface StepRef {
  readonly path: string;
  readonly id?: string;
  readonly issues: ValidationIssues;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function stepId(raw: Record<string, unknown>, path: string, issues: ValidationIssues): string | undefined {
  const value = own(raw, 'step_id');
  const at = `${path}.step_id`;
  if (value === undefined || value === null) {
    issues.add('MISSING_FIELD', at, 'step_id is required');
    return undefined;
  }
  if (typeof value !== 'string' || value === '') {
    issues.add('INVALID_FIELD', at, `step_id must be a non-empty string, got ${show(value)}`);
    return undefined;
  }
  if (value.length > MAX_STEP_ID_LENGTH) {
    issues.add('INVALID_FIELD', at, `step_id must be at most ${MAX_STEP_ID_LENGTH} characters`, value.slice(0, MAX_STEP_ID_LENGTH));
  } else if (!STEP_ID_PATTERN.test(value)) {
    issues.add('INVALID_FIELD', at, `step_id ${show(value)} may only contain letters, digits, "_" and "-"`, value);
  }
  return value;
}

function stepType(raw: Record<string, unknown>, path: string, issues: ValidationIssues, id: string | undefined): StepType | undefined {
  const value = own(raw, 'step_type');
  if (value === undefined || value === null) {
    issues.add('MISSING_FIELD', `${path}.step_type`, 'step_type is required', id);
    return undefined;
  }
  if (typeof value === 'string' && (STEP_TYPES as readonly string[]).includes(value)) return value as StepType;
  issues.add('UNKNOWN_STEP_TYPE', `${path}.step_type`, `step_type must be one of ${STEP_TYPES.join(', ')}, got ${show(value)}`, id);
  return undefined;
}

function stepIdList(raw: Record<string, unknown>, key: 'next_steps' | 'else_steps', step: StepRef): string[] | undefined {
  const value = own(raw, key);
  const at = `${step.path}.${key}`;
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    step.issues.add('INVALID_FIELD', at, `${key} must be an array of step ids, got ${typeName(value)}`, step.id);
    return undefined;
  }
  const ids: string[] = [];
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item === '') {
      step.issues.add('INVALID_FIELD', `${at}[${i}]`, `${key} entries must be step ids (non-empty strings), got ${show(item)}`, step.id);
    } else if (ids.includes(item)) {
      step.issues.add('INVALID_FIELD', `${at}[${i}]`, `${key} lists ${show(item)} more than once`, step.id);
    } else {
      ids.push(item);
    }
  });
  return ids;
}

function retryPolicy(raw: Record<string, unknown>, step: StepRef): RetryPolicy | undefined {
  const value = own(raw, 'retry');
  const at = `${step.path}.retry`;
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    step.issues.add('INVALID_FIELD', at, `retry must be an object, got ${typeName(value)}`, step.id);
    return undefined;
  }
  const before = step.issues.details.length;
  const max = own(value, 'max_attempts');
  if (max === undefined) step.issues.add('MISSING_FIELD', `${at}.max_attempts`, 'retry.max_attempts is required', step.id);
  else if (!isInteger(max) || max < 1 || max > 100) {
    step.issues.add('INVALID_FIELD', `${at}.max_attempts`, `retry.max_attempts must be an integer from 1 to 100, got ${show(max)}`, step.id);
  }
  for (const key of ['backoff_seconds', 'max_backoff_seconds'] as const) {
    const v = own(value, key);
    if (v !== undefined && (!isFiniteNumber(v) || v < 0)) {
      step.issues.add('INVALID_FIELD', `${at}.${key}`, `retry.${key} must be a number >= 0, got ${show(v)}`, step.id);
    } else if (v !== undefined && v > MAX_DURATION_SECONDS) {
      step.issues.add('INVALID_FIELD', `${at}.${key}`, `retry.${key} must be at most ${MAX_DURATION_TEXT}, got ${show(v)}`, step.id);
    }
  }
  if (step.issues.details.length !== before) return undefined;
  const backoff = own(value, 'backoff_seconds') as number | undefined;
  const maxBackoff = own(value, 'max_backoff_seconds') as number | undefined;
  return {
    max_attempts: max as number,
    ...(backoff !== undefined ? { backoff_seconds: backoff } : {}),
    ...(maxBackoff !== undefined ? { max_backoff_seconds: maxBackoff } : {}),
  };
}

/** A duration in seconds: > 0 and at most MAX_DURATION_SECONDS (no timer is scheduled further out). */
function positiveNumber(raw: Record<string, unknown>, key: string, step: StepRef): number | undefined {
  const value = own(raw, key);
  if (value === undefined || value === null) return undefined;
  if (isFiniteNumber(value) && value > 0 && value <= MAX_DURATION_SECONDS) return value;
  const message = isFiniteNumber(value) && value > 0 ? `${key} must be at most ${MAX_DURATION_TEXT}, got ${show(value)}` : `${key} must be a number > 0, got ${show(value)}`;
  step.issues.add('INVALID_FIELD', joinPath(step.path, key), message, step.id);
  return undefined;
}

function stepName(raw: Record<string, unknown>, step: StepRef): string | undefined {
  const value = own(raw, 'name');
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && value.length <= MAX_STEP_NAME_LENGTH) return value;
  step.issues.add('INVALID_FIELD', `${step.path}.name`, `name must be a string of at most ${MAX_STEP_NAME_LENGTH} characters`, step.id);
  return undefined;
}
