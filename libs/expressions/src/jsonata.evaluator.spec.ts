import { evaluateJsonata, ExpressionEvaluationError, ExpressionSyntaxError, jsonataErrors } from './index';

const scope = {
  input: { kind: 'api', name: 'Ada' },
  steps: { a: { output: { items: [{ name: 'x', price: 2 }, { name: 'y', price: 5 }] } } },
};

describe('evaluateJsonata', () => {
  it('evaluates over the template scope', async () => {
    await expect(evaluateJsonata('$sum(steps.a.output.items.price)', scope)).resolves.toBe(7);
    await expect(evaluateJsonata('steps.a.output.items[price > 3].name', scope)).resolves.toBe('y');
    await expect(evaluateJsonata('{"who": input.name, "n": $count(steps.a.output.items)}', scope)).resolves.toEqual({ who: 'Ada', n: 2 });
    await expect(evaluateJsonata('input.missing', scope)).resolves.toBeUndefined();
  });

  it('returns plain arrays, not JSONata sequences', async () => {
    const names = await evaluateJsonata('steps.a.output.items.name', scope);
    expect(names).toEqual(['x', 'y']);
    expect(Object.keys(names as object)).toEqual(['0', '1']);
  });

  it('gives the same result from the compiled-expression cache', async () => {
    for (let i = 0; i < 3; i++) await expect(evaluateJsonata('$sum(steps.a.output.items.price) * 2', scope)).resolves.toBe(14);
  });

  it('cannot reach prototypes or the Function constructor', async () => {
    await expect(evaluateJsonata('input.constructor.constructor("return process")()', scope)).resolves.toBeUndefined();
    await expect(evaluateJsonata('$lookup(input, "constructor")', scope)).resolves.toBeUndefined();
    await expect(evaluateJsonata('input.__proto__', scope)).resolves.toBeUndefined();
  });

  it('stops an endless loop at the time limit', async () => {
    const err = await evaluateJsonata('($f := function($n){ $f($n + 1) }; $f(0))', scope).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpressionEvaluationError);
    expect((err as ExpressionEvaluationError).code).toBe('D1012');
  });

  it('stops runaway recursion at the stack limit', async () => {
    const err = await evaluateJsonata('($f := function($n){ 1 + $f($n + 1) }; $f(0))', scope).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpressionEvaluationError);
    expect((err as ExpressionEvaluationError).code).toBe('D1011');
  });

  it('throws a syntax error with a position', async () => {
    const err = await evaluateJsonata('$sum(', scope).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpressionSyntaxError);
    expect((err as ExpressionSyntaxError).position).toBe(5);
  });

  it('refuses a regex that backtracks exponentially before it runs (VALIDATION_ERROR), also through $eval', async () => {
    for (const expression of [
      '$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)',
      '$contains("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /^(a|aa)*$/)',
      '$replace("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!", /(x*)*y/, "-")',
      '$eval("$match(\'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\', /(a+)+$/)")',
    ]) {
      const started = Date.now();
      const err = await evaluateJsonata(expression, scope).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(500);
      expect(err).toBeInstanceOf(ExpressionEvaluationError);
      expect((err as ExpressionEvaluationError).code).toBe('VALIDATION_ERROR');
      expect((err as ExpressionEvaluationError).message).toMatch(/regular expression .* refused/);
    }
  });

  it('finishes a slow (polynomial) regex over the longest subject, case-insensitive too', async () => {
    // Backtracking alone would take hours; jest's timeout bounds the test.
    const big = { input: { big: `${' '.repeat(99_999)}x` } };
    await expect(evaluateJsonata('$contains(input.big, /\\s*\\s*y$/)', big)).resolves.toBe(false);
    await expect(evaluateJsonata('$contains(input.big, /\\s*\\s*Y$/i)', big)).resolves.toBe(false);
    await expect(evaluateJsonata('$contains(input.big, /\\s*X$/i)', big)).resolves.toBe(true);
  });

  it('runs regexes the linear engine cannot take (lookaround, backreferences) with a time budget', async () => {
    const s = { input: { text: 'price=12 cost=7 price=30', big: `${' '.repeat(2_000)}x` } };
    await expect(evaluateJsonata('$match(input.text, /(?<=price=)\\d+/).match', s)).resolves.toEqual(['12', '30']);
    await expect(evaluateJsonata('$replace("a-a b-c", /(\\w)-\\1/, "same")', s)).resolves.toBe('same b-c');
    // On the event loop this lookahead pattern backtracks for minutes over 2,000 characters.
    const started = Date.now();
    const err = await evaluateJsonata('$contains(input.big, /(?=\\s)\\s*\\s*\\s*y$/)', s).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((err as ExpressionEvaluationError).code).toBe('VALIDATION_ERROR');
    expect((err as ExpressionEvaluationError).message).toMatch(/refused: its matches took longer than/);
  });

  it('refuses to run a regex over a subject longer than 100,000 characters', async () => {
    const err = await evaluateJsonata('$contains(input.big, /b+/)', { input: { big: 'a'.repeat(100_001) } }).catch((e: unknown) => e);
    expect((err as ExpressionEvaluationError).code).toBe('VALIDATION_ERROR');
    await expect(evaluateJsonata('$contains(input.big, /b+/)', { input: { big: 'a'.repeat(100_000) } })).resolves.toBe(false);
  });

  it('still runs ordinary regexes ($match, $replace, $contains, $split)', async () => {
    const s = { input: { text: 'xABBBCy abc ac' } };
    await expect(evaluateJsonata('$contains(input.text, /ab+c/i)', s)).resolves.toBe(true);
    await expect(evaluateJsonata('$contains(input.text, /ab+c/)', s)).resolves.toBe(true);
    await expect(evaluateJsonata('$contains("ac", /ab+c/)', s)).resolves.toBe(false);
    await expect(evaluateJsonata('$match(input.text, /ab+c/i).match', s)).resolves.toEqual(['ABBBC', 'abc']);
    await expect(evaluateJsonata('$match("2026-03-01", /(\\d+)-(\\d+)/).groups', s)).resolves.toEqual(['2026', '03']);
    await expect(evaluateJsonata('$replace(input.text, /ab+c/i, "_")', s)).resolves.toBe('x_y _ ac');
    await expect(evaluateJsonata('$split("a1b22c", /[0-9]+/)', s)).resolves.toEqual(['a', 'b', 'c']);
    await expect(evaluateJsonata('$replace("cat dog cat", /(cat|dog)+/, "x")', s)).resolves.toBe('x x x');
  });

  it('reports runtime failures with JSONata codes', async () => {
    const err = await evaluateJsonata('input.name + 1', scope).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpressionEvaluationError);
    expect((err as ExpressionEvaluationError).code).toBe('T2001');
  });
});

describe('jsonataErrors', () => {
  it('is empty for valid expressions', () => {
    expect(jsonataErrors('$sum(steps.a.output.items.price)')).toEqual([]);
  });
  it('reports syntax errors', () => {
    expect(jsonataErrors('$sum(')).toEqual([expect.stringMatching(/position 5/)]);
    expect(jsonataErrors('items[')).toHaveLength(1);
    expect(jsonataErrors('')).toEqual(['empty JSONata expression']);
    expect(jsonataErrors('1 +'.repeat(10_000))).toEqual([expect.stringMatching(/longer than/)]);
  });
});
