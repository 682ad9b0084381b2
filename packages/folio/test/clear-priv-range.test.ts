import { describe, expect, it } from 'vitest';
import { createPhysicalMemory } from '../src/index.js';
import { clearPrivRange, getPriv, type Memmap, memmapOf, setPriv } from '../src/memmap.js';

/** Two memories with the same page->private values: objects, inline integers, in two chunks. */
function twin(): [Memmap, Memmap] {
  const make = (): Memmap => {
    const m = memmapOf(createPhysicalMemory({ nodes: [{ pages: 9000 }] }));
    const values: Array<[number, unknown]> = [
      [3, { a: 1 }],
      [4, 7],
      [4094, 'x'],
      [4095, { b: 2 }],
      [4096, 0],
      [4100, { c: 3 }],
      [4101, 0x4000_0000],
      [8200, { d: 4 }],
      [8999, 5],
    ];
    for (const [pfn, v] of values) setPriv(m, pfn, v);
    // A freed id in the table before the clears, so that id reuse order shows.
    setPriv(m, 4100, 9);
    return m;
  };
  return [make(), make()];
}

/** Everything the page->private slots are made of. */
function privState(m: Memmap): unknown {
  return {
    chunks: m.privChunks?.map((c) => (c === null ? null : Array.from(c))),
    objs: [...m.privObjs],
    freeIds: [...m.freePrivIds],
    count: m.privCount,
  };
}

describe('clearPrivRange', () => {
  it('leaves the slots as setPriv(null) frame by frame does, over ranges that cross chunks', () => {
    const ranges: Array<[number, number]> = [
      [0, 9000],
      [4094, 8],
      [4095, 1],
      [8, 4000],
      [4096, 4200],
      [8200, 800],
    ];
    for (const [pfn, nr] of ranges) {
      const [a, b] = twin();
      clearPrivRange(a, pfn, nr);
      for (let p = pfn; p < pfn + nr; p++) setPriv(b, p, null);
      expect(privState(a)).toEqual(privState(b));
      // A new value takes the id the frame-by-frame clears would give it.
      setPriv(a, 10, { e: 5 });
      setPriv(b, 10, { e: 5 });
      expect(privState(a)).toEqual(privState(b));
    }
  });

  it('clears every value in the range and none outside it', () => {
    const [m] = twin();
    clearPrivRange(m, 4095, 8200 - 4095);
    expect(getPriv(m, 3)).toEqual({ a: 1 });
    expect(getPriv(m, 4094)).toBe('x');
    for (const pfn of [4095, 4096, 4100, 4101]) expect(getPriv(m, pfn)).toBe(null);
    expect(getPriv(m, 8200)).toEqual({ d: 4 });
    expect(m.privCount).toBe(5);
  });
});
