import { eventsQuerySchema } from './execution-request.schemas';

describe('eventsQuerySchema', () => {
  it('takes from_seq up to Number.MAX_SAFE_INTEGER', () => {
    expect(eventsQuerySchema.parse({ from_seq: '1', limit: '10' })).toEqual({ from_seq: 1, limit: 10 });
    expect(eventsQuerySchema.parse({ from_seq: String(Number.MAX_SAFE_INTEGER) }).from_seq).toBe(Number.MAX_SAFE_INTEGER);
    expect(eventsQuerySchema.parse({})).toEqual({});
  });

  it('refuses from_seq beyond Number.MAX_SAFE_INTEGER (cannot be a stream sequence here)', () => {
    for (const bad of ['9007199254740992', '99999999999999999999', '1'.repeat(400), '-1', 'abc', '1e3']) {
      expect([bad, eventsQuerySchema.safeParse({ from_seq: bad }).success]).toEqual([bad, false]);
    }
  });
});
