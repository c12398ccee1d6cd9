import type { StepType } from '@jetflow/contracts';
import { TRIGGER_KINDS } from '@jetflow/contracts';
import { CronPattern } from 'croner';
import { conditionErrors, jsonataErrors } from '@jetflow/expressions';
import { MAX_DURATION_HOURS, MAX_DURATION_SECONDS, MAX_DURATION_TEXT, parseIsoDate, readSeconds } from '../execution/durations';
import { hasTemplate, isWholeTemplate, ParameterReader } from './parameter.checks';
import type { StepDraft } from './step-draft';
import type { ValidationIssues } from './validation-issues';
import { isInteger, isRecord, show, typeName } from './value.checks';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;

/** Parameters that hold an expression of their own language rather than template text. */
export const EXPRESSION_PARAMETERS: Partial<Record<StepType, readonly string[]>> = {
  condition: ['condition'],
  data_transform: ['expression'],
};

/** Unit of a seconds cap in messages. */
const SECONDS = ' seconds (366 days)';

/**
 * Bounds on how much one decision may start or one step may loop: a loop's items (every body
 * instance is a log event) and its concurrency, a parallel's concurrency, an agent's model turns.
 */
export const MAX_LOOP_ITERATIONS = 10_000;
export const MAX_CONCURRENCY = 1_000;
export const MAX_AGENT_ITERATIONS = 100;

const RULES: Record<StepType, (p: ParameterReader) => void> = {
  trigger,
  agent_execution(p) {
    p.string('agent_id', true);
    p.integer('max_iterations', 1, MAX_AGENT_ITERATIONS);
    p.positive('timeout_seconds', MAX_DURATION_SECONDS, SECONDS);
    p.string('message');
  },
  condition(p) {
    const source = p.string('condition', true);
    if (source === undefined || !source.trim()) return;
    for (const message of conditionErrors(source)) p.issues.add('CONDITION_SYNTAX', p.path('condition'), message, p.stepId);
  },
  loop,
  parallel(p) {
    p.integer('max_concurrency', 1, MAX_CONCURRENCY);
    p.boolean('fail_fast');
  },
  human_approval(p) {
    p.stringArray('approvers');
    p.positive('timeout_hours', MAX_DURATION_HOURS, ' (366 days)');
    p.string('message');
  },
  tool_call(p) {
    p.string('tool', true);
    p.object('arguments');
  },
  data_transform(p) {
    const which = p.exactlyOne('mapping', 'expression');
    if (which !== 'expression') return;
    const source = p.string('expression', true);
    if (source === undefined || !source.trim()) return;
    for (const message of jsonataErrors(source)) p.issues.add('JSONATA_SYNTAX', p.path('expression'), message, p.stepId);
  },
  api_call,
  delay(p) {
    const which = p.exactlyOne('seconds', 'until');
    const v = which && p.get(which);
    // Templates are resolved when the step starts; the engine checks the value then (a bad one
    // fails the step with VALIDATION_ERROR).
    if (which === 'seconds' && !(typeof v === 'string' && hasTemplate(v))) {
      const seconds = readSeconds(v, 'seconds');
      if (!seconds.ok) p.invalid('seconds', `seconds must be a number from 0 to ${MAX_DURATION_TEXT} or a template, got ${show(v)}`);
    }
    if (which === 'until' && !(typeof v === 'string' && (hasTemplate(v) || parseIsoDate(v) !== undefined))) {
      p.invalid('until', `until must be an ISO 8601 date-time such as "2030-01-15T10:00:00Z", got ${show(v)}`);
    }
  },
};

/** Checks a step's parameters against its type's rules (DESIGN.md's step table). */
export function validateStepParameters(step: StepDraft, issues: ValidationIssues): void {
  if (!step.type) return;
  RULES[step.type](new ParameterReader(step.parameters, step.path, step.id, issues));
}

function trigger(p: ParameterReader): void {
  const kind = p.oneOf('kind', TRIGGER_KINDS);
  if (kind === 'schedule') {
    const cron = p.string('cron', true);
    if (cron?.trim()) {
      try {
        new CronPattern(cron);
      } catch (err) {
        p.invalid('cron', `cron ${show(cron)} is not a valid cron pattern: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  const timezone = p.string('timezone');
  if (timezone !== undefined && !isTimeZone(timezone)) p.invalid('timezone', `timezone ${show(timezone)} is not a known IANA time zone`);
  if (kind === 'webhook') {
    const secret = p.string('secret');
    p.boolean('require_timestamp');
    // Timestamps are checked as part of the signature: without a secret nothing would be.
    if (p.get('require_timestamp') === true && !secret && p.get('secret_configured') !== true) {
      p.invalid('require_timestamp', 'require_timestamp needs a secret: timestamps are checked as part of the HMAC signature');
    }
  }
}

function loop(p: ParameterReader): void {
  const items = p.get('items');
  if (items === undefined || items === null) p.missing('items', 'items is required: a template such as "{{steps.fetch.output.items}}" or an array');
  else if (!Array.isArray(items) && !isWholeTemplate(items)) {
    p.invalid('items', `items must be a template such as "{{steps.fetch.output.items}}" or an array, got ${show(items)}`);
  }
  const body = p.get('body');
  if (body === undefined || body === null) p.missing('body', 'body is required: the ids of the steps the loop runs per item');
  else if (!Array.isArray(body) || body.length === 0) p.invalid('body', `body must be a non-empty array of step ids, got ${typeName(body)}`);
  else {
    body.forEach((id, i) => {
      if (typeof id !== 'string' || !id) p.issues.add('INVALID_PARAMETER', `${p.path('body')}[${i}]`, `body entries must be step ids, got ${show(id)}`, p.stepId);
    });
  }
  p.integer('concurrency', 1, MAX_CONCURRENCY);
  p.integer('max_iterations', 1, MAX_LOOP_ITERATIONS);
}

function api_call(p: ParameterReader): void {
  const url = p.string('url', true);
  if (url?.trim() && !hasTemplate(url) && !isHttpUrl(url)) p.invalid('url', `url must be an absolute http(s) URL, got ${show(url)}`);
  p.oneOf('method', HTTP_METHODS);
  const headers = p.get('headers');
  if (headers !== undefined && headers !== null) {
    if (!isRecord(headers)) p.invalid('headers', `headers must be an object of strings, got ${typeName(headers)}`);
    else {
      for (const [name, value] of Object.entries(headers)) {
        if (typeof value !== 'string') p.issues.add('INVALID_PARAMETER', `${p.path('headers')}[${JSON.stringify(name)}]`, `header ${show(name)} must be a string, got ${typeName(value)}`, p.stepId);
      }
    }
  }
  p.positive('timeout_seconds', MAX_DURATION_SECONDS, SECONDS);
  const expect = p.get('expect_status');
  const isStatus = (v: unknown): boolean => isInteger(v) && v >= 100 && v <= 599;
  if (expect !== undefined && expect !== null && !isStatus(expect) && !(Array.isArray(expect) && expect.length > 0 && expect.every(isStatus))) {
    p.invalid('expect_status', `expect_status must be an HTTP status code (100-599) or a non-empty array of them, got ${show(expect)}`);
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
