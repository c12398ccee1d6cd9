import { JetflowError, type SecretSlot } from '@jetflow/contracts';
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
  const resolveString = (text: string): string => resolveNames(text, secrets, allowed, used);
  return { value: visit(value, 0) as T, used: [...used] };
}

/**
 * Resolves `{{secrets.NAME}}` only where the step's definition wrote it: in the strings at the
 * slots' paths, only the slots' names and, when a slot carries spans, only the templates at those
 * offsets. A secret template anywhere else (brought in by run-time data) stays inert text.
 * A slot name that is not in `secrets` is a VALIDATION_ERROR.
 */
export function resolveSecretSlots<T>(value: T, secrets: Readonly<Record<string, string>>, slots: readonly SecretSlot[]): WithSecrets<T> {
  const used = new Set<string>();
  let root: unknown = value;
  for (const slot of slots) {
    if (!Array.isArray(slot.path) || !Array.isArray(slot.names)) continue;
    root = replaceAt(root, slot.path, 0, (text) => (slot.spans ? resolveSpans(text, slot, secrets, used) : resolveNames(text, secrets, slot.names, used)));
  }
  return { value: root as T, used: [...used] };
}

function secretValue(secrets: Readonly<Record<string, string>>, name: string): string {
  const secret = Object.prototype.hasOwnProperty.call(secrets, name) ? secrets[name] : undefined;
  if (secret === undefined) throw new JetflowError('VALIDATION_ERROR', `unknown secret ${name} (define it in SECRETS, or in SCOPED_SECRETS for this project)`);
  return secret;
}

/** Every `{{secrets.NAME}}` of the string whose name is allowed. */
function resolveNames(text: string, secrets: Readonly<Record<string, string>>, allowed: readonly string[] | 'all', used: Set<string>): string {
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
      const secret = secretValue(secrets, name);
      used.add(secret);
      out += secret;
    }
  }
  return out;
}

/** Only the templates at the slot's offsets (each must be exactly one `{{secrets.NAME}}` of its names). */
function resolveSpans(text: string, slot: SecretSlot, secrets: Readonly<Record<string, string>>, used: Set<string>): string {
  let out = '';
  let at = 0;
  for (const span of slot.spans ?? []) {
    const [start, end] = Array.isArray(span) ? span : [NaN, NaN];
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < at || end <= start || end > text.length) continue;
    const raw = text.slice(start, end);
    const { parts } = scanTemplates(raw);
    const part = parts.length === 1 ? parts[0]! : undefined;
    if (!part || part.kind !== 'template' || part.raw !== raw || part.segments[0] !== 'secrets' || part.segments.length !== 2) continue;
    const name = part.segments[1]!;
    if (!slot.names.includes(name)) continue;
    const secret = secretValue(secrets, name);
    used.add(secret);
    out += text.slice(at, start) + secret;
    at = end;
  }
  return out + text.slice(at);
}

/** `value` with the string at `path` replaced by `fn(string)`, copied along the path (never mutated). */
function replaceAt(value: unknown, path: readonly (string | number)[], i: number, fn: (text: string) => string): unknown {
  if (i === path.length) return typeof value === 'string' ? fn(value) : value;
  if (i >= MAX_DEPTH) return value;
  const key = path[i];
  if (Array.isArray(value)) {
    if (typeof key !== 'number' || !Number.isInteger(key) || key < 0 || key >= value.length) return value;
    const copy = value.slice();
    copy[key] = replaceAt(value[key], path, i + 1, fn);
    return copy;
  }
  if (!isPlainObject(value) || typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(value, key)) return value;
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === key ? replaceAt(v, path, i + 1, fn) : v]));
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
