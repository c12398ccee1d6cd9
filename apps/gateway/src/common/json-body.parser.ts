import { JetflowError } from '@jetflow/contracts';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** A request whose JSON body was parsed here: `rawBody` holds the exact bytes (webhook signatures). */
export type RawBodyRequest = FastifyRequest & { rawBody?: Buffer };

/**
 * Deepest nesting of objects and arrays a body may have. Deeper values parse, but every later
 * `JSON.stringify` / recursive walk of them (RPC copies, validation, the log) can overflow the stack.
 */
export const MAX_JSON_DEPTH = 64;

/** What {@link findJsonViolation} reports: the rule broken and where (`path` from the root). */
export interface JsonViolation {
  readonly kind: 'depth' | 'nul';
  readonly path: (string | number)[];
}

/**
 * The first place where a parsed JSON value breaks the body rules, or null: objects and arrays
 * nested deeper than {@link MAX_JSON_DEPTH}, or a string (key or value) holding U+0000, which
 * PostgreSQL `text`/`jsonb` cannot store. One walk, no copies; the path is built only on failure.
 */
export function findJsonViolation(value: unknown): JsonViolation | null {
  return walk(value, 0);
}

function walk(value: unknown, depth: number): JsonViolation | null {
  if (typeof value === 'string') return value.includes('\u0000') ? { kind: 'nul', path: [] } : null;
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_JSON_DEPTH) return { kind: 'depth', path: [] };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = child(value[i], i, depth);
      if (found) return found;
    }
    return null;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (key.includes('\u0000')) return { kind: 'nul', path: [key] };
    const found = child(record[key], key, depth);
    if (found) return found;
  }
  return null;
}

/** The violation under one member, its key added to the path; scalars other than strings need no call. */
function child(item: unknown, key: string | number, depth: number): JsonViolation | null {
  if (typeof item !== 'string' && (typeof item !== 'object' || item === null)) return null;
  const found = walk(item, depth + 1);
  found?.path.push(key);
  return found;
}

/** The 400 for a violation; the path reads like `trigger.items[3].name` (`body` for the root). */
export function jsonViolationError(violation: JsonViolation): JetflowError {
  const path = formatPath(violation.path);
  if (violation.kind === 'depth') {
    return new JetflowError('VALIDATION_ERROR', `JSON body is nested too deeply (at most ${MAX_JSON_DEPTH} levels of objects and arrays)`, [
      { path, message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
    ]);
  }
  return new JetflowError('VALIDATION_ERROR', 'JSON body contains the character \\u0000, which is not allowed', [{ path, message: '\\u0000 is not allowed' }]);
}

/** `path` was pushed from the innermost element outwards. */
function formatPath(reversed: readonly (string | number)[]): string {
  let out = 'body';
  for (let i = reversed.length - 1; i >= 0; i--) {
    const part = reversed[i]!;
    out += typeof part === 'number' ? `[${part}]` : /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`;
  }
  return out;
}

/**
 * JSON is the only body the API takes: any other content type is a 415. An empty body with a JSON
 * content type counts as no body (clients often send the header on bodiless POSTs). A parsed body
 * nested deeper than {@link MAX_JSON_DEPTH} or holding `\u0000` in any string is a 400
 * `VALIDATION_ERROR`.
 */
export function installJsonBodyParser(fastify: FastifyInstance, bodyLimit: number): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    (request as RawBodyRequest).rawBody = body as Buffer;
    if ((body as Buffer).length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, body as unknown as string, (err, parsed) => {
      if (err) {
        done(err, undefined);
        return;
      }
      const violation = findJsonViolation(parsed);
      if (violation) done(jsonViolationError(violation), undefined);
      else done(null, parsed);
    });
  });
}
