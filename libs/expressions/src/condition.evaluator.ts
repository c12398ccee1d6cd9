import type { ConditionAst } from './condition.ast';
import { parseCondition } from './condition.parser';
import { ExpressionSyntaxError } from './expression-syntax.error';
import { resolvePath } from './path.resolver';
import { templatePaths as templatePathsOf } from './template.inspector';
import { resolveTemplates } from './template.resolver';
import type { TemplateScope } from './template-scope';
import { valueIn, valuesEqual, valuesOrdered } from './value.compare';

const CACHE_LIMIT = 1000;
const cache = new Map<string, ConditionAst>();

/**
 * Evaluates a condition (source or parsed) against the scope and returns the truthiness of its
 * value. Templates are read as values, never spliced into the text, so data cannot change the
 * expression. Throws `ExpressionSyntaxError` when the source does not parse.
 */
export function evaluateCondition(condition: string | ConditionAst, scope: TemplateScope): boolean {
  const ast = typeof condition === 'string' ? parseCached(condition) : condition;
  return truthy(evaluate(ast, scope));
}

function parseCached(source: string): ConditionAst {
  const hit = cache.get(source);
  if (hit) return hit;
  const ast = parseCondition(source);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(source, ast);
  return ast;
}

/** JS truthiness: false, 0, NaN, "", null and undefined are false; everything else true. */
export function truthy(value: unknown): boolean {
  return Boolean(value);
}

function evaluate(node: ConditionAst, scope: TemplateScope): unknown {
  switch (node?.type) {
    case 'literal':
      return node.value;
    case 'path':
      return resolvePath(scope, node.path);
    case 'text':
      return resolveTemplates(node.template, scope);
    case 'list':
      return node.items.map((item) => evaluate(item, scope));
    case 'not':
      return !truthy(evaluate(node.operand, scope));
    case 'logical':
      return node.operator === 'and'
        ? node.operands.every((o) => truthy(evaluate(o, scope)))
        : node.operands.some((o) => truthy(evaluate(o, scope)));
    case 'compare': {
      const left = evaluate(node.left, scope);
      const right = evaluate(node.right, scope);
      switch (node.operator) {
        case '==':
          return valuesEqual(left, right);
        case '!=':
          return !valuesEqual(left, right);
        case 'in':
          return valueIn(left, right);
        case 'not in':
          return !valueIn(left, right);
        default:
          return valuesOrdered(node.operator, left, right);
      }
    }
    default:
      throw new ExpressionSyntaxError(`invalid condition node ${JSON.stringify((node as { type?: unknown })?.type)}`, 0);
  }
}

/** Every path a condition reads (templates, bare paths, templates inside string literals). */
export function conditionPaths(condition: string | ConditionAst): string[] {
  const ast = typeof condition === 'string' ? parseCondition(condition) : condition;
  const paths = new Set<string>();
  const visit = (node: ConditionAst): void => {
    switch (node.type) {
      case 'path':
        paths.add(node.path);
        return;
      case 'text':
        for (const p of templatePathsOf(node.template)) paths.add(p);
        return;
      case 'list':
        return node.items.forEach(visit);
      case 'not':
        return visit(node.operand);
      case 'compare':
        visit(node.left);
        return visit(node.right);
      case 'logical':
        return node.operands.forEach(visit);
      case 'literal':
        return;
    }
  };
  visit(ast);
  return [...paths];
}
