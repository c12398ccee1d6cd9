import jsonata from 'jsonata';
import { ExpressionEvaluationError, ExpressionSyntaxError } from './expression-syntax.error';
import { GuardedRegExp, UnsafeRegexError } from './safe-regex';
import type { TemplateScope } from './template-scope';

/** Longest JSONata expression accepted. */
export const MAX_JSONATA_LENGTH = 20_000;
/** Wall-clock budget of one evaluation (enforced by JSONata's own guardrails). */
export const JSONATA_TIMEOUT_MS = 1000;
/** Deepest evaluation stack accepted (runaway recursion). */
export const JSONATA_MAX_STACK = 500;
/** Longest sequence an evaluation may build. */
export const JSONATA_MAX_SEQUENCE = 1_000_000;

const CACHE_LIMIT = 500;
const cache = new Map<string, jsonata.Expression>();

interface JsonataFailure {
  code?: string;
  position?: number;
  message?: string;
}

function compile(expression: string): jsonata.Expression {
  if (typeof expression !== 'string') throw new ExpressionSyntaxError('JSONata expression must be a string', 0);
  const hit = cache.get(expression);
  if (hit) {
    // Refresh recency: the cache is a small LRU.
    cache.delete(expression);
    cache.set(expression, hit);
    return hit;
  }
  if (expression.length > MAX_JSONATA_LENGTH) {
    throw new ExpressionSyntaxError(`JSONata expression longer than ${MAX_JSONATA_LENGTH} characters`, MAX_JSONATA_LENGTH);
  }
  if (!expression.trim()) throw new ExpressionSyntaxError('empty JSONata expression', 0);
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(expression, {
      timeout: JSONATA_TIMEOUT_MS,
      stack: JSONATA_MAX_STACK,
      sequence: JSONATA_MAX_SEQUENCE,
      // The time limit is checked between steps, never inside a native regex match: regex literals
      // (those of `$eval` too) go through a guard refusing patterns that backtrack exponentially.
      RegexEngine: GuardedRegExp as unknown as RegExpConstructor,
    });
  } catch (err) {
    const e = err as JsonataFailure;
    const position = typeof e?.position === 'number' ? e.position : 0;
    throw new ExpressionSyntaxError(`${e?.message ?? String(err)} (at position ${position}${e?.code ? `, ${e.code}` : ''})`, position);
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(expression, compiled);
  return compiled;
}

/**
 * Evaluates a JSONata expression with the template scope as its input (`steps.a.output.items.price`,
 * `input.kind`, ...). Compiled expressions are cached (bounded LRU); each evaluation has a time
 * budget, a stack depth and a sequence size limit. The result is plain JSON-like data (JSONata
 * sequences become arrays, functions become undefined). Throws `ExpressionSyntaxError` when the
 * expression does not compile and `ExpressionEvaluationError` (with JSONata's code, e.g. `U1001`
 * for the time limit) when it fails while running; code `VALIDATION_ERROR` for a regex refused
 * before it runs (nested quantifiers such as `/(a+)+$/`, or a subject over 100,000 characters).
 */
export async function evaluateJsonata(expression: string, scope: TemplateScope): Promise<unknown> {
  const compiled = compile(expression);
  try {
    return toPlain(await compiled.evaluate(scope), 0);
  } catch (err) {
    const e = err as JsonataFailure;
    const refused = unsafeRegex(err);
    if (refused) throw new ExpressionEvaluationError(refused.message, refused.code, e?.position);
    throw new ExpressionEvaluationError(e?.message ?? String(err), e?.code ?? 'JSONATA_ERROR', e?.position);
  }
}

/** The regex guard's refusal behind `err`, also when `$eval` wrapped it (D3121, the original as `error`). */
function unsafeRegex(err: unknown): UnsafeRegexError | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 10; e = (e as { error?: unknown }).error, depth++) {
    if (e instanceof UnsafeRegexError) return e;
  }
  return undefined;
}

/** Syntax problems of a JSONata expression; empty when it compiles. */
export function jsonataErrors(expression: string): string[] {
  try {
    compile(expression);
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}

function toPlain(value: unknown, depth: number): unknown {
  if (typeof value === 'function') return undefined;
  if (value === null || typeof value !== 'object' || depth > 200) return value;
  if (Array.isArray(value)) return value.map((v) => toPlain(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value)
      .map(([k, v]) => [k, toPlain(v, depth + 1)] as const)
      .filter(([, v]) => v !== undefined),
  );
}
