import { scanTemplates } from './template.scanner';

const MAX_DEPTH = 100;

/**
 * Template syntax problems anywhere in a value (deep over arrays and plain objects): unclosed
 * `{{`, empty `{{ }}`, invalid path. Empty when every template is well formed.
 */
export function templateErrors(value: unknown): string[] {
  const errors: string[] = [];
  eachString(value, 0, (s) => {
    for (const issue of scanTemplates(s).issues) errors.push(issue.message);
  });
  return errors;
}

/** Every path referenced by a well-formed template in a value, in order, without duplicates. */
export function templatePaths(value: unknown): string[] {
  const paths = new Set<string>();
  eachString(value, 0, (s) => {
    for (const part of scanTemplates(s).parts) if (part.kind === 'template') paths.add(part.path);
  });
  return [...paths];
}

function eachString(value: unknown, depth: number, visit: (s: string) => void): void {
  if (typeof value === 'string') visit(value);
  else if (depth < MAX_DEPTH && value !== null && typeof value === 'object') {
    for (const v of Array.isArray(value) ? value : Object.values(value)) eachString(v, depth + 1, visit);
  }
}
