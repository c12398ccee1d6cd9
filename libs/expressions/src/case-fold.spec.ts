import { foldCase } from './case-fold';

/** Every match (index and groups) of `re` in `s`, scanning as JSONata does (global flag). */
function matches(re: RegExp, s: string): string {
  const out: unknown[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    out.push([m.index, ...m]);
    if (m[0] === '') re.lastIndex++;
  }
  return JSON.stringify(out);
}

describe('foldCase', () => {
  const patterns = [
    'abc',
    'Hello, World',
    '[a-f]+\\d',
    '[^a-z]+',
    '[A-Z][a-z]*',
    '[!-~]x',
    '[0-9_-]+q',
    '\\bcat\\b|DOG',
    '(?<word>fo+)BAR',
    '(?:ab)+(?=C)',
    '(?<=x)Y',
    '\\w+\\s*\\S',
    '\\s*\\s*$',
    'a{2,3}B',
    '[a-]Z',
    '\\/path\\.[jt]s',
    '[\\bx]+\\B',
    '[\\]a]',
  ];
  const alphabet = 'aAbBcCfFxXyYzZqQoOrR019_-!~ ./éÉſ\u212a';
  const random = (seed: number) => {
    let x = seed;
    return () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x / 2 ** 32;
    };
  };

  it('matches exactly what the pattern matched with the i flag, on ASCII and non-ASCII subjects', () => {
    const next = random(7);
    const subjects = ['Hello, world', 'HELLO, WORLD', 'foooBar', 'ABABc', 'xy xY', 'The CAT and dog', 'aAb', 'ZZ-z', '/PATH.TS', 'K\u212ak'];
    for (let n = 0; n < 300; n++) subjects.push(Array.from({ length: 1 + Math.floor(next() * 12) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''));
    for (const p of patterns) {
      const folded = foldCase(p);
      expect(folded).toBeDefined();
      for (const s of subjects) expect([p, s, matches(new RegExp(folded!, 'g'), s)]).toEqual([p, s, matches(new RegExp(p, 'gi'), s)]);
    }
  });

  it('rewrites letters to classes and leaves escapes and group names alone', () => {
    expect(foldCase('a\\d[b-c](?<nm>x)')).toBe('[aA]\\d[b-cB-C](?<nm>[xX])');
  });

  it('declines what it cannot rewrite exactly', () => {
    for (const p of ['é', '\\é', '\\x41', '\\u0041', '(a)\\1', '(?<n>a)\\k<n>', '\\q', '[\\B]', '[Z-a]', '[0-a]', '[\\--a]', '\\cA', '(?i:a)', '(?-i:a)']) expect(foldCase(p)).toBeUndefined();
  });
});
