import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CpuTlb } from '../src/internal.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function liveBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A small seeded generator: `rnd(m)` draws an integer in [0, m). */
function lcg(seed: number): (m: number) => number {
  let s = seed;
  return (m) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % m;
  };
}

describe('CpuTlb', () => {
  it('behaves as a map from virtual page to entry (get, has, set, delete, size, clear)', () => {
    const tlb = new CpuTlb();
    expect(tlb.get(5)).toBeUndefined();
    tlb.set(5, 0); // pfn 0, read-only, clean: the entry 0 is an entry
    tlb.set(513, (7 << 2) | 3);
    tlb.set(2 ** 35, (1 << 26) + 2); // far up the address space, largest pfn range
    expect(tlb.size).toBe(3);
    expect(tlb.get(5)).toBe(0);
    expect(tlb.has(5)).toBe(true);
    expect(tlb.get(513)).toBe((7 << 2) | 3);
    expect(tlb.get(2 ** 35)).toBe((1 << 26) + 2);
    tlb.set(5, 4);
    expect(tlb.size).toBe(3);
    expect(tlb.delete(5)).toBe(true);
    expect(tlb.delete(5)).toBe(false);
    expect(tlb.has(5)).toBe(false);
    expect([...tlb]).toEqual([
      [513, (7 << 2) | 3],
      [2 ** 35, (1 << 26) + 2],
    ]);
    tlb.clear();
    expect(tlb.size).toBe(0);
    expect([...tlb.keys()]).toEqual([]);
  });

  it('deleteRange drops exactly the pages of the range, small or spanning chunks', () => {
    const tlb = new CpuTlb();
    for (let vpn = 0; vpn < 3000; vpn += 3) tlb.set(vpn, vpn);
    tlb.deleteRange(30, 60); // under one chunk: page by page
    tlb.deleteRange(400, 2100); // several chunks
    const left = [...tlb.keys()];
    const expected: number[] = [];
    for (let vpn = 0; vpn < 3000; vpn += 3) {
      if ((vpn < 30 || vpn >= 60) && (vpn < 400 || vpn >= 2100)) expected.push(vpn);
    }
    expect(left).toEqual(expected);
    expect(tlb.size).toBe(expected.length);
  });

  it('a chunk dropped or cleared and reused for another range carries none of its old entries', () => {
    // Random sets, deletes, range deletes and full clears over a few 2 MiB ranges, against a
    // Map: a chunk kept for reuse (after its last entry went, or after clear) that still
    // held an entry or a count would show up at its new range.
    const seen = (tlb: CpuTlb | Map<number, number>, places: number[]) =>
      places.map((vpn) => tlb.get(vpn) ?? -1);
    for (let seed = 1; seed <= 12; seed++) {
      const rnd = lcg(seed);
      const tlb = new CpuTlb();
      const ref = new Map<number, number>();
      const ranges = [0, 512 * 3, 2 ** 35, 2 ** 35 + 512];
      const places = ranges.flatMap((base) => [0, 1, 2, 3, 4, 5].map((i) => base + i));
      for (let op = 0; op < 300; op++) {
        const vpn = ranges[rnd(ranges.length)]! + rnd(6);
        const r = rnd(20);
        if (r < 12) {
          const e = rnd(1 << 20) * 4 + rnd(4);
          tlb.set(vpn, e);
          ref.set(vpn, e);
        } else if (r < 17) {
          expect(tlb.delete(vpn)).toBe(ref.delete(vpn));
        } else if (r < 19) {
          tlb.deleteRange(vpn, vpn + 3);
          for (let v = vpn; v < vpn + 3; v++) ref.delete(v);
        } else {
          tlb.clear();
          ref.clear();
        }
        expect(tlb.size).toBe(ref.size);
        expect(seen(tlb, places)).toEqual(seen(ref, places));
      }
      const sorted = (xs: [number, number][]) => [...xs].sort((a, b) => a[0] - b[0]);
      expect(sorted([...tlb])).toEqual(sorted([...ref]));
    }
  });

  it('deleteRange of any span, by the ranges it covers or by every chunk, drops exactly its pages', () => {
    // Ranges from one page to several 2 MiB ranges, starting and ending inside a chunk, on
    // an empty range, and far wider than the chunks there are (the walk over every chunk),
    // against a Map; the count and the reuse of emptied chunks are checked by later sets.
    const bases = [0, 512 * 3, 512 * 4, 2 ** 35 - 512, 2 ** 35, 2 ** 35 + 512 * 7];
    for (let seed = 1; seed <= 16; seed++) {
      const rnd = lcg(seed);
      const tlb = new CpuTlb();
      const ref = new Map<number, number>();
      for (let op = 0; op < 120; op++) {
        for (let k = 0; k < 12; k++) {
          const vpn = bases[rnd(bases.length)]! + rnd(512);
          tlb.set(vpn, vpn % 1000);
          ref.set(vpn, vpn % 1000);
        }
        const start = bases[rnd(bases.length)]! + rnd(600) - 40;
        const span = [1, 2, 33, 511, 512, 513, 1500, 2 ** 35][rnd(8)]!;
        tlb.deleteRange(start, start + span);
        for (const vpn of [...ref.keys()]) {
          if (vpn >= start && vpn < start + span) ref.delete(vpn);
        }
        expect(tlb.size).toBe(ref.size);
      }
      const sorted = (xs: [number, number][]) => [...xs].sort((a, b) => a[0] - b[0]);
      expect(sorted([...tlb])).toEqual(sorted([...ref]));
      for (const vpn of ref.keys()) expect(tlb.get(vpn)).toBe(ref.get(vpn));
    }
  });

  it('an entry costs at most 8 bytes (typed arrays, not a Map entry)', () => {
    const before = liveBytes();
    const tlb = new CpuTlb();
    const n = 262_144;
    for (let vpn = 0; vpn < n; vpn++) tlb.set(vpn, vpn * 4 + 2);
    const bytes = liveBytes() - before;
    expect(tlb.size).toBe(n);
    expect(bytes / n).toBeLessThanOrEqual(8);
  });
});
