import { pgSafe, pgText } from './pg-safe';

describe('pgSafe', () => {
  it('replaces NUL and lone surrogates in strings, keeps valid pairs', () => {
    expect(pgText('a\u0000b\u0000')).toBe('a\ufffdb\ufffd');
    expect(pgText('x\ud800y\udc00')).toBe('x\ufffdy\ufffd');
    expect(pgText('emoji \ud83d\ude00 ok')).toBe('emoji \ud83d\ude00 ok');
    const plain = 'nothing to do';
    expect(pgText(plain)).toBe(plain);
  });

  it('cleans keys and values at any depth, copying only what changes', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const clean = { ok: ['x', 1, null, { y: true }], at };
    const value = { 'k\u0000': 'v\u0000', deep: [{ n: [1, 'a\u0000'] }], clean };
    const safe = pgSafe(value);
    expect(safe).toEqual({ 'k\ufffd': 'v\ufffd', deep: [{ n: [1, 'a\ufffd'] }], clean });
    expect(safe.clean).toBe(clean);
    expect(safe.clean.at).toBe(at);
    expect(value).toEqual({ 'k\u0000': 'v\u0000', deep: [{ n: [1, 'a\u0000'] }], clean });
    expect(pgSafe(clean)).toBe(clean);
    expect(JSON.stringify(pgSafe(value))).not.toContain('\\u0000');
  });

  it('leaves non-plain objects and primitives alone', () => {
    const params = [1, null, undefined, true, new Date(0), Buffer.from('a\u0000')];
    expect(pgSafe(params)).toBe(params);
  });
});
