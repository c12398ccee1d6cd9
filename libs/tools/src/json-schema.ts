import { Ajv, type Options, type ValidateFunction } from 'ajv';
import type { ErrorDetail } from '@jetflow/contracts';
import { MAX_REGEX_SUBJECT_LENGTH, RegexCursor, regexSandbox, runsInLinearTime, sandboxRefusal, UnsafeRegexError, unsafeRegexReason } from '@jetflow/expressions';

/**
 * `pattern` / `patternProperties` go through the same guard as JSONata regexes: a pattern that can
 * backtrack exponentially makes the schema invalid (a tool's arguments come from a model or from
 * run-time data, and one evil match would freeze the worker), a string longer than
 * `MAX_REGEX_SUBJECT_LENGTH` does not match, and a pattern V8 cannot run in linear time is tested
 * in the regex sandbox: a string it cannot decide within the budget ends the validation with one
 * error (the next string could take as long again, on the worker's event loop).
 */
/** Ajv's `code.regExp` engine type (not exported by the package root). */
type RegExpEngine = NonNullable<NonNullable<Options['code']>['regExp']>;

const guardedRegExp: RegExpEngine = Object.assign(
  (pattern: string, flags: string) => {
    const reason = unsafeRegexReason(pattern, flags.includes('i'));
    if (reason) throw new Error(`pattern ${JSON.stringify(pattern)} is refused: ${reason}`);
    const re = new RegExp(pattern, flags);
    const bmp = withoutUnicodeFlag(pattern, flags);
    const linear = runsInLinearTime(re);
    const bmpLinear = !!bmp && runsInLinearTime(bmp);
    if (!linear || !bmpLinear) regexSandbox.prepare();
    return {
      test: (s: string) => {
        if (s.length > MAX_REGEX_SUBJECT_LENGTH) return false;
        const useBmp = !!bmp && !SURROGATE.test(s);
        if (useBmp ? bmpLinear : linear) return (useBmp ? bmp : re).test(s);
        const run = regexSandbox.exec(useBmp ? bmp! : re, s, 0, validation.cursor);
        if (run.kind !== 'done') throw new UnsafeRegexError(`pattern ${JSON.stringify(pattern)} refused: ${sandboxRefusal(run.kind)}`);
        return run.match !== null;
      },
    };
  },
  { code: 'new RegExp' },
);

const SURROGATE = /[\uD800-\uDFFF]/;

/** The sandbox use of the validation running now (validation is synchronous): its patterns share one budget. */
const validation = { cursor: new RegexCursor() };

/**
 * Ajv compiles patterns with the `u` flag, which V8's linear-time fallback (see `@jetflow/expressions`)
 * does not run. On a string without surrogates (no character outside the BMP) a pattern without
 * `\p{…}`, `\u{…}` or surrogates of its own (escaped or not) matches the same with or without `u`: such strings
 * are tested without it, so a slow pattern falls back to the linear engine there.
 */
function withoutUnicodeFlag(pattern: string, flags: string): RegExp | undefined {
  // `\uD83D\uDE00` is one character with u and two without (`?` after it would bind differently).
  if (!flags.includes('u') || /\\[pPu]\{|\\u[dD][89a-fA-F]/.test(pattern) || SURROGATE.test(pattern)) return undefined;
  try {
    return new RegExp(pattern, flags.replace('u', ''));
  } catch {
    return undefined;
  }
}

const OPTIONS: Options = { allErrors: true, strict: false, validateFormats: false, code: { regExp: guardedRegExp } };

/**
 * Checks schemas against the JSON Schema meta-schema and nothing else: it never compiles or stores a
 * tool's schema, so it does not grow with the schemas it sees (exported for tests).
 */
export const schemaChecker = new Ajv(OPTIONS);

/** Compiled argument validators by schema text (bounded LRU). */
const cache = new Map<string, ValidateFunction>();
const CACHE_LIMIT = 1_000;

/**
 * Compiles `schema` on an Ajv instance of its own, dropped with the validator: an instance keeps
 * every schema it compiled (and its `$id`, refused the next time), so a shared one would grow with
 * every tool saved, and two tools could not use the same `$id`. Same validation as `ajv.compile`:
 * an invalid schema throws "schema is invalid: ...".
 */
function compileAlone(schema: Readonly<Record<string, unknown>>, checked = false): ValidateFunction {
  if (!checked && !schemaChecker.validateSchema(schema)) throw new Error(`schema is invalid: ${schemaChecker.errorsText(schemaChecker.errors)}`);
  return new Ajv({ ...OPTIONS, validateSchema: false, addUsedSchema: false }).compile(schema);
}

/** Problems with a tool's `input_schema` (empty when it is a valid JSON Schema for an object). */
export function inputSchemaErrors(schema: unknown, path = 'input_schema'): ErrorDetail[] {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return [{ path, message: 'input_schema must be a JSON Schema object' }];
  const s = schema as Record<string, unknown>;
  const details: ErrorDetail[] = [];
  if (s['type'] !== 'object') details.push({ path: `${path}.type`, message: 'input_schema must describe an object ("type": "object"): tool arguments are objects' });
  if (!schemaChecker.validateSchema(s)) {
    for (const e of schemaChecker.errors ?? []) details.push({ path: `${path}${pointerToPath(e.instancePath)}`, message: e.message ?? 'invalid', code: e.keyword });
    return details;
  }
  try {
    compileAlone(s, true);
  } catch (err) {
    details.push({ path, message: err instanceof Error ? err.message : String(err) });
  }
  return details;
}

/** Validates arguments against a schema; returns one detail per problem (empty when valid). */
export function argumentErrors(schema: Readonly<Record<string, unknown>>, args: unknown): ErrorDetail[] {
  const key = JSON.stringify(schema);
  let validate = cache.get(key);
  if (!validate) {
    validate = compileAlone(schema);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, validate);
  }
  validation.cursor = new RegexCursor();
  try {
    if (validate(args)) return [];
  } catch (err) {
    if (err instanceof UnsafeRegexError) return [{ path: 'arguments', message: err.message, code: 'pattern' }];
    throw err;
  }
  return (validate.errors ?? []).map((e) => ({
    path: `arguments${pointerToPath(e.instancePath)}`,
    message: e.keyword === 'additionalProperties' ? `${e.message}: ${String((e.params as { additionalProperty?: string }).additionalProperty)}` : (e.message ?? 'invalid'),
    code: e.keyword,
  }));
}

function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`))
    .join('');
}
