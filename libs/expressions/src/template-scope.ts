/**
 * Data that templates, conditions and JSONata expressions read. Roots: `input`, `context`, `user_id`,
 * `session_id`, `execution`, `steps` (`steps.<id>.output...`), `loop` (`item`, `index`), `secrets`.
 */
export type TemplateScope = Readonly<Record<string, unknown>>;

/** The roots a template path may start with. */
export const TEMPLATE_ROOTS = ['input', 'context', 'user_id', 'session_id', 'execution', 'steps', 'loop', 'secrets'] as const;
export type TemplateRoot = (typeof TEMPLATE_ROOTS)[number];

export function isTemplateRoot(name: string): name is TemplateRoot {
  return (TEMPLATE_ROOTS as readonly string[]).includes(name);
}
