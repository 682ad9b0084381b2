import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioGetPrivate,
  folioPut,
  folioRawMapping,
  folioSetMapping,
  folioSetPrivate,
  PAGE_MAPPING_ANON,
} from '../src/index.js';
import { memmapOf } from '../src/memmap.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function liveBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('memmap size', () => {
  // The layout is 60 bytes a frame (see `Memmap`), plus the checks' change marks and chunk
  // stamps: 63.8 bytes measured. The heap figure moves by about a quarter of a byte a frame
  // between runs of the same build (a heap page over a million frames: 63.80 or 64.03), so
  // the bound leaves one byte for that; a per-frame object slot would add eight.
  it('a frame costs at most 65 bytes of memmap (no per-frame object slots)', () => {
    const frames = 1_048_576;
    const before = liveBytes();
    const mem = createPhysicalMemory({ nodes: [{ pages: frames }] });
    const bytes = liveBytes() - before;
    expect(mem.maxPfn).toBe(frames);
    expect(bytes / frames).toBeLessThanOrEqual(65);
  });

  it('mapping objects are shared by id and leave the table with their last page', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }] });
    const m = memmapOf(mem);
    const anonVma = { name: 'anon_vma' };
    const folios = [0, 1, 2].map(() => folioAlloc(mem, 0, 0) as number);
    for (const f of folios) folioSetMapping(mem, f, PAGE_MAPPING_ANON, anonVma);
    expect(folios.map((f) => folioRawMapping(mem, f))).toEqual([anonVma, anonVma, anonVma]);
    expect(m.mappingIds.size).toBe(1);
    folioSetPrivate(mem, folios[1]!, 'swp');
    expect(folioGetPrivate(mem, folios[1]!)).toBe('swp');
    expect(folioGetPrivate(mem, folios[0]!)).toBe(null);
    for (const f of folios) folioPut(mem, f);
    expect(m.mappingIds.size).toBe(0);
    expect(m.privCount).toBe(0);
    expect(m.privObjs.filter((v) => v !== null)).toEqual([]);
  });

  it('a list holds an id only while it is not empty; ids are reused', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }] });
    const m = memmapOf(mem);
    const a = new FolioList(mem);
    const b = new FolioList(mem);
    const f = folioAlloc(mem, 0, 0) as number;
    const g = folioAlloc(mem, 0, 0) as number;
    a.addTail(f);
    a.addTail(g);
    expect(a.has(f) && a.has(g)).toBe(true);
    expect(b.has(f)).toBe(false);
    a.spliceTailInit(b);
    expect(b.toArray()).toEqual([f, g]);
    expect(a.has(f)).toBe(false);
    b.del(f);
    b.del(g);
    expect(m.lists.filter((l) => l !== null)).toEqual([]);
    for (let i = 0; i < 100; i++) {
      const l = new FolioList(mem);
      l.addTail(f);
      l.del(f);
    }
    expect(m.lists.length).toBeLessThanOrEqual(3);
    folioPut(mem, f);
    folioPut(mem, g);
  });
});
