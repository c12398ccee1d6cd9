/** Operators that compare two values. */
export type CompareOperator = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in';

/**
 * A parsed condition: plain data, safe to store or send. `path` reads the scope (`{{path}}` or a bare
 * `input.x`), `text` is a string literal holding templates (interpolated as strings), `list` is `[a, b]`.
 */
export type ConditionAst =
  | { readonly type: 'literal'; readonly value: string | number | boolean | null }
  | { readonly type: 'path'; readonly path: string }
  | { readonly type: 'text'; readonly template: string }
  | { readonly type: 'list'; readonly items: readonly ConditionAst[] }
  | { readonly type: 'not'; readonly operand: ConditionAst }
  | { readonly type: 'compare'; readonly operator: CompareOperator; readonly left: ConditionAst; readonly right: ConditionAst }
  | { readonly type: 'logical'; readonly operator: 'and' | 'or'; readonly operands: readonly ConditionAst[] };
