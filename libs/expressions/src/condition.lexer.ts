import { ExpressionSyntaxError } from './expression-syntax.error';
import { parsePath } from './path.parser';
import { scanTemplates } from './template.scanner';

export type TokenKind = 'string' | 'number' | 'template' | 'name' | 'keyword' | 'op' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Operator/punctuation/keyword text, name path, decoded string, template path. */
  readonly text: string;
  readonly value?: number;
  readonly position: number;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false', 'null']);
const TWO_CHAR_OPS = ['==', '!=', '<=', '>=', '&&', '||'];
const ONE_CHAR_OPS = ['<', '>', '!'];
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '/': '/', '\\': '\\', "'": "'", '"': '"' };

/** Splits a condition into tokens; throws `ExpressionSyntaxError` with the offending position. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
    } else if (source.startsWith('{{', i)) {
      i = readTemplate(source, i, tokens);
    } else if (c === "'" || c === '"') {
      i = readString(source, i, tokens);
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9.]/.test(source[i + 1] ?? ''))) {
      i = readNumber(source, i, tokens);
    } else if (/[A-Za-z_$]/.test(c)) {
      i = readName(source, i, tokens);
    } else if (TWO_CHAR_OPS.includes(source.slice(i, i + 2))) {
      tokens.push({ kind: 'op', text: source.slice(i, i + 2), position: i });
      i += 2;
    } else if (ONE_CHAR_OPS.includes(c)) {
      tokens.push({ kind: 'op', text: c, position: i });
      i++;
    } else if ('()[],'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, position: i });
      i++;
    } else if (c === '=') {
      throw new ExpressionSyntaxError(`unexpected '=' at position ${i} (use == to compare)`, i);
    } else {
      throw new ExpressionSyntaxError(`unexpected character '${c}' at position ${i}`, i);
    }
  }
  tokens.push({ kind: 'eof', text: '', position: source.length });
  return tokens;
}

function readTemplate(source: string, start: number, tokens: Token[]): number {
  const close = source.indexOf('}}', start + 2);
  if (close < 0) throw new ExpressionSyntaxError(`unclosed "{{" at position ${start}`, start);
  const inner = source.slice(start + 2, close);
  if (!inner.trim()) throw new ExpressionSyntaxError(`empty template at position ${start}`, start);
  const parsed = parsePath(inner);
  if (!parsed.ok) {
    const position = start + 2 + parsed.position;
    throw new ExpressionSyntaxError(`invalid template: ${parsed.message} at position ${position}`, position);
  }
  tokens.push({ kind: 'template', text: inner.trim(), position: start });
  return close + 2;
}

function readString(source: string, start: number, tokens: Token[]): number {
  const quote = source[start];
  let out = '';
  let i = start + 1;
  while (i < source.length && source[i] !== quote) {
    if (source[i] === '\\') {
      const e = source[i + 1];
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(source.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(source.slice(i + 2, i + 6), 16));
        i += 6;
        continue;
      }
      if (e === undefined || !(e in ESCAPES)) throw new ExpressionSyntaxError(`invalid escape in string at position ${i}`, i);
      out += ESCAPES[e];
      i += 2;
    } else {
      out += source[i++];
    }
  }
  if (i >= source.length) throw new ExpressionSyntaxError(`unterminated string starting at position ${start}`, start);
  const issue = scanTemplates(out).issues[0];
  if (issue) throw new ExpressionSyntaxError(`in string at position ${start}: ${issue.message} of the string`, start);
  tokens.push({ kind: 'string', text: out, position: start });
  return i + 1;
}

function readNumber(source: string, start: number, tokens: Token[]): number {
  const match = /^-?(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?/.exec(source.slice(start));
  if (!match) throw new ExpressionSyntaxError(`invalid number at position ${start}`, start);
  const end = start + match[0].length;
  if (/[A-Za-z0-9_.$]/.test(source[end] ?? '')) throw new ExpressionSyntaxError(`invalid number at position ${start}`, start);
  tokens.push({ kind: 'number', text: match[0], value: Number(match[0]), position: start });
  return end;
}

function readName(source: string, start: number, tokens: Token[]): number {
  // A bare path: identifier, then `.segment` / `[digits]` / `['key']`; the path parser checks it.
  const match = /^[A-Za-z_$][A-Za-z0-9_$-]*(\.[A-Za-z0-9_$-]*|\[[^\]]*\])*/.exec(source.slice(start));
  const text = match ? match[0] : source[start];
  const end = start + text.length;
  if (KEYWORDS.has(text)) {
    tokens.push({ kind: 'keyword', text, position: start });
    return end;
  }
  const parsed = parsePath(text);
  if (!parsed.ok) throw new ExpressionSyntaxError(`invalid name: ${parsed.message} at position ${start + parsed.position}`, start + parsed.position);
  tokens.push({ kind: 'name', text, position: start });
  return end;
}
