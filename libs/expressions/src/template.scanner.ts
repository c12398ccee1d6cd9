import { parsePath } from './path.parser';

/** A piece of a string: literal text or a `{{path}}` template. */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'template'; readonly raw: string; readonly path: string; readonly segments: readonly string[] };

/** A template syntax problem at `position` (0-based offset into the scanned string). */
export interface TemplateIssue {
  readonly message: string;
  readonly position: number;
}

export interface ScannedTemplates {
  readonly parts: readonly TemplatePart[];
  readonly issues: readonly TemplateIssue[];
}

const NO_TEMPLATES: ScannedTemplates = { parts: [], issues: [] };
const CACHE_LIMIT = 2000;
const cache = new Map<string, ScannedTemplates>();

/**
 * Splits a string into text and `{{path}}` templates. Malformed templates (unclosed `{{`, empty
 * `{{ }}`, bad path) are reported as issues and kept as literal text.
 */
export function scanTemplates(text: string): ScannedTemplates {
  if (!text.includes('{{')) return NO_TEMPLATES;
  const cached = cache.get(text);
  if (cached) return cached;
  const scanned = scan(text);
  if (text.length <= 10_000) {
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(text, scanned);
  }
  return scanned;
}

function scan(text: string): ScannedTemplates {
  const parts: TemplatePart[] = [];
  const issues: TemplateIssue[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) break;
    const close = text.indexOf('}}', open + 2);
    if (close < 0) {
      issues.push({ message: `unclosed "{{" at position ${open}`, position: open });
      break;
    }
    literal += text.slice(i, open);
    const raw = text.slice(open, close + 2);
    const inner = text.slice(open + 2, close);
    const parsed = parsePath(inner);
    if (!inner.trim()) {
      issues.push({ message: `empty template "${raw}" at position ${open}`, position: open });
      literal += raw;
    } else if (!parsed.ok) {
      const position = open + 2 + parsed.position;
      issues.push({ message: `invalid template "${clip(raw)}": ${parsed.message} at position ${position}`, position });
      literal += raw;
    } else {
      if (literal) parts.push({ kind: 'text', text: literal });
      literal = '';
      parts.push({ kind: 'template', raw, path: inner.trim(), segments: parsed.segments });
    }
    i = close + 2;
  }
  literal += text.slice(i);
  if (literal) parts.push({ kind: 'text', text: literal });
  return { parts, issues };
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
