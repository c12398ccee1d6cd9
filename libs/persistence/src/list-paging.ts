import { JetflowError } from '@jetflow/contracts';

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 500;

/** Years a cursor's timestamp may fall in (1970-01-01 .. 9999-12-31, UTC). */
const MIN_CURSOR_YEAR = 1970;
const MAX_CURSOR_YEAR = 9999;

/** Position after the last item of a page, in (timestamp, id) keyset order, newest first. */
export interface ListCursor {
  readonly at: Date;
  readonly id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuids in Postgres; anything else cannot exist, so callers answer NOT_FOUND (no cast error). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** `limit` from a query (number or numeric string): default 50, 1..500, else VALIDATION_ERROR. */
export function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_LIST_LIMIT;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT) {
    throw new JetflowError('VALIDATION_ERROR', `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`, [
      { path: 'limit', message: `expected an integer from 1 to ${MAX_LIST_LIMIT}` },
    ]);
  }
  return n;
}

/** Opaque cursor: base64url of `[iso timestamp, id]`. Timestamps are stored at millisecond precision. */
export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify([cursor.at.toISOString(), cursor.id]), 'utf8').toString('base64url');
}

/** Decodes a cursor from a query; absent → undefined; malformed → VALIDATION_ERROR. */
export function decodeCursor(raw: unknown): ListCursor | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const invalid = () => new JetflowError('VALIDATION_ERROR', 'cursor is invalid', [{ path: 'cursor', message: 'not a cursor returned by this list' }]);
  if (typeof raw !== 'string' || raw.length > 200 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || !isUuid(parsed[1])) throw invalid();
  const at = new Date(parsed[0]);
  // PostgreSQL timestamps end at year 294276 and begin at 4713 BC: anything outside answers
  // "timestamp out of range". No row of ours is dated outside these years.
  if (Number.isNaN(at.getTime())) throw invalid();
  const year = at.getUTCFullYear();
  if (year < MIN_CURSOR_YEAR || year > MAX_CURSOR_YEAR) throw invalid();
  return { at, id: parsed[1] };
}

/** Cuts a `limit + 1` row fetch into a page and the cursor to the next one (null on the last page). */
export function toPage<R, T>(rows: readonly R[], limit: number, key: (row: R) => ListCursor, view: (row: R) => T): { items: T[]; next_cursor: string | null } {
  const pageRows = rows.slice(0, limit);
  const last = pageRows[pageRows.length - 1];
  return {
    items: pageRows.map(view),
    next_cursor: rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null,
  };
}
