import { redactUrl } from './http-observability';

describe('redactUrl (access_token never reaches a log line)', () => {
  it('redacts the plain key, first or later in the query, and leaves the rest alone', () => {
    expect(redactUrl('/api/executions/1/stream?access_token=abc.def&x=1')).toBe('/api/executions/1/stream?access_token=[redacted]&x=1');
    expect(redactUrl('/s?x=1&access_token=abc')).toBe('/s?x=1&access_token=[redacted]');
    expect(redactUrl('/s?x=1&y=access_token')).toBe('/s?x=1&y=access_token');
    expect(redactUrl('/api/workflows')).toBe('/api/workflows');
  });

  it('redacts percent-encoded and differently cased spellings of the key (the query parser decodes them)', () => {
    for (const key of ['access%5Ftoken', 'access%5ftoken', '%61ccess_token', 'ACCESS_TOKEN', 'Access%5FToken', '%61%63%63%65%73%73%5F%74%6F%6B%65%6E']) {
      const logged = redactUrl(`/s?a=1&${key}=tok-secret-value&b=2`);
      expect(logged).toBe(`/s?a=1&${key}=[redacted]&b=2`);
      expect(logged).not.toContain('tok-secret-value');
    }
  });

  it('redacts the whole value up to the next "&", fragment-like text included, and every repetition', () => {
    const logged = redactUrl('/s?access_token=tok#frag&access%5Ftoken=tok2&z=3');
    expect(logged).toBe('/s?access_token=[redacted]&access%5Ftoken=[redacted]&z=3');
  });

  it('never throws on malformed escapes', () => {
    expect(redactUrl('/s?%E0%A4%A=1&access_token=t&%zz=2')).toBe('/s?%E0%A4%A=1&access_token=[redacted]&%zz=2');
  });
});
