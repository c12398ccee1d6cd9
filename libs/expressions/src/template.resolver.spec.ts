import { resolvePath, resolveTemplates, templateErrors, templatePaths } from './index';

const scope = {
  input: { kind: 'chat', current_message: 'hi', priority: 'high', history: [{ role: 'user', content: 'Hello' }], count: 3, none: null },
  context: { customer_id: 'cust-789' },
  user_id: 'user-123',
  steps: { a: { output: { items: [{ name: 'x', price: 2 }, { name: 'y', price: 5 }], ok: true } }, 'my-step': { output: 7 } },
  loop: { item: { id: 1 }, index: 0 },
  secrets: { API_KEY: 's3cret' },
};

describe('resolvePath', () => {
  it('reads nested paths, array indexes and dashed ids', () => {
    expect(resolvePath(scope, 'steps.a.output.items[0].name')).toBe('x');
    expect(resolvePath(scope, 'input.history.0')).toEqual({ role: 'user', content: 'Hello' });
    expect(resolvePath(scope, 'input.history[0].content')).toBe('Hello');
    expect(resolvePath(scope, "steps['my-step'].output")).toBe(7);
    expect(resolvePath(scope, 'steps.my-step.output')).toBe(7);
    expect(resolvePath(scope, ' input.count ')).toBe(3);
    expect(resolvePath(scope, 'steps.a.output.items.length')).toBe(2);
  });

  it('gives undefined for missing values and bad syntax', () => {
    expect(resolvePath(scope, 'input.nope.deeper')).toBeUndefined();
    expect(resolvePath(scope, 'steps.a.output.items[9]')).toBeUndefined();
    expect(resolvePath(scope, 'input..x')).toBeUndefined();
    expect(resolvePath(scope, 'input.current_message.length')).toBeUndefined();
  });

  it('refuses prototype access', () => {
    expect(resolvePath(scope, 'input.__proto__')).toBeUndefined();
    expect(resolvePath(scope, 'input.constructor')).toBeUndefined();
    expect(resolvePath(scope, 'input.constructor.prototype')).toBeUndefined();
    expect(resolvePath(scope, 'input.toString')).toBeUndefined();
    expect(resolvePath(scope, 'input.hasOwnProperty')).toBeUndefined();
    expect(resolvePath({ input: JSON.parse('{"__proto__": {"x": 1}}') }, 'input.__proto__.x')).toBeUndefined();
  });
});

describe('resolveTemplates', () => {
  it('yields the typed value for a whole-string template', () => {
    expect(resolveTemplates('{{steps.a.output.items}}', scope)).toEqual(scope.steps.a.output.items);
    expect(resolveTemplates('{{ input.count }}', scope)).toBe(3);
    expect(resolveTemplates('{{steps.a.output.ok}}', scope)).toBe(true);
    expect(resolveTemplates('{{input.missing}}', scope)).toBeNull();
    expect(resolveTemplates('{{input.none}}', scope)).toBeNull();
  });

  it('stringifies templates inside longer strings', () => {
    expect(resolveTemplates('Hi {{user_id}}, you said {{input.current_message}}', scope)).toBe('Hi user-123, you said hi');
    expect(resolveTemplates('n={{input.count}} ok={{steps.a.output.ok}}', scope)).toBe('n=3 ok=true');
    expect(resolveTemplates('h={{input.history}}', scope)).toBe('h=[{"role":"user","content":"Hello"}]');
    expect(resolveTemplates('[{{input.missing}}|{{input.none}}]', scope)).toBe('[|]');
    expect(resolveTemplates(' {{input.count}}', scope)).toBe(' 3');
  });

  it('walks objects and arrays without mutating them', () => {
    const value = { a: ['{{loop.item.id}}', 'x{{loop.index}}'], b: { c: '{{context.customer_id}}' }, n: 1, z: null };
    const copy = JSON.parse(JSON.stringify(value));
    expect(resolveTemplates(value, scope)).toEqual({ a: [1, 'x0'], b: { c: 'cust-789' }, n: 1, z: null });
    expect(value).toEqual(copy);
  });

  it('keeps templates whose root is listed in keepRoots', () => {
    expect(resolveTemplates('{{secrets.API_KEY}}', scope, { keepRoots: ['secrets'] })).toBe('{{secrets.API_KEY}}');
    expect(resolveTemplates('Bearer {{ secrets.API_KEY }} for {{user_id}}', scope, { keepRoots: ['secrets'] })).toBe(
      'Bearer {{ secrets.API_KEY }} for user-123',
    );
    expect(resolveTemplates('{{secrets.API_KEY}}', scope)).toBe('s3cret');
  });

  it('never re-reads resolved values as templates', () => {
    const s = { input: { a: '{{secrets.API_KEY}}' }, secrets: { API_KEY: 'x' } };
    expect(resolveTemplates('{{input.a}}', s)).toBe('{{secrets.API_KEY}}');
    expect(resolveTemplates('v: {{input.a}}', s)).toBe('v: {{secrets.API_KEY}}');
  });

  it('leaves malformed templates as text', () => {
    expect(resolveTemplates('a {{ b', scope)).toBe('a {{ b');
    expect(resolveTemplates('{{ }} {{user_id}}', scope)).toBe('{{ }} user-123');
  });

  it('keeps "__proto__" keys as plain data', () => {
    const out = resolveTemplates(JSON.parse('{"__proto__": {"polluted": "{{user_id}}"}}'), scope) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(out, '__proto__')).toBe(true);
  });
});

describe('templateErrors / templatePaths', () => {
  it('reports unclosed, empty and invalid templates anywhere in a value', () => {
    expect(templateErrors({ a: 'fine {{input.x}}', b: ['{{input.x'] })).toEqual([expect.stringContaining('unclosed "{{" at position 0')]);
    expect(templateErrors('{{ }}')).toEqual([expect.stringContaining('empty template')]);
    expect(templateErrors('x {{input..a}}')).toEqual([expect.stringMatching(/invalid template.*position 10/)]);
    expect(templateErrors('{{1abc}}')).toHaveLength(1);
    expect(templateErrors({ ok: '{{steps.a.output.items[0].name}}', n: 3 })).toEqual([]);
  });

  it('lists every referenced path once', () => {
    expect(templatePaths({ a: '{{steps.a.output}} {{ input.x }}', b: ['{{steps.a.output}}', '{{bad..}}'] })).toEqual(['steps.a.output', 'input.x']);
  });
});
