import type { SecretSlot } from '@jetflow/contracts';
import { redactSecrets, resolveSecretSlots, resolveSecrets } from './secrets';

const SECRETS = { TOKEN: 'tok-123', OTHER: 'other-456' };

describe('resolveSecretSlots (only where the definition wrote {{secrets.*}})', () => {
  it('resolves a definition template at its slot and leaves an injected one elsewhere inert, even of the same name', () => {
    // As the engine hands it over: body.text came from {{input.body.title}} = "{{secrets.TOKEN}}".
    const parameters = { url: 'https://hooks.example/services/{{secrets.TOKEN}}', body: { text: '{{secrets.TOKEN}}' } };
    const slots: SecretSlot[] = [{ path: ['url'], names: ['TOKEN'], spans: [[31, 48]] }];
    const out = resolveSecretSlots(parameters, SECRETS, slots);
    expect(out.value).toEqual({ url: 'https://hooks.example/services/tok-123', body: { text: '{{secrets.TOKEN}}' } });
    expect(out.used).toEqual(['tok-123']);
    // The input is never mutated.
    expect(parameters.url).toBe('https://hooks.example/services/{{secrets.TOKEN}}');
  });

  it('in a mixed string, resolves only the template at the recorded span, not a same-name one data brought in', () => {
    const text = 'Bearer {{secrets.TOKEN}} for {{secrets.TOKEN}} and {{secrets.OTHER}}';
    const parameters = { headers: { authorization: text } };
    const out = resolveSecretSlots(parameters, SECRETS, [{ path: ['headers', 'authorization'], names: ['TOKEN'], spans: [[7, 24]] }]);
    expect(out.value.headers.authorization).toBe('Bearer tok-123 for {{secrets.TOKEN}} and {{secrets.OTHER}}');
    expect(out.used).toEqual(['tok-123']);
  });

  it('without spans, resolves the slot names in that string only (other names stay inert)', () => {
    const parameters = { headers: { a: '{{secrets.TOKEN}} {{secrets.OTHER}}', b: '{{secrets.TOKEN}}' } };
    const out = resolveSecretSlots(parameters, SECRETS, [{ path: ['headers', 'a'], names: ['TOKEN'] }]);
    expect(out.value).toEqual({ headers: { a: 'tok-123 {{secrets.OTHER}}', b: '{{secrets.TOKEN}}' } });
  });

  it('follows array indexes and keeps whitespace-padded templates', () => {
    const parameters = { body: { list: ['x', { k: 'v={{ secrets.OTHER }}' }] } };
    const out = resolveSecretSlots(parameters, SECRETS, [{ path: ['body', 'list', 1, 'k'], names: ['OTHER'], spans: [[2, 21]] }]);
    expect(out.value).toEqual({ body: { list: ['x', { k: 'v=other-456' }] } });
  });

  it('ignores spans that do not hold exactly one template of the slot names, and paths that lead nowhere', () => {
    const parameters = { a: 'xx{{secrets.TOKEN}}', b: ['{{secrets.TOKEN}}'] };
    const out = resolveSecretSlots(parameters, SECRETS, [
      { path: ['a'], names: ['TOKEN'], spans: [[0, 5]] },
      { path: ['a'], names: ['OTHER'], spans: [[2, 19]] },
      { path: ['b', '0'], names: ['TOKEN'] },
      { path: ['missing', 'x'], names: ['TOKEN'] },
      { path: ['a', 'deeper'], names: ['TOKEN'] },
    ]);
    expect(out.value).toEqual(parameters);
    expect(out.used).toEqual([]);
  });

  it('keeps a "__proto__" key as data while copying along a path', () => {
    const parameters = JSON.parse('{"__proto__": {"x": "{{secrets.TOKEN}}"}, "y": "1"}');
    const out = resolveSecretSlots(parameters, SECRETS, [{ path: ['__proto__', 'x'], names: ['TOKEN'] }]);
    expect(Object.getPrototypeOf(out.value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out.value, '__proto__')?.value).toEqual({ x: 'tok-123' });
  });

  it('an unknown slot name is a VALIDATION_ERROR', () => {
    expect(() => resolveSecretSlots({ h: '{{secrets.NOPE}}' }, SECRETS, [{ path: ['h'], names: ['NOPE'], spans: [[0, 16]] }])).toThrow(/unknown secret NOPE/);
  });
});

describe('resolveSecrets (tasks queued by an older engine: names only)', () => {
  it('resolves the allowed names in every string and leaves the others verbatim', () => {
    const out = resolveSecrets({ a: '{{secrets.TOKEN}}', b: ['{{secrets.OTHER}}'] }, SECRETS, ['TOKEN']);
    expect(out.value).toEqual({ a: 'tok-123', b: ['{{secrets.OTHER}}'] });
  });
});

describe('redactSecrets', () => {
  it('replaces secret values in strings and keys, longest first', () => {
    expect(redactSecrets({ 'k-tok-123': 'invalid key tok-123456 / tok-123' }, ['tok-123', 'tok-123456'])).toEqual({ 'k-[REDACTED]': 'invalid key [REDACTED] / [REDACTED]' });
  });
});
