import type { ValidationIssues } from './validation-issues';
import { joinPath } from './validation-issues';
import { has, isFiniteNumber, isInteger, isRecord, own, show, typeName } from './value.checks';

/** The parameters of one step plus where to report problems about them. */
export class ParameterReader {
  readonly base: string;

  constructor(
    readonly params: Record<string, unknown>,
    stepPath: string,
    readonly stepId: string | undefined,
    readonly issues: ValidationIssues,
  ) {
    this.base = `${stepPath}.parameters`;
  }

  path(key: string): string {
    return joinPath(this.base, key);
  }

  has(key: string): boolean {
    return has(this.params, key);
  }

  get(key: string): unknown {
    return own(this.params, key);
  }

  invalid(key: string, message: string): void {
    this.issues.add('INVALID_PARAMETER', this.path(key), message, this.stepId);
  }

  missing(key: string, message = `${key} is required`): void {
    this.issues.add('MISSING_PARAMETER', this.path(key), message, this.stepId);
  }

  /** A string; `required` also rejects "" and whitespace. Returns it when valid. */
  string(key: string, required = false): string | undefined {
    const v = this.get(key);
    if (v === undefined || v === null) {
      if (required) this.missing(key);
      return undefined;
    }
    if (typeof v !== 'string') return void this.invalid(key, `${key} must be a string, got ${typeName(v)}`);
    if (required && !v.trim()) return void this.invalid(key, `${key} must not be empty`);
    return v;
  }

  oneOf(key: string, allowed: readonly string[]): string | undefined {
    const v = this.get(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' && allowed.includes(v)) return v;
    this.invalid(key, `${key} must be one of ${allowed.join(', ')}, got ${show(v)}`);
    return undefined;
  }

  /** An integer from `min` to `max` (when given). */
  integer(key: string, min: number, max?: number): void {
    const v = this.get(key);
    if (v === undefined || v === null) return;
    if (!isInteger(v) || v < min || (max !== undefined && v > max)) {
      this.invalid(key, `${key} must be an integer ${max === undefined ? `>= ${min}` : `from ${min} to ${max}`}, got ${show(v)}`);
    }
  }

  /** A number > 0 and, when `max` is given, at most `max` (`unit` names it in the message). */
  positive(key: string, max?: number, unit = ''): void {
    const v = this.get(key);
    if (v === undefined || v === null) return;
    if (!isFiniteNumber(v) || v <= 0) this.invalid(key, `${key} must be a number > 0, got ${show(v)}`);
    else if (max !== undefined && v > max) this.invalid(key, `${key} must be at most ${max}${unit}, got ${show(v)}`);
  }

  boolean(key: string): void {
    const v = this.get(key);
    if (v !== undefined && v !== null && typeof v !== 'boolean') this.invalid(key, `${key} must be true or false, got ${show(v)}`);
  }

  object(key: string): void {
    const v = this.get(key);
    if (v !== undefined && v !== null && !isRecord(v)) this.invalid(key, `${key} must be an object, got ${typeName(v)}`);
  }

  stringArray(key: string): void {
    const v = this.get(key);
    if (v === undefined || v === null) return;
    if (!Array.isArray(v)) return this.invalid(key, `${key} must be an array of strings, got ${typeName(v)}`);
    v.forEach((item, i) => {
      if (typeof item !== 'string' || !item.trim()) {
        this.issues.add('INVALID_PARAMETER', `${this.path(key)}[${i}]`, `${key} entries must be non-empty strings, got ${show(item)}`, this.stepId);
      }
    });
  }

  /** Exactly one of two alternative keys; returns which one is present. */
  exactlyOne(a: string, b: string): string | undefined {
    const hasA = this.has(a);
    const hasB = this.has(b);
    if (hasA && hasB) {
      this.issues.add('INVALID_PARAMETER', this.base, `give either ${a} or ${b}, not both`, this.stepId);
      return undefined;
    }
    if (!hasA && !hasB) {
      this.issues.add('MISSING_PARAMETER', this.base, `one of ${a} or ${b} is required`, this.stepId);
      return undefined;
    }
    return hasA ? a : b;
  }
}

/** A string that is exactly one `{{path}}` template (resolved to a typed value at run time). */
export function isWholeTemplate(value: unknown): boolean {
  return typeof value === 'string' && /^\{\{[^{}]*\}\}$/.test(value);
}

export function hasTemplate(value: string): boolean {
  return value.includes('{{');
}
