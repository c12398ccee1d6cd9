import type { ErrorDetail } from '@jetflow/contracts';

/** Machine codes of workflow validation problems (`ErrorDetail.code`). */
export const VALIDATION_CODES = [
  'INVALID_BODY',
  'MISSING_FIELD',
  'INVALID_FIELD',
  'DUPLICATE_STEP_ID',
  'UNKNOWN_STEP_TYPE',
  'MISSING_TRIGGER',
  'MULTIPLE_TRIGGERS',
  'TRIGGER_HAS_INCOMING_EDGE',
  'UNKNOWN_STEP_REFERENCE',
  'CYCLE',
  'UNREACHABLE_STEP',
  'LOOP_BODY_ENTERED_FROM_OUTSIDE',
  'MISSING_PARAMETER',
  'INVALID_PARAMETER',
  'CONDITION_SYNTAX',
  'TEMPLATE_SYNTAX',
  'UNKNOWN_TEMPLATE_ROOT',
  'INVALID_TEMPLATE_REFERENCE',
  'JSONATA_SYNTAX',
  'TOO_MANY_PROBLEMS',
] as const;
export type ValidationCode = (typeof VALIDATION_CODES)[number];

/** Most problems reported for one body; the rest are summarized in one last detail. */
export const MAX_DETAILS = 200;

/** Collects every problem found; one `ErrorDetail` per problem. */
export class ValidationIssues {
  readonly details: ErrorDetail[] = [];
  private dropped = 0;

  add(code: ValidationCode, path: string, message: string, step_id?: string): void {
    if (this.details.length >= MAX_DETAILS) {
      this.dropped++;
      return;
    }
    this.details.push(step_id === undefined ? { path, code, message } : { path, step_id, code, message });
  }

  get empty(): boolean {
    return this.details.length === 0;
  }

  /** The details, with a last entry counting the problems left off. */
  result(): ErrorDetail[] {
    if (!this.dropped) return this.details;
    return [...this.details, { path: '', code: 'TOO_MANY_PROBLEMS', message: `${this.dropped} more problems not listed` }];
  }
}

/** Appends a key to a detail path: `a.b`, or `a["odd key"]` when the key is not a plain name. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}
