import type { CompareOperator, ConditionAst } from './condition.ast';
import { tokenize, type Token } from './condition.lexer';
import { ExpressionSyntaxError } from './expression-syntax.error';
import { isTemplateRoot, TEMPLATE_ROOTS } from './template-scope';

/** Longest condition accepted. */
export const MAX_CONDITION_LENGTH = 10_000;
/** Deepest nesting of parentheses, lists and `not` accepted. */
export const MAX_CONDITION_DEPTH = 64;

// Binding powers: not/! > comparison/in > and/&& > or/||.
const OR_BP = 1;
const AND_BP = 2;
const COMPARE_BP = 3;

const COMPARE_OPS = new Set(['==', '!=', '<', '<=', '>', '>=']);

/**
 * Parses a condition such as `{{input.priority}} == 'high' and not {{steps.check.output.value}}`
 * into plain data. Throws `ExpressionSyntaxError` (with the offending position) on bad syntax,
 * on a source longer than `MAX_CONDITION_LENGTH` or nested deeper than `MAX_CONDITION_DEPTH`.
 */
export function parseCondition(source: string): ConditionAst {
  if (typeof source !== 'string') throw new ExpressionSyntaxError('condition must be a string', 0);
  if (source.length > MAX_CONDITION_LENGTH) {
    throw new ExpressionSyntaxError(`condition longer than ${MAX_CONDITION_LENGTH} characters`, MAX_CONDITION_LENGTH);
  }
  return new ConditionParser(tokenize(source)).parseAll();
}

/** Syntax problems of a condition (template problems inside included); empty when it parses. */
export function conditionErrors(source: string): string[] {
  try {
    parseCondition(source);
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}

class ConditionParser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parseAll(): ConditionAst {
    if (this.peek().kind === 'eof') throw new ExpressionSyntaxError('empty condition', 0);
    const ast = this.parseExpression(0);
    const rest = this.peek();
    if (rest.kind !== 'eof') throw this.unexpected(rest);
    return ast;
  }

  private parseExpression(minBp: number): ConditionAst {
    let left = this.parsePrefix();
    for (;;) {
      const op = this.infixOperator();
      if (!op) return left;
      const bp = op.kind === 'compare' ? COMPARE_BP : op.operator === 'and' ? AND_BP : OR_BP;
      if (bp <= minBp) return left;
      this.index += op.width;
      const right = this.parseExpression(bp);
      if (op.kind === 'compare') {
        left = { type: 'compare', operator: op.operator, left, right };
        const next = this.infixOperator();
        if (next?.kind === 'compare') {
          throw new ExpressionSyntaxError(`comparisons cannot be chained at position ${this.peek().position}; use parentheses and and/or`, this.peek().position);
        }
      } else {
        const operands = left.type === 'logical' && left.operator === op.operator ? [...left.operands, right] : [left, right];
        left = { type: 'logical', operator: op.operator, operands };
      }
    }
  }

  private infixOperator():
    | { kind: 'compare'; operator: CompareOperator; width: number }
    | { kind: 'logical'; operator: 'and' | 'or'; width: number }
    | undefined {
    const t = this.peek();
    if (t.kind === 'op' && COMPARE_OPS.has(t.text)) return { kind: 'compare', operator: t.text as CompareOperator, width: 1 };
    if (t.kind === 'op' && t.text === '&&') return { kind: 'logical', operator: 'and', width: 1 };
    if (t.kind === 'op' && t.text === '||') return { kind: 'logical', operator: 'or', width: 1 };
    if (t.kind !== 'keyword') return undefined;
    if (t.text === 'and' || t.text === 'or') return { kind: 'logical', operator: t.text, width: 1 };
    if (t.text === 'in') return { kind: 'compare', operator: 'in', width: 1 };
    const next = this.tokens[this.index + 1];
    if (t.text === 'not' && next?.kind === 'keyword' && next.text === 'in') return { kind: 'compare', operator: 'not in', width: 2 };
    return undefined;
  }

  private parsePrefix(): ConditionAst {
    const token = this.next();
    switch (token.kind) {
      case 'number':
        return { type: 'literal', value: token.value ?? Number(token.text) };
      case 'string':
        return token.text.includes('{{') ? { type: 'text', template: token.text } : { type: 'literal', value: token.text };
      case 'template':
        return { type: 'path', path: token.text };
      case 'name': {
        const root = token.text.split(/[.[]/, 1)[0];
        if (!isTemplateRoot(root)) {
          throw new ExpressionSyntaxError(
            `unknown name '${root}' at position ${token.position}; quote text ('${root}') or use a path starting with ${TEMPLATE_ROOTS.join(', ')}`,
            token.position,
          );
        }
        return { type: 'path', path: token.text };
      }
      case 'keyword':
        if (token.text === 'true' || token.text === 'false') return { type: 'literal', value: token.text === 'true' };
        if (token.text === 'null') return { type: 'literal', value: null };
        if (token.text === 'not') return this.nested(token, () => ({ type: 'not', operand: this.parseExpression(COMPARE_BP) }));
        throw this.unexpected(token);
      case 'op':
        if (token.text === '!') return this.nested(token, () => ({ type: 'not', operand: this.parseExpression(COMPARE_BP) }));
        throw this.unexpected(token);
      case 'punct':
        if (token.text === '(') {
          return this.nested(token, () => {
            const inner = this.parseExpression(0);
            this.expect(')', token);
            return inner;
          });
        }
        if (token.text === '[') return this.nested(token, () => this.parseList(token));
        throw this.unexpected(token);
      case 'eof':
        throw new ExpressionSyntaxError(`unexpected end of condition at position ${token.position}`, token.position);
    }
  }

  private parseList(open: Token): ConditionAst {
    const items: ConditionAst[] = [];
    if (this.peek().kind === 'punct' && this.peek().text === ']') {
      this.index++;
      return { type: 'list', items };
    }
    for (;;) {
      items.push(this.parseExpression(0));
      const t = this.next();
      if (t.kind === 'punct' && t.text === ']') return { type: 'list', items };
      if (!(t.kind === 'punct' && t.text === ',')) {
        if (t.kind === 'eof') throw new ExpressionSyntaxError(`missing ']' for '[' at position ${open.position}`, t.position);
        throw this.unexpected(t);
      }
    }
  }

  private nested(token: Token, parse: () => ConditionAst): ConditionAst {
    if (++this.depth > MAX_CONDITION_DEPTH) {
      throw new ExpressionSyntaxError(`condition nested deeper than ${MAX_CONDITION_DEPTH} levels at position ${token.position}`, token.position);
    }
    const ast = parse();
    this.depth--;
    return ast;
  }

  private expect(text: string, open: Token): void {
    const t = this.next();
    if (t.kind === 'punct' && t.text === text) return;
    if (t.kind === 'eof') throw new ExpressionSyntaxError(`missing '${text}' for '${open.text}' at position ${open.position}`, t.position);
    throw this.unexpected(t);
  }

  private unexpected(t: Token): ExpressionSyntaxError {
    if (t.kind === 'eof') return new ExpressionSyntaxError(`unexpected end of condition at position ${t.position}`, t.position);
    const shown = t.kind === 'string' ? 'string' : t.kind === 'template' ? `{{${t.text}}}` : `'${t.text}'`;
    return new ExpressionSyntaxError(`unexpected ${shown} at position ${t.position}`, t.position);
  }

  private peek(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    const t = this.tokens[this.index];
    if (t.kind !== 'eof') this.index++;
    return t;
  }
}
