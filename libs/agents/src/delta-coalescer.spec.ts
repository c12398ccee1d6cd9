import { DeltaCoalescer } from './delta-coalescer';

describe('DeltaCoalescer', () => {
  it('writes chunks that arrive within the window as one append, in order, and drains the rest', async () => {
    const written: string[] = [];
    const c = new DeltaCoalescer(async (s) => void written.push(s), 20);
    for (const t of ['a', 'b', 'c']) c.push(t);
    await c.drain();
    c.push('d');
    c.push('');
    await c.drain();
    expect(written).toEqual(['abc', 'd']);
  });

  it('reports a failed append from drain()', async () => {
    const c = new DeltaCoalescer(async () => {
      throw new Error('store down');
    }, 5);
    c.push('x');
    await expect(c.drain()).rejects.toThrow('store down');
  });
});
