import { JetflowError } from '@jetflow/contracts';
import { scanTemplates } from '@jetflow/expressions';

export const REDACTED = '[REDACTED]';
const MAX_DEPTH = 100;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A value with `{{secrets.NAME}}` resolved, and the secret values it now holds (for redaction). */
export interface WithSecrets<T> {
  readonly value: T;
  readonly used: readonly string[];
}

/**
 * Resolves `{{secrets.NAME}}` templates in every string of `value` from `secrets`. Only names in
 * `allowed` are resolved (the ones the definition itself referenced, so a secret template smuggled
 * in through run-time data stays inert text); other templates are left verbatim.
 * An allowed but unknown name is a VALIDATION_ERROR.
 */
export function resolveSecrets<T>(value: T, secrets: Readonly<Record<string, string>>, allowed: readonly string[] | 'all'): WithSecrets<T> {
  const used = new Set<string>();
  const visit = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return resolveString(v);
    if (depth >= MAX_DEPTH || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => visit(x, depth + 1));
    if (!isPlainObject(v)) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, visit(x, depth + 1)]));
  };
  const resolveString = (text: string): string => {
    const { parts } = scanTemplates(text);
    if (!parts.some((p) => p.kind === 'template' && p.segments[0] === 'secrets')) return text;
    let out = '';
    for (const part of parts) {
      if (part.kind === 'text') out += part.text;
      else if (part.segments[0] !== 'secrets' || part.segments.length !== 2) out += part.raw;
      else {
        const name = part.segments[1]!;
        if (allowed !== 'all' && !allowed.includes(name)) {
          out += part.raw;
          continue;
        }
        const secret = Object.prototype.hasOwnProperty.call(secrets, name) ? secrets[name] : undefined;
        if (secret === undefined) throw new JetflowError('VALIDATION_ERROR', `unknown secret ${name} (define it in SECRETS)`);
        used.add(secret);
        out += secret;
      }
    }
    return out;
  };
  return { value: visit(value, 0) as T, used: [...used] };
}

/** Secret names referenced by `{{secrets.NAME}}` templates anywhere in a value. */
export function secretNames(value: unknown): string[] {
  const names = new Set<string>();
  const visit = (v: unknown, depth: number): void => {
    if (typeof v === 'string') {
      for (const p of scanTemplates(v).parts) if (p.kind === 'template' && p.segments[0] === 'secrets' && p.segments[1]) names.add(p.segments[1]);
    } else if (depth < MAX_DEPTH && v !== null && typeof v === 'object') {
      for (const x of Array.isArray(v) ? v : Object.values(v)) visit(x, depth + 1);
    }
  };
  visit(value, 0);
  return [...names];
}

/** Replaces every occurrence of the given secret values (keys and strings, deep) with `[REDACTED]`. */
export function redactSecrets<T>(value: T, secretValues: readonly string[]): T {
  const needles = secretValues.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (needles.length === 0) return value;
  const redactText = (s: string): string => {
    let out = s;
    for (const n of needles) if (out.includes(n)) out = out.split(n).join(REDACTED);
    return out;
  };
  const visit = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redactText(v);
    if (depth >= MAX_DEPTH || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => visit(x, depth + 1));
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [redactText(k), visit(x, depth + 1)]));
  };
  return visit(value, 0) as T;
}
