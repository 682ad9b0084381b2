import { describe, expect, it } from 'vitest';
import {
  BufferRecycler,
  createPhysicalMemory,
  folioAlloc,
  folioGetPrivate,
  folioPut,
  folioSetPrivate,
  pagePrivate,
  releasePhysicalMemory,
  setPagePrivate,
} from '../src/index.js';
import { memmapOf } from '../src/memmap.js';

describe('page->private slots', () => {
  it('keeps page->private in per-chunk slots allocated on first use, not in a map by pfn', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 16384 }] });
    const m = memmapOf(mem);
    expect(m.privChunks).toBe(null);
    const f = folioAlloc(mem, 0, 0) as number;
    folioSetPrivate(mem, f, 1);
    expect(m.privChunks).not.toBe(null);
    expect(m.privChunks!.filter((c) => c !== null)).toHaveLength(1);
    // A small integer (the migration state word) takes no slot of the value table.
    expect(m.privObjs.filter((v) => v !== null)).toEqual([]);
    expect(m.privCount).toBe(1);
    folioSetPrivate(mem, f, null);
    expect(m.privCount).toBe(0);
    folioPut(mem, f);
  });

  it('gives back every kind of value as it was set, and null once cleared', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 16384 }] });
    const f = folioAlloc(mem, 0, 0) as number;
    const obj = { swp: 7 };
    const values: unknown[] = [
      0,
      1,
      0x3fff_ffff,
      0x4000_0000,
      2 ** 40,
      -1,
      -0,
      1.5,
      Number.NaN,
      'entry',
      obj,
      true,
      false,
    ];
    for (const v of values) {
      folioSetPrivate(mem, f, v);
      expect(Object.is(folioGetPrivate(mem, f), v)).toBe(true);
    }
    // Overwriting an object value by an integer and back frees and reuses the table slot.
    const m = memmapOf(mem);
    folioSetPrivate(mem, f, obj);
    folioSetPrivate(mem, f, 3);
    expect(m.privObjs.filter((v) => v !== null)).toEqual([]);
    folioSetPrivate(mem, f, 'again');
    expect(folioGetPrivate(mem, f)).toBe('again');
    expect(m.privObjs.filter((v) => v !== null)).toEqual(['again']);
    folioSetPrivate(mem, f, undefined);
    expect(folioGetPrivate(mem, f)).toBe(null);
    expect(m.privCount).toBe(0);
    expect(m.privObjs.filter((v) => v !== null)).toEqual([]);
    folioPut(mem, f);
  });

  it('keeps the pages of different chunks apart, and a free clears the value', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 16384 }] });
    const m = memmapOf(mem);
    const large = folioAlloc(mem, 2, 0) as number;
    const a = folioAlloc(mem, 0, 0) as number;
    setPagePrivate(mem, large + 1, 'tail-entry');
    folioSetPrivate(mem, a, 5);
    expect(pagePrivate(mem, large + 1)).toBe('tail-entry');
    expect(pagePrivate(mem, large)).toBe(null);
    expect(folioGetPrivate(mem, a)).toBe(5);
    folioPut(mem, large);
    expect(m.privCount).toBe(1);
    expect(folioGetPrivate(mem, a)).toBe(5);
    folioPut(mem, a);
    expect(m.privCount).toBe(0);
    expect(m.privObjs.filter((v) => v !== null)).toEqual([]);
  });

  it('sizes a chunk to the machine, and recycles it cleared with the machine', () => {
    // 200 frames: one chunk of 200 slots, not PRIV_CHUNK (4096).
    const recycler = new BufferRecycler();
    const used = createPhysicalMemory({ nodes: [{ pages: 128 }, { pages: 72 }] }, recycler);
    const m = memmapOf(used);
    const values = new Map<number, unknown>();
    for (let i = 0; i < 6; i++) {
      const f = folioAlloc(used, 0, i % 2) as number;
      const v = i % 2 === 0 ? i + 1 : { i };
      folioSetPrivate(used, f, v);
      values.set(f, v);
    }
    const chunk = m.privChunks![0]!;
    expect(chunk.length).toBe(m.maxPfn);
    expect(m.privChunks!.length).toBe(1);
    // The highest frame has its slot (the chunk is not one short).
    let last = -1;
    while (last !== m.maxPfn - 1) last = folioAlloc(used, 0, 1, { thisNode: true }) as number;
    folioSetPrivate(used, last, 'last');
    expect(folioGetPrivate(used, last)).toBe('last');
    for (const [f, v] of values) expect(folioGetPrivate(used, f)).toBe(v);
    expect(m.recycled).toContain(chunk.buffer);
    // Released with values still set: the next machine gets the chunk's buffer back zeroed,
    // so no page of it starts with a private value left by the previous one.
    releasePhysicalMemory(used);
    const reused = createPhysicalMemory({ nodes: [{ pages: 128 }, { pages: 72 }] }, recycler);
    const r = memmapOf(reused);
    expect(r.privChunks).toBe(null);
    const live: number[] = [];
    for (let f = folioAlloc(reused, 0, 0); f >= 0; f = folioAlloc(reused, 0, 0)) live.push(f);
    expect(live).toContain(last);
    const f = live[0]!;
    folioSetPrivate(reused, f, 'new');
    expect(r.privChunks![0]!.buffer).toBe(chunk.buffer);
    for (const p of live) expect(folioGetPrivate(reused, p)).toBe(p === f ? 'new' : null);
    expect(r.privCount).toBe(1);
  });
});
