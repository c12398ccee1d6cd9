import { argumentErrors, inputSchemaErrors, schemaChecker } from './json-schema';

/** What the shared instance holds: compiled schemas by object, and schemas/refs by id. */
const footprint = () => {
  const a = schemaChecker as unknown as { _cache: Map<unknown, unknown>; schemas: object; refs: object };
  return { cache: a._cache.size, schemas: Object.keys(a.schemas).length, refs: Object.keys(a.refs).length };
};

const person = (id: string, required: string[]) => ({
  $id: id,
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } },
  required,
  additionalProperties: false,
});

describe('json-schema', () => {
  it('accepts two different schemas with the same $id, each validating as written', () => {
    const a = person('https://example.com/person', ['name']);
    const b = person('https://example.com/person', ['age']);
    expect(inputSchemaErrors(a)).toEqual([]);
    expect(inputSchemaErrors(b)).toEqual([]);
    expect(inputSchemaErrors({ ...a })).toEqual([]);
    expect(argumentErrors(a, { name: 'Ada' })).toEqual([]);
    expect(argumentErrors(b, { name: 'Ada' })).toEqual([{ path: 'arguments', message: "must have required property 'age'", code: 'required' }]);
    expect(argumentErrors(b, { age: 3 })).toEqual([]);
    expect(argumentErrors(a, { name: 'Ada', x: 1 })).toEqual([{ path: 'arguments', message: 'must NOT have additional properties: x', code: 'additionalProperties' }]);
    expect(argumentErrors(a, { name: 'Ada', age: -1 })).toEqual([{ path: 'arguments.age', message: 'must be >= 0', code: 'minimum' }]);
  });

  it('repeated checks and compiles leave nothing behind on the shared instance', () => {
    inputSchemaErrors(person('https://example.com/warm-up', []));
    argumentErrors(person('https://example.com/warm-up', []), {});
    const before = footprint();
    for (let i = 0; i < 50; i++) {
      expect(inputSchemaErrors(person(`https://example.com/tool/${i}`, ['name']))).toEqual([]);
      expect(inputSchemaErrors({ ...person('https://example.com/same', []), definitions: { n: { $id: 'https://example.com/nested', type: 'number' } } })).toEqual([]);
      expect(argumentErrors(person(`https://example.com/args/${i}`, ['name']), {})).toHaveLength(1);
    }
    expect(footprint()).toEqual(before);
    expect(schemaChecker.getSchema('https://example.com/tool/1')).toBeUndefined();
  });

  it('reports invalid schemas as before', () => {
    const details = inputSchemaErrors({ type: 'object', properties: { a: { type: 'nope' } } });
    expect(details.length).toBeGreaterThan(0);
    for (const d of details) expect(d.path).toBe('input_schema.properties.a.type');
    expect(inputSchemaErrors({ type: 'string' })).toEqual([expect.objectContaining({ path: 'input_schema.type' })]);
    expect(inputSchemaErrors([])).toEqual([{ path: 'input_schema', message: 'input_schema must be a JSON Schema object' }]);
    expect(() => argumentErrors({ type: 'object', properties: { a: { type: 'nope' } } }, {})).toThrow(/^schema is invalid: /);
  });

  it('refuses a pattern that can backtrack exponentially; ordinary patterns still validate', () => {
    const evil = { type: 'object', properties: { id: { type: 'string', pattern: '^(a+)+$' } } };
    expect(inputSchemaErrors(evil)).toEqual([{ path: 'input_schema', message: expect.stringMatching(/pattern "\^\(a\+\)\+\$" is refused/) }]);
    const evilKeys = { type: 'object', patternProperties: { '^(\\w+\\s?)*$': { type: 'string' } } };
    expect(inputSchemaErrors(evilKeys)).toHaveLength(1);
    const fine = { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Z]-\\d+$' } } };
    expect(inputSchemaErrors(fine)).toEqual([]);
    expect(argumentErrors(fine, { id: 'A-12' })).toEqual([]);
    expect(argumentErrors(fine, { id: 'a-12' })).toEqual([{ path: 'arguments.id', message: 'must match pattern "^[A-Z]-\\d+$"', code: 'pattern' }]);
    // An oversized string never reaches the regex engine.
    expect(argumentErrors({ type: 'object', properties: { s: { type: 'string', pattern: '^x' } } }, { s: 'x'.repeat(200_000) })).toHaveLength(1);
  });

  it('tests a pattern the linear engine cannot take with a time budget: a string it cannot decide in time ends the validation', () => {
    const schema = { type: 'object', properties: { s: { type: 'string', pattern: '^(?=.*\\d)\\w+$' } } };
    expect(argumentErrors(schema, { s: 'abc1' })).toEqual([]);
    expect(argumentErrors(schema, { s: 'abc' })).toHaveLength(1);
    // On the worker's event loop this backtracks for minutes; refused within the budget instead.
    const slow = { type: 'object', properties: { s: { type: 'string', pattern: '(?=\\s)\\s*\\s*\\s*y$' } } };
    const started = Date.now();
    const many = { type: 'object', properties: { s: { type: 'array', items: slow.properties.s } } };
    const errors = argumentErrors(many, { s: Array.from({ length: 20 }, () => `${' '.repeat(2_000)}x`) });
    expect(errors).toEqual([{ path: 'arguments', message: expect.stringMatching(/^pattern ".*" refused: its matches took longer than \d+ ms$/), code: 'pattern' }]);
    expect(Date.now() - started).toBeLessThan(5_000);
    // Strings each decided in well under the budget share it: 200 of them no longer add up to seconds.
    const addsUp = Date.now();
    expect(argumentErrors(many, { s: Array.from({ length: 200 }, () => `${' '.repeat(120)}x`) })).toEqual([expect.objectContaining({ path: 'arguments', code: 'pattern' })]);
    expect(Date.now() - addsUp).toBeLessThan(5_000);
    expect(argumentErrors(slow, { s: '  y' })).toEqual([]);
  });

  it('finishes a slow (polynomial) pattern on the longest string; unicode escapes and astral characters still match as with u', () => {
    // Backtracking alone would take hours; jest's timeout bounds the test.
    const slow = { type: 'object', properties: { s: { type: 'string', pattern: '\\s*\\s*y$' } } };
    expect(argumentErrors(slow, { s: `${' '.repeat(99_999)}x` })).toHaveLength(1);
    expect(argumentErrors(slow, { s: '  y' })).toEqual([]);
    const letters = { type: 'object', properties: { s: { type: 'string', pattern: '^\\p{L}+$' } } };
    expect(argumentErrors(letters, { s: 'Zoë' })).toEqual([]);
    expect(argumentErrors(letters, { s: 'a1' })).toHaveLength(1);
    const one = { type: 'object', properties: { s: { type: 'string', pattern: '^.$' } } };
    expect(argumentErrors(one, { s: '😀' })).toEqual([]); // one code point: u semantics
    expect(argumentErrors(one, { s: 'é' })).toEqual([]);
    const optionalEmoji = { type: 'object', properties: { s: { type: 'string', pattern: '^a\\uD83D\\uDE00?$' } } };
    expect(argumentErrors(optionalEmoji, { s: 'a' })).toEqual([]);
  });
});
