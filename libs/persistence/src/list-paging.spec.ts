import { JetflowError } from '@jetflow/contracts';
import { decodeCursor, encodeCursor, parseLimit, toPage } from './list-paging';

const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof JetflowError ? err.code : 'not a JetflowError';
  }
  return undefined;
}

describe('list paging', () => {
  it('defaults and bounds limit', () => {
    expect(parseLimit(undefined)).toBe(50);
    expect(parseLimit('500')).toBe(500);
    expect(parseLimit(1)).toBe(1);
    for (const bad of [0, 501, -1, 1.5, 'abc', '10x', {}, true]) expect(codeOf(() => parseLimit(bad))).toBe('VALIDATION_ERROR');
  });

  it('round-trips cursors and rejects anything else', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    expect(decodeCursor(encodeCursor({ at, id: ID }))).toEqual({ at, id: ID });
    expect(decodeCursor(undefined)).toBeUndefined();
    const junk = ['!!', 'abc', Buffer.from('[1,2]').toString('base64url'), Buffer.from(JSON.stringify(['nope', ID])).toString('base64url'), 42];
    for (const bad of junk) expect(codeOf(() => decodeCursor(bad))).toBe('VALIDATION_ERROR');
  });

  it('refuses cursors dated outside 1970..9999 (PostgreSQL: "timestamp out of range")', () => {
    const cursorAt = (iso: string) => Buffer.from(JSON.stringify([iso, ID])).toString('base64url');
    for (const ok of ['1970-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '2026-01-02T03:04:05.678Z']) {
      expect(decodeCursor(cursorAt(ok))).toEqual({ at: new Date(ok), id: ID });
    }
    const outside = ['+010000-01-01T00:00:00.000Z', '-010000-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '-004714-01-01T00:00:00.000Z', '+275760-09-13T00:00:00.000Z'];
    for (const bad of outside) expect([bad, codeOf(() => decodeCursor(cursorAt(bad)))]).toEqual([bad, 'VALIDATION_ERROR']);
    // What encodeCursor makes of such dates is refused too.
    expect(codeOf(() => decodeCursor(encodeCursor({ at: new Date(Date.UTC(10000, 0, 1)), id: ID })))).toBe('VALIDATION_ERROR');
  });

  it('gives a next cursor only when there are more rows than the limit', () => {
    const rows = [1, 2, 3].map((n) => ({ n, at: new Date(n * 1000), id: ID }));
    const full = toPage(rows, 2, (r) => r, (r) => r.n);
    expect(full.items).toEqual([1, 2]);
    expect(decodeCursor(full.next_cursor)).toEqual({ at: new Date(2000), id: ID });
    expect(toPage(rows, 3, (r) => r, (r) => r.n).next_cursor).toBeNull();
  });
});
