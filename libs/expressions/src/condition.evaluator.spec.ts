import { conditionErrors, conditionPaths, evaluateCondition, ExpressionSyntaxError, parseCondition } from './index';

const scope = {
  input: { priority: 'high', count: 3, tags: ['a', 'b'], meta: { k: 1 }, text: 'hello world', zero: 0, empty: '', none: null, list: [1, 2] },
  steps: { check: { output: { value: true } }, n: { output: { obj: { a: [1, { b: 2 }] } } } },
};
const ev = (source: string, s: Record<string, unknown> = scope): boolean => evaluateCondition(source, s);

describe('evaluateCondition', () => {
  it("runs the guide's example", () => {
    expect(ev("{{input.priority}} == 'high'")).toBe(true);
    expect(ev("{{input.priority}} == 'low'")).toBe(false);
  });

  it('compares with typed, deep equality and no coercion', () => {
    expect(ev("{{input.count}} == 3")).toBe(true);
    expect(ev("{{input.count}} == '3'")).toBe(false);
    expect(ev("{{input.count}} != '3'")).toBe(true);
    expect(ev('{{input.zero}} == false')).toBe(false);
    expect(ev("{{input.empty}} == 0")).toBe(false);
    expect(ev('{{input.none}} == null')).toBe(true);
    expect(ev('{{input.missing}} == null')).toBe(true);
    expect(ev('{{input.list}} == [1, 2]')).toBe(true);
    expect(ev('{{input.list}} == [2, 1]')).toBe(false);
    expect(ev('{{input.tags}} == {{input.tags}}')).toBe(true);
    expect(ev('{{steps.n.output.obj}} == {{steps.n.output.obj}}')).toBe(true);
    expect(ev('{{steps.n.output.obj}} == {{input.meta}}')).toBe(false);
  });

  it('orders numbers with numbers and strings with strings only', () => {
    expect(ev('{{input.count}} > 2')).toBe(true);
    expect(ev('{{input.count}} >= 3')).toBe(true);
    expect(ev('{{input.count}} < 3')).toBe(false);
    expect(ev('{{input.count}} <= 3.5')).toBe(true);
    expect(ev('-1 < {{input.zero}}')).toBe(true);
    expect(ev("'abc' < 'abd'")).toBe(true);
    expect(ev("{{input.count}} > '2'")).toBe(false);
    expect(ev("{{input.count}} < '9'")).toBe(false);
    expect(ev('{{input.missing}} < 1')).toBe(false);
    expect(ev('{{input.missing}} >= 0')).toBe(false);
  });

  it('supports in / not in on arrays, strings and object keys', () => {
    expect(ev("'a' in {{input.tags}}")).toBe(true);
    expect(ev("'z' in {{input.tags}}")).toBe(false);
    expect(ev("'world' in {{input.text}}")).toBe(true);
    expect(ev("'k' in {{input.meta}}")).toBe(true);
    expect(ev("'constructor' in {{input.meta}}")).toBe(false);
    expect(ev("{{input.priority}} in ['high', 'urgent']")).toBe(true);
    expect(ev("'z' not in {{input.tags}}")).toBe(true);
    expect(ev('1 in {{input.text}}')).toBe(false);
    expect(ev("'a' in {{input.missing}}")).toBe(false);
  });

  it('supports every logical spelling and literal', () => {
    expect(ev('true && false')).toBe(false);
    expect(ev('true and true')).toBe(true);
    expect(ev('false || true')).toBe(true);
    expect(ev('false or false')).toBe(false);
    expect(ev('!false')).toBe(true);
    expect(ev('not true')).toBe(false);
    expect(ev('not not {{steps.check.output.value}}')).toBe(true);
    expect(ev('null')).toBe(false);
    expect(ev('"x"')).toBe(true);
    expect(ev("''")).toBe(false);
    expect(ev('0')).toBe(false);
    expect(ev('1.5e2 == 150')).toBe(true);
  });

  it('applies precedence: not > comparison > and > or', () => {
    expect(ev('true or false and false')).toBe(true);
    expect(ev('(true or false) and false')).toBe(false);
    expect(ev('false and false or true')).toBe(true);
    // not binds tighter than ==: (not 1) == false
    expect(ev('not 1 == false')).toBe(true);
    expect(ev('!(1 == 2)')).toBe(true);
    expect(parseCondition('true || false && !true')).toEqual({
      type: 'logical',
      operator: 'or',
      operands: [
        { type: 'literal', value: true },
        { type: 'logical', operator: 'and', operands: [{ type: 'literal', value: false }, { type: 'not', operand: { type: 'literal', value: true } }] },
      ],
    });
  });

  it('uses JS truthiness for the final value', () => {
    expect(ev('{{input.tags}}')).toBe(true);
    expect(ev('{{input.empty}}')).toBe(false);
    expect(ev('{{input.missing}}')).toBe(false);
    expect(ev('{{steps.check.output.value}}')).toBe(true);
  });

  it('accepts bare paths and string escapes', () => {
    expect(ev("input.priority == 'high' and steps.check.output.value")).toBe(true);
    expect(ev("input.tags[1] == 'b'")).toBe(true);
    expect(ev("'it\\'s' == \"it's\"")).toBe(true);
    expect(ev("'a\\u0041' == 'aA'")).toBe(true);
  });

  it('interpolates templates inside string literals as text', () => {
    expect(ev("'{{input.priority}}' == 'high'")).toBe(true);
    expect(ev("'n={{input.count}}' == 'n=3'")).toBe(true);
  });

  it('evaluates a parsed AST the same way', () => {
    const ast = parseCondition("{{input.priority}} == 'high'");
    expect(JSON.parse(JSON.stringify(ast))).toEqual(ast);
    expect(evaluateCondition(ast, scope)).toBe(true);
  });
});

describe('injection through values', () => {
  const attacks = ["' || true || '", "1) or (1==1", "high' or '1'=='1", '{{input.priority}}', 'true', '__proto__', "x' == 'x"];
  it.each(attacks)('value %p cannot change the expression', (payload) => {
    const s = { input: { priority: payload, x: payload } };
    expect(evaluateCondition("{{input.priority}} == 'high'", s)).toBe(false);
    expect(evaluateCondition("'{{input.priority}}' == 'high'", s)).toBe(false);
    expect(evaluateCondition("{{input.x}} == 'admin' and false", s)).toBe(false);
    expect(evaluateCondition('{{input.priority}} == {{input.x}}', s)).toBe(true);
  });

  it('never reaches prototypes', () => {
    expect(ev('{{input.constructor}} == null')).toBe(true);
    expect(ev('input.__proto__ == null')).toBe(true);
    expect(ev("'toString' in {{input.meta}}")).toBe(false);
  });
});

describe('syntax errors', () => {
  const cases: Array<[string, number, RegExp]> = [
    ["{{input.priority}} = 'high'", 19, /use ==/],
    ["{{input.priority}} == 'high", 22, /unterminated string/],
    ['{{input.priority == 1', 0, /unclosed/],
    ['{{ }} == 1', 0, /empty template/],
    ['{{input..x}} == 1', 8, /invalid template/],
    ['(1 == 1', 7, /missing '\)'/],
    ['1 == 1)', 6, /unexpected '\)'/],
    ['1 == ', 5, /unexpected end/],
    ['', 0, /empty condition/],
    ['1 == 2 == 3', 7, /cannot be chained/],
    ["status == high", 0, /unknown name 'status'/],
    ['1 == 1 #', 7, /unexpected character '#'/],
    ['and 1', 0, /unexpected 'and'/],
    ["'\\q'", 1, /invalid escape/],
    ["[1, 2", 5, /missing '\]'/],
    ["'{{input.x' == 'a'", 0, /unclosed/],
    ['12abc == 1', 0, /invalid number/],
  ];
  it.each(cases)('%p fails at %p', (source, position, message) => {
    let caught: unknown;
    try {
      parseCondition(source);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ExpressionSyntaxError);
    expect((caught as ExpressionSyntaxError).position).toBe(position);
    expect((caught as Error).message).toMatch(message);
    expect(conditionErrors(source)).toEqual([(caught as Error).message]);
    expect(() => evaluateCondition(source, scope)).toThrow(ExpressionSyntaxError);
  });

  it('guards against pathological input', () => {
    expect(conditionErrors('('.repeat(100) + '1' + ')'.repeat(100))[0]).toMatch(/nested deeper than 64/);
    expect(conditionErrors('not '.repeat(100) + 'true')[0]).toMatch(/nested deeper/);
    expect(conditionErrors('1 == 1 or '.repeat(2000) + 'true')[0]).toMatch(/longer than/);
    expect(conditionErrors('('.repeat(30) + '1' + ')'.repeat(30))).toEqual([]);
    const long = Array.from({ length: 300 }, (_, i) => `{{input.a${i}}} == ${i}`).join(' or ');
    expect(ev(long)).toBe(false);
  });

  it('accepts valid conditions', () => {
    expect(conditionErrors("{{input.priority}} == 'high'")).toEqual([]);
    expect(conditionErrors("not ({{steps.a.output.n}} >= 2 && input.x != null) || 'a' in ['a']")).toEqual([]);
  });
});

describe('conditionPaths', () => {
  it('lists templates, bare paths and templates inside strings', () => {
    expect(conditionPaths("{{steps.a.output.x}} == 'y {{input.z}}' and context.k in [loop.item]")).toEqual([
      'steps.a.output.x',
      'input.z',
      'context.k',
      'loop.item',
    ]);
  });
});
